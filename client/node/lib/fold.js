'use strict';
// Per-series accumulators for ops that find the client's buffer full (PROTOCOL.md section 4.7).
//
// When the daemon is slow, stopped or down, ops beyond maxBufferOps are folded into their
// series' running state instead of being dropped: a counter's summed increments; a gauge's
// last set plus the change since; a histogram's bucket counts, sum and count; a summary's sum
// and count. Memory then grows with the number of series, not of ops, and the daemon ends up
// with the same totals.

const { OP, RECORD_SIZE, encodeFold, writeRecord } = require('./protocol');

class Accumulator {
  constructor(kind, bounds) {
    this.kind = kind;
    this.bounds = bounds;
    this.assigned = false; // gauge: a set was folded
    this.value = 0;        // gauge: the last set
    this.delta = 0;        // counter/gauge: the change since; histogram/summary: the sum
    this.count = 0;
    this.buckets = kind === 'histogram' ? new Array(bounds.length + 1).fill(0) : null;
  }
}

/** The daemon's rule: the first bucket whose bound is >= value, else +Inf (the last). */
function bucketIndex(bounds, value) {
  let lo = 0;
  let hi = bounds.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (bounds[mid] < value) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

class Folder {
  constructor() {
    this.acc = new Map(); // series handle -> Accumulator, in first-fold order
  }

  get size() {
    return this.acc.size;
  }

  /**
   * Folds one op of series `handle` whose family has `kind` and `bounds`. Returns false when the
   * daemon would refuse the op (it is then not folded: one refused op must not spoil a sum).
   * The metric classes validate values before they get here, so that is a safety net.
   */
  fold(op, handle, value, kind, bounds) {
    if (!valid(kind, op, value)) return false;
    let a = this.acc.get(handle);
    if (a === undefined) {
      a = new Accumulator(kind, bounds);
      this.acc.set(handle, a);
    }
    if (op === OP.observe) {
      a.delta += value;
      a.count += 1;
      if (a.buckets !== null) a.buckets[bucketIndex(a.bounds, value)] += 1;
    } else if (op === OP.set) {
      a.assigned = true;
      a.value = value;
      a.delta = 0;
    } else {
      a.delta += op === OP.inc ? value : -value;
    }
    return true;
  }

  /** The folded state as one buffer of op records and a list of FOLD frames; empties it. */
  drain() {
    const records = [];
    const frames = [];
    for (const [handle, a] of this.acc) {
      if (a.kind === 'counter') {
        records.push([OP.inc, handle, a.delta]);
      } else if (a.kind === 'gauge') {
        if (a.assigned) records.push([OP.set, handle, a.value]);
        if (!a.assigned || a.delta !== 0) records.push([OP.inc, handle, a.delta]);
      } else {
        frames.push(encodeFold(handle, a.count, a.delta, a.buckets || []));
      }
    }
    this.acc = new Map();
    const buf = Buffer.allocUnsafe(records.length * RECORD_SIZE);
    records.forEach(([op, handle, value], i) => writeRecord(buf, i * RECORD_SIZE, op, handle, value));
    return { records: buf, frames };
  }
}

function valid(kind, op, value) {
  if (kind === 'counter') return op === OP.inc && value >= 0 && Number.isFinite(value);
  if (kind === 'gauge') return op === OP.set || ((op === OP.inc || op === OP.dec) && Number.isFinite(value));
  return op === OP.observe && !Number.isNaN(value);
}

module.exports = { Folder, bucketIndex };
