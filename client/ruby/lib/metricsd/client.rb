# frozen_string_literal: true

require 'socket'
require_relative 'protocol'
require_relative 'fold'

module Metricsd
  # One process's link to the metricsd daemon.
  #
  # Metrics register their declarations here and append op records to an Array (the hot path:
  # one Array#push of three values, atomic under the GVL, no lock, no IO). A background thread
  # sends them every flush_interval over one UNIXSocket with non-blocking writes, so nothing here
  # blocks or raises into the application because of the daemon: problems are counted
  # (dropped_ops), kept (last_error) and reported once each. After fork the child drops what it
  # inherited (the parent sends that), closes its copy of the socket without writing on it, and
  # starts its own connection and thread.
  class Client
    DEFAULT_SOCKET = '/run/metricsd/ingest.sock'
    DEFAULT_FLUSH_INTERVAL = 0.005
    DEFAULT_MAX_BUFFER_OPS = 1_000_000 # ~40 MB of Ruby Array slots at most (3 x 8 B + Float)
    BACKOFF_MIN = 0.01
    BACKOFF_MAX = 2.0
    HANDSHAKE_TIMEOUT = 1.0
    IDLE_WAIT = 1.0 # the thread's longest sleep while nothing is buffered
    RECORDS_PER_FRAME = 4096
    CHUNK_BYTES = RECORDS_PER_FRAME * Protocol::RECORD_SIZE
    MAX_LOGGED_MESSAGES = 1000

    @live = []
    @live_lock = Mutex.new
    class << self
      attr_reader :live, :live_lock
    end

    attr_reader :dropped_ops, :error_count, :last_error, :fold_frames

    # socket: the daemon's socket (default $METRICSD_SOCKET, else /run/metricsd/ingest.sock);
    # flush_interval: seconds between sends; max_buffer_ops: ops held unsent before they are
    # folded; on_error: called with (code, message) for each problem instead of a warning.
    def initialize(socket: nil, flush_interval: DEFAULT_FLUSH_INTERVAL, max_buffer_ops: DEFAULT_MAX_BUFFER_OPS,
                   on_error: nil)
      raise ArgumentError, "flush_interval must be in (0, 60], not #{flush_interval}" unless flush_interval.positive? && flush_interval <= 60
      raise ArgumentError, "max_buffer_ops must be an Integer >= 0, not #{max_buffer_ops}" unless max_buffer_ops.is_a?(Integer) && max_buffer_ops >= 0

      @socket_path = socket
      @flush_interval = flush_interval
      @max_bytes = max_buffer_ops * Protocol::RECORD_SIZE
      @chunk_bytes = [CHUNK_BYTES, @max_bytes].min
      @on_error = on_error
      # Registry (kept across connections and forks: every connection declares it all again).
      @families = {}       # name -> family handle
      @family_info = []    # family handle -> [type, bounds]
      @series = []         # series handle -> [kind, bounds]
      @declarations = []   # encoded DECLARE frames, in declaration order
      @tracked_gauges = [] # gauge children whose value is re-sent after a (re)connect
      @dropped_ops = 0
      @error_count = 0
      @last_error = nil
      @logged = {}
      @fold_frames = 0
      @closed = false
      reset_process_state
      Client.live_lock.synchronize { Client.live << self }
    end

    def socket_path
      @socket_path || ENV['METRICSD_SOCKET'] || DEFAULT_SOCKET
    end

    def connected?
      !@sock.nil? && @ready
    end

    # Sends everything so far plus a SYNC and waits for the ACK: true once the daemon applied it
    # all, false when it is unreachable or no ACK came within timeout seconds. Never raises.
    def flush(timeout = 5.0)
      return false if @closed

      check_pid
      deadline = now + timeout
      @lock.synchronize do
        token = @next_token
        @next_token += 1
        @sync_requests << token
        @retry_at = 0.0 unless @ready # try now, not at the backoff's end
        @idle = false
        @cond.broadcast
        ensure_thread
        until @acked.key?(token)
          left = deadline - now
          break if left <= 0

          @cond.wait(@lock, left)
        end
        @acked.delete(token) || false
      end
    rescue StandardError => e
      note_error('client', "flush failed: #{e.message}")
      false
    end

    # Flushes (up to timeout), then disconnects. Later ops are counted in dropped_ops.
    def close(timeout = 1.0)
      return if @closed

      flush(timeout) unless @declarations.empty?
      @lock.synchronize do
        @closed = true
        @dropped_ops += (@chunked_bytes + @ops.bytesize) / Protocol::RECORD_SIZE + @folder.size
        @ops.clear
        @chunks.clear
        @chunked_bytes = 0
        @cond.broadcast
      end
      thread = @thread
      thread&.join(1)
      disconnect(quiet: true)
      Client.live_lock.synchronize { Client.live.delete(self) }
    end

    def closed?
      @closed
    end

    # --- registry (called by the metrics) ---------------------------------------------------

    def _declare_family(type, mode, name, help, label_names, bucket_texts)
      bounds = Protocol.check_family(type, mode, name, help, label_names, bucket_texts)
      frame = nil
      @lock.synchronize do
        if @families.key?(name)
          raise ValidationError.new('family_conflict', "Duplicated metric in this metricsd client: #{name}")
        end

        handle = @family_info.length
        frame = Protocol.encode_declare_family(handle, type, mode, name, help, label_names, bucket_texts)
        @families[name] = handle
        @family_info << [type, bounds, type == 'gauge' && mode != 'sum' && mode != 'shared']
        @declarations << frame
        wake
        handle
      end
    end

    # Registers a series of family; returns its handle. child gets gauge re-sends.
    def _declare_series(family, label_values, child)
      check_pid
      @lock.synchronize do
        handle = @series.length
        frame = Protocol.encode_declare_series(handle, family, label_values)
        type, bounds, tracked = @family_info[family]
        @series << [type, bounds]
        @declarations << frame
        @tracked_gauges << child if tracked && child
        wake
        handle
      end
    end

    # --- the hot path ---------------------------------------------------------------------------

    # Appends one op record (the metrics validated it). Never blocks, never raises. One C call
    # appends the 16 bytes, so another thread's record never lands inside it.
    def _op(op, handle, value)
      if @ops.bytesize < @chunk_bytes && !@idle && !@folding
        [op, handle, value].pack('VVE', buffer: @ops)
      else
        slow_op(op, handle, value)
      end
    end

    # _op with the record already encoded (a child's inc by 1): no packing at all.
    def _record(record, op, handle, value)
      if @ops.bytesize < @chunk_bytes && !@idle && !@folding
        @ops << record
      else
        slow_op(op, handle, value)
      end
    end

    # Gauge ops hold the lock so that a re-sent value and the ops around it never overlap.
    def _gauge_op(child, op, handle, value)
      wake if @idle # outside the lock: a fork detected here replaces the lock
      @lock.synchronize do
        case op
        when Protocol::OP_INC then child.value += value
        when Protocol::OP_DEC then child.value -= value
        else child.value = value
        end
        child.written = true
        _op(op, handle, value)
      end
    end

    # --- fork and exit ----------------------------------------------------------------------------

    # In a forked child: forget what belongs to the parent's connection and process.
    def _after_fork_child
      sock = @sock
      reset_process_state
      begin
        sock&.close # our copy of the fd only: nothing is written, the parent's stream goes on
      rescue StandardError
        nil
      end
      @tracked_gauges.each do |g|
        g.value = 0.0
        g.written = false
      end
    end

    def _at_exit
      return if @closed || @pid != Process.pid || @declarations.empty?
      return if @ops.empty? && @chunks.empty? && @folder.size.zero? && @queue.empty? && @sent_declarations == @declarations.length

      flush(1.0)
    end

    def stats
      { fold_frames: @fold_frames, buffered: (@chunked_bytes + @ops.bytesize) / Protocol::RECORD_SIZE,
        queued: @queued_bytes / Protocol::RECORD_SIZE, folded: @folder.size }
    end

    private

    def now
      Process.clock_gettime(Process::CLOCK_MONOTONIC)
    end

    def reset_process_state
      @pid = Process.pid
      @lock = Mutex.new
      @cond = ConditionVariable.new
      # Encoded op records. The app appends to @ops (never replaced, so an append can never
      # land in a string the thread already took); each full 64 KiB of it moves to @chunks,
      # which the thread takes under the lock.
      @ops = String.new(capacity: @chunk_bytes, encoding: Encoding::BINARY)
      @chunks = []
      @chunked_bytes = 0
      @queue = []          # frames to write: [kind, data, record bytes]
      @queued_bytes = 0    # record bytes in @queue
      @wpos = 0            # bytes of @queue[0] written
      @folder = Folder.new
      @folding = false
      @sock = nil
      @ready = false
      @decoder = nil
      @sent_declarations = 0
      @resend_gauges = false
      @records_per_frame = RECORDS_PER_FRAME
      @limits = { max_family_handle: Protocol::MAX_FAMILY_HANDLE, max_series_handle: Protocol::MAX_SERIES_HANDLE }
      @backoff = BACKOFF_MIN
      @retry_at = 0.0
      @next_token = 1
      @sync_requests = []  # tokens to send
      @syncs_sent = []     # tokens written, awaiting ACK
      @acked = {}          # token -> true/false, for flush()
      @thread = nil
      @idle = true # the first op or declaration starts the thread
    end

    # The pid check for forks that ran no Ruby hook (Process._fork covers Ruby's own).
    def check_pid
      Metricsd.after_fork_child_hook if @pid != Process.pid
    end

    def wake
      return if @closed

      if @thread.nil? || !@thread.alive?
        check_pid
        ensure_thread
      elsif @idle
        @idle = false
        if @lock.owned?
          @cond.broadcast
        else
          @lock.synchronize { @cond.broadcast }
        end
      end
    end

    def ensure_thread
      return if @closed || (@thread&.alive? && @thread_pid == Process.pid)

      @thread_pid = Process.pid
      @thread = Thread.new { run }
      @thread.name = 'metricsd-flush' if @thread.respond_to?(:name=)
      @thread.report_on_exception = false
    end

    # The sender is idle or absent, the current run of records is full, or ops fold.
    def slow_op(op, handle, value)
      # Before the push: in a child forked without Ruby's hook (the parent's thread is dead
      # there), wake resets first.
      wake if @idle || !@thread&.alive?
      return buffer_op(op, handle, value) if @lock.owned? # a gauge op holds it already

      @lock.synchronize { buffer_op(op, handle, value) }
    end

    # Under the lock.
    def buffer_op(op, handle, value)
      if @closed
        @dropped_ops += 1
        return
      end
      unless @folding
        n = @ops.bytesize
        if n < @chunk_bytes
          [op, handle, value].pack('VVE', buffer: @ops)
          return
        end
        if @chunked_bytes + n + @queued_bytes < @max_bytes
          @chunks << @ops.slice!(0, n)
          @chunked_bytes += n
          [op, handle, value].pack('VVE', buffer: @ops)
          return
        end
      end
      # Once anything is folded, every op folds until the folds are sent: an op buffered
      # meanwhile would overtake the folded ones (a gauge's set, for one).
      @folding = true
      kind, bounds = @series[handle]
      @dropped_ops += 1 unless @folder.fold(op, handle, value, kind, bounds)
    end

    # --- the sender thread --------------------------------------------------------------------------

    def run
      until @closed
        begin
          cycle
        rescue StandardError => e
          note_error('client', "sender: #{e.class}: #{e.message}")
          disconnect
        end
        pause
      end
    end

    # Sleeps flush_interval when there is work, else until an op or flush() wakes it.
    def pause
      @lock.synchronize do
        return if @closed || !@sync_requests.empty?

        if !@ready
          @cond.wait(@lock, (@retry_at - now).clamp(@flush_interval, IDLE_WAIT))
        elsif @ops.empty? && @chunks.empty? && !@folding && @queue.empty? && @sent_declarations == @declarations.length &&
              @syncs_sent.empty?
          @idle = true
          @cond.wait(@lock, IDLE_WAIT)
        else
          @cond.wait(@lock, @flush_interval)
        end
        @idle = false
      end
    end

    def cycle
      return if @pid != Process.pid

      unless @ready
        return if now < @retry_at

        connect
        return unless @ready
      end
      @lock.synchronize { fill_queue }
      write_queue
      read_available(0)
    end

    # Moves declarations, buffered ops, folds, gauge re-sends and SYNCs into the write queue, in
    # that order (under the lock).
    def fill_queue
      while @sent_declarations < @declarations.length
        frame = @declarations[@sent_declarations]
        handle = frame.unpack1('V', offset: 8)
        limit = frame.getbyte(4) == Protocol::DECLARE_FAMILY ? @limits[:max_family_handle] : @limits[:max_series_handle]
        if handle > limit
          note_error('client', "handle #{handle} exceeds the daemon's limits; not declared")
        else
          @queue << [:decl, frame, 0]
        end
        @sent_declarations += 1
      end
      @chunks.each { |c| queue_records(c) }
      @chunks.clear
      @chunked_bytes = 0
      n = @ops.bytesize
      queue_records(@ops.slice!(0, n)) if n.positive?
      if @folding && (!@sync_requests.empty? || @resend_gauges || @queued_bytes < @max_bytes)
        records, frames = @folder.drain
        @folding = false
        queue_records(Protocol.pack_records(records))
        frames.each do |f|
          @queue << [:fold, f, 0]
          @fold_frames += 1
        end
      end
      if @resend_gauges
        # After (re)connecting: every tracked gauge's value, which includes every op queued
        # above and none after (gauge ops hold this lock).
        @resend_gauges = false
        records = []
        @tracked_gauges.each { |g| records.push(Protocol::OP_SET, g.handle, g.value) if g.written }
        queue_records(Protocol.pack_records(records))
      end
      @sync_requests.each do |token|
        @queue << [:sync, Protocol.encode_sync(token), token]
        @syncs_sent << token
      end
      @sync_requests.clear
    end

    # OPS frames of encoded records, at most records_per_frame each.
    def queue_records(bytes)
      step = @records_per_frame * Protocol::RECORD_SIZE
      (0...bytes.bytesize).step(step) do |start|
        piece = bytes.byteslice(start, step)
        @queue << [:ops, Protocol.header(piece.bytesize, Protocol::OPS_FRAME) + piece, piece.bytesize]
        @queued_bytes += piece.bytesize
      end
    end

    # Writes queued frames without blocking; what the kernel does not take waits for the next
    # cycle (the daemon is slow or stopped: the app's ops then fold).
    def write_queue
      until @queue.empty?
        entry = @queue.first
        data = entry[1]
        chunk = @wpos.zero? ? data : data.byteslice(@wpos, data.bytesize - @wpos)
        n = @sock.write_nonblock(chunk, exception: false)
        return if n == :wait_writable

        @wpos += n
        return if @wpos < data.bytesize

        @wpos = 0
        @lock.synchronize do
          @queue.shift
          @queued_bytes -= entry[2] if entry[0] == :ops || entry[0] == :fold
        end
      end
    end

    def read_available(timeout)
      loop do
        data = @sock.read_nonblock(65_536, exception: false)
        if data == :wait_readable
          break if timeout <= 0 || !IO.select([@sock], nil, nil, timeout)

          next
        end
        raise EOFError, 'the daemon closed the connection' if data.nil?

        @decoder.feed(data).each { |m| handle_message(m) }
      end
    end

    def handle_message(m)
      case m[:type]
      when :ack
        @lock.synchronize do
          while (token = @syncs_sent.shift) # ACKs come in SYNC order
            @acked[token] = true
            break if token == m[:token]
          end
          @cond.broadcast
        end
      when :error
        note_error(m[:code_name], m[:message])
      when :decode_error
        note_error('client', "bad frame from daemon: #{m[:code]}")
        raise IOError, 'undecodable stream' if m[:fatal]
      end
    end

    def connect
      sock = UNIXSocket.new(socket_path)
      sock.write(Protocol.encode_handshake)
      decoder = Protocol::Decoder.new
      deadline = now + HANDSHAKE_TIMEOUT
      welcome = nil
      while welcome.nil?
        left = deadline - now
        raise IOError, 'no WELCOME within the handshake timeout' if left <= 0 || !IO.select([sock], nil, nil, left)

        data = sock.read_nonblock(4096, exception: false)
        next if data == :wait_readable
        raise EOFError, 'the daemon closed the connection during the handshake' if data.nil?

        decoder.feed(data).each do |m|
          next welcome ||= m if m[:type] == :welcome
          raise IOError, "#{m[:code_name]}: #{m[:message]}" if m[:type] == :error

          raise IOError, "unexpected answer to the handshake: #{m[:type]}"
        end
      end
      @lock.synchronize do
        @sock = sock
        @decoder = decoder
        @limits = welcome
        @records_per_frame = [[welcome[:max_frame_payload] / Protocol::RECORD_SIZE, RECORDS_PER_FRAME].min, 1].max
        @ready = true
        @backoff = BACKOFF_MIN
        @sent_declarations = 0
        @resend_gauges = !@tracked_gauges.empty?
        # Frames queued before the connection (or left by the last one) follow the declarations.
        @queue.reject! { |e| e[0] == :decl || e[0] == :sync }
      end
    rescue StandardError, SystemCallError => e
      begin
        sock&.close
      rescue StandardError
        nil
      end
      note_error('client', "cannot connect to #{socket_path}: #{e.message}")
      @retry_at = now + @backoff * (0.5 + rand / 2) # jittered, growing
      @backoff = [@backoff * 2, BACKOFF_MAX].min
      fail_syncs
    end

    # Drops the connection: a frame the kernel did not take whole is sent again whole on the
    # next one (the daemon drops a partial frame at EOF), declarations and SYNCs are not kept.
    def disconnect(quiet: false)
      sock = @sock
      @lock.synchronize do
        @sock = nil
        @ready = false
        @wpos = 0
        @queue.reject! { |e| e[0] == :decl || e[0] == :sync }
        @retry_at = now + @backoff * (0.5 + rand / 2)
        @backoff = [@backoff * 2, BACKOFF_MAX].min
      end
      fail_syncs
      begin
        sock&.close
      rescue StandardError
        nil
      end
      note_error('client', "disconnected from #{socket_path}") if sock && !quiet
    end

    # SYNCs written on a lost connection, or waiting for one, will never be ACKed.
    def fail_syncs
      @lock.synchronize do
        (@syncs_sent + @sync_requests).each { |t| @acked[t] = false }
        @syncs_sent.clear
        @sync_requests.clear
        @cond.broadcast
      end
    end

    def note_error(code, message)
      @error_count += 1
      text = "#{code}: #{message}"
      @last_error = text
      if @on_error
        begin
          @on_error.call(code, message)
        rescue StandardError
          nil # the application's callback must not break the sender
        end
        return
      end
      return if @logged.key?(text) || @logged.size >= MAX_LOGGED_MESSAGES

      @logged[text] = true
      warn("metricsd: #{text}")
    end
  end
end
