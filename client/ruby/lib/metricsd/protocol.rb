# frozen_string_literal: true

# metricsd wire protocol v1: pure encoders, the family rules, bucket texts and an incremental
# decoder of the daemon's frames (no sockets). Byte layouts: protocol/PROTOCOL.md; every byte is
# pinned by protocol/test_vectors.json, which test/test_vectors.rb runs against this module.
module Metricsd
  # A declaration, label set or op the daemon would refuse; #code is the error code it would send.
  class ValidationError < ArgumentError
    attr_reader :code

    def initialize(code, message)
      super(message)
      @code = code
    end
  end

  module Protocol
    VERSION = 1
    METRIC_TYPES = { 'counter' => 1, 'gauge' => 2, 'histogram' => 3, 'summary' => 4 }.freeze
    GAUGE_MODES = %w[livesum sum max min mostrecent all liveall livemax livemin livemostrecent shared]
                  .each_with_index.to_h.freeze
    OP_INC = 1
    OP_DEC = 2
    OP_SET = 3
    OP_OBSERVE = 4
    OPS = { 'inc' => OP_INC, 'dec' => OP_DEC, 'set' => OP_SET, 'observe' => OP_OBSERVE }.freeze

    DECLARE_FAMILY = 0x01
    DECLARE_SERIES = 0x02
    OPS_FRAME = 0x03
    SYNC = 0x04
    FOLD = 0x05
    CLIENT_STATS = 0x06
    WELCOME = 0x81
    ACK = 0x82
    ERROR = 0x83

    ERROR_CODES = {
      'bad_magic' => 1, 'unsupported_version' => 2, 'bad_handshake' => 3, 'frame_too_large' => 4,
      'bad_frame_header' => 5, 'handshake_timeout' => 6, 'idle_timeout' => 7,
      'connection_memory_limit' => 8, 'unknown_frame_type' => 16, 'malformed_frame' => 17,
      'string_too_long' => 18, 'invalid_metric_type' => 19, 'invalid_gauge_mode' => 20,
      'too_many_labels' => 21, 'too_many_buckets' => 22, 'handle_out_of_range' => 23,
      'invalid_metric_name' => 32, 'invalid_label_name' => 33, 'invalid_label_value' => 34,
      'invalid_buckets' => 35, 'family_conflict' => 36, 'name_collision' => 37,
      'handle_conflict' => 38, 'unknown_family' => 39, 'label_count_mismatch' => 40,
      'family_series_limit' => 41, 'total_series_limit' => 42, 'unknown_series' => 48,
      'invalid_op' => 49, 'invalid_value' => 50, 'too_many_connections' => 64,
      'shutting_down' => 65, 'internal' => 66
    }.freeze
    ERROR_NAMES = ERROR_CODES.invert.freeze

    # Protocol limits (section 10).
    MAX_FRAME_PAYLOAD = 1_048_576
    MAX_FAMILY_HANDLE = 65_535
    MAX_SERIES_HANDLE = 1_048_575
    MAX_NAME_LENGTH = 255
    MAX_HELP_LENGTH = 4096
    MAX_LABEL_VALUE_LENGTH = 4096
    MAX_BUCKET_TEXT_LENGTH = 64
    MAX_LABELS = 32
    MAX_BUCKETS = 256
    MAX_ERROR_MESSAGE_LENGTH = 1024
    HEADER_SIZE = 8
    RECORD_SIZE = 16
    NO_HANDLE = 0xffffffff
    NO_FRAME = 0xffffffffffffffff

    METRIC_NAME = /\A[a-zA-Z_:][a-zA-Z0-9_:]*\z/.freeze
    LABEL_NAME = /\A[a-zA-Z_][a-zA-Z0-9_]*\z/.freeze
    # A bound as the daemon reads it (C++ from_chars after one optional '+'). Float() alone would
    # also take "0x10", "1_000" and " 1".
    BUCKET_BOUND = /\A[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?\z/.freeze
    RESERVED_METRIC_PREFIX = 'metricsd_'

    module_function

    def fail!(code, message)
      raise ValidationError.new(code, message)
    end

    def quote(text)
      text.to_s[0, 40].inspect
    end

    # UTF-8 byte length of a string; refuses what is not valid UTF-8.
    def utf8_length(text, what)
      fail!('invalid_label_value', "#{what} must be a String, not #{text.class}") unless text.is_a?(String)
      utf8 = text.encoding == Encoding::UTF_8 ? text : text.dup.force_encoding(Encoding::UTF_8)
      fail!('invalid_label_value', "#{what} is not valid UTF-8: #{quote(text.b)}") unless utf8.valid_encoding?
      text.bytesize
    end

    # --- the family rules (PROTOCOL.md section 5.1), in the daemon's order --------------------

    def check_metric_name(name)
      fail!('invalid_metric_name', "Invalid metric name: #{quote(name)}") unless name.is_a?(String)
      if utf8_length(name, 'Metric name') > MAX_NAME_LENGTH
        fail!('string_too_long', "Metric name longer than #{MAX_NAME_LENGTH} bytes: #{quote(name)}...")
      end
      fail!('invalid_metric_name', "Invalid metric name: #{quote(name)}") unless METRIC_NAME.match?(name)
      return unless name.start_with?(RESERVED_METRIC_PREFIX)

      fail!('name_collision',
            "Metric name #{quote(name)}: the #{RESERVED_METRIC_PREFIX} prefix is reserved for the daemon's own metrics")
    end

    def check_help(text)
      return unless utf8_length(text, 'Help') > MAX_HELP_LENGTH

      fail!('string_too_long', "Help longer than #{MAX_HELP_LENGTH} bytes")
    end

    def check_gauge_mode(type, mode)
      fail!('invalid_gauge_mode', "Invalid gauge mode: #{quote(mode)}") unless GAUGE_MODES.key?(mode)
      return if type == 'gauge' || mode == 'livesum'

      fail!('invalid_gauge_mode', "Gauge mode #{mode} given for a #{type}; only gauges take a mode")
    end

    def check_label_names(names, per_pid)
      fail!('too_many_labels', "At most #{MAX_LABELS} label names are allowed") if names.length > MAX_LABELS
      seen = {}
      names.each do |label|
        fail!('invalid_label_name', "Invalid label name: #{quote(label)}") unless label.is_a?(String)
        if utf8_length(label, 'Label name') > MAX_NAME_LENGTH
          fail!('string_too_long', "Label name longer than #{MAX_NAME_LENGTH} bytes: #{quote(label)}...")
        end
        fail!('invalid_label_name', "Invalid label name: #{quote(label)}") unless LABEL_NAME.match?(label)
        if label.start_with?('__') || label == 'le' || label == 'quantile'
          fail!('invalid_label_name', "Reserved label name: #{label}")
        end
        if per_pid && label == 'pid'
          fail!('invalid_label_name', "Label name 'pid' is added by gauge modes 'all' and 'liveall'")
        end
        fail!('invalid_label_name', "Duplicate label name #{quote(label)}") if seen[label]
        seen[label] = true
      end
    end

    # The value of one bound's text, or ValidationError.
    def bucket_bound(text)
      if utf8_length(text, 'Bucket bound') > MAX_BUCKET_TEXT_LENGTH
        fail!('string_too_long', "Bucket bound longer than #{MAX_BUCKET_TEXT_LENGTH} bytes: #{quote(text)}...")
      end
      fail!('invalid_buckets', "Bucket bound #{quote(text)} is not a finite number") unless BUCKET_BOUND.match?(text)
      value = quietly { Float(text.sub(/\A\+/, '').sub(/\A(-?)\./, '\\10.').sub(/\.(?=[eE]|\z)/, '')) }
      mantissa = text.split(/[eE]/).first.delete('+\-.0')
      # The daemon refuses what overflows to infinity and what underflows to zero (from_chars
      # says out of range).
      if !value.finite? || (value.zero? && !mantissa.empty?)
        fail!('invalid_buckets', "Bucket bound #{quote(text)} is out of range")
      end
      value
    end

    # Float() warns about what overflows or underflows; that is refused just below.
    def quietly
      verbose = $VERBOSE
      $VERBOSE = nil
      yield
    ensure
      $VERBOSE = verbose
    end

    # Checks the bucket texts for the type; returns their values.
    def check_buckets(type, texts)
      if type != 'histogram'
        fail!('too_many_buckets', 'Only histograms have buckets') unless texts.empty?
        return []
      end
      fail!('too_many_buckets', "At most #{MAX_BUCKETS} buckets are allowed") if texts.length > MAX_BUCKETS
      fail!('invalid_buckets', 'A histogram needs at least one finite bucket bound') if texts.empty?
      bounds = []
      texts.each do |text|
        value = bucket_bound(text)
        fail!('invalid_buckets', 'Buckets not in sorted order') if !bounds.empty? && value <= bounds.last
        bounds << value
      end
      bounds
    end

    # Every family rule, in the daemon's order; returns the bucket values.
    def check_family(type, mode, name, help, label_names, buckets)
      fail!('invalid_metric_type', "Invalid metric type: #{quote(type)}") unless METRIC_TYPES.key?(type)
      check_metric_name(name)
      check_help(help)
      check_gauge_mode(type, mode)
      check_label_names(label_names, type == 'gauge' && %w[all liveall].include?(mode))
      check_buckets(type, buckets)
    end

    # --- bucket texts ---------------------------------------------------------------------------

    # The text a bound is declared with: what Python's str() prints for the same literal
    # (PROTOCOL.md section 8), so Ruby and Python workers send the same texts. Ruby keeps
    # Integer and Float apart as Python does: 1 -> "1", 1.0 -> "1.0", 0.005 -> "0.005"; only
    # the exponent form differs (Ruby 1.0e-05, Python 1e-05). A String is sent as written.
    def bucket_text(value)
      case value
      when String then value
      when Integer then value.to_s
      when Float
        fail!('invalid_buckets', "Bucket bound #{value} is not a finite number") unless value.finite?
        python_float_repr(value)
      when Rational then python_float_repr(value.to_f)
      else
        fail!('invalid_buckets', "Bucket bound #{quote(value)} is not a number")
      end
    end

    # Python's repr() of a finite float: the shortest round-trip digits (Ruby's to_s finds the
    # same ones), in exponent form below 1e-4 and from 1e16 on, else fixed with at least ".0".
    def python_float_repr(value)
      text = value.abs.to_s
      mantissa, exponent = text.split('e')
      int_part, frac_part = mantissa.split('.')
      digits = (int_part + frac_part.to_s).sub(/\A0+/, '')
      e = exponent.to_i + int_part.length - 1 - (int_part.sub(/\A0+/, '').empty? ? mantissa[/\.0*/].length : 0)
      digits = digits.sub(/0+\z/, '')
      digits = '0' if digits.empty?
      sign = value.negative? || (value.zero? && 1.0 / value < 0) ? '-' : ''
      return "#{sign}0.0" if digits == '0'

      if e < -4 || e >= 16
        frac = digits.length > 1 ? "#{digits[0]}.#{digits[1..]}" : digits
        format('%<s>s%<f>se%<es>s%<e>02d', s: sign, f: frac, es: e.negative? ? '-' : '+', e: e.abs)
      elsif e.negative?
        "#{sign}0.#{'0' * (-e - 1)}#{digits}"
      else
        int = digits[0, e + 1].ljust(e + 1, '0')
        frac = digits[(e + 1)..].to_s
        "#{sign}#{int}.#{frac.empty? ? '0' : frac}"
      end
    end

    # --- encoders -------------------------------------------------------------------------------

    def header(length, type)
      [length, type, 0].pack('Vvv')
    end

    def encode_str(text, limit, what)
      length = utf8_length(text, what)
      fail!('string_too_long', "#{what} longer than #{limit} bytes: #{quote(text)}...") if length > limit
      [length].pack('v') + text.b
    end

    def encode_handshake(version = VERSION)
      ['MTRD', version, 0].pack('a4vv')
    end

    def encode_declare_family(handle, type, mode, name, help, label_names, buckets)
      payload = [handle, METRIC_TYPES.fetch(type), GAUGE_MODES.fetch(mode), label_names.length,
                 buckets.length, 0].pack('VCCvvv')
      payload << encode_str(name, MAX_NAME_LENGTH, 'Metric name') << encode_str(help, MAX_HELP_LENGTH, 'Help')
      label_names.each { |l| payload << encode_str(l, MAX_NAME_LENGTH, 'Label name') }
      buckets.each { |b| payload << encode_str(b, MAX_BUCKET_TEXT_LENGTH, 'Bucket bound') }
      header(payload.bytesize, DECLARE_FAMILY) + payload
    end

    def encode_declare_series(handle, family, label_values)
      payload = [handle, family, label_values.length, 0].pack('VVvv')
      label_values.each { |v| payload << encode_str(v, MAX_LABEL_VALUE_LENGTH, 'Label value') }
      header(payload.bytesize, DECLARE_SERIES) + payload
    end

    # The records of one OPS frame, from a flat array [op, handle, value, op, handle, value, ...].
    def pack_records(flat)
      flat.pack('VVE' * (flat.length / 3))
    end

    # One OPS frame of a flat record array.
    def encode_ops(flat)
      header(flat.length / 3 * RECORD_SIZE, OPS_FRAME) + pack_records(flat)
    end

    def encode_sync(token)
      header(8, SYNC) + [token].pack('Q<')
    end

    # CLIENT_STATS: ops dropped, cumulative over the connection (PROTOCOL.md 4.8). Only for a
    # daemon whose WELCOME announced revision 2 or later; this client does not send it yet.
    def encode_client_stats(dropped_ops)
      header(8, CLIENT_STATS) + [dropped_ops].pack('Q<')
    end

    # FOLD: count observations adding up to sum, per bucket (not cumulative, +Inf last; none for
    # a summary).
    def encode_fold(handle, count, sum, buckets)
      payload = [handle, buckets.length, 0, count, sum].pack('VvvQ<E') + buckets.pack('Q<*')
      header(payload.bytesize, FOLD) + payload
    end

    # Daemon -> client encoders: the daemon's side, for the vector tests.
    def encode_welcome(max_frame_payload, max_family_handle, max_series_handle, version = VERSION)
      header(16, WELCOME) + [version, 0, max_frame_payload, max_family_handle, max_series_handle].pack('vvVVV')
    end

    def encode_ack(token)
      header(8, ACK) + [token].pack('Q<')
    end

    def encode_error(code, handle, frame_index, message)
      payload = [code, 0, handle.nil? ? NO_HANDLE : handle, frame_index.nil? ? NO_FRAME : frame_index].pack('vvVQ<')
      payload << encode_str(message, MAX_ERROR_MESSAGE_LENGTH, 'Message')
      header(payload.bytesize, ERROR) + payload
    end

    # --- decoder (daemon -> client) -------------------------------------------------------------

    # Stream-level codes: the daemon closes the connection after sending them.
    def fatal_code?(code)
      (code >= 1 && code <= 15) || code == 64 || code == 65
    end

    def error_name(code)
      ERROR_NAMES[code] || "error_#{code}"
    end

    # Incremental decoder of the frames a daemon sends: feed bytes, get messages (Hashes with
    # :type :welcome/:ack/:error) and decode errors ({type: :decode_error, code:, fatal:,
    # frame:}). Results never depend on how the stream is split; after a fatal error it stays
    # failed and yields nothing more.
    class Decoder
      def initialize(max_frame_payload = MAX_FRAME_PAYLOAD)
        @buf = String.new(encoding: Encoding::BINARY)
        @max = max_frame_payload
        @frame_index = 0
        @failed = false
      end

      def feed(data)
        out = []
        return out if @failed

        @buf << data.b
        pos = 0
        while @buf.bytesize - pos >= HEADER_SIZE
          length, type, reserved = @buf.byteslice(pos, HEADER_SIZE).unpack('Vvv')
          index = @frame_index
          if reserved != 0 || length > @max
            out << { type: :decode_error, code: reserved != 0 ? 'bad_frame_header' : 'frame_too_large',
                     fatal: true, frame: index }
            @failed = true
            @buf = String.new(encoding: Encoding::BINARY)
            return out
          end
          stop = pos + HEADER_SIZE + length
          break if @buf.bytesize < stop

          payload = @buf.byteslice(pos + HEADER_SIZE, length)
          pos = stop
          @frame_index += 1
          out << (decode_payload(type, payload) ||
                  { type: :decode_error, code: @malformed, fatal: false, frame: index })
        end
        @buf = @buf.byteslice(pos, @buf.bytesize - pos)
        out
      end

      private

      def malformed(code = 'malformed_frame')
        @malformed = code
        nil
      end

      def decode_payload(type, p)
        case type
        when ACK
          return malformed if p.bytesize != 8

          { type: :ack, token: p.unpack1('Q<') }
        when WELCOME
          version, reserved, max_payload, max_family, max_series = p.unpack('vvVVV')
          return malformed if p.bytesize != 16 || reserved != 0

          { type: :welcome, version: version, max_frame_payload: max_payload,
            max_family_handle: max_family, max_series_handle: max_series }
        when ERROR
          return malformed if p.bytesize < 18

          code, reserved, handle, frame_index, length = p.unpack('vvVQ<v')
          return malformed if reserved != 0 || p.bytesize < 18 + length
          return malformed('string_too_long') if length > MAX_ERROR_MESSAGE_LENGTH
          return malformed if p.bytesize != 18 + length

          { type: :error, code: code, code_name: Protocol.error_name(code),
            handle: handle == NO_HANDLE ? nil : handle, frame: frame_index == NO_FRAME ? nil : frame_index,
            message: p.byteslice(18, length).force_encoding(Encoding::UTF_8), fatal: Protocol.fatal_code?(code) }
        else
          malformed('unknown_frame_type')
        end
      end
    end
  end
end
