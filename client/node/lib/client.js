'use strict';
// Client: one process's link to the metricsd daemon, on the Node event loop.
//
// Metrics register their declarations here and append 16-byte op records to an in-memory
// buffer (the hot path: no IO, no allocation). A timer on the event loop sends the buffer
// every flushInterval ms over one Unix socket. The timer and the socket are unref'd, so they
// never keep the process alive; pending ops are flushed when the loop empties (beforeExit) and,
// best effort, on process.exit(). Nothing here throws into the application or blocks because
// of the daemon: problems are counted (droppedOps), kept (lastError) and reported once each.

const fs = require('node:fs');
const net = require('node:net');
const p = require('./protocol');
const { Folder } = require('./fold');

const DEFAULT_SOCKET = '/run/metricsd/ingest.sock';
const DEFAULT_FLUSH_INTERVAL_MS = 5;
const DEFAULT_MAX_BUFFER_OPS = 1000000; // 16 MB of records at most
const BACKOFF_MIN_MS = 10;
const BACKOFF_MAX_MS = 2000;
const CONNECT_TIMEOUT_MS = 1000;
// Records are appended to chunks of this many (64 KiB); frames we build hold at most as many.
const CHUNK_RECORDS = 4096;
const MAX_LOGGED_MESSAGES = 1000;
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

const liveClients = new Set();
let exitHooksInstalled = false;

/** The metricsd client. Usually used through the module's default client. */
class Client {
  /**
   * @param {object} [options]
   * @param {string} [options.socket] the daemon's socket; default $METRICSD_SOCKET, else /run/metricsd/ingest.sock
   * @param {number} [options.flushInterval] ms between sends of buffered ops (default 5)
   * @param {number} [options.maxBufferOps] ops held unsent before they are folded (default 1,000,000)
   * @param {(error: object) => void} [options.onError] called for each problem instead of a process warning
   */
  constructor(options = {}) {
    this._socketPath = null;
    this._flushInterval = DEFAULT_FLUSH_INTERVAL_MS;
    this._maxBufferOps = DEFAULT_MAX_BUFFER_OPS;
    this._onError = null;
    this._sock = null;
    this.configure(options);
    // Registry.
    this._families = [];       // family handle -> {type, name, bounds}
    this._familyNames = new Map();
    this._series = [];         // series handle -> {kind, bounds}
    this._declarations = [];   // encoded DECLARE frames, in declaration order
    this._trackedGauges = [];  // gauge children whose value is re-sent after a reconnect
    // The op buffer: full chunks (Buffers of records) and the chunk being filled.
    this._chunks = [];
    this._newChunk();
    this._buffered = 0;        // records in _chunks and the current chunk
    this._inflight = [];       // written frames the socket has not confirmed: {data, ops, fold}
    this._inflightOps = 0;
    this._salvagedFolds = [];  // FOLD frames a disconnect interrupted
    this._folder = new Folder();
    this._folding = false;
    // Connection.
    this._ready = false;
    this._decoder = null;
    this._sentDeclarations = 0;
    this._resendGauges = false;
    this._opsPerFrame = CHUNK_RECORDS;
    this._limits = { maxFramePayload: p.LIMITS.maxFramePayload, maxFamilyHandle: p.LIMITS.maxFamilyHandle,
      maxSeriesHandle: p.LIMITS.maxSeriesHandle };
    this._backoff = BACKOFF_MIN_MS;
    this._reconnectTimer = null;
    this._tickTimer = null;
    this._started = false;
    this._closed = false;
    // flush(): tokens requested (not yet written), written (awaiting ACK), and their waiters.
    this._nextToken = 1;
    this._syncRequests = [];
    this._syncsSent = [];
    this._waiters = new Map();
    // Status.
    this._dropped = 0;
    this._errors = 0;
    this._lastError = null;
    this._logged = new Set();
    this._opCount = 0;         // every op accepted, for the exit flush
    this._foldFrames = 0;      // FOLD frames written, for tests and curiosity
    this._exitRefs = false;    // the beforeExit flush runs: keep the loop alive
    this._exitFlushedAt = -1;  // _opCount at the last beforeExit flush
    this._exitSink = null;     // process.exit(): frames collected for one synchronous write
    liveClients.add(this);
    installExitHooks();
  }

  // --- configuration and status -------------------------------------------------------------

  /** Change settings; a new socket path makes the client reconnect there. */
  configure({ socket, flushInterval, maxBufferOps, onError } = {}) {
    if (flushInterval !== undefined) {
      if (!(flushInterval > 0 && flushInterval <= 60000)) throw new RangeError(`flushInterval must be in (0, 60000] ms, not ${flushInterval}`);
      this._flushInterval = flushInterval;
    }
    if (maxBufferOps !== undefined) {
      if (!(Number.isInteger(maxBufferOps) && maxBufferOps >= 0)) throw new RangeError(`maxBufferOps must be an integer >= 0, not ${maxBufferOps}`);
      this._maxBufferOps = maxBufferOps;
    }
    if (onError !== undefined) {
      if (onError !== null && typeof onError !== 'function') throw new TypeError('onError must be a function');
      this._onError = onError;
    }
    if (socket !== undefined && socket !== this._socketPath) {
      this._socketPath = socket;
      if (this._sock !== null) this._sock.destroy(); // reconnects to the new path
    }
  }

  /** The configured path, else $METRICSD_SOCKET, else /run/metricsd/ingest.sock. */
  socketPath() {
    return this._socketPath || process.env.METRICSD_SOCKET || DEFAULT_SOCKET;
  }

  /** Ops discarded: sent after close(), or refused while folding. */
  droppedOps() {
    return this._dropped;
  }

  /** ERROR frames received and client-side problems noted. */
  errorCount() {
    return this._errors;
  }

  /** The latest problem as "code: message" (e.g. "family_conflict: ..."), or null. */
  lastError() {
    return this._lastError;
  }

  /** Whether a connection to the daemon is established (handshake done). */
  connected() {
    return this._ready;
  }

  /** Internal counters for tests: FOLD frames written so far. */
  stats() {
    return { foldFrames: this._foldFrames, buffered: this._buffered, inflightOps: this._inflightOps,
      folded: this._folder.size };
  }

  // --- flush and close ------------------------------------------------------------------------

  /**
   * Send everything so far plus a SYNC; resolves true once the daemon ACKed it (everything is
   * applied), false when the daemon is unreachable or no ACK came within `timeoutMs`. Never
   * rejects. While it waits it keeps the process alive (at most `timeoutMs`).
   */
  flush(timeoutMs = 5000) {
    if (this._closed) return Promise.resolve(false);
    const token = this._nextToken++;
    const promise = new Promise((resolve) => {
      const timer = setTimeout(() => this._finish([token], false), timeoutMs);
      this._waiters.set(token, { resolve, timer });
    });
    this._syncRequests.push(token);
    if (this._ready) {
      this._tick();
    } else if (this._sock === null) {
      this._connectNow();
    } // else: connecting; the handshake's end sends it
    this._refWhileWaiting();
    return promise;
  }

  /** Flush (up to `timeoutMs`), then disconnect. Later ops are counted in droppedOps(). */
  async close(timeoutMs = 1000) {
    if (this._closed) return;
    if (this._started) await this.flush(timeoutMs);
    this._closed = true;
    liveClients.delete(this);
    clearTimeout(this._tickTimer);
    clearTimeout(this._reconnectTimer);
    this._tickTimer = this._reconnectTimer = null;
    this._dropped += this._buffered + this._folder.size;
    this._chunks = [];
    this._newChunk();
    this._buffered = 0;
    this._folder = new Folder();
    this._folding = false;
    if (this._sock !== null) this._sock.end();
  }

  // --- registry (called by the metrics) -------------------------------------------------------

  _declareFamily(type, mode, name, help, labelNames, bucketTexts) {
    if (this._familyNames.has(name)) {
      throw new p.ValidationError('family_conflict', `Duplicated metric in this metricsd client: ${name}`);
    }
    const bounds = p.checkFamily(type, mode, name, help, labelNames, bucketTexts);
    const handle = this._families.length;
    const frame = p.encodeDeclareFamily(handle, type, mode, name, help, labelNames, bucketTexts);
    this._families.push({ type, name, bounds, tracked: type === 'gauge' && mode !== 'sum' && mode !== 'shared' });
    this._familyNames.set(name, handle);
    this._declarations.push({ kind: 'family', handle, frame });
    this._start();
    return handle;
  }

  /** Registers a series of `family`; returns its handle. `child` gets gauge re-sends. */
  _declareSeries(family, labelValues, child) {
    const handle = this._series.length;
    const frame = p.encodeDeclareSeries(handle, family, labelValues);
    const f = this._families[family];
    this._series.push({ kind: f.type, bounds: f.bounds });
    this._declarations.push({ kind: 'series', handle, frame });
    if (f.tracked && child) this._trackedGauges.push(child);
    this._start();
    return handle;
  }

  // --- the hot path ---------------------------------------------------------------------------

  /** Appends one op record (the metrics validated it). Never blocks, never throws. */
  _op(op, handle, value) {
    this._opCount++;
    if (this._folding || this._closed || this._buffered + this._inflightOps >= this._maxBufferOps) {
      this._foldOp(op, handle, value);
    } else {
      let n = this._n;
      if (n === CHUNK_RECORDS) {
        this._chunks.push(this._chunk);
        this._newChunk();
        n = 0;
      }
      if (LITTLE_ENDIAN) { // typed arrays: the fastest stores V8 has
        const i = n << 2;
        this._u32[i] = op; // the op byte, then three reserved zero bytes
        this._u32[i + 1] = handle;
        this._f64[(n << 1) + 1] = value;
      } else {
        p.writeRecord(this._chunk, n << 4, op, handle, value);
      }
      this._n = n + 1;
      this._buffered++;
    }
    if (this._tickTimer === null) this._schedule();
  }

  _foldOp(op, handle, value) {
    if (this._closed) {
      this._dropped++;
      return;
    }
    // Once anything is folded, every op folds until the folds are sent: an op buffered
    // meanwhile would overtake the folded ones (a gauge's set, for one).
    this._folding = true;
    const s = this._series[handle];
    if (!this._folder.fold(op, handle, value, s.kind, s.bounds)) this._dropped++;
  }

  _newChunk() {
    const bytes = new ArrayBuffer(CHUNK_RECORDS * p.RECORD_SIZE);
    this._chunk = Buffer.from(bytes);
    this._u32 = new Uint32Array(bytes);
    this._f64 = new Float64Array(bytes);
    this._n = 0;
  }

  // --- the sender (event loop) ------------------------------------------------------------------

  _start() {
    if (this._closed) return;
    this._started = true;
    if (this._tickTimer === null) this._schedule();
  }

  _schedule() {
    if (this._closed) return;
    this._tickTimer = setTimeout(() => {
      this._tickTimer = null;
      this._tick();
    }, this._flushInterval);
    this._tickTimer.unref();
  }

  /** Sends what is due; connects first when needed. */
  _tick() {
    if (this._closed) return;
    if (!this._ready) {
      if (this._sock === null && this._reconnectTimer === null) this._connectNow();
      return;
    }
    // Declarations first: an op exists only once its series is declared.
    const decls = this._declarations;
    for (; this._sentDeclarations < decls.length; this._sentDeclarations++) {
      const d = decls[this._sentDeclarations];
      const limit = d.kind === 'family' ? this._limits.maxFamilyHandle : this._limits.maxSeriesHandle;
      if (d.handle > limit || d.frame.length - p.HEADER_SIZE > this._limits.maxFramePayload) {
        this._noteError('client', `${d.kind} handle ${d.handle} exceeds the daemon's limits; not declared`);
        continue;
      }
      this._emit(d.frame);
    }
    this._writeBuffered();
    const syncs = this._syncRequests;
    // Folds go out once the buffer has room again (the daemon keeps up), or now when a SYNC or
    // a gauge re-send must follow them; either way after everything buffered before them.
    if (this._folding && (syncs.length || this._resendGauges || this._inflightOps < this._maxBufferOps)) {
      const { records, frames } = this._folder.drain();
      this._folding = false;
      this._writeRecords(records);
      for (const frame of frames) this._writeFrame(frame, 0, true);
    }
    if (this._resendGauges) {
      // After (re)connecting: set every tracked gauge to this process's value. The value
      // includes every op written above and none after, so the set is exact.
      this._resendGauges = false;
      const records = [];
      for (const child of this._trackedGauges) {
        if (child._written) records.push([p.OP.set, child._handle, child._value]);
      }
      if (records.length) this._writeRecords(p.encodeOps(records).subarray(p.HEADER_SIZE));
    }
    for (const token of syncs) {
      this._emit(p.encodeSync(token));
      this._syncsSent.push(token);
    }
    this._syncRequests = [];
    if ((this._buffered || this._folding) && this._tickTimer === null) this._schedule();
  }

  /** Writes the buffered records as OPS frames (frames are copies: the chunks are reused). */
  _writeBuffered() {
    const chunks = this._chunks;
    if (this._n) chunks.push(this._chunk.subarray(0, this._n * p.RECORD_SIZE));
    for (const chunk of chunks) this._writeRecords(chunk); // copies: the chunk is reused
    this._chunks = [];
    this._n = 0;
    this._buffered = 0;
    for (const frame of this._salvagedFolds) this._writeFrame(frame, 0, true);
    this._salvagedFolds = [];
  }

  _writeRecords(records) {
    const step = this._opsPerFrame * p.RECORD_SIZE;
    for (let start = 0; start < records.length; start += step) {
      const piece = records.subarray(start, Math.min(records.length, start + step));
      const frame = Buffer.allocUnsafe(p.HEADER_SIZE + piece.length);
      p.header(frame, piece.length, p.FRAME.ops);
      piece.copy(frame, p.HEADER_SIZE);
      this._writeFrame(frame, piece.length / p.RECORD_SIZE, false);
    }
  }

  /** Writes a frame that must not be lost: it is re-sent on the next connection unless the
   * kernel took it whole (then the daemon reads it before it notices any disconnect). */
  _writeFrame(data, ops, fold) {
    const entry = { data, ops, fold };
    this._inflight.push(entry);
    this._inflightOps += ops;
    if (fold) this._foldFrames++;
    const sock = this._sock;
    this._emit(data, (err) => {
      if (err || sock !== this._sock) return; // handled by the disconnect
      const i = this._inflight.indexOf(entry);
      if (i < 0) return;
      // Writes complete in order: everything before this entry is confirmed as well.
      for (const e of this._inflight.splice(0, i + 1)) this._inflightOps -= e.ops;
    });
  }

  /** Writes to the socket, or (process exit) collects what would be written. */
  _emit(data, callback) {
    if (this._exitSink !== null) this._exitSink.push(data);
    else this._sock.write(data, callback);
  }

  // --- connection -----------------------------------------------------------------------------

  _connectNow() {
    clearTimeout(this._reconnectTimer);
    this._reconnectTimer = null;
    if (this._sock !== null || this._closed) return;
    const path = this.socketPath();
    const sock = net.createConnection({ path });
    this._sock = sock;
    this._ready = false;
    this._decoder = new p.ClientDecoder();
    sock.unref();
    if (this._exitRefs) sock.ref();
    sock.setTimeout(CONNECT_TIMEOUT_MS, () => sock.destroy(new Error('handshake timed out')));
    sock.on('connect', () => sock.write(p.encodeHandshake()));
    sock.on('data', (data) => this._onData(sock, data));
    sock.on('error', (err) => {
      if (!this._ready) this._noteError('client', `cannot connect to ${path}: ${err.message}`);
      else this._noteError('client', `connection to ${path} failed: ${err.message}`);
    });
    sock.on('close', () => this._onClose(sock));
  }

  _onData(sock, data) {
    if (sock !== this._sock) return;
    for (const m of this._decoder.feed(data)) {
      if (!this._ready) {
        if (m.type === 'welcome') {
          this._welcome(sock, m);
          continue;
        }
        if (m.type === 'error') this._noteError(m.codeName, m.message, m);
        else this._noteError('client', `unexpected answer to the handshake: ${m.type}`);
        sock.destroy();
        return;
      }
      if (m.type === 'ack') {
        const done = [];
        while (this._syncsSent.length) { // ACKs come in SYNC order
          const token = this._syncsSent.shift();
          done.push(token);
          if (token === m.token) break;
        }
        this._finish(done, true);
      } else if (m.type === 'error') {
        this._noteError(m.codeName, m.message, m);
      } else if (m.type === 'decode_error') {
        this._noteError('client', `bad frame from daemon: ${m.code}`);
        if (m.fatal) {
          sock.destroy();
          return;
        }
      }
    }
  }

  _welcome(sock, m) {
    sock.setTimeout(0);
    this._ready = true;
    this._backoff = BACKOFF_MIN_MS;
    this._limits = m;
    this._opsPerFrame = Math.max(1, Math.floor(Math.min(CHUNK_RECORDS * p.RECORD_SIZE, m.maxFramePayload) / p.RECORD_SIZE));
    this._sentDeclarations = 0;
    this._resendGauges = this._trackedGauges.length > 0;
    this._tick();
  }

  _onClose(sock) {
    if (sock !== this._sock) return;
    this._sock = null;
    this._ready = false;
    // Frames the kernel did not take whole never reached the daemon complete: the daemon drops
    // a partial frame at EOF, so sending them again doubles nothing. Declarations and SYNCs
    // are not kept: a new connection declares everything again.
    const records = [];
    for (const e of this._inflight) {
      if (e.fold) this._salvagedFolds.push(e.data);
      else records.push(e.data.subarray(p.HEADER_SIZE));
    }
    if (records.length) {
      if (this._n) this._chunks.push(Buffer.from(this._chunk.subarray(0, this._n * p.RECORD_SIZE)));
      this._chunks = records.concat(this._chunks);
      this._buffered += this._inflightOps;
      this._n = 0;
    }
    this._inflight = [];
    this._inflightOps = 0;
    // SYNCs written on this connection, or waiting for it, will never be ACKed.
    this._finish(this._syncsSent.concat(this._syncRequests), false);
    this._syncsSent = [];
    this._syncRequests = [];
    if (this._closed) return;
    const delay = this._backoff * (0.5 + Math.random() / 2); // jittered, growing
    this._backoff = Math.min(this._backoff * 2, BACKOFF_MAX_MS);
    this._reconnectTimer = setTimeout(() => {
      this._reconnectTimer = null;
      this._connectNow();
    }, delay);
    this._reconnectTimer.unref();
  }

  _finish(tokens, ok) {
    for (const token of tokens) {
      const w = this._waiters.get(token);
      if (w === undefined) continue;
      this._waiters.delete(token);
      clearTimeout(w.timer);
      w.resolve(ok);
    }
    this._refWhileWaiting();
  }

  /** While flush() is awaited (or the exit flush runs), the socket keeps the process alive. */
  _refWhileWaiting() {
    if (this._sock === null) return;
    if (this._waiters.size || this._exitRefs) this._sock.ref();
    else this._sock.unref();
  }

  _noteError(code, message, frame) {
    this._errors++;
    const text = `${code}: ${message}`;
    this._lastError = text;
    const error = { code, message, handle: frame ? frame.handle : null, frame: frame ? frame.frame : null };
    if (this._onError !== null) {
      try {
        this._onError(error);
      } catch (e) { /* the application's callback must not break the sender */ }
      return;
    }
    if (!this._logged.has(text) && this._logged.size < MAX_LOGGED_MESSAGES) {
      this._logged.add(text);
      process.emitWarning(text, 'MetricsdWarning');
    }
  }

  // --- process exit ---------------------------------------------------------------------------

  /** beforeExit: the loop is empty. Flush what is pending, once per batch of new ops. */
  _beforeExit() {
    if (this._closed || !this._started || this._opCount === this._exitFlushedAt) return;
    this._exitFlushedAt = this._opCount;
    if (!this._buffered && !this._folding && !this._inflightOps && this._sentDeclarations === this._declarations.length) return;
    this._exitRefs = true;
    this.flush(1000).then(() => {
      this._exitRefs = false;
      this._refWhileWaiting();
    });
  }

  /** exit (process.exit()): no more loop. Write what is unsent synchronously, best effort. */
  _onExit() {
    const sock = this._sock;
    if (this._closed || !this._ready || sock === null || sock.writableLength !== 0) return;
    const fd = sock._handle && sock._handle.fd;
    if (typeof fd !== 'number' || fd < 0) return;
    this._exitSink = [];
    try {
      this._tick();
    } catch (e) { /* nothing may throw from an exit handler */ }
    const data = Buffer.concat(this._exitSink);
    this._exitSink = null;
    let done = 0;
    try {
      while (done < data.length) done += fs.writeSync(fd, data, done);
    } catch (e) { /* EAGAIN: the daemon drops the partial frame */ }
  }
}

function installExitHooks() {
  if (exitHooksInstalled) return;
  exitHooksInstalled = true;
  process.on('beforeExit', () => {
    for (const c of liveClients) c._beforeExit();
  });
  process.on('exit', () => {
    for (const c of liveClients) c._onExit();
  });
}

module.exports = { Client, DEFAULT_SOCKET, DEFAULT_FLUSH_INTERVAL_MS, DEFAULT_MAX_BUFFER_OPS };
