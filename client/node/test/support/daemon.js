'use strict';
// Test helpers: run the real metricsd binary on a temporary socket and scrape its /metrics.
// The binary comes from $METRICSD_BINARY (CTest sets it), else <repo>/build/bin/metricsd.
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const http = require('node:http');
const os = require('node:os');
const path = require('node:path');

const REPO = path.resolve(__dirname, '..', '..', '..', '..');
const BINARY = process.env.METRICSD_BINARY || path.join(REPO, 'build', 'bin', 'metricsd');
const READY = /metricsd ready: ingest socket .* http 127\.0\.0\.1:(\d+) backend/g;

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `predicate` (sync or async) every 20 ms until it is truthy or `timeoutMs` passed. */
async function waitFor(predicate, timeoutMs = 5000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await predicate();
    if (value || Date.now() >= deadline) return value;
    await sleep(20);
  }
}

class Daemon {
  constructor(dir) {
    this.dir = dir || fs.mkdtempSync(path.join(os.tmpdir(), 'metricsd-node-'));
    this.socketPath = path.join(this.dir, 's.sock');
    this.logPath = path.join(this.dir, 'daemon.log');
    this.port = 0;
    this.proc = null;
  }

  /** Starts the daemon and waits for its ready line (a restart reuses the socket path). */
  async start(extraArgs = []) {
    if (!fs.existsSync(BINARY)) throw new Error(`metricsd binary not found at ${BINARY} (set METRICSD_BINARY)`);
    const offset = fs.existsSync(this.logPath) ? fs.statSync(this.logPath).size : 0;
    const log = fs.openSync(this.logPath, 'a');
    this.proc = spawn(BINARY, ['--socket', this.socketPath, '--listen', '127.0.0.1:0', ...extraArgs],
      { stdio: ['ignore', log, log] });
    fs.closeSync(log);
    const exited = new Promise((resolve) => this.proc.once('exit', resolve));
    this.exited = exited;
    const ready = await waitFor(() => {
      const text = fs.readFileSync(this.logPath, 'utf8').slice(offset);
      const ports = [...text.matchAll(READY)];
      return ports.length && fs.existsSync(this.socketPath) ? Number(ports[ports.length - 1][1]) : 0;
    }, 10000);
    if (!ready) {
      await this.stop();
      throw new Error(`metricsd did not become ready; log:\n${this.log()}`);
    }
    this.port = ready;
    return this;
  }

  /** SIGTERM and wait; resolves the exit code (0 for a clean shutdown). */
  async stop() {
    if (this.proc === null) return 0;
    const proc = this.proc;
    this.proc = null;
    if (proc.exitCode !== null || proc.signalCode !== null) return proc.exitCode;
    proc.kill('SIGTERM');
    const timer = setTimeout(() => proc.kill('SIGKILL'), 10000);
    await this.exited;
    clearTimeout(timer);
    return proc.exitCode;
  }

  log() {
    return fs.existsSync(this.logPath) ? fs.readFileSync(this.logPath, 'utf8') : '';
  }

  scrape() {
    return new Promise((resolve, reject) => {
      http.get({ host: '127.0.0.1', port: this.port, path: '/metrics', timeout: 10000 }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d) => { body += d; });
        res.on('end', () => (res.statusCode === 200 ? resolve(body) : reject(new Error(`HTTP ${res.statusCode}`))));
      }).on('error', reject);
    });
  }

  /** Sample lines as a Map from `name{labels}` (as printed) to the value. */
  async samples() {
    const out = new Map();
    for (const line of (await this.scrape()).split('\n')) {
      if (!line || line.startsWith('#')) continue;
      const at = line.lastIndexOf(' ');
      out.set(line.slice(0, at), Number(line.slice(at + 1)));
    }
    return out;
  }

  cleanup() {
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

module.exports = { Daemon, waitFor, sleep, REPO };
