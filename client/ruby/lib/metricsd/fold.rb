# frozen_string_literal: true

require_relative 'protocol'

module Metricsd
  # Per-series accumulators for ops that find the client's buffer full (PROTOCOL.md section 4.7).
  #
  # When the daemon is slow, stopped or down, ops beyond max_buffer_ops are folded into their
  # series' running state instead of being dropped: a counter's summed increments; a gauge's
  # last set plus the change since; a histogram's bucket counts, sum and count; a summary's sum
  # and count. Memory then grows with the number of series, not of ops, and the daemon ends up
  # with the same totals.
  class Folder
    Accumulator = Struct.new(:kind, :bounds, :assigned, :value, :delta, :count, :buckets)

    def initialize
      @acc = {} # series handle -> Accumulator, in first-fold order
    end

    def size
      @acc.size
    end

    # The daemon's rule: the first bucket whose bound is >= value, else +Inf (the last).
    def self.bucket_index(bounds, value)
      bounds.bsearch_index { |b| b >= value } || bounds.length
    end

    # Folds one op; false when the daemon would refuse it (it is then not folded: one refused op
    # must not spoil a sum). The metrics validate values before, so that is a safety net.
    def fold(op, handle, value, kind, bounds)
      return false unless valid?(kind, op, value)

      a = (@acc[handle] ||= Accumulator.new(kind, bounds, false, 0.0, 0.0, 0,
                                            kind == 'histogram' ? Array.new(bounds.length + 1, 0) : nil))
      case op
      when Protocol::OP_OBSERVE
        a.delta += value
        a.count += 1
        a.buckets[Folder.bucket_index(bounds, value)] += 1 if a.buckets
      when Protocol::OP_SET
        a.assigned = true
        a.value = value
        a.delta = 0.0
      when Protocol::OP_INC then a.delta += value
      else a.delta -= value
      end
      true
    end

    # The folded state as a flat record array and a list of FOLD frames; empties the folder.
    def drain
      records = []
      frames = []
      @acc.each do |handle, a|
        case a.kind
        when 'counter' then records.push(Protocol::OP_INC, handle, a.delta)
        when 'gauge'
          records.push(Protocol::OP_SET, handle, a.value) if a.assigned
          records.push(Protocol::OP_INC, handle, a.delta) if !a.assigned || a.delta != 0
        else frames << Protocol.encode_fold(handle, a.count, a.delta, a.buckets || [])
        end
      end
      @acc = {}
      [records, frames]
    end

    private

    def valid?(kind, op, value)
      case kind
      when 'counter' then op == Protocol::OP_INC && value >= 0 && value.finite?
      when 'gauge' then op == Protocol::OP_SET || value.finite?
      else op == Protocol::OP_OBSERVE && value == value # rubocop:disable Lint/BinaryOperatorWithIdenticalOperands (NaN; Integer has no nan?)
      end
    end
  end
end
