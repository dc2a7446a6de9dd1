'use strict';
// Node cluster: 4 cluster workers and a child_process.fork() worker (PM2's cluster and fork
// modes) send to one real daemon; one worker is SIGKILLed. Totals stay exact, live gauges drop
// the dead worker at once and every worker's pid is its own (the daemon reads it from the socket).
const test = require('node:test');
const assert = require('node:assert/strict');
const cluster = require('node:cluster');
const { fork } = require('node:child_process');
const path = require('node:path');
const { Daemon, waitFor } = require('./support/daemon');

const WORKER = path.join(__dirname, 'support', 'worker.js');
const N = 20000; // ops per worker before the kill
const M = 5000;  // ops per surviving worker after it

function exited(proc) {
  return new Promise((resolve) => {
    if (proc.exitCode !== null || proc.signalCode !== null) resolve([proc.exitCode, proc.signalCode]);
    else proc.once('exit', (code, signal) => resolve([code, signal]));
  });
}

/** Sends msg to each process and waits for one reply from each. */
function ask(procs, msg) {
  return Promise.all(procs.map((proc) => new Promise((resolve, reject) => {
    const onMessage = (reply) => {
      if (reply.error) return reject(new Error(reply.error));
      proc.off('message', onMessage);
      resolve(reply);
    };
    proc.on('message', onMessage);
    proc.send(msg);
  })));
}

/** The pid labels of cluster_worker_up's series, sorted. */
function livePids(samples) {
  return [...samples.keys()].map((k) => /^cluster_worker_up\{pid="(\d+)"\}$/.exec(k)).filter(Boolean)
    .map((m) => Number(m[1])).sort((a, b) => a - b);
}

test('cluster workers and a forked worker, one SIGKILLed: exact totals, live gauges drop it', async () => {
  const daemon = await new Daemon().start();
  const env = { ...process.env, METRICSD_SOCKET: daemon.socketPath };
  cluster.setupPrimary({ exec: WORKER, silent: false });
  const procs = [];
  try {
    for (let i = 0; i < 4; i++) procs.push(cluster.fork(env).process);
    procs.push(fork(WORKER, { env }));
    const replies = await ask(procs, { do: 'work', n: N });
    assert.deepEqual(replies.map((r) => r.done), [true, true, true, true, true]);
    const pids = procs.map((proc) => proc.pid);
    assert.deepEqual(replies.map((r) => r.pid), pids);
    assert.ok(!pids.includes(process.pid));

    let s = await daemon.samples();
    assert.equal(s.get('cluster_requests_total{route="/a"}'), 5 * N / 2);
    assert.equal(s.get('cluster_requests_total{route="/b"}'), 5 * N / 2);
    assert.equal(s.get('cluster_latency_seconds_count'), 5 * N);
    assert.equal(s.get('cluster_latency_seconds_bucket{le="0.1"}'), 5 * N * 3 / 4);
    assert.equal(s.get('cluster_workers'), 5);
    assert.deepEqual(livePids(s), [...pids].sort((a, b) => a - b));

    const victim = procs[1];
    victim.kill('SIGKILL');
    assert.deepEqual(await exited(victim), [null, 'SIGKILL']);
    const survivors = procs.filter((proc) => proc !== victim);
    const alive = survivors.map((proc) => proc.pid).sort((a, b) => a - b);
    s = await waitFor(async () => {
      const now = await daemon.samples();
      return now.get('cluster_workers') === 4 && JSON.stringify(livePids(now)) === JSON.stringify(alive) ? now : null;
    });
    assert.ok(s, 'the killed worker leaves the live gauges');
    assert.equal(s.get('cluster_requests_total{route="/a"}'), 5 * N / 2); // its counts stay
    assert.equal(s.get('cluster_latency_seconds_count'), 5 * N);

    // The survivors work once more and end without flushing: beforeExit sends the rest.
    for (const proc of survivors) proc.send({ do: 'finish', n: M });
    for (const proc of survivors) assert.deepEqual(await exited(proc), [0, null]);
    s = await waitFor(async () => {
      const now = await daemon.samples();
      return now.get('cluster_workers') === 0 && livePids(now).length === 0 ? now : null;
    });
    assert.ok(s, 'every worker has left the live gauges');
    assert.equal(s.get('cluster_requests_total{route="/a"}'), 5 * N / 2 + 4 * M / 2);
    assert.equal(s.get('cluster_requests_total{route="/b"}'), 5 * N / 2 + 4 * M / 2);
    assert.equal(s.get('cluster_latency_seconds_count'), 5 * N + 4 * M);
    assert.equal(s.get('cluster_latency_seconds_sum'), (5 * N + 4 * M) / 4 * (0.5 + 3 * 0.0625));
  } finally {
    for (const proc of procs) if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
    assert.equal(await daemon.stop(), 0);
    daemon.cleanup();
  }
});
