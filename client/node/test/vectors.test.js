'use strict';
// The shared protocol test vectors (protocol/test_vectors.json) against lib/protocol.js.
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const p = require('../lib/protocol');

const doc = JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', '..', 'protocol', 'test_vectors.json'), 'utf8'));

function double(value) {
  if (typeof value === 'string') return { NaN: NaN, '+Inf': Infinity, '-Inf': -Infinity, '-0': -0 }[value];
  return value;
}

function encode(m) {
  switch (m.type) {
    case 'handshake': return p.encodeHandshake(m.version);
    case 'declare_family':
      return p.encodeDeclareFamily(m.handle, m.metric_type, m.gauge_mode, m.name, m.help, m.label_names, m.buckets);
    case 'declare_series': return p.encodeDeclareSeries(m.handle, m.family, m.label_values);
    case 'ops': return p.encodeOps(m.records.map((r) => [p.OP[r.op], r.handle, double(r.value)]));
    case 'sync': return p.encodeSync(m.token);
    case 'fold': return p.encodeFold(m.handle, m.count, double(m.sum), m.buckets);
    case 'client_stats': return p.encodeClientStats(m.dropped_ops);
    case 'welcome': return p.encodeWelcome(m.max_frame_payload, m.max_family_handle, m.max_series_handle, m.version);
    case 'ack': return p.encodeAck(m.token);
    case 'error': return p.encodeError(p.ERROR_CODES[m.code], m.handle, m.frame, m.message);
    default: throw new Error(`unknown message type ${m.type}`);
  }
}

/** A decoded daemon message in the vectors' JSON shape. */
function asMessage(d) {
  if (d.type === 'welcome') {
    return { type: 'welcome', version: d.version, max_frame_payload: d.maxFramePayload,
      max_family_handle: d.maxFamilyHandle, max_series_handle: d.maxSeriesHandle };
  }
  if (d.type === 'ack') return { type: 'ack', token: d.token };
  if (d.type === 'error') return { type: 'error', code: d.codeName, handle: d.handle, frame: d.frame, message: d.message };
  throw new Error(`not a message: ${JSON.stringify(d)}`);
}

function asExpect(d) {
  if (d.type === 'decode_error') return { error: d.code, fatal: d.fatal, frame: d.frame, handle: d.handle };
  return { message: asMessage(d).type };
}

/** The same bytes whole, split in two at every offset, and one byte at a time. */
function* splits(data) {
  yield [data];
  for (let cut = 1; cut < data.length; cut++) yield [data.subarray(0, cut), data.subarray(cut)];
  yield Array.from(data, (_, i) => data.subarray(i, i + 1));
}

function decodeAll(pieces, max) {
  const decoder = new p.ClientDecoder(max);
  return pieces.flatMap((piece) => decoder.feed(piece));
}

test('protocol version', () => {
  assert.equal(doc.protocol_version, p.VERSION);
});

test('every valid vector encodes byte-exactly', () => {
  assert.ok(doc.valid.length > 20);
  for (const v of doc.valid) assert.equal(encode(v.message).toString('hex'), v.hex, v.name);
});

test('daemon-to-client vectors decode however split', () => {
  const vectors = doc.valid.filter((v) => v.direction === 'daemon_to_client');
  assert.deepEqual(new Set(vectors.map((v) => v.message.type)), new Set(['welcome', 'ack', 'error']));
  for (const v of vectors) {
    for (const pieces of splits(Buffer.from(v.hex, 'hex'))) {
      assert.deepEqual(decodeAll(pieces).map(asMessage), [v.message], `${v.name} in ${pieces.length} pieces`);
    }
  }
});

test('client-role invalid vectors give the expected results however split', () => {
  const vectors = doc.invalid.filter((v) => v.role === 'client');
  assert.ok(vectors.length > 0);
  for (const v of vectors) {
    for (const pieces of splits(Buffer.from(v.hex, 'hex'))) {
      assert.deepEqual(decodeAll(pieces, doc.max_frame_payload).map(asExpect), v.expect, `${v.name} in ${pieces.length} pieces`);
    }
  }
});

test('stream errors are fatal and sticky', () => {
  const ack = p.encodeAck(1);
  const badHeader = Buffer.concat([ack.subarray(0, 6), Buffer.from([1, 0]), Buffer.alloc(8)]);
  const decoder = new p.ClientDecoder();
  assert.deepEqual(decoder.feed(Buffer.concat([ack, badHeader, ack])), [
    { type: 'ack', token: 1 },
    { type: 'decode_error', code: 'bad_frame_header', fatal: true, frame: 1, handle: null }]);
  assert.deepEqual(decoder.feed(ack), []);
  const tooLarge = Buffer.alloc(8);
  p.header(tooLarge, p.LIMITS.maxFramePayload + 1, p.FRAME.error);
  assert.deepEqual(new p.ClientDecoder().feed(tooLarge),
    [{ type: 'decode_error', code: 'frame_too_large', fatal: true, frame: 0, handle: null }]);
});

test('family rules: the Node copy refuses what the daemon refuses, with its code', () => {
  assert.ok(doc.family_rules.length > 50);
  for (const v of doc.family_rules) {
    const d = v.declaration;
    let got = null;
    try {
      p.checkFamily(d.metric_type, d.gauge_mode, d.name, d.help, d.label_names, d.buckets);
    } catch (e) {
      assert.ok(e instanceof p.ValidationError, `${v.name}: ${e}`);
      got = e.code;
    }
    assert.equal(got, v.error, v.name);
    if (got === null) p.encodeDeclareFamily(0, d.metric_type, d.gauge_mode, d.name, d.help, d.label_names, d.buckets);
  }
});

test('family rules: what the vectors cannot spell in JSON', () => {
  assert.throws(() => p.checkHelp('\ud800'), { code: 'invalid_label_value' });
  assert.throws(() => p.encodeStr('a\udc00', 100, 'Label value'), { code: 'invalid_label_value' });
  p.checkHelp('\ud83d\ude00'); // a well-formed pair is fine
  for (const text of ['1_000', ' 1', 'Infinity', '1e-400', '0x10', '', '\u0661']) {
    assert.throws(() => p.checkBuckets('histogram', [text]), { code: 'invalid_buckets' }, text);
  }
  assert.deepEqual(p.checkBuckets('histogram', ['+3', '.5e1', '1E2']), [3, 5, 100]);
});

test('error levels', () => {
  assert.equal(p.isFatalCode(65), true);
  assert.equal(p.isFatalCode(36), false);
  assert.equal(p.errorName(999), 'error_999');
});
