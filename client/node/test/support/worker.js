'use strict';
// A worker process for test/cluster.test.js: started by cluster.fork() or child_process.fork()
// (as PM2's cluster and fork modes do), with METRICSD_SOCKET in its environment. It counts its
// own requests and says it is alive; the primary tells it what to do over IPC.
const metricsd = require('../..');

metricsd.configure({ onError: (e) => process.send({ error: `${e.code}: ${e.message}` }) });
const requests = new metricsd.Counter({ name: 'cluster_requests_total', help: 'Requests.', labelNames: ['route'] });
const latency = new metricsd.Histogram({ name: 'cluster_latency_seconds', help: 'Latency.', buckets: [0.1, 1] });
const workers = new metricsd.Gauge({ name: 'cluster_workers', help: 'Live workers.' }); // livesum
const up = new metricsd.Gauge({ name: 'cluster_worker_up', help: 'One series per live worker.', mode: 'liveall' });
workers.inc();
up.set(1);

function work(n) {
  for (let i = 0; i < n; i++) {
    requests.labels(i % 2 ? '/a' : '/b').inc();
    latency.observe(i % 4 === 0 ? 0.5 : 0.0625);
  }
}

process.on('message', async (msg) => {
  if (msg.do === 'work') {
    work(msg.n);
    process.send({ done: await metricsd.flush(10000), pid: process.pid });
  } else if (msg.do === 'finish') {
    // No flush: the ops go out when the event loop empties (beforeExit), after the IPC channel
    // closes. Nothing else keeps this process alive.
    work(msg.n);
    process.disconnect();
  }
});
