'use strict';
// The shared end-to-end scenario (protocol/conformance/scenario.json) against the real daemon,
// through the public API. protocol/conformance/README.md describes the format.
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const metricsd = require('..');
const { Daemon, waitFor, REPO } = require('./support/daemon');

const scenario = JSON.parse(fs.readFileSync(path.join(REPO, 'protocol', 'conformance', 'scenario.json'), 'utf8'));

function number(value) {
  return typeof value === 'string' ? { NaN: NaN, '+Inf': Infinity, '-Inf': -Infinity }[value] : value;
}

/** The scrape's lines that belong to families named with `prefix`. */
function scraped(text, prefix) {
  return text.split('\n').filter((line) => (line.startsWith('# ') ? line.split(' ')[2] || '' : line).startsWith(prefix));
}

class Driver {
  constructor(daemon) {
    this.daemon = daemon;
    this.clients = {};
    for (const [name, opts] of Object.entries(scenario.clients)) {
      const options = { socket: daemon.socketPath, onError: () => {} };
      if (opts.max_buffer_ops !== undefined) options.maxBufferOps = opts.max_buffer_ops;
      this.clients[name] = new metricsd.Client(options);
    }
    this.metrics = {};
    this.thrown = [];
  }

  make(step) {
    const config = { name: step.name, help: step.help, labelNames: step.label_names, client: this.clients[step.client] };
    switch (step.type) {
      case 'counter': return new metricsd.Counter(config);
      case 'gauge': return new metricsd.Gauge({ ...config, mode: step.mode });
      case 'summary': return new metricsd.Summary(config);
      case 'histogram': return new metricsd.Histogram(step.buckets === undefined ? config : { ...config, buckets: step.buckets });
      default: throw new Error(`unknown type ${step.type}`);
    }
  }

  call(step, op) {
    const metric = this.metrics[step.id];
    const target = step.labels.length ? metric.labels(...step.labels) : metric;
    if ('value' in step) target[op](number(step.value));
    else target[op]();
  }

  /** Runs steps synchronously up to the first one that must wait; returns the rest. */
  async run(steps) {
    for (const step of steps) await this.step(step);
  }

  async step(step) {
    const where = JSON.stringify(step).slice(0, 120);
    switch (step.do) {
      case 'repeat':
        // Back to back, without yielding to the event loop: the burst overflows the buffer.
        for (let i = 0; i < step.times; i++) for (const s of step.steps) this.call(s, s.do);
        break;
      case 'declare': this.metrics[step.id] = this.make(step); break;
      case 'inc': case 'dec': case 'set': case 'observe': this.call(step, step.do); break;
      case 'flush': assert.equal(await this.clients[step.client].flush(5000), true, where); break;
      case 'refuse_declare':
        assert.throws(() => this.make(step), (e) => e instanceof TypeError && e.code === step.error, where);
        break;
      case 'refuse_op':
        assert.throws(() => this.call(step, step.op), (e) => e instanceof TypeError && e.code === step.error, where);
        break;
      case 'refuse_labels':
        assert.throws(() => this.metrics[step.id].labels(...step.labels), (e) => e instanceof TypeError && e.code === step.error, where);
        break;
      case 'expect_error': {
        const error = this.clients[step.client].lastError() || '';
        assert.ok(error.startsWith(`${step.error}:`), `${where}: ${error}`);
        break;
      }
      case 'expect_dropped':
        assert.equal(this.clients[step.client].droppedOps(), step.count, where);
        break;
      case 'scrape': {
        const expected = scenario.expected[step.expect].map((line) => line.replaceAll('{pid}', String(process.pid)));
        let got = [];
        await waitFor(async () => {
          got = scraped(await this.daemon.scrape(), scenario.scrape_prefix);
          return JSON.stringify(got) === JSON.stringify(expected);
        }, step.eventually ? 5000 : 0);
        assert.deepEqual(got, expected, where);
        break;
      }
      case 'close': await this.clients[step.client].close(); break;
      default: assert.fail(`unknown step ${step.do}`);
    }
  }
}

test('the shared conformance scenario against the real daemon', async () => {
  const daemon = await new Daemon().start();
  const driver = new Driver(daemon);
  try {
    // The burst is the first time client a's buffer overflows: it must be sent as FOLD frames
    // (one per histogram and summary series it touched), not as 2500 single ops.
    const burst = scenario.steps.findIndex((s) => s.do === 'repeat');
    await driver.run(scenario.steps.slice(0, burst));
    const before = driver.clients.a.stats().foldFrames;
    await driver.run(scenario.steps.slice(burst, burst + 2)); // the burst and its flush
    assert.equal(driver.clients.a.stats().foldFrames - before, 2);
    await driver.run(scenario.steps.slice(burst + 2));
  } finally {
    for (const c of Object.values(driver.clients)) await c.close();
    assert.equal(await daemon.stop(), 0);
    daemon.cleanup();
  }
});

test('the default buckets are the scenario\'s', () => {
  assert.deepEqual(metricsd.DEFAULT_BUCKETS.map(Number), scenario.default_buckets);
});
