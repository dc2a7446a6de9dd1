# frozen_string_literal: true

# Debian's puma in cluster mode with preload_app! and 4 workers, serving a rack app that counts
# its requests through the metricsd client (test/puma/), against the real daemon:
# - 400 plain requests: the workers' background threads deliver every op (total exact);
# - 100 requests that flush before answering, then one worker SIGKILLed at once: every answered
#   request is counted (exact), because an answer came after the daemon's ACK;
# - the live gauges drop the dead worker at once; puma's replacement worker shows up;
# - 200 more requests, then puma stopped with SIGTERM: exact totals, no live series left.
# What a SIGKILLed worker may lose: the ops it buffered but had not yet written to its socket
# (at most one flush interval, 5 ms, of its requests); everything written is applied.
require_relative 'support/helper'
require 'socket'

class PumaTest < Minitest::Test
  APP_DIR = File.join(__dir__, 'puma')
  PUMA = ENV['METRICSD_PUMA'] || 'puma'

  def setup
    @daemon = Daemon.new.start
    @dir = @daemon.dir
    env = { 'METRICSD_SOCKET' => @daemon.socket_path, 'PUMA_TEST_DIR' => @dir,
            'RUBYLIB' => File.expand_path('../lib', __dir__) }
    @puma = Process.spawn(env, PUMA, '-C', File.join(APP_DIR, 'puma.rb'), '--environment', 'production',
                          in: :close, out: File.join(@dir, 'puma.log'), err: [:child, :out], pgroup: true)
  end

  def teardown
    if @puma
      begin
        Process.kill('KILL', -@puma)
      rescue Errno::ESRCH
        nil
      end
      Process.wait(@puma)
    end
    @daemon.cleanup
  end

  # One HTTP/1.0 request over puma's Unix socket; [status, body].
  def get(path)
    UNIXSocket.open(File.join(@dir, 'puma.sock')) do |s|
      s.write("GET #{path} HTTP/1.0\r\nHost: puma\r\n\r\n")
      response = s.read
      [response[/\AHTTP\/1\.\d (\d+)/, 1].to_i, response.split("\r\n\r\n", 2)[1]]
    end
  end

  # n requests from 8 threads; the answering worker's pid per request.
  def drive(path, n)
    queue = Queue.new
    n.times { queue << path }
    8.times { queue << nil }
    pids = Queue.new
    Array.new(8) do
      Thread.new do
        while (p = queue.pop)
          status, body = get(p)
          pids << (status == 200 ? Integer(body) : -status)
        end
      end
    end.each(&:join)
    Array.new(pids.size) { pids.pop }
  end

  def value(name)
    @daemon.samples[name]
  end

  def live_pids
    @daemon.samples.filter_map { |k, v| k[/\Apuma_worker_up\{pid="(\d+)"\}\z/, 1]&.to_i if v == 1 }.sort
  end

  def worker_pids
    Dir.glob('/proc/[0-9]*/stat').filter_map do |f|
      fields = File.read(f).split(') ').last.split
      File.basename(File.dirname(f)).to_i if fields[1].to_i == @puma
    rescue Errno::ENOENT, Errno::ESRCH
      nil
    end.sort
  end

  def counted
    (value('puma_requests_total{route="/inc"}') || 0) + (value('puma_requests_total{route="/inc_sync"}') || 0)
  end

  def test_cluster_mode_with_preload_app_and_a_killed_worker
    # Four workers booted, each reporting its own pid (not the master's) in the liveall gauge.
    assert wait_for(20) { live_pids.length == 4 && worker_pids.length == 4 }, "puma log:\n#{File.read(File.join(@dir, 'puma.log'))}"
    assert_equal worker_pids, live_pids
    refute_includes live_pids, @puma

    served = drive('/inc', 400)
    assert_equal 400, served.length
    assert served.all?(&:positive?), served.uniq.inspect
    assert_operator served.uniq.length, :>=, 2 # the requests were spread over workers
    assert wait_for(10) { counted == 400 }, "counted #{counted} of 400"

    served = drive('/inc_sync', 100)
    victim = served.tally.max_by { |_, n| n }.first
    Process.kill('KILL', victim)
    assert served.all?(&:positive?), served.uniq.inspect
    # Every answered request was ACKed before its answer: counted exactly, killed worker included.
    assert_equal 500, counted
    assert_equal 100, value('puma_requests_total{route="/inc_sync"}')
    assert_equal 500, value('puma_request_seconds_count')

    # The dead worker's live series vanishes; puma's replacement reports in.
    assert wait_for(10) { !live_pids.include?(victim) && live_pids.length == 4 }, "live #{live_pids}, victim #{victim}"
    assert_equal worker_pids, live_pids
    assert_equal 0, value('puma_in_flight')

    served = drive('/inc', 200)
    assert served.all?(&:positive?)
    assert wait_for(10) { counted == 700 && value('puma_request_seconds_count') == 700 }, "counted #{counted} of 700"
    assert_equal 700, value('puma_request_seconds_count')
    assert_equal 700, value('puma_request_seconds_bucket{le="+Inf"}')

    # A graceful stop: every worker flushes at exit and disconnects.
    Process.kill('TERM', @puma)
    Process.wait(@puma)
    @puma = nil
    assert_equal 700, counted
    assert wait_for(5) { live_pids.empty? }, "live #{live_pids}"
    assert_equal 0, value('puma_in_flight')
    assert_equal 0, @daemon.stop
  end
end
