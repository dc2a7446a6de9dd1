# frozen_string_literal: true

# metricsd client for Ruby: Counter, Gauge, Histogram and Summary shaped like Ruby's
# prometheus-client, sending ops to the metricsd daemon over its Unix socket
# (protocol/PROTOCOL.md). Plain Ruby, standard library only.
require_relative 'metricsd/protocol'
require_relative 'metricsd/fold'
require_relative 'metricsd/client'
require_relative 'metricsd/metrics'

module Metricsd
  GEM_VERSION = '0.1.0'

  @client = nil
  @client_lock = Mutex.new

  # The Client used by metrics created without client: (made on first use).
  def self.client
    @client || @client_lock.synchronize { @client ||= Client.new }
  end

  # Every live client forgets the parent's connection, buffer and thread (called in a forked child).
  def self.after_fork_child_hook
    @client_lock = Mutex.new
    Client.instance_variable_set(:@live_lock, Mutex.new)
    Client.live.each(&:_after_fork_child)
  end

  # Ruby >= 3.1 routes every fork (Kernel#fork, Process.fork, IO.popen("-"), puma's workers)
  # through Process._fork: the child resets before any of its own code runs.
  module ForkHook
    def _fork
      pid = super
      Metricsd.after_fork_child_hook if pid.zero?
      pid
    end
  end
  Process.singleton_class.prepend(ForkHook) if Process.respond_to?(:_fork)

  at_exit do
    Client.live.dup.each do |c|
      c._at_exit
    rescue StandardError
      nil
    end
  end
end
