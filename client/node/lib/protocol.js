'use strict';
// metricsd wire protocol v1: pure encoders, the family rules and an incremental decoder of the
// daemon's frames (no sockets). Byte layouts: protocol/PROTOCOL.md; every byte is pinned by
// protocol/test_vectors.json, which test/vectors.test.js runs against this module.

const VERSION = 1;

const METRIC_TYPES = { counter: 1, gauge: 2, histogram: 3, summary: 4 };
const GAUGE_MODES = {};
'livesum sum max min mostrecent all liveall livemax livemin livemostrecent shared'
  .split(' ').forEach((name, value) => { GAUGE_MODES[name] = value; });
const OP = { inc: 1, dec: 2, set: 3, observe: 4 };

const FRAME = {
  declareFamily: 0x01, declareSeries: 0x02, ops: 0x03, sync: 0x04, fold: 0x05, clientStats: 0x06,
  welcome: 0x81, ack: 0x82, error: 0x83,
};

const ERROR_CODES = {
  bad_magic: 1, unsupported_version: 2, bad_handshake: 3, frame_too_large: 4,
  bad_frame_header: 5, handshake_timeout: 6, idle_timeout: 7, connection_memory_limit: 8,
  unknown_frame_type: 16, malformed_frame: 17, string_too_long: 18, invalid_metric_type: 19,
  invalid_gauge_mode: 20, too_many_labels: 21, too_many_buckets: 22, handle_out_of_range: 23,
  invalid_metric_name: 32, invalid_label_name: 33, invalid_label_value: 34, invalid_buckets: 35,
  family_conflict: 36, name_collision: 37, handle_conflict: 38, unknown_family: 39,
  label_count_mismatch: 40, family_series_limit: 41, total_series_limit: 42,
  unknown_series: 48, invalid_op: 49, invalid_value: 50, too_many_connections: 64,
  shutting_down: 65, internal: 66,
};
const ERROR_NAMES = {};
for (const [name, code] of Object.entries(ERROR_CODES)) ERROR_NAMES[code] = name;

// Protocol limits (section 10).
const LIMITS = {
  maxFramePayload: 1048576, maxFamilyHandle: 65535, maxSeriesHandle: 1048575,
  maxNameLength: 255, maxHelpLength: 4096, maxLabelValueLength: 4096,
  maxBucketTextLength: 64, maxLabels: 32, maxBuckets: 256, maxErrorMessageLength: 1024,
};
const HEADER_SIZE = 8;
const RECORD_SIZE = 16;
const NO_HANDLE = 0xffffffff;
const NO_FRAME = 0xffffffffffffffffn;

// --- validation: the family rules (PROTOCOL.md section 5.1) ----------------------------------
// A copy of protocol/src/family_rules.cpp, checked against the same "family_rules" vectors.

/** A declaration or op the daemon would refuse; `code` is the error code it would send. */
class ValidationError extends TypeError {
  constructor(code, message) {
    super(message);
    this.name = 'MetricsdValidationError';
    this.code = code;
  }
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
// A bound as the daemon reads it (C++ from_chars after one optional '+'). Number() alone would
// also take " 1", "0x10", "Infinity" and "".
const BUCKET_BOUND = /^[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$/;
const LONE_SURROGATE = /\p{Cs}/u; // with /u a well-formed pair is one code point, not two Cs
const RESERVED_METRIC_PREFIX = 'metricsd_';

function quote(text) {
  return JSON.stringify(String(text).slice(0, 40));
}

/** UTF-8 length of `text`; refuses what is not valid UTF-8 (lone surrogates). */
function utf8Length(text, what) {
  if (typeof text !== 'string') throw new ValidationError('invalid_label_value', `${what} must be a string, not ${typeof text}`);
  if (LONE_SURROGATE.test(text)) throw new ValidationError('invalid_label_value', `${what} is not valid UTF-8: ${quote(text)}`);
  return Buffer.byteLength(text, 'utf8');
}

function checkMetricName(name) {
  if (typeof name !== 'string') throw new ValidationError('invalid_metric_name', `Invalid metric name: ${quote(name)}`);
  if (utf8Length(name, 'Metric name') > LIMITS.maxNameLength) {
    throw new ValidationError('string_too_long', `Metric name longer than ${LIMITS.maxNameLength} bytes: ${quote(name)}...`);
  }
  if (!METRIC_NAME.test(name)) throw new ValidationError('invalid_metric_name', `Invalid metric name: ${quote(name)}`);
  if (name.startsWith(RESERVED_METRIC_PREFIX)) {
    throw new ValidationError('name_collision', `Metric name ${quote(name)}: the ${RESERVED_METRIC_PREFIX} prefix is reserved for the daemon's own metrics`);
  }
}

function checkHelp(text) {
  if (utf8Length(text, 'Help') > LIMITS.maxHelpLength) {
    throw new ValidationError('string_too_long', `Help longer than ${LIMITS.maxHelpLength} bytes`);
  }
}

function checkGaugeMode(type, mode) {
  if (!Object.prototype.hasOwnProperty.call(GAUGE_MODES, mode)) {
    throw new ValidationError('invalid_gauge_mode', `Invalid gauge mode: ${quote(mode)}`);
  }
  if (type !== 'gauge' && mode !== 'livesum') {
    throw new ValidationError('invalid_gauge_mode', `Gauge mode ${mode} given for a ${type}; only gauges take a mode`);
  }
}

function checkLabelNames(names, perPid) {
  if (!Array.isArray(names)) throw new ValidationError('invalid_label_name', 'labelNames must be an array of strings');
  if (names.length > LIMITS.maxLabels) {
    throw new ValidationError('too_many_labels', `At most ${LIMITS.maxLabels} label names are allowed`);
  }
  const seen = new Set();
  for (const label of names) {
    if (typeof label !== 'string') throw new ValidationError('invalid_label_name', `Invalid label name: ${quote(label)}`);
    if (utf8Length(label, 'Label name') > LIMITS.maxNameLength) {
      throw new ValidationError('string_too_long', `Label name longer than ${LIMITS.maxNameLength} bytes: ${quote(label)}...`);
    }
    if (!LABEL_NAME.test(label)) throw new ValidationError('invalid_label_name', `Invalid label name: ${quote(label)}`);
    if (label.startsWith('__') || label === 'le' || label === 'quantile') {
      throw new ValidationError('invalid_label_name', `Reserved label name: ${label}`);
    }
    if (perPid && label === 'pid') {
      throw new ValidationError('invalid_label_name', "Label name 'pid' is added by gauge modes 'all' and 'liveall'");
    }
    if (seen.has(label)) throw new ValidationError('invalid_label_name', `Duplicate label name ${quote(label)}`);
    seen.add(label);
  }
}

function bucketBound(text) {
  if (utf8Length(text, 'Bucket bound') > LIMITS.maxBucketTextLength) {
    throw new ValidationError('string_too_long', `Bucket bound longer than ${LIMITS.maxBucketTextLength} bytes: ${quote(text)}...`);
  }
  if (!BUCKET_BOUND.test(text)) throw new ValidationError('invalid_buckets', `Bucket bound ${quote(text)} is not a finite number`);
  const value = Number(text);
  const mantissa = text.split(/[eE]/)[0].replace(/[+\-.0]/g, '');
  // The daemon refuses what overflows to infinity and what underflows to zero (from_chars says
  // out of range); Number() returns Infinity and 0 for them.
  if (!Number.isFinite(value) || (value === 0 && mantissa !== '')) {
    throw new ValidationError('invalid_buckets', `Bucket bound ${quote(text)} is out of range`);
  }
  return value;
}

/** Checks bucket texts for the type; returns their values. */
function checkBuckets(type, texts) {
  if (type !== 'histogram') {
    if (texts.length) throw new ValidationError('too_many_buckets', 'Only histograms have buckets');
    return [];
  }
  if (texts.length > LIMITS.maxBuckets) {
    throw new ValidationError('too_many_buckets', `At most ${LIMITS.maxBuckets} buckets are allowed`);
  }
  if (!texts.length) throw new ValidationError('invalid_buckets', 'A histogram needs at least one finite bucket bound');
  const bounds = [];
  for (const text of texts) {
    const value = bucketBound(text);
    if (bounds.length && value <= bounds[bounds.length - 1]) {
      throw new ValidationError('invalid_buckets', 'Buckets not in sorted order');
    }
    bounds.push(value);
  }
  return bounds;
}

/** Every family rule, in the daemon's order; returns the bucket values. */
function checkFamily(type, mode, name, help, labelNames, buckets) {
  if (!Object.prototype.hasOwnProperty.call(METRIC_TYPES, type)) {
    throw new ValidationError('invalid_metric_type', `Invalid metric type: ${quote(type)}`);
  }
  checkMetricName(name);
  checkHelp(help);
  checkGaugeMode(type, mode);
  checkLabelNames(labelNames, type === 'gauge' && (mode === 'all' || mode === 'liveall'));
  return checkBuckets(type, buckets);
}

// --- bucket texts -----------------------------------------------------------------------------

/**
 * The text a bucket bound given as a number is declared with: what Python's str() prints for
 * the same literal (PROTOCOL.md section 8), so a Node and a Python worker send the same texts.
 * JavaScript has one number type: an integral value below 1e16 prints as Python prints an int
 * ("1", "10"), anything else as Python prints a float ("0.005", "2.5", "1e-05", "1e+16").
 */
function bucketText(value) {
  if (typeof value === 'string') return value;
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw new ValidationError('invalid_buckets', `Bucket bound ${quote(value)} is not a finite number`);
  }
  if (Number.isInteger(value) && Math.abs(value) < 1e16) return Object.is(value, -0) ? '0' : String(value);
  return pythonFloatRepr(value);
}

/** Python's repr() of a finite float: shortest round-trip digits, fixed for 1e-4 <= |x| < 1e16. */
function pythonFloatRepr(value) {
  const [mantissa, exp] = value.toExponential().split('e'); // shortest digits that round-trip
  const negative = mantissa.startsWith('-');
  const digits = mantissa.replace('-', '').replace('.', '');
  const e = Number(exp);
  const sign = negative ? '-' : '';
  if (e < -4 || e >= 16) {
    const frac = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits;
    const abs = Math.abs(e);
    return `${sign}${frac}e${e < 0 ? '-' : '+'}${abs < 10 ? '0' : ''}${abs}`;
  }
  if (e < 0) return `${sign}0.${'0'.repeat(-e - 1)}${digits}`;
  const intPart = digits.slice(0, e + 1).padEnd(e + 1, '0');
  const fracPart = digits.slice(e + 1);
  return `${sign}${intPart}.${fracPart || '0'}`;
}

// --- encoders ---------------------------------------------------------------------------------

function header(buf, length, type) {
  buf.writeUInt32LE(length, 0);
  buf.writeUInt16LE(type, 4);
  buf.writeUInt16LE(0, 6);
}

function frame(type, payload) {
  const out = Buffer.allocUnsafe(HEADER_SIZE + payload.length);
  header(out, payload.length, type);
  payload.copy(out, HEADER_SIZE);
  return out;
}

/** `u16` byte length + UTF-8 bytes. */
function encodeStr(text, limit, what) {
  const length = utf8Length(text, what);
  if (length > limit) throw new ValidationError('string_too_long', `${what} longer than ${limit} bytes: ${quote(text)}...`);
  const out = Buffer.allocUnsafe(2 + length);
  out.writeUInt16LE(length, 0);
  out.write(text, 2, 'utf8');
  return out;
}

function encodeHandshake(version = VERSION) {
  const out = Buffer.from('MTRD\0\0\0\0', 'latin1');
  out.writeUInt16LE(version, 4);
  return out;
}

function encodeDeclareFamily(handle, type, mode, name, help, labelNames, buckets) {
  const fixed = Buffer.alloc(12);
  fixed.writeUInt32LE(handle, 0);
  fixed.writeUInt8(METRIC_TYPES[type], 4);
  fixed.writeUInt8(GAUGE_MODES[mode], 5);
  fixed.writeUInt16LE(labelNames.length, 6);
  fixed.writeUInt16LE(buckets.length, 8);
  const parts = [fixed, encodeStr(name, LIMITS.maxNameLength, 'Metric name'),
    encodeStr(help, LIMITS.maxHelpLength, 'Help')];
  for (const label of labelNames) parts.push(encodeStr(label, LIMITS.maxNameLength, 'Label name'));
  for (const bound of buckets) parts.push(encodeStr(bound, LIMITS.maxBucketTextLength, 'Bucket bound'));
  return frame(FRAME.declareFamily, Buffer.concat(parts));
}

function encodeDeclareSeries(handle, family, labelValues) {
  const fixed = Buffer.alloc(12);
  fixed.writeUInt32LE(handle, 0);
  fixed.writeUInt32LE(family, 4);
  fixed.writeUInt16LE(labelValues.length, 8);
  const parts = [fixed];
  for (const value of labelValues) parts.push(encodeStr(value, LIMITS.maxLabelValueLength, 'Label value'));
  return frame(FRAME.declareSeries, Buffer.concat(parts));
}

function writeRecord(buf, offset, op, handle, value) {
  buf.writeUInt32LE(op, offset); // the op byte, then three reserved zero bytes
  buf.writeUInt32LE(handle, offset + 4);
  buf.writeDoubleLE(value, offset + 8);
}

/** One OPS frame of `records` given as [op code, series handle, value]. */
function encodeOps(records) {
  const out = Buffer.allocUnsafe(HEADER_SIZE + records.length * RECORD_SIZE);
  header(out, records.length * RECORD_SIZE, FRAME.ops);
  records.forEach(([op, handle, value], i) => writeRecord(out, HEADER_SIZE + i * RECORD_SIZE, op, handle, value));
  return out;
}

function encodeU64Frame(type, token) {
  const out = Buffer.allocUnsafe(HEADER_SIZE + 8);
  header(out, 8, type);
  out.writeBigUInt64LE(BigInt(token), HEADER_SIZE);
  return out;
}

function encodeSync(token) {
  return encodeU64Frame(FRAME.sync, token);
}

/** CLIENT_STATS: ops dropped, cumulative over the connection (PROTOCOL.md 4.8). Only for a
 * daemon whose WELCOME announced revision 2 or later; this client does not send it yet. */
function encodeClientStats(droppedOps) {
  return encodeU64Frame(FRAME.clientStats, droppedOps);
}

/** FOLD: `count` observations adding up to `sum`, per bucket (not cumulative, +Inf last; none
 * for a summary). */
function encodeFold(handle, count, sum, buckets) {
  const payload = 24 + 8 * buckets.length;
  const out = Buffer.allocUnsafe(HEADER_SIZE + payload);
  header(out, payload, FRAME.fold);
  out.writeUInt32LE(handle, 8);
  out.writeUInt16LE(buckets.length, 12);
  out.writeUInt16LE(0, 14);
  out.writeBigUInt64LE(BigInt(count), 16);
  out.writeDoubleLE(sum, 24);
  buckets.forEach((n, i) => out.writeBigUInt64LE(BigInt(n), 32 + 8 * i));
  return out;
}

// Daemon -> client encoders: the daemon's side, for the vector tests and test fakes.
function encodeWelcome(maxFramePayload, maxFamilyHandle, maxSeriesHandle, version = VERSION) {
  const payload = Buffer.alloc(16);
  payload.writeUInt16LE(version, 0);
  payload.writeUInt32LE(maxFramePayload, 4);
  payload.writeUInt32LE(maxFamilyHandle, 8);
  payload.writeUInt32LE(maxSeriesHandle, 12);
  return frame(FRAME.welcome, payload);
}

function encodeAck(token) {
  return encodeU64Frame(FRAME.ack, token);
}

function encodeError(code, handle, frameIndex, message) {
  const fixed = Buffer.alloc(16);
  fixed.writeUInt16LE(code, 0);
  fixed.writeUInt32LE(handle === null ? NO_HANDLE : handle, 4);
  fixed.writeBigUInt64LE(frameIndex === null ? NO_FRAME : BigInt(frameIndex), 8);
  return frame(FRAME.error, Buffer.concat([fixed, encodeStr(message, LIMITS.maxErrorMessageLength, 'Message')]));
}

// --- decoder (daemon -> client) ---------------------------------------------------------------

/** Stream-level codes: the daemon closes the connection after sending them. */
function isFatalCode(code) {
  return (code >= 1 && code <= 15) || code === 64 || code === 65;
}

function errorName(code) {
  return ERROR_NAMES[code] || `error_${code}`;
}

class Malformed extends Error {
  constructor(code = 'malformed_frame') {
    super(code);
    this.code = code;
  }
}

function decodePayload(type, p) {
  if (type === FRAME.ack) {
    if (p.length !== 8) throw new Malformed();
    return { type: 'ack', token: Number(p.readBigUInt64LE(0)) };
  }
  if (type === FRAME.welcome) {
    if (p.length !== 16 || p.readUInt16LE(2) !== 0) throw new Malformed();
    return { type: 'welcome', version: p.readUInt16LE(0), maxFramePayload: p.readUInt32LE(4),
      maxFamilyHandle: p.readUInt32LE(8), maxSeriesHandle: p.readUInt32LE(12) };
  }
  if (type === FRAME.error) {
    if (p.length < 18 || p.readUInt16LE(2) !== 0) throw new Malformed();
    const length = p.readUInt16LE(16);
    if (p.length < 18 + length) throw new Malformed();
    if (length > LIMITS.maxErrorMessageLength) throw new Malformed('string_too_long');
    if (p.length !== 18 + length) throw new Malformed();
    const handle = p.readUInt32LE(4);
    const frameIndex = p.readBigUInt64LE(8);
    const code = p.readUInt16LE(0);
    return { type: 'error', code, codeName: errorName(code), handle: handle === NO_HANDLE ? null : handle,
      frame: frameIndex === NO_FRAME ? null : Number(frameIndex), message: p.toString('utf8', 18),
      fatal: isFatalCode(code) };
  }
  throw new Malformed('unknown_frame_type');
}

/**
 * Incremental decoder of the frames a daemon sends: feed bytes, get messages and decode errors
 * ({type: 'decode_error', code, fatal, frame, handle}). Results never depend on how the stream
 * is split; after a fatal error the decoder stays failed and yields nothing more.
 */
class ClientDecoder {
  constructor(maxFramePayload = LIMITS.maxFramePayload) {
    this.buf = Buffer.alloc(0);
    this.max = maxFramePayload;
    this.frameIndex = 0;
    this.failed = false;
  }

  feed(data) {
    const out = [];
    if (this.failed) return out;
    let buf = this.buf.length ? Buffer.concat([this.buf, data]) : data;
    let pos = 0;
    while (buf.length - pos >= HEADER_SIZE) {
      const length = buf.readUInt32LE(pos);
      const type = buf.readUInt16LE(pos + 4);
      const reserved = buf.readUInt16LE(pos + 6);
      const index = this.frameIndex;
      if (reserved !== 0 || length > this.max) {
        out.push({ type: 'decode_error', code: reserved ? 'bad_frame_header' : 'frame_too_large',
          fatal: true, frame: index, handle: null });
        this.failed = true;
        this.buf = Buffer.alloc(0);
        return out;
      }
      const end = pos + HEADER_SIZE + length;
      if (buf.length < end) break;
      const payload = buf.subarray(pos + HEADER_SIZE, end);
      pos = end;
      this.frameIndex += 1;
      try {
        out.push(decodePayload(type, payload));
      } catch (e) {
        if (!(e instanceof Malformed)) throw e;
        out.push({ type: 'decode_error', code: e.code, fatal: false, frame: index, handle: null });
      }
    }
    buf = buf.subarray(pos);
    // Keep a copy of the partial frame: the caller may reuse the chunk it passed in.
    this.buf = buf.length ? Buffer.from(buf) : Buffer.alloc(0);
    return out;
  }
}

module.exports = {
  VERSION, METRIC_TYPES, GAUGE_MODES, OP, FRAME, ERROR_CODES, ERROR_NAMES, LIMITS, HEADER_SIZE,
  RECORD_SIZE, ValidationError, checkMetricName, checkHelp, checkGaugeMode, checkLabelNames,
  checkBuckets, checkFamily, bucketText, pythonFloatRepr, encodeStr, encodeHandshake,
  encodeDeclareFamily, encodeDeclareSeries, writeRecord, encodeOps, encodeSync, encodeFold, encodeClientStats,
  encodeWelcome, encodeAck, encodeError, header, isFatalCode, errorName, ClientDecoder,
  utf8Length,
};
