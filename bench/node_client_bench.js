#!/usr/bin/env node
'use strict';
// ns per inc() on a labelled counter: metricsd's Node.js client vs prom-client.
//
// Usage: node bench/node_client_bench.js BUILD/bin/metricsd [--runs 5] [--ops 2000000]
//
// prom-client comes from bench/node/node_modules (`npm install --prefix bench/node`, which
// bench/run does); without it only metricsd is measured. Variants, each run in a fresh node
// process, interleaved (run 1 of each, then run 2 of each, ...):
//
// - metricsd_child / prom_client_child: `child.inc()` with the child from labels() kept;
// - metricsd_labels / prom_client_labels: `counter.inc({method, code})`, prom-client's usual form.
//
// metricsd runs against a real daemon started here; `with_flush` also includes flush() (SYNC +
// ACK: until the daemon applied every op). prom-client keeps the value in the process (with its
// cluster aggregator, the primary collects the values over IPC at scrape time; inc() is the
// same). Prints `node_inc_ns client=<variant> median=<ns> runs=...` lines and the ratios.
const { spawn, execFileSync } = require('node:child_process');
const fs = require('node:fs');
const http = require('node:http');
const os = require('node:os');
const path = require('node:path');

const REPO = path.resolve(__dirname, '..');
const PROM_DIR = path.join(__dirname, 'node', 'node_modules', 'prom-client');
const WARMUP = 200000;

function measure(variant, ops, socket) {
  const labels = { method: 'GET', code: '200' };
  let counter;
  let client = null;
  if (variant.startsWith('metricsd')) {
    const metricsd = require(path.join(REPO, 'client', 'node'));
    client = metricsd.configure({ socket });
    counter = new metricsd.Counter({ name: 'bench_requests_total', help: 'Bench.', labelNames: ['method', 'code'] });
  } else {
    const prom = require(PROM_DIR);
    counter = new prom.Counter({ name: 'bench_requests_total', help: 'Bench.', labelNames: ['method', 'code'] });
  }
  const child = counter.labels('GET', '200');
  const loop = variant.endsWith('_child')
    ? (n) => { for (let i = 0; i < n; i++) child.inc(); }
    : (n) => { for (let i = 0; i < n; i++) counter.inc(labels); };
  loop(WARMUP);
  const finish = async () => {
    const start = process.hrtime.bigint();
    loop(ops);
    const looped = process.hrtime.bigint();
    const result = { ns: Number(looped - start) / ops };
    if (client !== null) {
      if (!(await client.flush(30000))) throw new Error(`flush failed: ${client.lastError()}`);
      result.with_flush_ns = Number(process.hrtime.bigint() - start) / ops;
      result.dropped = client.droppedOps();
    }
    return result;
  };
  if (client === null) return finish();
  // Connected before timing, as a long-running server is.
  return client.flush(10000).then((ok) => {
    if (!ok) throw new Error(`flush failed: ${client.lastError()}`);
    return finish();
  });
}

function startDaemon(binary, dir) {
  const log = path.join(dir, 'daemon.log');
  const socket = path.join(dir, 'ingest.sock');
  const fd = fs.openSync(log, 'w');
  const proc = spawn(binary, ['--socket', socket, '--listen', '127.0.0.1:0'], { stdio: ['ignore', fd, fd] });
  fs.closeSync(fd);
  const deadline = Date.now() + 10000;
  while (Date.now() < deadline) {
    const m = /metricsd ready: ingest socket .* http 127\.0\.0\.1:(\d+)/.exec(fs.readFileSync(log, 'utf8'));
    if (m) return { proc, socket, port: Number(m[1]) };
    execFileSync('sleep', ['0.02']);
  }
  proc.kill();
  throw new Error(`metricsd did not start; log:\n${fs.readFileSync(log, 'utf8')}`);
}

function scrapeTotal(port) {
  return new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, path: '/metrics' }, (res) => {
      let body = '';
      res.on('data', (d) => { body += d; });
      res.on('end', () => {
        const m = /^bench_requests_total\{method="GET",code="200"\} (\S+)$/m.exec(body);
        resolve(m ? Number(m[1]) : 0);
      });
    }).on('error', reject);
  });
}

function runVariant(variant, ops, socket) {
  const out = execFileSync(process.execPath, [__filename, '--child', variant, '--ops', String(ops), '--socket', socket],
    { encoding: 'utf8', timeout: 600000 });
  return JSON.parse(out);
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function main() {
  const args = process.argv.slice(2);
  const opt = (name, dflt) => {
    const i = args.indexOf(name);
    return i >= 0 ? args[i + 1] : dflt;
  };
  const ops = Number(opt('--ops', 2000000));
  const child = opt('--child', null);
  if (child) {
    process.stdout.write(`${JSON.stringify(await measure(child, ops, opt('--socket')))}\n`);
    return;
  }
  const binary = args.find((a) => !a.startsWith('--') && !/^\d+$/.test(a));
  if (!binary) throw new Error('usage: node bench/node_client_bench.js BUILD/bin/metricsd [--runs 5] [--ops 2000000]');
  const runs = Number(opt('--runs', 5));
  let variants = ['metricsd_child', 'metricsd_labels'];
  if (fs.existsSync(PROM_DIR)) {
    const version = JSON.parse(fs.readFileSync(path.join(PROM_DIR, 'package.json'), 'utf8')).version;
    console.log(`# prom-client ${version}, node ${process.version}`);
    variants = variants.concat(['prom_client_child', 'prom_client_labels']);
  } else {
    console.log('# prom-client not installed (npm install --prefix bench/node): measuring metricsd only');
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'metricsd-nodebench-'));
  const daemon = startDaemon(binary, dir);
  const results = Object.fromEntries(variants.map((v) => [v, []]));
  let delivered = 0;
  try {
    for (let r = 0; r < runs; r++) for (const v of variants) results[v].push(runVariant(v, ops, daemon.socket));
    delivered = await scrapeTotal(daemon.port);
  } finally {
    daemon.proc.kill('SIGTERM');
    fs.rmSync(dir, { recursive: true, force: true });
  }
  const medians = {};
  for (const [v, rs] of Object.entries(results)) {
    const ns = rs.map((r) => r.ns);
    medians[v] = median(ns);
    let line = `node_inc_ns client=${v} median=${medians[v].toFixed(1)} runs=${ns.map((x) => x.toFixed(1)).join(',')}`;
    if (v.startsWith('metricsd')) {
      const flushed = rs.map((r) => r.with_flush_ns);
      line += ` with_flush=${median(flushed).toFixed(1)} dropped=${rs.reduce((a, r) => a + r.dropped, 0)}`;
    }
    console.log(line);
  }
  for (const form of ['child', 'labels']) {
    if (medians[`prom_client_${form}`] !== undefined) {
      console.log(`node_inc_ratio form=${form} prom_client/metricsd=${(medians[`prom_client_${form}`] / medians[`metricsd_${form}`]).toFixed(2)}`);
    }
  }
  const expected = 2 * runs * (ops + WARMUP);
  console.log(`node_inc_delivered delivered=${delivered} expected=${expected}`);
  if (delivered !== expected) throw new Error(`metricsd delivered ${delivered} of ${expected} ops`);
}

main().catch((e) => {
  console.error(e.stack || String(e));
  process.exit(1);
});
