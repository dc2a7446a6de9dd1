// ES module entry point: the same objects as the CommonJS one (one default client per process).
import { createRequire } from 'node:module';

const metricsd = createRequire(import.meta.url)('./index.js');

export const {
  Client, Counter, Gauge, Histogram, Summary, ValidationError, DEFAULT_BUCKETS, DEFAULT_SOCKET,
  configure, defaultClient, flush, close, droppedOps, lastError, connected,
} = metricsd;
export default metricsd;
