// Type declarations for the metricsd Node.js client (CommonJS and ES module entry points).

export type LabelValue = string | number | boolean;
export type Labels<T extends string = string> = Partial<Record<T, LabelValue>>;

/** How the daemon combines the values several worker processes hold for one gauge series. */
export type GaugeMode =
  | 'livesum' | 'sum' | 'max' | 'min' | 'mostrecent' | 'all' | 'liveall'
  | 'livemax' | 'livemin' | 'livemostrecent' | 'shared';

/** A problem reported by the client: a daemon ERROR frame (code = its name, e.g.
 * "family_conflict") or a client-side one (code "client": connect or send failures). */
export interface MetricsdError {
  code: string;
  message: string;
  handle: number | null;
  frame: number | null;
}

export interface ClientOptions {
  /** The daemon's socket; default $METRICSD_SOCKET, else /run/metricsd/ingest.sock. */
  socket?: string;
  /** Milliseconds between sends of buffered ops (default 5). */
  flushInterval?: number;
  /** Ops held unsent before further ones are folded per series (default 1,000,000 = 16 MB). */
  maxBufferOps?: number;
  /** Called for each problem instead of a process warning (once per distinct message). */
  onError?: ((error: MetricsdError) => void) | null;
}

export class Client {
  constructor(options?: ClientOptions);
  configure(options: ClientOptions): void;
  socketPath(): string;
  /** Send everything so far and wait until the daemon applied it; false on timeout/no daemon. */
  flush(timeoutMs?: number): Promise<boolean>;
  /** Flush (up to timeoutMs), then disconnect; later ops are counted as dropped. */
  close(timeoutMs?: number): Promise<void>;
  droppedOps(): number;
  errorCount(): number;
  /** The latest problem as "code: message", or null. */
  lastError(): string | null;
  connected(): boolean;
}

/** Thrown at once for a programming mistake; `code` is the protocol's error code name
 * (invalid_metric_name, invalid_label_name, invalid_buckets, invalid_value, label_count_mismatch, ...). */
export class ValidationError extends TypeError {
  code: string;
}

export interface MetricConfiguration<T extends string> {
  name: string;
  help?: string;
  labelNames?: readonly T[];
  /** The client to declare on (default: the module's default client). */
  client?: Client;
}

export interface CounterChild {
  inc(value?: number): void;
}

export interface GaugeChild {
  inc(value?: number): void;
  dec(value?: number): void;
  set(value: number): void;
  setToCurrentTime(): void;
  /** end() sets the gauge to the seconds elapsed and returns them. */
  startTimer(): () => number;
  /** inc() now; done() dec()s once. */
  startInProgress(): () => void;
  /** inc(), fn(), dec() when it returns, throws or its promise settles. */
  trackInProgress<R>(fn: () => R): R;
}

export interface ObserveChild {
  observe(value: number): void;
  /** end() observes the seconds elapsed and returns them. */
  startTimer(): () => number;
}

declare abstract class Metric<T extends string, Child> {
  readonly name: string;
  readonly help: string;
  readonly labelNames: readonly T[];
  labels(...values: LabelValue[]): Child;
  labels(values: Labels<T>): Child;
}

/** A monotonically increasing count; the exported name always ends in `_total`. */
export class Counter<T extends string = string> extends Metric<T, CounterChild> {
  constructor(configuration: MetricConfiguration<T>);
  inc(value?: number): void;
  inc(labels: Labels<T>, value?: number): void;
}

export interface GaugeConfiguration<T extends string> extends MetricConfiguration<T> {
  /** Default livesum. */
  mode?: GaugeMode;
}

export class Gauge<T extends string = string> extends Metric<T, GaugeChild> {
  constructor(configuration: GaugeConfiguration<T>);
  readonly mode: GaugeMode;
  inc(value?: number): void;
  inc(labels: Labels<T>, value?: number): void;
  dec(value?: number): void;
  dec(labels: Labels<T>, value?: number): void;
  set(value: number): void;
  set(labels: Labels<T>, value: number): void;
  setToCurrentTime(labels?: Labels<T>): void;
  startTimer(labels?: Labels<T>): () => number;
  startInProgress(labels?: Labels<T>): () => void;
  trackInProgress<R>(fn: () => R): R;
  trackInProgress<R>(labels: Labels<T>, fn: () => R): R;
}

export interface HistogramConfiguration<T extends string> extends MetricConfiguration<T> {
  /** Upper bounds, increasing; numbers or their texts. Default DEFAULT_BUCKETS. */
  buckets?: ReadonlyArray<number | string>;
}

export class Histogram<T extends string = string> extends Metric<T, ObserveChild> {
  constructor(configuration: HistogramConfiguration<T>);
  /** The bound texts declared to the daemon. */
  readonly buckets: readonly string[];
  observe(value: number): void;
  observe(labels: Labels<T>, value: number): void;
  startTimer(labels?: Labels<T>): () => number;
}

/** `_sum` and `_count` only: no quantiles. */
export class Summary<T extends string = string> extends Metric<T, ObserveChild> {
  constructor(configuration: MetricConfiguration<T>);
  observe(value: number): void;
  observe(labels: Labels<T>, value: number): void;
  startTimer(labels?: Labels<T>): () => number;
}

export const DEFAULT_BUCKETS: readonly string[];
export const DEFAULT_SOCKET: string;

export function configure(options: ClientOptions): Client;
export function defaultClient(): Client;
export function flush(timeoutMs?: number): Promise<boolean>;
export function close(timeoutMs?: number): Promise<void>;
export function droppedOps(): number;
export function lastError(): string | null;
export function connected(): boolean;

declare const metricsd: {
  Client: typeof Client;
  Counter: typeof Counter;
  Gauge: typeof Gauge;
  Histogram: typeof Histogram;
  Summary: typeof Summary;
  ValidationError: typeof ValidationError;
  DEFAULT_BUCKETS: typeof DEFAULT_BUCKETS;
  DEFAULT_SOCKET: typeof DEFAULT_SOCKET;
  configure: typeof configure;
  defaultClient: typeof defaultClient;
  flush: typeof flush;
  close: typeof close;
  droppedOps: typeof droppedOps;
  lastError: typeof lastError;
  connected: typeof connected;
};
export default metricsd;
