#!/usr/bin/env ruby
# frozen_string_literal: true

# ns per inc on a labelled counter: metricsd's Ruby client vs prometheus-client-mmap (Debian's
# ruby-prometheus-client-mmap, GitLab's multi-process fork of Ruby's prometheus-client: values in
# mmapped files, what a puma/unicorn app would otherwise use).
#
# Usage: ruby bench/ruby_client_bench.rb BUILD/bin/metricsd [--runs 5] [--ops 1000000]
#
# Variants, each run in a fresh ruby process, interleaved (run 1 of each, then run 2, ...):
# - metricsd_child: child.inc with the child from labels() kept;
# - metricsd_labels: counter.increment(labels: {method:, code:}), prometheus-client's form;
# - mmap_labels: counter.increment({method:, code:}, 1), prometheus-client-mmap's only form.
# metricsd runs against a real daemon started here; with_flush also includes flush() (SYNC +
# ACK: until the daemon applied every op). Prints `ruby_inc_ns client=<variant> median=<ns>
# runs=...` lines; without prometheus-client-mmap only metricsd is measured.
require 'json'
require 'net/http'
require 'tmpdir'

REPO = File.expand_path('..', __dir__)
WARMUP = 100_000

def now
  Process.clock_gettime(Process::CLOCK_MONOTONIC)
end

def measure(variant, ops, socket)
  labels = { method: 'GET', code: '200' }
  if variant.start_with?('metricsd')
    $LOAD_PATH.unshift(File.join(REPO, 'client', 'ruby', 'lib'))
    require 'metricsd'
    client = Metricsd::Client.new(socket: socket)
    counter = Metricsd::Counter.new(:bench_requests_total, docstring: 'Bench.', labels: %i[method code], client: client)
    child = counter.labels('GET', '200')
    step = variant == 'metricsd_child' ? -> { child.inc } : -> { counter.increment(labels: labels) }
    client.flush(5)
  else
    ENV['prometheus_multiproc_dir'] = Dir.mktmpdir('ruby-bench-mmap-')
    require 'prometheus/client'
    counter = Prometheus::Client.registry.counter(:bench_requests_total, 'Bench.')
    step = -> { counter.increment(labels, 1) }
  end
  WARMUP.times { step.call }
  if variant == 'metricsd_child' # the loop itself, no lambda: what an app's call costs
    start = now
    i = 0
    while i < ops
      child.inc
      i += 1
    end
  elsif variant == 'metricsd_labels'
    start = now
    i = 0
    while i < ops
      counter.increment(labels: labels)
      i += 1
    end
  else
    start = now
    i = 0
    while i < ops
      counter.increment(labels, 1)
      i += 1
    end
  end
  elapsed = now - start
  flushed = client ? (client.flush(30) ? now - start : nil) : nil
  { ns: elapsed * 1e9 / ops, flush_ns: flushed && flushed * 1e9 / ops, dropped: client&.dropped_ops || 0 }
end

if ARGV[0] == '--child'
  puts JSON.generate(measure(ARGV[1], Integer(ARGV[2]), ARGV[3]))
  exit 0
end

binary = ARGV.shift or abort('usage: ruby bench/ruby_client_bench.rb BUILD/bin/metricsd [--runs N] [--ops N]')
runs = 5
ops = 1_000_000
while (a = ARGV.shift)
  case a
  when '--runs' then runs = Integer(ARGV.shift)
  when '--ops' then ops = Integer(ARGV.shift)
  else abort("unknown option #{a}")
  end
end
mmap = begin
  require 'prometheus/client'
  true
rescue LoadError
  false
end
variants = %w[metricsd_child metricsd_labels]
variants << 'mmap_labels' if mmap
dir = Dir.mktmpdir('ruby-bench-')
socket = File.join(dir, 's.sock')
log = File.join(dir, 'daemon.log')
daemon = Process.spawn(binary, '--socket', socket, '--listen', '127.0.0.1:0', in: :close, out: log, err: [:child, :out])
port = nil
100.times do
  port = File.read(log)[/metricsd ready: .* http 127\.0\.0\.1:(\d+)/, 1] if File.exist?(log)
  break if port && File.exist?(socket)

  sleep 0.1
end
abort("metricsd did not start:\n#{File.read(log)}") unless port
results = Hash.new { |h, k| h[k] = [] }
runs.times do
  variants.each do |v|
    out = IO.popen(['ruby', __FILE__, '--child', v, ops.to_s, socket], &:read)
    results[v] << JSON.parse(out)
  end
end
median = ->(xs) { xs.sort[xs.length / 2] }
variants.each do |v|
  ns = results[v].map { |r| r['ns'] }
  line = format('ruby_inc_ns client=%<v>s median=%<m>.0f runs=%<r>s', v: v, m: median.call(ns), r: ns.map(&:round).join(','))
  flush = results[v].map { |r| r['flush_ns'] }.compact
  line += format(' with_flush_median=%.0f', median.call(flush)) unless flush.empty?
  puts line
end
metrics = Net::HTTP.get(URI("http://127.0.0.1:#{port}/metrics"))
delivered = metrics[/^bench_requests_total\{(?:method="GET",code="200"|code="200",method="GET")\} (\S+)/, 1].to_f
expected = variants.count { |v| v.start_with?('metricsd') } * runs * (ops + WARMUP)
puts "ruby_inc_delivered #{delivered.to_i} of #{expected}, dropped #{results.values.flatten.sum { |r| r['dropped'] }}"
if mmap
  %w[metricsd_child metricsd_labels].each do |v|
    puts format('ruby_inc_ratio mmap_labels/%<v>s=%<r>.2f', v: v,
                                                              r: median.call(results['mmap_labels'].map { |r| r['ns'] }) / median.call(results[v].map { |r| r['ns'] }))
  end
end
Process.kill('TERM', daemon)
Process.wait(daemon)
