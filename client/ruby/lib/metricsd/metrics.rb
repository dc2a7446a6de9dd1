# frozen_string_literal: true

require_relative 'protocol'

module Metricsd
  # prometheus_client's (Python) default buckets, whole numbers as Integers: the texts the
  # Python client declares ("1", "5", "10", as pytheus writes its Redis keys), so workers in
  # every language declare the same family. (Ruby prometheus-client's defaults lack 0.075, 0.75
  # and 7.5.)
  DEFAULT_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10].freeze
  # prometheus-client's DirectFileStore aggregations, as gauge modes.
  AGGREGATIONS = { sum: 'sum', max: 'max', min: 'min', most_recent: 'mostrecent', all: 'all' }.freeze

  INFINITY = Float::INFINITY
  private_constant :INFINITY

  def self.invalid(message)
    ValidationError.new('invalid_value', message)
  end

  def self.monotonic
    Process.clock_gettime(Process::CLOCK_MONOTONIC)
  end

  # --- children: one series each; the hot path --------------------------------------------------

  # A counter's series.
  class CounterChild
    attr_reader :handle

    def initialize(client)
      @client = client
      self.handle = 0
    end

    def handle=(handle)
      @handle = handle
      @inc1 = [Protocol::OP_INC, handle, 1.0].pack('VVE').freeze # inc() needs no packing
    end

    # Adds by (default 1; finite and >= 0).
    def increment(by: 1)
      inc(by)
    end

    def inc(by = 1)
      return @client._record(@inc1, Protocol::OP_INC, @handle, 1) if by.equal?(1)

      unless (by.is_a?(Integer) && by >= 0) || (by.is_a?(Float) && by >= 0 && by < INFINITY)
        raise Metricsd.invalid("Counters can only be incremented by non-negative finite amounts, not #{by.inspect}") unless by.is_a?(Numeric) && by.real?

        return inc(by.to_f) unless by.is_a?(Float)

        raise Metricsd.invalid("Counters can only be incremented by non-negative finite amounts, not #{by}")
      end
      @client._op(Protocol::OP_INC, @handle, by)
    end
  end

  # A gauge's series; keeps this process's value, re-sent after a reconnect.
  class GaugeChild
    attr_accessor :handle, :value, :written

    def initialize(client)
      @client = client
      @handle = 0
      @value = 0.0
      @written = false
    end

    def increment(by: 1)
      inc(by)
    end

    def decrement(by: 1)
      dec(by)
    end

    # Adds by (default 1; finite, may be negative).
    def inc(by = 1)
      @client._gauge_op(self, Protocol::OP_INC, @handle, finite(by, 'increments'))
    end

    # Subtracts by (default 1; finite, may be negative).
    def dec(by = 1)
      @client._gauge_op(self, Protocol::OP_DEC, @handle, finite(by, 'decrements'))
    end

    # Sets the value (any number, NaN and infinities included).
    def set(value)
      raise Metricsd.invalid("Gauge values must be numbers, not #{value.inspect}") unless value.is_a?(Numeric) && value.real?

      @client._gauge_op(self, Protocol::OP_SET, @handle, value.to_f)
    end

    def set_to_current_time
      set(Process.clock_gettime(Process::CLOCK_REALTIME))
    end

    # Runs the block and sets the gauge to the seconds it took; returns the block's value.
    def time
      start = Metricsd.monotonic
      yield
    ensure
      set(Metricsd.monotonic - start)
    end

    # Runs the block counted as in progress: inc before, dec when it returns or raises.
    def track_in_progress
      inc
      begin
        yield
      ensure
        dec
      end
    end

    private

    def finite(by, what)
      return by if by.is_a?(Integer) || (by.is_a?(Float) && by.finite?)
      return finite(by.to_f, what) if by.is_a?(Numeric) && by.real? && !by.is_a?(Float)

      raise Metricsd.invalid("Gauge #{what} must be finite, not #{by.inspect}")
    end
  end

  # A histogram's or summary's series: the daemon does the bucketing.
  class ObserveChild
    attr_accessor :handle

    def initialize(client)
      @client = client
      @handle = 0
    end

    # Records one observation (any real number but NaN).
    def observe(value)
      unless value.is_a?(Float) ? !value.nan? : value.is_a?(Integer)
        raise Metricsd.invalid("Cannot observe #{value.inspect}") unless value.is_a?(Numeric) && value.real? && !value.is_a?(Float)

        return observe(value.to_f)
      end
      @client._op(Protocol::OP_OBSERVE, @handle, value)
    end

    # Runs the block and observes the seconds it took (also when it raises); returns its value.
    def time
      start = Metricsd.monotonic
      yield
    ensure
      observe(Metricsd.monotonic - start)
    end
  end

  # --- metrics (families) -------------------------------------------------------------------------

  # A family: its name, help and label names, declared on a Client; labels(...) gives the child
  # bound to one set of label values.
  class Metric
    attr_reader :name, :docstring, :label_names, :type, :client

    # docstring: (or help:), labels: and client: as the subclasses take them; prometheus-client's
    # store_settings: is accepted (Gauge reads its aggregation), preset_labels: is not supported.
    def initialize(type, name, child_class, mode, bucket_texts, docstring: '', help: nil, labels: [], client: nil,
                   preset_labels: nil, store_settings: nil)
      raise ArgumentError, 'preset_labels is not supported: use labels(...)' if preset_labels && !preset_labels.empty?
      raise ArgumentError, "store_settings must be a Hash, not #{store_settings.class}" unless store_settings.nil? || store_settings.is_a?(Hash)

      docstring = help || docstring
      name = name.to_s if name.is_a?(Symbol)
      Protocol.check_metric_name(name)
      if type == 'counter' && !name.end_with?('_total')
        name += '_total' # what prometheus_client and the other metricsd clients export
        Protocol.check_metric_name(name)
      end
      @name = name
      @docstring = docstring.to_s
      @label_names = labels.map { |l| l.is_a?(Symbol) ? l.to_s : l }.freeze
      @label_keys = @label_names.map { |l| l.is_a?(String) ? l.to_sym : l }.freeze
      @type = type
      @client = client || Metricsd.client
      @child_class = child_class
      @family = @client._declare_family(type, mode, name, @docstring, @label_names, bucket_texts)
      @children = {} # label values as given -> child
      @by_symbols = {} # with_labels(name: value, ...): value -> ... -> child
      @arity = @label_names.length
      @only = @label_names.empty? ? child([]) : nil
    end

    # The child for one set of label values, by position (labels('GET', '200')) or by name
    # (labels(method: 'GET', code: '200'), or a Hash). Values are turned into strings.
    def labels(*values, **named)
      if values.empty?
        return with_labels(named) unless named.empty?
      elsif !named.empty? || (values.length == 1 && values[0].is_a?(Hash))
        return with_labels(values[0].merge(named)) if values.length == 1 && values[0].is_a?(Hash)

        raise ValidationError.new('label_count_mismatch', "#{@name}: give label values by position or by name, not both")
      end
      @children[values] || lookup(values)
    end

    # Ruby prometheus-client's name: the child for a Hash of label names to values.
    def with_labels(given)
      if given.size == @arity && @arity.positive? # the usual form, symbol keys: a Hash level per label
        node = @by_symbols
        i = 0
        while node && i < @arity
          node = node[given[@label_keys[i]]]
          i += 1
        end
        return node if node
      end
      child = @children[given]
      return child if child

      if given.size != @label_names.length
        raise ValidationError.new('label_count_mismatch',
                                  "Incorrect label names for #{@name}: expected #{@label_names}, got #{given.keys}")
      end
      values = @label_keys.each_with_index.map do |key, i|
        given.fetch(key) do
          given.fetch(@label_names[i]) do
            raise ValidationError.new('label_count_mismatch',
                                      "Incorrect label names for #{@name}: expected #{@label_names}, got #{given.keys}")
          end
        end
      end
      child = lookup(values)
      if @label_keys.all? { |k| given.key?(k) }
        node = @by_symbols
        values[0...-1].each { |v| node = (node[v] ||= {}) }
        node[values.last] = child
      else
        @children[given.dup.freeze] = child
      end
      child
    end

    private

    def lookup(values)
      if @label_names.empty?
        raise ValidationError.new('label_count_mismatch', "No label names were set for #{@name}")
      end
      if values.length != @label_names.length
        raise ValidationError.new('label_count_mismatch',
                                  "Incorrect label count for #{@name}: expected #{@label_names.length}, got #{values.length}")
      end
      texts = values.map { |v| v.is_a?(String) ? v : v.to_s }.freeze
      child = (@children[texts] ||= child(texts))
      @children[values.dup.freeze] = child
      child
    end

    def child(values)
      c = @child_class.new(@client)
      c.handle = @client._declare_series(@family, values, c)
      c
    end

    # The unlabelled series, or the one for the labels Hash.
    def target(labels)
      return with_labels(labels) unless labels.nil? || labels.empty?
      return @only if @only

      raise ValidationError.new('label_count_mismatch', "#{@name} has label names: give labels")
    end
  end

  # A monotonically increasing count; the exported name always ends in _total.
  class Counter < Metric
    def initialize(name, **options)
      super('counter', name, CounterChild, 'livesum', [], **options)
    end

    def increment(by: 1, labels: nil)
      target(labels).inc(by)
    end

    def inc(by = 1, labels: nil)
      target(labels).inc(by)
    end
  end

  # A value that goes up and down; mode says how the daemon combines worker processes
  # (PROTOCOL.md section 7; store_settings: {aggregation: :max} is prometheus-client's spelling).
  class Gauge < Metric
    attr_reader :mode

    def initialize(name, mode: nil, store_settings: nil, **options)
      if mode.nil? && store_settings && store_settings[:aggregation]
        mode = AGGREGATIONS.fetch(store_settings[:aggregation]) do |a|
          raise ValidationError.new('invalid_gauge_mode', "Unknown aggregation #{a.inspect}")
        end
      end
      mode = (mode || 'livesum').to_s
      Protocol.check_gauge_mode('gauge', mode)
      @mode = mode
      super('gauge', name, GaugeChild, mode, [], store_settings: store_settings, **options)
    end

    def increment(by: 1, labels: nil)
      target(labels).inc(by)
    end

    def decrement(by: 1, labels: nil)
      target(labels).dec(by)
    end

    def inc(by = 1, labels: nil)
      target(labels).inc(by)
    end

    def dec(by = 1, labels: nil)
      target(labels).dec(by)
    end

    def set(value, labels: nil)
      target(labels).set(value)
    end

    def set_to_current_time(labels: nil)
      target(labels).set_to_current_time
    end

    def time(labels: nil, &block)
      target(labels).time(&block)
    end

    def track_in_progress(labels: nil, &block)
      target(labels).track_in_progress(&block)
    end
  end

  # Histogram and Summary: observe and time.
  class Observed < Metric
    def observe(value, labels: nil)
      target(labels).observe(value)
    end

    def time(labels: nil, &block)
      target(labels).time(&block)
    end
  end

  # Observations summed and counted (_sum, _count); no quantiles.
  class Summary < Observed
    def initialize(name, **options)
      super('summary', name, ObserveChild, 'livesum', [], **options)
    end
  end

  # Observations counted in cumulative buckets, plus _sum and _count.
  class Histogram < Observed
    attr_reader :buckets

    def initialize(name, buckets: DEFAULT_BUCKETS, **options)
      bounds = buckets.to_a.dup
      bounds.pop if [INFINITY, '+Inf'].include?(bounds.last) # +Inf is implicit
      @buckets = bounds.map { |b| Protocol.bucket_text(b) }.freeze
      super('histogram', name, ObserveChild, 'livesum', @buckets, **options)
    end
  end
end
