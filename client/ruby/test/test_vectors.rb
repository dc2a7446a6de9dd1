# frozen_string_literal: true

# protocol/test_vectors.json against lib/metricsd/protocol.rb: every client->daemon vector encodes
# byte for byte, every daemon->client vector decodes however the bytes are split, the client-role
# invalid vectors give the expected results, and the family rules agree with every family_rules
# vector (same error codes).
require_relative 'support/helper'

class VectorsTest < Minitest::Test
  P = Metricsd::Protocol
  DOC = JSON.parse(File.read(File.join(REPO, 'protocol', 'test_vectors.json')))

  def number(v)
    return v unless v.is_a?(String)

    { 'NaN' => Float::NAN, '+Inf' => Float::INFINITY, '-Inf' => -Float::INFINITY, '-0' => -0.0 }.fetch(v)
  end

  def encode(m)
    case m['type']
    when 'handshake' then P.encode_handshake(m['version'])
    when 'declare_family'
      P.encode_declare_family(m['handle'], m['metric_type'], m['gauge_mode'], m['name'], m['help'],
                              m['label_names'], m['buckets'])
    when 'declare_series' then P.encode_declare_series(m['handle'], m['family'], m['label_values'])
    when 'ops'
      P.encode_ops(m['records'].flat_map { |r| [P::OPS.fetch(r['op']), r['handle'], number(r['value'])] })
    when 'sync' then P.encode_sync(m['token'])
    when 'client_stats' then P.encode_client_stats(m['dropped_ops'])
    when 'fold' then P.encode_fold(m['handle'], m['count'], number(m['sum']), m['buckets'])
    when 'welcome' then P.encode_welcome(m['max_frame_payload'], m['max_family_handle'], m['max_series_handle'], m['version'])
    when 'ack' then P.encode_ack(m['token'])
    when 'error' then P.encode_error(P::ERROR_CODES.fetch(m['code']), m['handle'], m['frame'], m['message'])
    else flunk("unknown type #{m['type']}")
    end
  end

  def as_message(d)
    case d[:type]
    when :welcome
      { 'type' => 'welcome', 'version' => d[:version], 'max_frame_payload' => d[:max_frame_payload],
        'max_family_handle' => d[:max_family_handle], 'max_series_handle' => d[:max_series_handle] }
    when :ack then { 'type' => 'ack', 'token' => d[:token] }
    when :error
      { 'type' => 'error', 'code' => d[:code_name], 'handle' => d[:handle], 'frame' => d[:frame], 'message' => d[:message] }
    else { 'error' => d[:code], 'fatal' => d[:fatal], 'frame' => d[:frame], 'handle' => nil }
    end
  end

  def as_expect(d)
    return { 'message' => d[:type].to_s } unless d[:type] == :decode_error

    as_message(d)
  end

  # The bytes whole, split in two at every offset, and one byte at a time.
  def splits(bytes)
    out = [[bytes]]
    (1...bytes.bytesize).each { |i| out << [bytes.byteslice(0, i), bytes.byteslice(i..)] }
    out << bytes.each_char.to_a
    out
  end

  def decode_all(pieces, max = P::MAX_FRAME_PAYLOAD)
    decoder = P::Decoder.new(max)
    pieces.flat_map { |piece| decoder.feed(piece) }
  end

  def test_every_valid_vector_encodes_byte_exactly
    assert_equal 36, DOC['valid'].length
    DOC['valid'].each do |v|
      assert_equal v['hex'], encode(v['message']).unpack1('H*'), v['name']
    end
  end

  def test_daemon_to_client_vectors_decode_however_split
    vectors = DOC['valid'].select { |v| v['direction'] == 'daemon_to_client' }
    assert_equal %w[ack error welcome], vectors.map { |v| v['message']['type'] }.uniq.sort
    vectors.each do |v|
      bytes = [v['hex']].pack('H*')
      splits(bytes).each do |pieces|
        assert_equal [v['message']], decode_all(pieces).map { |d| as_message(d) }, "#{v['name']} in #{pieces.length} pieces"
      end
    end
  end

  def test_client_role_invalid_vectors_give_the_expected_results_however_split
    vectors = DOC['invalid'].select { |v| v['role'] == 'client' }
    assert_equal 8, vectors.length
    vectors.each do |v|
      bytes = [v['hex']].pack('H*')
      splits(bytes).each do |pieces|
        assert_equal v['expect'], decode_all(pieces, DOC['max_frame_payload']).map { |d| as_expect(d) },
                     "#{v['name']} in #{pieces.length} pieces"
      end
    end
  end

  def test_fatal_header_errors_are_sticky
    ack = P.encode_ack(1)
    bad = [8, P::ACK, 1].pack('Vvv') + ("\0" * 8)
    decoder = P::Decoder.new
    got = decoder.feed(ack + bad + ack)
    assert_equal [{ type: :ack, token: 1 }, { type: :decode_error, code: 'bad_frame_header', fatal: true, frame: 1 }], got
    assert_equal [], decoder.feed(ack)
    assert_equal [{ type: :decode_error, code: 'frame_too_large', fatal: true, frame: 0 }],
                 P::Decoder.new(4).feed(ack)
  end

  def test_family_rules_vectors
    assert_equal 88, DOC['family_rules'].length
    DOC['family_rules'].each do |v|
      d = v['declaration']
      error = begin
        P.check_family(d['metric_type'], d['gauge_mode'], d['name'], d['help'], d['label_names'], d['buckets'])
        nil
      rescue Metricsd::ValidationError => e
        e.code
      end
      v['error'].nil? ? assert_nil(error, v['name']) : assert_equal(v['error'], error, v['name'])
    end
  end

  def test_invalid_utf8_is_refused
    e = assert_raises(Metricsd::ValidationError) { P.encode_str("\xff".b, 10, 'Label value') }
    assert_equal 'invalid_label_value', e.code
  end
end
