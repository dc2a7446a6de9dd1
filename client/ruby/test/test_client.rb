# frozen_string_literal: true

# The client against the real daemon when things go wrong: the daemon absent, restarted,
# stopped (SIGSTOP: the buffer fills and ops fold), a process ending without flush, and fork.
require_relative 'support/helper'
require 'open3'

class ClientTest < Minitest::Test
  LIB = File.expand_path('../lib', __dir__)

  def setup
    @daemon = Daemon.new
    @errors = []
  end

  def teardown
    @client&.close(0.2)
    @daemon.cleanup
  end

  def new_client(**options)
    @client = Metricsd::Client.new(socket: @daemon.socket_path, on_error: ->(c, m) { @errors << "#{c}: #{m}" }, **options)
  end

  def since(start)
    Process.clock_gettime(Process::CLOCK_MONOTONIC) - start
  end

  def test_the_daemon_down_then_started
    client = new_client
    counter = Metricsd::Counter.new(:down_total, docstring: 'x', client: client)
    hist = Metricsd::Histogram.new(:down_seconds, docstring: 'x', buckets: [1, 2], client: client)
    100_000.times { counter.inc }
    1000.times { |i| hist.observe(i % 3) }
    start = Process.clock_gettime(Process::CLOCK_MONOTONIC)
    assert_equal false, client.flush(0.5)
    assert_operator since(start), :<, 2
    assert_match(/cannot connect/, client.last_error)
    @daemon.start
    assert_equal true, client.flush(5)
    s = @daemon.samples
    assert_equal 100_000, s['down_total']
    assert_equal 667, s['down_seconds_bucket{le="1.0"}']
    assert_equal 1000, s['down_seconds_bucket{le="2.0"}']
    assert_equal 999, s['down_seconds_sum']
    assert_equal 0, client.dropped_ops
  end

  def test_a_daemon_restart_brings_live_gauges_back_without_a_new_op
    @daemon.start
    client = new_client
    counter = Metricsd::Counter.new(:restart_total, docstring: 'x', client: client)
    live = Metricsd::Gauge.new(:restart_live, docstring: 'x', client: client)
    per_pid = Metricsd::Gauge.new(:restart_per_pid, docstring: 'x', mode: :liveall, client: client)
    counter.inc(5)
    live.set(3)
    live.inc(0.5)
    per_pid.set(7)
    assert client.flush(5)
    assert_equal 3.5, @daemon.samples['restart_live']
    assert_equal 0, @daemon.stop
    @daemon.start
    key = "restart_per_pid{pid=\"#{Process.pid}\"}"
    assert wait_for(10) { (s = @daemon.samples)['restart_live'] == 3.5 && s[key] == 7 }, @daemon.scrape
    counter.inc(2)
    assert client.flush(5)
    assert_equal 2, @daemon.samples['restart_total'] # the 5 went to the old daemon, not again
  end

  def test_ops_fold_while_the_daemon_is_stopped
    @daemon.start
    client = new_client(max_buffer_ops: 1000)
    counter = Metricsd::Counter.new(:stopped_total, docstring: 'x', client: client)
    hist = Metricsd::Histogram.new(:stopped_seconds, docstring: 'x', buckets: [0.5], client: client)
    summary = Metricsd::Summary.new(:stopped_bytes, docstring: 'x', client: client)
    gauge = Metricsd::Gauge.new(:stopped_gauge, docstring: 'x', mode: :mostrecent, client: client)
    assert client.flush(5)
    Process.kill('STOP', @daemon.pid)
    begin
      50_000.times do |i|
        counter.inc
        hist.observe(i.odd? ? 0.25 : 1)
        summary.observe(2)
        gauge.set(i)
      end
      assert_operator client.stats[:folded], :>=, 3
    ensure
      Process.kill('CONT', @daemon.pid)
    end
    assert client.flush(10)
    s = @daemon.samples
    assert_equal 50_000, s['stopped_total']
    assert_equal 25_000, s['stopped_seconds_bucket{le="0.5"}']
    assert_equal 50_000, s['stopped_seconds_count']
    assert_equal 31_250, s['stopped_seconds_sum']
    assert_equal 100_000, s['stopped_bytes_sum']
    assert_equal 49_999, s['stopped_gauge']
    assert_operator client.fold_frames, :>=, 2
    assert_equal 0, client.dropped_ops
  end

  def run_script(script, *args)
    Open3.capture2e({ 'METRICSD_SOCKET' => @daemon.socket_path }, 'ruby', '-w', "-I#{LIB}", '-e', script, *args)
  end

  def test_a_process_ending_without_flush_delivers_at_exit
    @daemon.start
    out, status = run_script(<<~'RUBY')
      require 'metricsd'
      c = Metricsd::Counter.new(:exit_total, docstring: 'x', labels: [:kind])
      10_000.times { c.labels('a').inc }
      c.with_labels(kind: 'b').increment(by: 2.5)
    RUBY
    assert status.success?, out
    assert_equal 10_000, @daemon.samples['exit_total{kind="a"}']
    assert_equal 2.5, @daemon.samples['exit_total{kind="b"}']
  end

  def test_a_process_ends_promptly_when_the_daemon_is_absent
    start = Process.clock_gettime(Process::CLOCK_MONOTONIC)
    out, status = run_script("require 'metricsd'; Metricsd::Counter.new(:absent_total).inc; $stderr.reopen(File::NULL)")
    assert status.success?, out
    assert_operator since(start), :<, 5 # ruby's start, plus the exit flush's 1 s at most
  end

  # Kernel#fork with ops buffered in the parent: the child drops them (the parent sends them),
  # opens its own connection (its gauge series carries its own pid) and flushes at exit.
  def test_fork_gives_the_child_its_own_connection
    @daemon.start
    out, status = run_script(<<~'RUBY')
      require 'metricsd'
      c = Metricsd::Counter.new(:fork_total)
      g = Metricsd::Gauge.new(:fork_gauge, mode: :all)
      g.set(1)
      10.times { c.inc }
      child = fork do
        g.set(2)
        20.times { c.inc }
      end
      Process.wait(child)
      c.inc(5)
      puts "#{Process.pid} #{child}"
    RUBY
    assert status.success?, out
    parent, child = out.split.map { |x| Integer(x) }
    s = @daemon.samples
    assert_equal 35, s['fork_total']
    assert_equal({ "fork_gauge{pid=\"#{parent}\"}" => 1.0, "fork_gauge{pid=\"#{child}\"}" => 2.0 },
                 s.select { |k, _| k.start_with?('fork_gauge') })
  end
end
