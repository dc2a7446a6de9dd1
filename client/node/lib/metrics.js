'use strict';
// Counter, Gauge, Histogram and Summary, shaped like prom-client's classes.
//
// A metric declares its family on its Client; labels(...) returns a child bound to one series.
// A child's op methods are the hot path: they validate the value and append a 16-byte record
// to the client's buffer. They never block and never throw because of the daemon; they throw
// (a TypeError with the protocol's error code) only on a programming mistake, as prom-client.

const p = require('./protocol');

const OP = p.OP;
// prometheus_client's default bounds with the texts the Python client declares for them (1, 5
// and 10 as pytheus writes its integer defaults), so Node and Python workers declare the same
// family with the same Redis bucket fields. (prom-client's own defaults lack 0.075, 0.75, 7.5.)
const DEFAULT_BUCKETS = Object.freeze(['0.005', '0.01', '0.025', '0.05', '0.075', '0.1', '0.25', '0.5',
  '0.75', '1', '2.5', '5', '7.5', '10']);

let defaultClient = null;

/** The Client used by metrics created without `client` (made on first use). */
function getDefaultClient() {
  if (defaultClient === null) {
    const { Client } = require('./client');
    defaultClient = new Client();
  }
  return defaultClient;
}

function invalid(message) {
  return new p.ValidationError('invalid_value', message);
}

/** Starts a timer; the returned end() passes the seconds elapsed to `report` and returns them. */
function startTimer(report) {
  const start = process.hrtime.bigint();
  return () => {
    const seconds = Number(process.hrtime.bigint() - start) / 1e9;
    report(seconds);
    return seconds;
  };
}

// --- children: one series each; the hot path ------------------------------------------------

class CounterChild {
  constructor(client) {
    this._client = client;
    this._handle = 0;
  }

  /** Increment by `value` (default 1; finite and >= 0). */
  inc(value) {
    if (value === undefined) value = 1;
    else if (typeof value !== 'number' || !(value >= 0 && value < Infinity)) {
      throw invalid(`Counters can only be incremented by non-negative finite amounts, not ${value}`);
    }
    this._client._op(OP.inc, this._handle, value);
  }
}

class GaugeChild {
  constructor(client) {
    this._client = client;
    this._handle = 0;
    // This process's value, re-sent after a reconnect (live* gauges lose it at a disconnect).
    this._value = 0;
    this._written = false;
  }

  /** Add `value` (default 1; finite, may be negative). */
  inc(value) {
    if (value === undefined) value = 1;
    else if (typeof value !== 'number' || !Number.isFinite(value)) throw invalid(`Gauge increments must be finite, not ${value}`);
    this._value += value;
    this._written = true;
    this._client._op(OP.inc, this._handle, value);
  }

  /** Subtract `value` (default 1; finite, may be negative). */
  dec(value) {
    if (value === undefined) value = 1;
    else if (typeof value !== 'number' || !Number.isFinite(value)) throw invalid(`Gauge decrements must be finite, not ${value}`);
    this._value -= value;
    this._written = true;
    this._client._op(OP.dec, this._handle, value);
  }

  /** Set to `value` (any number, NaN and infinities included). */
  set(value) {
    if (typeof value !== 'number') throw invalid(`Gauge values must be numbers, not ${typeof value}`);
    this._value = value;
    this._written = true;
    this._client._op(OP.set, this._handle, value);
  }

  /** Set to the current Unix time in seconds. */
  setToCurrentTime() {
    this.set(Date.now() / 1000);
  }

  /** Returns end(): sets the gauge to the seconds elapsed since startTimer(), and returns them. */
  startTimer() {
    return startTimer((seconds) => this.set(seconds));
  }

  /**
   * inc() now; the returned done() dec()s once (later calls do nothing). For work that is not
   * one function call; see trackInProgress for one that is.
   */
  startInProgress() {
    this.inc();
    let done = false;
    return () => {
      if (done) return;
      done = true;
      this.dec();
    };
  }

  /** Calls fn() counted as in progress: inc() before, dec() when it returns, throws or its
   * promise settles. Returns what fn returns. */
  trackInProgress(fn) {
    const done = this.startInProgress();
    let result;
    try {
      result = fn();
    } catch (e) {
      done();
      throw e;
    }
    if (result !== null && typeof result === 'object' && typeof result.then === 'function') {
      return result.then((v) => { done(); return v; }, (e) => { done(); throw e; });
    }
    done();
    return result;
  }
}

/** A histogram's or summary's series: the daemon does the bucketing. */
class ObserveChild {
  constructor(client) {
    this._client = client;
    this._handle = 0;
  }

  /** Record one observation (any number but NaN). */
  observe(value) {
    if (typeof value !== 'number' || value !== value) throw invalid(`Cannot observe ${value}`);
    this._client._op(OP.observe, this._handle, value);
  }

  /** Returns end(): observes the seconds elapsed since startTimer(), and returns them. */
  startTimer() {
    return startTimer((seconds) => this.observe(seconds));
  }
}

// --- metrics (families) -------------------------------------------------------------------------

class Metric {
  constructor(type, config, Child, mode, bucketTexts) {
    if (config === null || typeof config !== 'object') throw new TypeError('Metric options must be an object: {name, help, labelNames}');
    let name = config.name;
    p.checkMetricName(name);
    if (type === 'counter' && !name.endsWith('_total')) {
      name += '_total'; // what prometheus_client and the Python client export for a counter so named
      p.checkMetricName(name);
    }
    const help = config.help === undefined ? '' : config.help;
    const labelNames = config.labelNames === undefined ? [] : Array.from(config.labelNames);
    this.name = name;
    this.help = help;
    this.labelNames = Object.freeze(labelNames);
    this.type = type;
    this._client = config.client || getDefaultClient();
    this._Child = Child;
    this._family = this._client._declareFamily(type, mode, name, help, labelNames, bucketTexts);
    this._children = new Map(); // first label value -> (next label value -> ...) -> child
    this._scratch = new Array(labelNames.length); // labels({...})'s values, in name order
    this._only = labelNames.length === 0 ? this._child([]) : null;
  }

  _child(values) {
    const child = new this._Child(this._client);
    child._handle = this._client._declareSeries(this._family, values, child);
    return child;
  }

  /**
   * The child for one set of label values, given by position (`labels('GET', '200')`) or by
   * name (`labels({method: 'GET', code: '200'})`). Values are turned into strings.
   */
  labels(...args) {
    if (args.length === 1 && args[0] !== null && typeof args[0] === 'object') return this._byObject(args[0]);
    const names = this.labelNames;
    if (names.length === 0) throw new p.ValidationError('label_count_mismatch', `No label names were set for ${this.name}`);
    if (args.length !== names.length) {
      throw new p.ValidationError('label_count_mismatch', `Incorrect label count for ${this.name}: expected ${names.length}, got ${args.length}`);
    }
    return this._lookup(args);
  }

  /** labels({name: value, ...}): every label name exactly once. */
  _byObject(given) {
    const names = this.labelNames;
    const values = this._scratch;
    let count = 0;
    for (const key in given) count++; // enumerable keys; an extra or missing name fails below
    for (let i = 0; i < names.length; i++) {
      const v = given[names[i]];
      if (v === undefined || count !== names.length) {
        throw new p.ValidationError('label_count_mismatch', `Incorrect label names for ${this.name}: expected [${names.join(', ')}], got [${Object.keys(given).join(', ')}]`);
      }
      values[i] = v;
    }
    if (names.length === 0) throw new p.ValidationError('label_count_mismatch', `No label names were set for ${this.name}`);
    return this._lookup(values);
  }

  /** The child for these values: one Map level per label (no key string to build). */
  _lookup(values) {
    let map = this._children;
    const last = values.length - 1;
    for (let i = 0; i < last; i++) {
      const v = values[i];
      const text = typeof v === 'string' ? v : String(v);
      let next = map.get(text);
      if (next === undefined) {
        next = new Map();
        map.set(text, next);
      }
      map = next;
    }
    const v = values[last];
    const text = typeof v === 'string' ? v : String(v);
    let child = map.get(text);
    if (child === undefined) {
      child = this._child(Array.from(values, String));
      map.set(text, child);
    }
    return child;
  }

  /** The unlabelled series, or the labelled one when `labels` (an object) is given. */
  _target(labels) {
    if (labels !== undefined && labels !== null && typeof labels === 'object') return this._byObject(labels);
    if (this._only === null) throw new p.ValidationError('label_count_mismatch', `${this.name} has label names: use labels(...)`);
    return this._only;
  }
}

/** A monotonically increasing count; the exported name always ends in `_total`. */
class Counter extends Metric {
  constructor(config) {
    super('counter', config, CounterChild, 'livesum', []);
  }

  /** inc(), inc(value), inc(labels), inc(labels, value). */
  inc(labels, value) {
    if (typeof labels === 'object' && labels !== null) this._byObject(labels).inc(value);
    else this._target().inc(labels);
  }
}

/** A value that goes up and down; `mode` says how the daemon combines worker processes. */
class Gauge extends Metric {
  constructor(config) {
    const mode = config && config.mode !== undefined ? config.mode : 'livesum';
    p.checkGaugeMode('gauge', mode);
    super('gauge', config, GaugeChild, mode, []);
    this.mode = mode;
  }

  inc(labels, value) {
    if (typeof labels === 'object' && labels !== null) this._byObject(labels).inc(value);
    else this._target().inc(labels);
  }

  dec(labels, value) {
    if (typeof labels === 'object' && labels !== null) this._byObject(labels).dec(value);
    else this._target().dec(labels);
  }

  /** set(value) or set(labels, value). */
  set(labels, value) {
    if (typeof labels === 'object' && labels !== null) this._byObject(labels).set(value);
    else this._target().set(labels);
  }

  setToCurrentTime(labels) {
    this._target(labels).setToCurrentTime();
  }

  startTimer(labels) {
    return this._target(labels).startTimer();
  }

  startInProgress(labels) {
    return this._target(labels).startInProgress();
  }

  /** trackInProgress(fn) or trackInProgress(labels, fn). */
  trackInProgress(labels, fn) {
    if (typeof labels === 'function') return this._target().trackInProgress(labels);
    return this._target(labels).trackInProgress(fn);
  }
}

class Observed extends Metric {
  /** observe(value) or observe(labels, value). */
  observe(labels, value) {
    if (typeof labels === 'object' && labels !== null) this._byObject(labels).observe(value);
    else this._target().observe(labels);
  }

  /** Returns end(): observes the seconds since now (labels: an object, optional). */
  startTimer(labels) {
    return this._target(labels).startTimer();
  }
}

/** Observations summed and counted (`_sum`, `_count`); no quantiles (prom-client's
 * percentiles options are not supported). */
class Summary extends Observed {
  constructor(config) {
    super('summary', config, ObserveChild, 'livesum', []);
  }
}

/** Observations counted in cumulative buckets, plus `_sum` and `_count`. */
class Histogram extends Observed {
  constructor(config) {
    const buckets = config && config.buckets !== undefined ? Array.from(config.buckets) : DEFAULT_BUCKETS;
    const last = buckets[buckets.length - 1];
    if (last === Infinity || last === '+Inf') buckets.pop(); // +Inf is implicit
    super('histogram', config, ObserveChild, 'livesum', buckets.map(p.bucketText));
    this.buckets = Object.freeze(buckets.map(p.bucketText));
  }
}

module.exports = { Counter, Gauge, Histogram, Summary, DEFAULT_BUCKETS, getDefaultClient };
