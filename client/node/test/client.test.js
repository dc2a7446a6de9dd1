'use strict';
// The client against the real daemon: daemon down, restarted and stopped; process exit; the
// socket from $METRICSD_SOCKET; the ES module entry point.
const test = require('node:test');
const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const path = require('node:path');
const metricsd = require('..');
const { Daemon, waitFor, sleep } = require('./support/daemon');

const INDEX = path.join(__dirname, '..', 'index.js');

function client(daemon, options = {}) {
  return new metricsd.Client({ socket: daemon.socketPath, onError: () => {}, ...options });
}

/** Runs node with `args`; resolves {code, signal, output}. A process that does not end by
 * itself within 20 s (something holds its event loop) is killed: signal SIGKILL. */
function runNode(args, env = {}) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    const timer = setTimeout(() => child.kill('SIGKILL'), 20000);
    let output = '';
    child.stderr.on('data', (d) => { output += d; });
    child.stdout.on('data', (d) => { output += d; });
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, output });
    });
  });
}

async function withDaemon(fn) {
  const daemon = await new Daemon().start();
  try {
    await fn(daemon);
  } finally {
    const code = await daemon.stop();
    daemon.cleanup();
    assert.equal(code, 0, 'the daemon exits cleanly');
  }
}

test('the daemon down: nothing throws or blocks, flush says false; everything arrives once it is up', async () => {
  const daemon = new Daemon();
  const errors = [];
  const c = new metricsd.Client({ socket: daemon.socketPath, onError: (e) => errors.push(e) });
  const requests = new metricsd.Counter({ name: 'down_requests_total', help: 'R.', labelNames: ['code'], client: c });
  const latency = new metricsd.Histogram({ name: 'down_seconds', help: 'L.', buckets: [1], client: c });
  for (let i = 0; i < 100000; i++) requests.labels(i % 2 ? '200' : '500').inc();
  for (let i = 0; i < 1000; i++) latency.observe(i % 4 === 0 ? 2 : 0.5);
  assert.equal(await c.flush(3000), false);
  assert.equal(c.connected(), false);
  assert.ok(errors.length >= 1 && errors[0].code === 'client' && /cannot connect/.test(errors[0].message), JSON.stringify(errors));
  assert.match(c.lastError(), /^client: cannot connect to .*s\.sock/);
  try {
    await daemon.start();
    // The client reconnects on its own (backoff ≤ 2 s); flush() also connects at once.
    assert.equal(await c.flush(5000), true);
    assert.equal(c.connected(), true);
    const s = await daemon.samples();
    assert.equal(s.get('down_requests_total{code="200"}'), 50000);
    assert.equal(s.get('down_requests_total{code="500"}'), 50000);
    assert.equal(s.get('down_seconds_bucket{le="1.0"}'), 750);
    assert.equal(s.get('down_seconds_count'), 1000);
    assert.equal(s.get('down_seconds_sum'), 875);
    assert.equal(c.droppedOps(), 0);
  } finally {
    await c.close();
    assert.equal(await daemon.stop(), 0);
    daemon.cleanup();
  }
});

test('a daemon restart: the client declares again and re-sends its live gauge values', async () => {
  await withDaemon(async (daemon) => {
    const c = client(daemon);
    const inFlight = new metricsd.Gauge({ name: 'restart_in_flight', help: 'I.', client: c });
    const perPid = new metricsd.Gauge({ name: 'restart_up', help: 'U.', mode: 'liveall', client: c });
    const total = new metricsd.Gauge({ name: 'restart_sum', help: 'S.', mode: 'sum', client: c });
    const requests = new metricsd.Counter({ name: 'restart_requests_total', help: 'R.', client: c });
    inFlight.inc(5); inFlight.dec(2); perPid.set(1); total.set(7); requests.inc(10);
    assert.equal(await c.flush(), true);
    assert.equal((await daemon.samples()).get('restart_in_flight'), 3);
    assert.equal(await daemon.stop(), 0);
    inFlight.inc(1); // while the daemon is down
    await daemon.start(); // the memory backend starts empty
    const pid = `restart_up{pid="${process.pid}"}`;
    const s = await waitFor(async () => {
      const samples = await daemon.samples();
      return samples.get('restart_in_flight') === 4 && samples.get(pid) === 1 ? samples : null;
    });
    assert.ok(s, 'live gauges come back without a new op on them');
    // The op made while the daemon was down was sent once (no double count). Every family is
    // declared again; a sum gauge is not re-sent (a daemon that kept state keeps its old value
    // as the old connection's) and a counter's past stays with the daemon that counted it.
    assert.equal(s.get('restart_sum'), 0);
    assert.equal(s.get('restart_requests_total'), 0);
    requests.inc();
    assert.equal(await c.flush(), true);
    assert.equal((await daemon.samples()).get('restart_requests_total'), 1);
    await c.close();
  });
});

test('folding while the daemon is stopped (SIGSTOP): exact totals, nothing dropped', async () => {
  await withDaemon(async (daemon) => {
    const c = client(daemon, { maxBufferOps: 1000 });
    const counter = new metricsd.Counter({ name: 'stopped_ops_total', help: 'C.', labelNames: ['k'], client: c });
    const gauge = new metricsd.Gauge({ name: 'stopped_last', help: 'G.', mode: 'mostrecent', client: c });
    const histogram = new metricsd.Histogram({ name: 'stopped_seconds', help: 'H.', buckets: [0.5, 1], client: c });
    const summary = new metricsd.Summary({ name: 'stopped_bytes', help: 'S.', client: c });
    assert.equal(await c.flush(), true);
    daemon.proc.kill('SIGSTOP');
    try {
      // 50 bursts across event-loop turns: the sender writes until the socket is full, then
      // the buffer fills and the rest folds.
      for (let burst = 0; burst < 50; burst++) {
        for (let i = 0; i < 1000; i++) {
          counter.labels(i % 2 ? 'a' : 'b').inc();
          histogram.observe(i % 4 === 0 ? 0.25 : 2);
        }
        summary.observe(0.5);
        gauge.set(burst);
        gauge.inc(0.5);
        await sleep(1);
      }
      // Counter and gauge folds are single records the kernel still takes; the histogram and
      // summary went out as FOLD frames, which only a full buffer makes.
      assert.ok(c.stats().foldFrames > 0, `folding: ${JSON.stringify(c.stats())}`);
    } finally {
      daemon.proc.kill('SIGCONT');
    }
    assert.equal(await c.flush(10000), true);
    assert.equal(c.droppedOps(), 0);
    const s = await daemon.samples();
    assert.equal(s.get('stopped_ops_total{k="a"}'), 25000);
    assert.equal(s.get('stopped_ops_total{k="b"}'), 25000);
    assert.equal(s.get('stopped_seconds_bucket{le="0.5"}'), 12500);
    assert.equal(s.get('stopped_seconds_bucket{le="1.0"}'), 12500);
    assert.equal(s.get('stopped_seconds_count'), 50000);
    assert.equal(s.get('stopped_seconds_sum'), 12500 * 0.25 + 37500 * 2);
    assert.equal(s.get('stopped_bytes_sum'), 25);
    assert.equal(s.get('stopped_bytes_count'), 50);
    assert.equal(s.get('stopped_last'), 49.5);
    await c.close();
  });
});

test('process exit: the loop is never held open, and pending ops are flushed', async () => {
  await withDaemon(async (daemon) => {
    const env = { METRICSD_SOCKET: daemon.socketPath };
    const counter = `const m = require(${JSON.stringify(INDEX)});
      m.configure({ onError: (e) => console.error(e.code, e.message) });
      const c = new m.Counter({ name: 'exit_ops_total', help: 'E.', labelNames: ['how'] });`;
    // 1. The script just ends: beforeExit flushes (a live connection, unref'd, held nothing open).
    let r = await runNode(['-e', `${counter} for (let i = 0; i < 10000; i++) c.labels('end').inc();`], env);
    assert.equal(r.code, 0, r.output);
    // 2. process.exit() right after ops on an established connection: written synchronously.
    r = await runNode(['-e', `${counter} c.labels('exit').inc(); m.flush().then(() => {
      for (let i = 0; i < 999; i++) c.labels('exit').inc(); process.exit(0); });`], env);
    assert.equal(r.code, 0, r.output);
    // 3. A long-lived idle process with a connection exits as soon as its work is done.
    r = await runNode(['-e', `${counter} c.labels('timer').inc(); setTimeout(() => c.labels('timer').inc(), 300);`], env);
    assert.equal(r.code, 0, `${r.signal}: ${r.output}`);
    const s = await daemon.samples();
    assert.equal(s.get('exit_ops_total{how="end"}'), 10000);
    assert.equal(s.get('exit_ops_total{how="exit"}'), 1000);
    assert.equal(s.get('exit_ops_total{how="timer"}'), 2);
  });
  // 4. The daemon is not there: the script still ends at once (one connect attempt at exit,
  //    which fails at once; the exit flush's 1 s timeout is not waited for).
  const r = await runNode(['-e', `const m = require(${JSON.stringify(INDEX)}); m.configure({ onError() {} });
    new m.Counter({ name: 'nowhere', help: '' }).inc(); const t = Date.now();
    process.on('exit', () => console.log('exit after', Date.now() - t, 'ms'));`], { METRICSD_SOCKET: '/nonexistent/metricsd.sock' });
  assert.equal(r.code, 0, r.output);
  const ms = Number(/exit after (\d+) ms/.exec(r.output)[1]);
  assert.ok(ms < 900, r.output);
});

test('the ES module entry point and $METRICSD_SOCKET', async () => {
  await withDaemon(async (daemon) => {
    const code = `import metricsd, { Counter, flush } from ${JSON.stringify(path.join(__dirname, '..', 'index.mjs'))};
      const c = new Counter({ name: 'esm_ops', help: 'From an ES module.' });
      c.inc(3);
      if (!(await flush()) || metricsd.lastError() !== null) process.exit(2);`;
    const r = await runNode(['--input-type=module', '-e', code], { METRICSD_SOCKET: daemon.socketPath });
    assert.equal(r.code, 0, r.output);
    assert.equal((await daemon.samples()).get('esm_ops_total'), 3);
  });
});
