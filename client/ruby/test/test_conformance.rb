# frozen_string_literal: true

# The shared end-to-end scenario (protocol/conformance/scenario.json, format in its README)
# through the public API against the real daemon.
require_relative 'support/helper'

class ConformanceTest < Minitest::Test
  SCENARIO = JSON.parse(File.read(File.join(REPO, 'protocol', 'conformance', 'scenario.json')))

  def number(v)
    v.is_a?(String) ? { 'NaN' => Float::NAN, '+Inf' => Float::INFINITY, '-Inf' => -Float::INFINITY }.fetch(v) : v
  end

  # The scrape's lines that belong to families named with prefix.
  def scraped(text, prefix)
    text.split("\n").select { |l| (l.start_with?('# ') ? l.split(' ')[2].to_s : l).start_with?(prefix) }
  end

  def make(step)
    client = @clients.fetch(step['client'])
    args = { docstring: step['help'], labels: step['label_names'], client: client }
    case step['type']
    when 'counter' then Metricsd::Counter.new(step['name'], **args)
    when 'gauge' then Metricsd::Gauge.new(step['name'], mode: step['mode'], **args)
    when 'summary' then Metricsd::Summary.new(step['name'], **args)
    when 'histogram'
      step.key?('buckets') ? Metricsd::Histogram.new(step['name'], buckets: step['buckets'], **args) : Metricsd::Histogram.new(step['name'], **args)
    else flunk("unknown type #{step['type']}")
    end
  end

  def call(step, op)
    metric = @metrics.fetch(step['id'])
    target = step['labels'].empty? ? metric : metric.labels(*step['labels'])
    step.key?('value') ? target.public_send(op, number(step['value'])) : target.public_send(op)
  end

  def run_step(step)
    where = step.to_json[0, 120]
    case step['do']
    when 'repeat' then step['times'].times { step['steps'].each { |s| call(s, s['do']) } }
    when 'declare' then @metrics[step['id']] = make(step)
    when 'inc', 'dec', 'set', 'observe' then call(step, step['do'])
    when 'flush' then assert_equal true, @clients[step['client']].flush(5.0), where
    when 'refuse_declare'
      e = assert_raises(Metricsd::ValidationError, where) { make(step) }
      assert_equal step['error'], e.code, where
    when 'refuse_op'
      e = assert_raises(Metricsd::ValidationError, where) { call(step, step['op']) }
      assert_equal step['error'], e.code, where
    when 'refuse_labels'
      e = assert_raises(Metricsd::ValidationError, where) { @metrics[step['id']].labels(*step['labels']) }
      assert_equal step['error'], e.code, where
    when 'expect_error'
      error = @clients[step['client']].last_error.to_s
      assert error.start_with?("#{step['error']}:"), "#{where}: #{error}"
    when 'expect_dropped' then assert_equal step['count'], @clients[step['client']].dropped_ops, where
    when 'scrape'
      expected = SCENARIO['expected'][step['expect']].map { |l| l.gsub('{pid}', Process.pid.to_s) }
      got = nil
      wait_for(step['eventually'] ? 5.0 : 0) { (got = scraped(@daemon.scrape, SCENARIO['scrape_prefix'])) == expected }
      assert_equal expected, got, where
    when 'close' then @clients[step['client']].close
    else flunk("unknown step #{step['do']}")
    end
  end

  def test_the_shared_scenario_against_the_real_daemon
    @daemon = Daemon.new.start
    @clients = SCENARIO['clients'].to_h do |name, opts|
      options = { socket: @daemon.socket_path, on_error: ->(_code, _message) {} }
      options[:max_buffer_ops] = opts['max_buffer_ops'] if opts.key?('max_buffer_ops')
      [name, Metricsd::Client.new(**options)]
    end
    @metrics = {}
    steps = SCENARIO['steps']
    burst = steps.index { |s| s['do'] == 'repeat' }
    steps[0...burst].each { |s| run_step(s) }
    # The burst is the first time client a's buffer overflows: it goes out as FOLD frames (at
    # least one per histogram and summary series it touched; more when the sender thread gets
    # the GVL mid-burst and drains the folds), not as 2500 single ops.
    before = @clients['a'].fold_frames
    steps[burst, 2].each { |s| run_step(s) }
    assert_operator @clients['a'].fold_frames - before, :>=, 2
    steps[(burst + 2)..].each { |s| run_step(s) }
  ensure
    @clients&.each_value(&:close)
    assert_equal 0, @daemon.stop if @daemon
    @daemon&.cleanup
  end

  # Numerically the scenario's; as texts, what the Python client declares.
  def test_the_default_buckets_are_the_scenarios_and_the_python_clients_texts
    assert_equal SCENARIO['default_buckets'], Metricsd::DEFAULT_BUCKETS
    python = IO.popen({ 'PYTHONPATH' => File.join(REPO, 'client', 'python'), 'PYTHONDONTWRITEBYTECODE' => '1' },
                      ['python3', '-c', 'from metricsd import _metrics; print(" ".join(map(str, _metrics.DEFAULT_BUCKETS)))'],
                      &:read)
    assert_equal %w[0.005 0.01 0.025 0.05 0.075 0.1 0.25 0.5 0.75 1 2.5 5 7.5 10], python.split
    assert_equal python.split, Metricsd::DEFAULT_BUCKETS.map { |b| Metricsd::Protocol.bucket_text(b) }
  end
end
