# frozen_string_literal: true

Gem::Specification.new do |s|
  s.name = 'metricsd'
  s.version = '0.1.0'
  s.summary = 'Client for the metricsd metrics aggregation daemon (plain Ruby, no dependencies)'
  s.description = 'Counter, Gauge, Histogram and Summary shaped like prometheus-client, sending ' \
                  'ops to the metricsd daemon over its Unix socket; fork-safe (puma cluster mode).'
  s.authors = ['metricsd authors']
  s.license = 'Apache-2.0'
  s.required_ruby_version = '>= 3.1'
  s.files = Dir[File.join(__dir__, 'lib', '**', '*.rb')].map { |f| f.delete_prefix("#{__dir__}/") } + ['README.md']
  s.require_paths = ['lib']
end
