'use strict';
// metricsd client for Node.js: prom-client-style metrics aggregated by a local daemon.
//
//   const metricsd = require('metricsd');
//   const requests = new metricsd.Counter({ name: 'http_requests_total', help: 'Requests.',
//                                           labelNames: ['method', 'code'] });
//   requests.labels('GET', '200').inc();
//
// The module-level functions act on a default Client; metrics accept `client` to use another
// one. No dependencies; Node >= 18.

const { Client, DEFAULT_SOCKET } = require('./lib/client');
const { Counter, Gauge, Histogram, Summary, DEFAULT_BUCKETS, getDefaultClient } = require('./lib/metrics');
const { ValidationError } = require('./lib/protocol');

/** Configure the default client ({socket, flushInterval, maxBufferOps, onError}). */
function configure(options) {
  const client = getDefaultClient();
  client.configure(options);
  return client;
}

module.exports = {
  Client, Counter, Gauge, Histogram, Summary, ValidationError, DEFAULT_BUCKETS, DEFAULT_SOCKET,
  configure,
  defaultClient: getDefaultClient,
  flush: (timeoutMs) => getDefaultClient().flush(timeoutMs),
  close: (timeoutMs) => getDefaultClient().close(timeoutMs),
  droppedOps: () => getDefaultClient().droppedOps(),
  lastError: () => getDefaultClient().lastError(),
  connected: () => getDefaultClient().connected(),
};
// `import metricsd from 'metricsd'` through TypeScript's CommonJS interop finds it here.
module.exports.default = module.exports;
