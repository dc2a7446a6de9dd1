import metricsd, { Counter, Gauge, Histogram, Summary, Client, flush, ValidationError } from "../..";

const client = new Client({ socket: '/tmp/x.sock', maxBufferOps: 1000, onError: (e) => console.log(e.code, e.handle) });
const requests = new Counter({ name: 'http_requests_total', help: 'Requests.', labelNames: ['method', 'code'] as const, client });
requests.labels('GET', 200).inc();
requests.labels({ method: 'GET', code: '200' }).inc(2);
requests.inc({ method: 'POST' }, 1);
const inFlight = new Gauge({ name: 'in_flight', help: 'In flight.', mode: 'livesum' });
const n: number = inFlight.trackInProgress(() => 42);
const p: Promise<string> = inFlight.trackInProgress(async () => 'x');
const done = inFlight.startInProgress(); done();
const h = new Histogram({ name: 'latency_seconds', help: 'L.', buckets: [0.01, 0.1, '1.0'] });
const end = h.startTimer(); const secs: number = end();
new Summary({ name: 's', help: 'S' }).observe(1);
const ok: Promise<boolean> = flush(1000);
const err: string | null = metricsd.lastError();
try { new Counter({ name: 'bad name' }); } catch (e) { if (e instanceof ValidationError) console.log(e.code); }
void n; void p; void secs; void ok; void err;
