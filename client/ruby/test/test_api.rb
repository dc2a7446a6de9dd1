# frozen_string_literal: true

# The public API without a daemon: names, bucket texts, refusals, label forms, timers and the
# exact records each call buffers (the client points at a socket that does not exist).
require_relative 'support/helper'
require 'open3'

class ApiTest < Minitest::Test
  P = Metricsd::Protocol
  VECTORS = JSON.parse(File.read(File.join(REPO, 'protocol', 'test_vectors.json')))

  def setup
    @client = Metricsd::Client.new(socket: '/nonexistent/metricsd.sock', on_error: ->(_c, _m) {})
  end

  def teardown
    @client.close(0)
  end

  # The records buffered so far (the client never connects), as [op, handle, value].
  def records
    bytes = @client.instance_variable_get(:@chunks).join + @client.instance_variable_get(:@ops)
    bytes.unpack('VVE' * (bytes.bytesize / 16)).each_slice(3).to_a
  end

  def test_bucket_texts_are_pythons_str_of_the_same_literal
    values = Array.new(2000) { [rand(2**64)].pack('Q<').unpack1('E') }.select(&:finite?)
    python, status = Open3.capture2('python3', '-c', 'import struct,sys
for h in sys.stdin.read().split(): print(str(struct.unpack("<d", bytes.fromhex(h))[0]))',
                                    stdin_data: values.map { |v| [v].pack('E').unpack1('H*') }.join("\n"))
    assert status.success?
    assert_equal python.split("\n"), values.map { |v| P.bucket_text(v) }
    assert_equal %w[1 1.0 0.005 1e-05 1e+16 2.5 10 -3 0.5], [1, 1.0, 0.005, 1e-5, 1e16, 2.5, 10, -3, 1r / 2].map { |v| P.bucket_text(v) }
    assert_equal '10.0', P.bucket_text('10.0')
  end

  def test_a_histogram_declares_the_vectors_bytes
    v = VECTORS['valid'].find { |x| x['name'] == 'declare_family_histogram_buckets' }
    6.times { |i| Metricsd::Counter.new("pad#{i}", client: @client) } # families 0..5: this one is 6
    Metricsd::Histogram.new(:request_duration_seconds, docstring: 'Request latency.', labels: [:route],
                                                       buckets: [1e-5, 0.005, 0.1, 1, 2.5, 10.0], client: @client)
    frame = @client.instance_variable_get(:@declarations).last
    assert_equal v['hex'], frame.unpack1('H*')
  end

  def test_names_and_defaults
    assert_equal 'jobs_total', Metricsd::Counter.new(:jobs, client: @client).name
    assert_equal 'done_total', Metricsd::Counter.new('done_total', client: @client).name
    h = Metricsd::Histogram.new(:lat_seconds, client: @client)
    assert_equal %w[0.005 0.01 0.025 0.05 0.075 0.1 0.25 0.5 0.75 1 2.5 5 7.5 10], h.buckets
    assert_equal %w[1 2], Metricsd::Histogram.new(:b_seconds, buckets: [1, 2, Float::INFINITY], client: @client).buckets
    assert_equal 'max', Metricsd::Gauge.new(:g_max, store_settings: { aggregation: :max }, client: @client).mode
    assert_equal 'mostrecent', Metricsd::Gauge.new(:g_mr, store_settings: { aggregation: :most_recent }, client: @client).mode
    assert_equal 'liveall', Metricsd::Gauge.new(:g_la, mode: :liveall, client: @client).mode
  end

  def refused(code)
    before = records.length
    e = assert_raises(Metricsd::ValidationError) { yield }
    assert_equal code, e.code
    assert_kind_of ArgumentError, e
    assert_equal before, records.length
  end

  def test_mistakes_raise_at_once_with_the_protocol_code_and_send_nothing
    c = Metricsd::Counter.new(:req_total, labels: %i[method code], client: @client)
    g = Metricsd::Gauge.new(:temp, client: @client)
    h = Metricsd::Histogram.new(:h_seconds, buckets: [1], client: @client)
    refused('invalid_metric_name') { Metricsd::Counter.new('bad name', client: @client) }
    refused('name_collision') { Metricsd::Counter.new(:metricsd_x, client: @client) }
    refused('invalid_label_name') { Metricsd::Histogram.new(:x_seconds, labels: [:le], client: @client) }
    refused('invalid_label_name') { Metricsd::Gauge.new(:x_g, labels: [:pid], mode: :all, client: @client) }
    refused('invalid_buckets') { Metricsd::Histogram.new(:y_seconds, buckets: [1, 0.5], client: @client) }
    refused('invalid_buckets') { Metricsd::Histogram.new(:z_seconds, buckets: ['1e400'], client: @client) }
    refused('invalid_gauge_mode') { Metricsd::Gauge.new(:x_mode, mode: :median, client: @client) }
    refused('family_conflict') { Metricsd::Counter.new(:req_total, client: @client) }
    refused('invalid_value') { c.labels('GET', '200').inc(-1) }
    refused('invalid_value') { c.labels('GET', '200').inc(Float::INFINITY) }
    refused('invalid_value') { c.labels('GET', '200').inc('1') }
    refused('invalid_value') { g.inc(Float::NAN) }
    refused('invalid_value') { g.set('3') }
    refused('invalid_value') { h.observe(Float::NAN) }
    refused('label_count_mismatch') { c.labels('GET') }
    refused('label_count_mismatch') { c.labels(method: 'GET') }
    refused('label_count_mismatch') { c.labels(method: 'GET', status: '200') }
    refused('label_count_mismatch') { c.inc }
    refused('label_count_mismatch') { g.labels('x') }
  end

  def test_every_label_form_reaches_one_series
    c = Metricsd::Counter.new(:forms_total, labels: %i[method code], client: @client)
    children = [c.labels('GET', '200'), c.labels(:GET, 200), c.labels(method: 'GET', code: '200'),
                c.labels('method' => 'GET', 'code' => 200), c.with_labels(code: '200', method: :GET)]
    assert_equal 1, children.uniq.length
    c.increment(labels: { method: 'GET', code: '200' })
    c.increment(by: 2, labels: { method: 'GET', code: '200' })
    children[0].inc(0.5)
    c.labels('POST', '500').inc
    assert_equal [[1, 0, 1], [1, 0, 2], [1, 0, 0.5], [1, 1, 1]], records
    decl = @client.instance_variable_get(:@declarations)
    assert_equal P.encode_declare_series(0, 0, %w[GET 200]), decl[1]
    assert_equal P.encode_declare_series(1, 0, %w[POST 500]), decl[2]
  end

  def test_gauge_ops_timers_and_in_progress
    g = Metricsd::Gauge.new(:work, client: @client)
    h = Metricsd::Histogram.new(:work_seconds, client: @client)
    s = Metricsd::Summary.new(:work_bytes, labels: [:kind], client: @client)
    g.inc
    g.dec(2)
    g.set(5)
    g.increment(by: 3)
    g.decrement
    assert_equal :done, g.track_in_progress { :done }
    assert_raises(RuntimeError) { g.track_in_progress { raise 'boom' } }
    assert_equal 7, h.time { 7 }
    assert_raises(RuntimeError) { s.time(labels: { kind: 'a' }) { raise 'boom' } }
    s.observe(4, labels: { kind: 'a' })
    got = records
    assert_equal [[1, 0, 1], [2, 0, 2], [3, 0, 5.0], [1, 0, 3], [2, 0, 1], [1, 0, 1], [2, 0, 1], [1, 0, 1], [2, 0, 1]], got[0, 9]
    assert_equal [4, 1], got[9][0, 2]
    assert_operator got[9][2], :>=, 0
    assert_equal [4, 2], got[10][0, 2]
    assert_equal [4, 2, 4], got[11]
    assert_equal 12, got.length
  end

  def test_the_gem_builds_and_installs_offline
    Dir.mktmpdir('metricsd-gem-') do |dir|
      root = File.expand_path('..', __dir__)
      out, status = Open3.capture2e('gem', 'build', 'metricsd.gemspec', '-o', File.join(dir, 'metricsd.gem'), chdir: root)
      assert status.success?, out
      env = { 'GEM_HOME' => File.join(dir, 'home'), 'GEM_PATH' => File.join(dir, 'home'), 'RUBYLIB' => nil }
      out, status = Open3.capture2e(env, 'gem', 'install', '--local', '--no-document', File.join(dir, 'metricsd.gem'))
      assert status.success?, out
      out, status = Open3.capture2e(env, 'ruby', '-e', 'require "metricsd"; print $LOADED_FEATURES.grep(/metricsd.rb/).first')
      assert status.success?, out
      assert_equal File.join(dir, 'home', 'gems', 'metricsd-0.1.0', 'lib', 'metricsd.rb'), out
    end
  end

  def test_no_runtime_dependency_beyond_the_standard_library
    spec = Gem::Specification.load(File.expand_path('../metricsd.gemspec', __dir__))
    assert_empty spec.runtime_dependencies
    requires = Dir[File.expand_path('../lib/**/*.rb', __dir__)].flat_map { |f| File.read(f).scan(/^\s*require '([^']+)'/).flatten }
    assert_equal %w[socket], requires.uniq.sort
  end
end
