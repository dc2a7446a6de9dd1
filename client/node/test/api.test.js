'use strict';
// The metric classes without a daemon: names, bucket texts, validation, labels, what each call
// puts in the client's buffer, timers and in-progress tracking.
const test = require('node:test');
const assert = require('node:assert/strict');
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const metricsd = require('..');
const p = require('../lib/protocol');
const { REPO } = require('./support/daemon');

const vectors = JSON.parse(fs.readFileSync(path.join(REPO, 'protocol', 'test_vectors.json'), 'utf8'));
const vector = (name) => vectors.valid.find((v) => v.name === name).hex;

/** A client that never reaches a daemon (its connection attempts fail quietly). */
function offline(options = {}) {
  return new metricsd.Client({ socket: '/nonexistent/metricsd.sock', onError: () => {}, ...options });
}

/** The op records buffered in `client`, as [op name, series handle, value]. */
function buffered(client) {
  const names = Object.fromEntries(Object.entries(p.OP).map(([k, v]) => [v, k]));
  const chunks = client._chunks.concat([client._chunk.subarray(0, client._n * p.RECORD_SIZE)]);
  const out = [];
  for (const chunk of chunks) {
    for (let at = 0; at < chunk.length; at += p.RECORD_SIZE) {
      out.push([names[chunk.readUInt32LE(at)], chunk.readUInt32LE(at + 4), chunk.readDoubleLE(at + 8)]);
    }
  }
  return out;
}

test('bucket texts are what Python str() prints for the same literal', () => {
  const table = [[0.005, '0.005'], [1, '1'], [10, '10'], [2.5, '2.5'], [1e-5, '1e-05'], [0.0001, '0.0001'],
    [1.5e-7, '1.5e-07'], [-3, '-3'], [-0.25, '-0.25'], [123456.789, '123456.789'], [1e16, '1e+16'],
    [1.5e300, '1.5e+300'], [5e-324, '5e-324'], [0.1 + 0.2, '0.30000000000000004'], [-0, '0'],
    [1234567890123456.5, '1234567890123456.5'], ['1.0', '1.0'], ['.5', '.5']];
  for (const [value, text] of table) assert.equal(p.bucketText(value), text, String(value));
  assert.throws(() => p.bucketText(Infinity), { code: 'invalid_buckets' });
  assert.throws(() => p.bucketText(NaN), { code: 'invalid_buckets' });
});

test('non-integral bucket texts equal Python repr() for random doubles', (t) => {
  const python = spawnSync('python3', ['--version']);
  if (python.status !== 0) return t.skip('python3 not installed');
  const values = [];
  for (let i = 0; i < 2000; i++) {
    const v = (Math.random() - 0.5) * 10 ** Math.floor(Math.random() * 40 - 20);
    if (!Number.isInteger(v)) values.push(v);
  }
  const r = spawnSync('python3', ['-c', 'import json,sys; print(json.dumps([repr(v) for v in json.load(sys.stdin)]))'],
    { input: JSON.stringify(values), encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(values.map(p.bucketText), JSON.parse(r.stdout));
});

test('the default buckets are the Python client\'s texts', (t) => {
  const python = spawnSync('python3', ['-c', 'import json, metricsd; print(json.dumps([str(b) for b in metricsd.DEFAULT_BUCKETS]))'],
    { env: { ...process.env, PYTHONPATH: path.join(REPO, 'client', 'python'), PYTHONDONTWRITEBYTECODE: '1' }, encoding: 'utf8' });
  if (python.error) return t.skip('python3 not installed');
  assert.equal(python.status, 0, python.stderr);
  assert.deepEqual([...metricsd.DEFAULT_BUCKETS], JSON.parse(python.stdout));
  const c = offline();
  assert.deepEqual([...new metricsd.Histogram({ name: 'h_default', help: '', client: c }).buckets], JSON.parse(python.stdout));
});

test('a declaration encodes as the protocol vector', () => {
  const c = offline();
  for (let i = 0; i < 6; i++) new metricsd.Gauge({ name: `filler_${i}`, help: '', client: c });
  new metricsd.Histogram({ name: 'request_duration_seconds', help: 'Request latency.', labelNames: ['route'],
    buckets: [1e-5, 0.005, 0.1, 1, 2.5, '10.0', Infinity], client: c });
  const family = (handle) => c._declarations.find((d) => d.kind === 'family' && d.handle === handle).frame.toString('hex');
  assert.equal(family(6), vector('declare_family_histogram_buckets'));
  const counter = new metricsd.Counter({ name: 'http_requests_total', help: 'HTTP requests.', labelNames: ['method'], client: c });
  counter.labels('GET');
  // The vectors use handle 1 for this family and its series; ours are 7 and 6: compare the rest.
  assert.equal(family(7).slice(24), vector('declare_family_counter_one_label').slice(24));
  assert.equal(c._declarations.at(-1).frame.toString('hex').slice(32), vector('declare_series_one_label').slice(32));
});

test('a counter\'s name ends in _total, as the Python client sends it', () => {
  const c = offline();
  assert.equal(new metricsd.Counter({ name: 'jobs', help: '', client: c }).name, 'jobs_total');
  assert.equal(new metricsd.Counter({ name: 'jobs_total_x_total', help: '', client: c }).name, 'jobs_total_x_total');
  assert.equal(new metricsd.Gauge({ name: 'jobs', help: '', client: c }).name, 'jobs');
  assert.throws(() => new metricsd.Counter({ name: 'jobs_total', help: '', client: c }), { code: 'family_conflict' });
});

test('mistakes raise a TypeError with the protocol code at once', () => {
  const c = offline();
  const cases = [
    [() => new metricsd.Counter({ name: '1x', help: '', client: c }), 'invalid_metric_name'],
    [() => new metricsd.Gauge({ name: 'metricsd_x', help: '', client: c }), 'name_collision'],
    [() => new metricsd.Gauge({ name: 'g', help: '', mode: 'average', client: c }), 'invalid_gauge_mode'],
    [() => new metricsd.Gauge({ name: 'g', help: '', labelNames: ['a', 'a'], client: c }), 'invalid_label_name'],
    [() => new metricsd.Gauge({ name: 'g', help: '', labelNames: ['pid'], mode: 'liveall', client: c }), 'invalid_label_name'],
    [() => new metricsd.Histogram({ name: 'h', help: '', buckets: [], client: c }), 'invalid_buckets'],
    [() => new metricsd.Histogram({ name: 'h', help: '', buckets: ['1', 'x'], client: c }), 'invalid_buckets'],
    [() => new metricsd.Histogram({ name: 'h', help: '', buckets: [NaN], client: c }), 'invalid_buckets'],
    [() => new metricsd.Summary({ name: 's', help: '\ud800', client: c }), 'invalid_label_value'],
  ];
  for (const [fn, code] of cases) assert.throws(fn, (e) => e instanceof TypeError && e.code === code, code);
  assert.deepEqual(c._declarations, []);

  const counter = new metricsd.Counter({ name: 'ok', help: '', labelNames: ['a'], client: c });
  const gauge = new metricsd.Gauge({ name: 'ok_g', help: '', client: c });
  const summary = new metricsd.Summary({ name: 'ok_s', help: '', client: c });
  const ops = [
    [() => counter.labels('x').inc(-1), 'invalid_value'],
    [() => counter.labels('x').inc(NaN), 'invalid_value'],
    [() => counter.labels('x').inc('1'), 'invalid_value'],
    [() => gauge.inc(Infinity), 'invalid_value'],
    [() => gauge.dec(NaN), 'invalid_value'],
    [() => summary.observe(NaN), 'invalid_value'],
    [() => counter.inc(), 'label_count_mismatch'],
    [() => counter.labels('x', 'y'), 'label_count_mismatch'],
    [() => counter.labels({ b: 'x' }), 'label_count_mismatch'],
    [() => gauge.labels('x'), 'label_count_mismatch'],
    [() => counter.labels('x'.repeat(4097)), 'string_too_long'],
  ];
  for (const [fn, code] of ops) assert.throws(fn, (e) => e instanceof TypeError && e.code === code, code);
  assert.deepEqual(buffered(c), []);
});

test('every call appends the expected op record', () => {
  const c = offline();
  const counter = new metricsd.Counter({ name: 'calls', help: '', labelNames: ['method', 'code'], client: c });
  const gauge = new metricsd.Gauge({ name: 'g', help: '', mode: 'liveall', client: c });
  const histogram = new metricsd.Histogram({ name: 'h', help: '', labelNames: ['route'], buckets: [1], client: c });
  counter.labels('GET', '200').inc();
  counter.labels({ code: '200', method: 'GET' }).inc(2.5); // same child
  counter.inc({ method: 'POST', code: 201 }, 3);           // prom-client's form; 201 becomes "201"
  gauge.inc(); gauge.dec(0.5); gauge.set(-7); gauge.set(NaN); gauge.inc(2);
  histogram.labels('/a').observe(-Infinity);
  histogram.observe({ route: '/b' }, 0.25);
  assert.strictEqual(counter.labels('GET', '200'), counter.labels({ method: 'GET', code: '200' }));
  // Handles follow first use: the unlabelled gauge's series is declared with its family (0),
  // then counter GET/200 (1), POST/201 (2), histogram /a (3) and /b (4).
  assert.deepEqual(c._declarations.map((d) => `${d.kind}${d.handle}`),
    ['family0', 'family1', 'series0', 'family2', 'series1', 'series2', 'series3', 'series4']);
  assert.deepEqual(buffered(c), [['inc', 1, 1], ['inc', 1, 2.5], ['inc', 2, 3],
    ['inc', 0, 1], ['dec', 0, 0.5], ['set', 0, -7], ['set', 0, NaN], ['inc', 0, 2],
    ['observe', 3, -Infinity], ['observe', 4, 0.25]]);
  assert.ok(Number.isNaN(gauge._only._value)); // as in the daemon: NaN + 2 is NaN
});

test('timers and in-progress tracking', async () => {
  const c = offline();
  const gauge = new metricsd.Gauge({ name: 'in_progress', help: '', client: c });
  const histogram = new metricsd.Histogram({ name: 'latency', help: '', labelNames: ['route'], client: c });
  assert.equal(gauge.trackInProgress(() => 42), 42);
  assert.throws(() => gauge.trackInProgress(() => { throw new Error('boom'); }), /boom/);
  let resolve;
  const pending = gauge.trackInProgress(() => new Promise((r) => { resolve = r; }));
  assert.deepEqual(buffered(c).map((r) => r[0]), ['inc', 'dec', 'inc', 'dec', 'inc']);
  resolve('done');
  assert.equal(await pending, 'done');
  await assert.rejects(gauge.trackInProgress(async () => { throw new Error('async boom'); }), /async boom/);
  const done = gauge.startInProgress();
  done();
  done(); // once only
  assert.deepEqual(buffered(c).map((r) => r[0]).slice(5), ['dec', 'inc', 'dec', 'inc', 'dec']);
  assert.equal(gauge._only._value, 0);

  const end = histogram.startTimer({ route: '/x' });
  await new Promise((r) => setTimeout(r, 20));
  const seconds = end();
  assert.ok(seconds >= 0.015 && seconds < 5, String(seconds));
  const last = buffered(c).at(-1);
  assert.deepEqual(last, ['observe', last[1], seconds]);
  const gaugeEnd = gauge.startTimer();
  assert.deepEqual(buffered(c).length, 11);
  const g = gaugeEnd();
  assert.deepEqual(buffered(c).at(-1), ['set', 0, g]);
  const before = Date.now() / 1000;
  gauge.setToCurrentTime();
  const now = buffered(c).at(-1)[2];
  assert.ok(now >= before - 1 && now <= Date.now() / 1000 + 1);
});

test('CommonJS and ES module entry points give the same objects', async () => {
  const esm = await import('../index.mjs');
  assert.strictEqual(esm.Counter, metricsd.Counter);
  assert.strictEqual(esm.default, metricsd);
  assert.strictEqual(esm.defaultClient(), metricsd.defaultClient());
  const pkg = require('../package.json');
  assert.equal(pkg.exports['.'].import, './index.mjs');
  assert.equal(pkg.exports['.'].require, './index.js');
  assert.deepEqual(Object.keys(pkg.dependencies || {}), []);
});
