# frozen_string_literal: true

# Test helpers: minitest from Debian's ruby, the client from this tree, and the real metricsd
# binary ($METRICSD_BINARY, which ctest sets; else <repo>/build/bin/metricsd) on a temporary
# socket, scraped over HTTP.
require 'json'
require 'minitest/autorun'
require 'net/http'
require 'tmpdir'
require 'fileutils'
$LOAD_PATH.unshift(File.expand_path('../../lib', __dir__))
require 'metricsd'

REPO = File.expand_path('../../../..', __dir__)
BINARY = ENV['METRICSD_BINARY'] || File.join(REPO, 'build', 'bin', 'metricsd')

# Polls the block every 20 ms until it returns truthy or timeout seconds passed; its last value.
def wait_for(timeout = 5.0)
  deadline = Process.clock_gettime(Process::CLOCK_MONOTONIC) + timeout
  loop do
    value = yield
    return value if value || Process.clock_gettime(Process::CLOCK_MONOTONIC) >= deadline

    sleep 0.02
  end
end

# The real daemon on a socket in a temporary directory.
class Daemon
  READY = /metricsd ready: ingest socket .* http 127\.0\.0\.1:(\d+) backend/.freeze
  attr_reader :dir, :socket_path, :port, :pid

  def initialize
    @dir = Dir.mktmpdir('metricsd-ruby-')
    @socket_path = File.join(@dir, 's.sock')
    @log_path = File.join(@dir, 'daemon.log')
    @pid = nil
  end

  def start
    raise "metricsd binary not found at #{BINARY} (set METRICSD_BINARY)" unless File.executable?(BINARY)

    offset = File.exist?(@log_path) ? File.size(@log_path) : 0
    @pid = Process.spawn(BINARY, '--socket', @socket_path, '--listen', '127.0.0.1:0',
                         in: :close, out: [@log_path, 'a'], err: [:child, :out])
    @port = wait_for(10) do
      m = File.read(@log_path)[offset..].to_s.scan(READY).last
      m && File.exist?(@socket_path) ? Integer(m[0]) : nil
    end
    raise "metricsd did not become ready; log:\n#{log}" unless @port

    self
  end

  # SIGTERM and wait; the exit status (0 for a clean shutdown).
  def stop
    return 0 if @pid.nil?

    Process.kill('TERM', @pid)
    _, status = Process.wait2(@pid)
    @pid = nil
    status.exitstatus
  end

  def log
    File.exist?(@log_path) ? File.read(@log_path) : ''
  end

  def scrape
    res = Net::HTTP.get_response(URI("http://127.0.0.1:#{@port}/metrics"))
    raise "HTTP #{res.code}" unless res.code == '200'

    res.body.force_encoding(Encoding::UTF_8)
  end

  # Sample lines as {"name{labels}" => value}.
  def samples
    scrape.each_line(chomp: true).reject { |l| l.empty? || l.start_with?('#') }.to_h do |line|
      at = line.rindex(' ')
      [line[0, at], Float(line[at + 1..])]
    end
  end

  def cleanup
    stop
    FileUtils.rm_rf(@dir)
  end
end
