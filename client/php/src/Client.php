<?php
// Client: one process's link to the metricsd daemon.
//
// Metrics register their declarations here and append 16-byte op records to a string buffer
// (the hot path: no IO). The buffer is written to the daemon's Unix socket when it holds
// SEND_EVERY_OPS ops, on flush(), and at the end of the request or script (a shutdown
// function). Nothing here throws into the application or blocks on the daemon for longer than
// the send timeout: problems are counted (droppedOps()), kept (lastError()) and reported.
//
// Under PHP-FPM (persistent mode) a PHP variable lives for one request, while the worker
// process and its pfsockopen() connection live for many. So the worker's handle table (which
// family and series each handle is bound to on its connection) and its gauge values are kept
// in a small state file per worker, keyed by pid and process start time, and checked against
// the connection (its inode, and ftell() > 0 for one that was used before). Handles therefore
// stay the same for the worker's whole life: a request re-uses the handles earlier requests
// declared, declares only what is new, and after a reconnect declares everything again under
// the same numbers (legal: a new connection starts with no handles bound).

declare(strict_types=1);

namespace Metricsd;

final class Client
{
    public const DEFAULT_SOCKET = '/run/metricsd/ingest.sock';
    public const DEFAULT_MAX_BUFFER_OPS = 100000; // 1.6 MB of records at most, then folding
    public const SEND_EVERY_OPS = 4096;           // a long-running script sends every 64 KiB
    private const BACKOFF_MIN = 0.01;
    private const BACKOFF_MAX = 2.0;
    private const MAX_LOGGED_MESSAGES = 100;

    private static ?Client $default = null;
    /** @var array<string, \WeakReference<Client>> socket path => the persistent client using it */
    private static array $persistentSockets = [];
    /** @var list<\WeakReference<Client>> every client, for forked() */
    private static array $instances = [];

    private ?string $socket;
    private int $maxBufferOps;
    private float $sendTimeout;
    private float $connectTimeout;
    private bool $persistent;
    private string $stateDir;
    /** @var (callable(array): void)|null */
    private $onError;

    // The registry. In persistent mode it is loaded from and saved to the worker's state file.
    /** @var array<string, array{0: int, 1: string}> name => [family handle, definition] */
    private array $families = [];
    /** @var array<int, array{0: string, 1: list<float>, 2: bool}> handle => [type, bounds, tracked] */
    private array $familyInfo = [];
    /** @var array<string, int> family handle + label values => series handle */
    private array $series = [];
    /** @var array<int, array{0: string, 1: list<float>, 2: int}> series handle => [type, bounds, family] */
    private array $seriesInfo = [];
    /** @var list<string> encoded declarations, in handle order (families before their series) */
    private array $decls = [];
    /** @var array<int, float> tracked gauge series => this process's value (re-sent on reconnect) */
    private array $gauges = [];
    private int $nextFamily = 0;
    private int $nextSeries = 0;
    /** @var array<string, true> family names declared by this request */
    private array $declaredNow = [];

    // The op buffer.
    private string $buf = '';
    private int $nbuf = 0;
    private Folder $folder;
    private bool $folding = false;
    private int $foldedOps = 0;
    private int $sendAt;

    // The connection.
    /** @var resource|null */
    private $conn = null;
    private int $connIno = 0;
    private int $sent = 0;         // declarations written on this connection
    private bool $resendGauges = false;
    private bool $everConnected = false; // this process (worker) had a connection before
    private ?ClientDecoder $decoder = null;
    private int $opsPerFrame = 4096;
    private float $retryAt = 0.0;
    private float $backoff = self::BACKOFF_MIN;
    private int $nextToken = 1;
    private int $pid;

    // Persistent mode: the state file.
    private bool $stateLoaded = false;
    private bool $stateDirty = false;
    private string $stateStart = '';
    /** @var array<int, float> the gauge values in the state file */
    private array $savedGauges = [];

    // Status.
    private int $dropped = 0;
    private int $errors = 0;
    private ?string $lastError = null;
    /** @var array<string, true> */
    private array $logged = [];
    private bool $closed = false;
    private bool $outageLogged = false; // persistent mode: this worker logged that the daemon is unreachable

    /**
     * @param array{socket?: string, maxBufferOps?: int, sendTimeoutMs?: float, connectTimeoutMs?: float,
     *              persistent?: bool, stateDir?: string, onError?: callable|null} $options
     *   socket: the daemon's socket (default $METRICSD_SOCKET, else /run/metricsd/ingest.sock);
     *   maxBufferOps: ops held unsent before they are folded (default 100000);
     *   sendTimeoutMs: the longest a send may wait for the socket (default 20);
     *   connectTimeoutMs: the longest connecting and the handshake may take (default 100);
     *   persistent: one pfsockopen() connection per process kept across requests (default: on
     *   under PHP-FPM); stateDir: where persistent mode keeps the worker's handle table;
     *   onError: called with each problem instead of error_log().
     */
    public function __construct(array $options = [])
    {
        $this->socket = $options['socket'] ?? null;
        $this->maxBufferOps = $options['maxBufferOps'] ?? self::DEFAULT_MAX_BUFFER_OPS;
        if ($this->maxBufferOps < 0) {
            throw new \RangeError('maxBufferOps must be >= 0');
        }
        $this->sendTimeout = ($options['sendTimeoutMs'] ?? 20) / 1000;
        $this->connectTimeout = ($options['connectTimeoutMs'] ?? 100) / 1000;
        $this->persistent = $options['persistent'] ?? (PHP_SAPI === 'fpm-fcgi');
        // tmpfs where there is one: the state file is read on every request, written on some.
        $this->stateDir = $options['stateDir'] ?? (PHP_OS_FAMILY === 'Linux' ? '/dev/shm' : sys_get_temp_dir());
        $this->onError = $options['onError'] ?? null;
        $this->folder = new Folder();
        $this->sendAt = max(1, min(self::SEND_EVERY_OPS, $this->maxBufferOps));
        if ($this->persistent) {
            // The connection and the state file are the worker's, not the object's: two clients
            // on one socket would bind handles over each other.
            $key = $this->socketPath();
            if (isset(self::$persistentSockets[$key]) && self::$persistentSockets[$key]->get() !== null) {
                throw new \LogicException("A persistent metricsd client for $key exists already in this process: use Client::default() or pass one client to every metric");
            }
            self::$persistentSockets[$key] = \WeakReference::create($this);
        }
        $this->pid = getmypid();
        if (count(self::$instances) >= 64) { // a process that makes many clients: forget the dead
            self::$instances = array_values(array_filter(self::$instances, fn ($r) => $r->get() !== null));
        }
        self::$instances[] = \WeakReference::create($this);
        register_shutdown_function([$this, 'shutdown']);
    }

    /** The client metrics use when none is given; under PHP-FPM one per request. */
    public static function default(): Client
    {
        return self::$default ??= new Client();
    }

    public static function setDefault(?Client $client): void
    {
        self::$default = $client;
    }

    public function socketPath(): string
    {
        return $this->socket ?? (getenv('METRICSD_SOCKET') ?: self::DEFAULT_SOCKET);
    }

    /** Ops discarded: the daemon unreachable at the end of a request, sent after close(), or refused while folding. */
    public function droppedOps(): int
    {
        return $this->dropped;
    }

    /** ERROR frames received and client-side problems noted. */
    public function errorCount(): int
    {
        return $this->errors;
    }

    /** The latest problem as "code: message" (e.g. "family_conflict: ..."), or null. */
    public function lastError(): ?string
    {
        return $this->lastError;
    }

    public function connected(): bool
    {
        return $this->conn !== null;
    }

    /** @return array{buffered: int, folded: int, families: int, series: int} */
    public function stats(): array
    {
        return ['buffered' => $this->nbuf, 'folded' => $this->folder->size(), 'families' => $this->nextFamily,
            'series' => $this->nextSeries];
    }

    // --- registry (called by the metrics) ---------------------------------------------------------

    /**
     * Registers a family; returns its handle. Declaring the same family again (every FPM request
     * does) returns the same handle; another definition under a name this request already
     * declared is refused.
     * @param list<string> $labelNames
     * @param list<string> $bucketTexts
     */
    public function declareFamily(string $type, string $mode, string $name, string $help, array $labelNames, array $bucketTexts): int
    {
        $this->ensureState();
        $definition = serialize([$type, $mode, $help, $labelNames, $bucketTexts]);
        $known = $this->families[$name] ?? null;
        if ($known !== null && $known[1] === $definition) {
            $this->declaredNow[$name] = true;
            return $known[0];
        }
        if (isset($this->declaredNow[$name])) {
            throw new ValidationError('family_conflict', "Duplicated metric in this metricsd client: $name");
        }
        $bounds = Protocol::checkFamily($type, $mode, $name, $help, $labelNames, $bucketTexts);
        $handle = $this->nextFamily++;
        $this->decls[] = Protocol::encodeDeclareFamily($handle, $type, $mode, $name, $help, $labelNames, $bucketTexts);
        $this->families[$name] = [$handle, $definition];
        $this->familyInfo[$handle] = [$type, $bounds, $type === 'gauge' && $mode !== 'sum' && $mode !== 'shared'];
        $this->declaredNow[$name] = true;
        $this->stateDirty = true;
        return $handle;
    }

    /** Registers a series of $family (label values already strings); returns its handle. */
    public function declareSeries(int $family, array $labelValues): int
    {
        $key = $family . "\0" . implode("\0", $labelValues) . "\0" . count($labelValues);
        $known = $this->series[$key] ?? null;
        if ($known !== null) {
            return $known;
        }
        foreach ($labelValues as $value) {
            Protocol::encodeStr($value, Protocol::MAX_LABEL_VALUE_LENGTH, 'Label value'); // refuses bad UTF-8, too long
        }
        $handle = $this->nextSeries++;
        $this->decls[] = Protocol::encodeDeclareSeries($handle, $family, $labelValues);
        [$type, $bounds] = $this->familyInfo[$family];
        $this->series[$key] = $handle;
        $this->seriesInfo[$handle] = [$type, $bounds, $family];
        $this->stateDirty = true;
        return $handle;
    }

    /** This process's value of a gauge series (what a reconnect sets again). */
    public function gaugeValue(int $series): float
    {
        return $this->gauges[$series] ?? 0.0;
    }

    // --- the hot path -------------------------------------------------------------------------------

    /** Appends one op record (the metric validated it). Never blocks for long, never throws. */
    public function op(int $op, int $handle, float $value): void
    {
        // No pid check here: getpid() is a system call on every op. A forked child calls
        // Client::forked(); a child that does not is caught at its first send (see send()).
        if ($this->seriesInfo[$handle][0] === 'gauge') {
            $this->trackGauge($op, $handle, $value);
        }
        if ($this->folding || $this->closed || $this->nbuf >= $this->maxBufferOps) {
            $this->foldOp($op, $handle, $value);
            // A long-running script tries again now and then (the backoff permitting); the
            // send drains the folds once the daemon takes data again.
            if (++$this->foldedOps % $this->sendAt === 0 && !$this->closed) {
                $this->send(false);
            }
            return;
        }
        $this->buf .= pack('VVe', $op, $handle, $value);
        if (++$this->nbuf % $this->sendAt === 0) {
            $this->send(false);
        }
    }

    private function trackGauge(int $op, int $handle, float $value): void
    {
        $old = $this->gauges[$handle] ?? 0.0;
        $this->gauges[$handle] = match ($op) {
            Protocol::OP_INC => $old + $value,
            Protocol::OP_DEC => $old - $value,
            default => $value,
        };
        // Not dirty yet: saveState() compares with the values loaded, so a request that ends
        // where it started (an in-progress gauge) writes no file.
    }

    private function foldOp(int $op, int $handle, float $value): void
    {
        if ($this->closed) {
            $this->dropped++;
            return;
        }
        // Once anything is folded, every op folds until the folds are sent: an op buffered
        // meanwhile would overtake the folded ones (a gauge's set, for one).
        $this->folding = true;
        [$type, $bounds] = $this->seriesInfo[$handle];
        if (!$this->folder->fold($op, $handle, $value, $type, $bounds)) {
            $this->dropped++;
        }
    }

    // --- sending ------------------------------------------------------------------------------------

    /**
     * Sends everything so far plus a SYNC and waits for its ACK: true once the daemon applied
     * it all, false when it is unreachable or no ACK came within $timeoutMs.
     */
    public function flush(float $timeoutMs = 5000): bool
    {
        if ($this->closed) {
            return false;
        }
        $this->retryAt = 0.0; // an explicit flush tries now, whatever the backoff says
        return $this->send(true, $timeoutMs / 1000);
    }

    /** Flushes (up to $timeoutMs), then disconnects. Later ops are counted in droppedOps(). */
    public function close(float $timeoutMs = 1000): void
    {
        if ($this->closed) {
            return;
        }
        $this->flush($timeoutMs);
        $this->closed = true;
        $this->dropped += $this->nbuf + $this->folder->size();
        $this->buf = '';
        $this->nbuf = 0;
        $this->folder = new Folder();
        $this->folding = false;
        $this->saveState();
        if ($this->conn !== null) {
            fclose($this->conn);
        }
        $this->conn = null;
    }

    /**
     * The shutdown function: end of the FPM request or of the script. Writes what is pending
     * without waiting for the daemon (at most the send timeout), then saves the worker's state.
     * Under FPM it runs before the response is finished; call fastcgi_finish_request() first
     * in your own shutdown code to take even that off the response.
     */
    public function shutdown(): void
    {
        if ($this->closed || $this->pid !== getmypid()) {
            return; // a forked child without its own ops must not touch the parent's state
        }
        try {
            if ($this->nbuf || $this->folding || $this->sent < count($this->decls) || $this->resendGauges) {
                $this->send(false);
            }
            $this->finishPartialFrame();
            if ($this->nbuf || $this->folding) {
                // Nothing outlives the request but the connection and the state file.
                $lost = $this->nbuf + $this->folder->size();
                $this->dropped += $lost;
                $this->noteError('client', "$lost op(s) not sent: the daemon at " . $this->socketPath() . ' was not reachable');
            }
            $this->saveState();
        } catch (\Throwable $e) {
            $this->noteError('client', 'shutdown: ' . $e->getMessage());
        }
    }

    /**
     * Writes pending declarations, ops and folds (and a SYNC, then waits up to $timeout for its
     * ACK); false when not all got through. A connection the daemon closed (a restart; under
     * FPM a persistent one closed between requests) is found out by the first write: then the
     * unsent ops go out on a new connection at once.
     */
    private function send(bool $sync, float $timeout = 0.0): bool
    {
        $deadline = microtime(true) + $timeout;
        $hadConnection = $this->conn !== null || ($this->persistent && $this->connIno !== 0);
        if ($this->sendOnce($sync, $timeout)) {
            return true;
        }
        if (!$hadConnection || $this->conn !== null) {
            return false;
        }
        $this->retryAt = 0.0;
        return $this->sendOnce($sync, max(0.0, $deadline - microtime(true)));
    }

    private function sendOnce(bool $sync, float $timeout): bool
    {
        if ($this->pid !== getmypid()) {
            // A child that did not call Client::forked(): its buffer mixes the parent's unsent
            // ops (the parent sends them) with its own; they cannot be told apart, so none is
            // sent, and its own are counted as dropped.
            $lost = $this->nbuf + $this->folder->size();
            $this->afterFork();
            if ($lost) {
                $this->dropped += $lost;
                $this->noteError('client', "forked child: $lost op(s) buffered before the fork was noticed discarded; call Metricsd\\Client::forked() right after pcntl_fork()");
            }
        }
        if (!$this->connect()) {
            return false;
        }
        // [bytes, ops it carries, records to re-buffer when it is not written]
        $parts = [];
        for ($n = count($this->decls); $this->sent < $n; $this->sent++) {
            $parts[] = [$this->decls[$this->sent], 0, ''];
        }
        $step = $this->opsPerFrame * Protocol::RECORD_SIZE;
        $records = $this->buf;
        if ($this->folding) {
            $drained = $this->folder->drain();
            $this->folding = false;
            $records .= $drained['records'];
        }
        for ($at = 0, $len = strlen($records); $at < $len; $at += $step) {
            $piece = substr($records, $at, $step);
            $parts[] = [Protocol::header(strlen($piece), Protocol::FRAME_OPS) . $piece, intdiv(strlen($piece), 16), $piece];
        }
        foreach ($drained['frames'] ?? [] as [$frame, $count]) {
            $parts[] = [$frame, $count, ''];
        }
        $this->buf = '';
        $this->nbuf = 0;
        if ($this->resendGauges) {
            // After (re)connecting: this process's value of every tracked gauge, after every op
            // above, so the set is exact.
            $this->resendGauges = false;
            $sets = '';
            foreach ($this->gauges as $handle => $value) {
                if ($this->familyInfo[$this->seriesInfo[$handle][2]][2]) {
                    $sets .= Protocol::record(Protocol::OP_SET, $handle, $value);
                }
            }
            if ($sets !== '') {
                $parts[] = [Protocol::encodeOps($sets, $this->opsPerFrame), 0, ''];
            }
        }
        $token = 0;
        if ($sync) {
            $token = $this->nextToken++;
            $parts[] = [Protocol::encodeSync($token), 0, ''];
        }
        $written = $this->writeAll($parts);
        if ($written < count($parts)) {
            // Cut off mid-way: the daemon drops the partial frame at EOF. Whole ops frames that
            // did not go out are buffered again (they go out on the next connection).
            $again = '';
            foreach (array_slice($parts, $written) as [, $ops, $recs]) {
                if ($recs !== '') {
                    $again .= $recs;
                } else {
                    $this->dropped += $ops;
                }
            }
            $this->buf = $again . $this->buf;
            $this->nbuf = intdiv(strlen($this->buf), 16);
            $this->disconnect($this->writeFailed
                ? 'the daemon closed the connection (restarted?); reconnecting'
                : 'the daemon did not take the data within the send timeout');
            return false;
        }
        $this->readAvailable($sync ? $token : 0, $timeout);
        return !$sync || $this->lastAck >= $token;
    }

    private int $lastAck = 0;
    private bool $writeFailed = false;

    /**
     * Writes the parts in one go where the kernel takes it; waits at most the send timeout for
     * room. Returns how many parts were written whole.
     * @param list<array{0: string, 1: int, 2: string}> $parts
     */
    private function writeAll(array $parts): int
    {
        $this->writeFailed = false;
        $data = '';
        $ends = [];
        foreach ($parts as [$bytes]) {
            $data .= $bytes;
            $ends[] = strlen($data);
        }
        $done = 0;
        $total = strlen($data);
        $deadline = 0.0;
        while ($done < $total) {
            $n = @fwrite($this->conn, $done === 0 ? $data : substr($data, $done));
            if ($n === false) {
                $this->writeFailed = true; // EPIPE: the daemon closed the connection
                break;
            }
            $done += $n;
            if ($done >= $total) {
                break;
            }
            if ($n === 0) {
                $now = microtime(true);
                if ($deadline === 0.0) {
                    $deadline = $now + $this->sendTimeout;
                }
                if (!$this->await(true, $deadline)) {
                    break;
                }
            }
        }
        $whole = 0;
        foreach ($ends as $end) {
            if ($end > $done) {
                break;
            }
            $whole++;
        }
        return $whole;
    }

    /**
     * Persistent mode: the next request decodes with a fresh decoder, so none may be left in
     * the middle of a daemon frame. The daemon writes a frame whole; wait a little for its
     * rest, else close the connection rather than misread it later.
     */
    private function finishPartialFrame(): void
    {
        if (!$this->persistent || $this->conn === null || $this->decoder === null || $this->decoder->pending() === 0) {
            return;
        }
        $deadline = microtime(true) + 0.005;
        while ($this->conn !== null && $this->decoder->pending() > 0 && $this->await(false, $deadline)) {
            $data = @fread($this->conn, 65536);
            if ($data === false || ($data === '' && feof($this->conn))) {
                $this->disconnect('the daemon closed the connection');
                return;
            }
            $this->handle($this->decoder->feed($data));
        }
        if ($this->conn !== null && $this->decoder->pending() > 0) {
            $this->disconnect('a frame from the daemon did not arrive whole');
        }
    }

    /** Waits until the connection is readable (or writable); false once $deadline has passed. */
    private function await(bool $write, float $deadline): bool
    {
        $left = $deadline - microtime(true);
        if ($left <= 0) {
            return false;
        }
        $r = $write ? null : [$this->conn];
        $w = $write ? [$this->conn] : null;
        $e = null;
        return @stream_select($r, $w, $e, (int) $left, (int) (($left - (int) $left) * 1e6)) !== false;
    }

    /** Reads what the daemon sent; with $token, waits up to $timeout for its ACK. */
    private function readAvailable(int $token, float $timeout): void
    {
        $deadline = microtime(true) + $timeout;
        while ($this->conn !== null) {
            $data = @fread($this->conn, 65536);
            if ($data === false || ($data === '' && feof($this->conn))) {
                $this->disconnect('the daemon closed the connection');
                return;
            }
            if ($data !== '') {
                $this->handle($this->decoder->feed($data));
                continue;
            }
            if ($token === 0 || $this->lastAck >= $token) {
                return;
            }
            if (!$this->await(false, $deadline)) {
                return;
            }
        }
    }

    /** @param list<array<string, mixed>> $messages */
    private function handle(array $messages): void
    {
        foreach ($messages as $m) {
            if ($m['type'] === 'ack') {
                $this->lastAck = max($this->lastAck, $m['token']);
            } elseif ($m['type'] === 'error') {
                $this->noteError($m['code_name'], $m['message'], $m);
                if ($m['fatal']) {
                    $this->disconnect('fatal error from the daemon');
                    return;
                }
            } elseif ($m['type'] === 'decode_error') {
                $this->noteError('client', "bad frame from daemon: {$m['code']}");
                if ($m['fatal']) {
                    $this->disconnect('undecodable data from the daemon');
                    return;
                }
            }
        }
    }

    // --- the connection -----------------------------------------------------------------------------

    private function connect(): bool
    {
        if ($this->conn !== null) {
            return true;
        }
        $now = microtime(true);
        if (!$this->persistent && $now < $this->retryAt) {
            return false;
        }
        $this->ensureState();
        $address = 'unix://' . $this->socketPath();
        for ($attempt = 0; $attempt < 2; $attempt++) {
            $errno = 0;
            $errstr = '';
            $fp = $this->persistent
                ? @pfsockopen($address, -1, $errno, $errstr, $this->connectTimeout)
                : @stream_socket_client($address, $errno, $errstr, $this->connectTimeout);
            if ($fp === false) {
                $this->failedConnect("cannot connect to {$this->socketPath()}: $errstr");
                return false;
            }
            $ino = fstat($fp)['ino'] ?? 0;
            if ($this->persistent && ftell($fp) > 0) {
                if ($ino === $this->connIno && $this->connIno !== 0) {
                    // The worker's connection from an earlier request, in the state we saved.
                    $this->adopt($fp);
                    return true;
                }
                // Used, but not as our state file says: its handle table is unknown. Start over.
                fclose($fp);
                continue;
            }
            $this->conn = $fp;
            $this->connIno = $ino;
            if (!$this->handshake()) {
                return false;
            }
            $this->sent = 0;
            // Set the gauges again when their values hold ops this connection will not carry:
            // ops written on an earlier connection, or (FPM) ops of earlier requests, which
            // may have been dropped while the daemon was away.
            $this->resendGauges = $this->gauges !== [] && ($this->everConnected || $this->savedGauges !== []);
            $this->everConnected = true;
            $this->stateDirty = true;
            $this->backoff = self::BACKOFF_MIN;
            $this->outageLogged = false;
            return true;
        }
        return false;
    }

    /** Takes the worker's persistent connection, as an earlier request left it. */
    private function adopt($fp): void
    {
        $this->conn = $fp;
        if (stream_get_meta_data($fp)['blocked']) { // non-blocking already, but for the first time
            stream_set_blocking($fp, false);
        }
        $this->decoder = new ClientDecoder();
    }

    private function handshake(): bool
    {
        stream_set_blocking($this->conn, false);
        $this->decoder = new ClientDecoder();
        if (@fwrite($this->conn, Protocol::encodeHandshake()) !== 8) {
            $this->disconnect('handshake not written');
            return false;
        }
        $deadline = microtime(true) + $this->connectTimeout;
        while (true) {
            $data = @fread($this->conn, 4096);
            if ($data === false || ($data === '' && feof($this->conn))) {
                break;
            }
            foreach ($data === '' ? [] : $this->decoder->feed($data) as $m) {
                if ($m['type'] === 'welcome') {
                    $this->opsPerFrame = max(1, intdiv(min(65536, $m['max_frame_payload']), 16));
                    return true;
                }
                if ($m['type'] === 'error') {
                    $this->noteError($m['code_name'], $m['message'], $m);
                } else {
                    $this->noteError('client', 'unexpected answer to the handshake: ' . $m['type']);
                }
                $this->failedConnect(null);
                return false;
            }
            if (!$this->await(false, $deadline)) {
                break;
            }
        }
        $this->failedConnect('no WELCOME from the daemon within the connect timeout');
        return false;
    }

    private function failedConnect(?string $message): void
    {
        if ($message !== null) {
            $this->noteError('client', $message);
        }
        if ($this->persistent && !$this->outageLogged) {
            $this->outageLogged = true;
            $this->stateDirty = true;
        }
        $this->disconnect(null);
        $this->retryAt = microtime(true) + $this->backoff * (0.5 + mt_rand() / mt_getrandmax() / 2);
        $this->backoff = min($this->backoff * 2, self::BACKOFF_MAX);
    }

    private function disconnect(?string $why): void
    {
        if ($why !== null) {
            $this->noteError('client', $why);
        }
        if ($this->conn !== null) {
            @fclose($this->conn); // for a persistent stream this closes it for good
        }
        $this->conn = null;
        $this->connIno = 0;
        $this->sent = 0;
        $this->stateDirty = true;
    }

    /**
     * Call in the child right after pcntl_fork(): every client of the process drops what it
     * inherited (the parent's connection and its unsent ops, which the parent sends) and
     * connects anew on its next send. Cheap; without it the child is caught at its first send.
     */
    public static function forked(): void
    {
        foreach (self::$instances as $ref) {
            $client = $ref->get();
            if ($client !== null && $client->pid !== getmypid()) {
                $client->afterFork();
            }
        }
    }

    /**
     * In a forked child: the parent's connection and unsent ops belong to the parent. Drop them
     * without writing (closing our copy of the descriptor does not affect the parent's socket)
     * and start over; the registry stays, the child declares it on its own connection.
     */
    private function afterFork(): void
    {
        $this->pid = getmypid();
        if ($this->conn !== null && !$this->persistent) {
            fclose($this->conn);
        }
        $this->conn = null; // a persistent one stays open for the parent
        $this->connIno = 0;
        $this->sent = 0;
        $this->buf = '';
        $this->nbuf = 0;
        $this->folder = new Folder();
        $this->folding = false;
        $this->gauges = [];
        $this->everConnected = false;
        $this->persistent = false; // the child has its own life; nothing to share across requests
        $this->stateLoaded = true;
        $this->retryAt = 0.0;
        register_shutdown_function([$this, 'shutdown']);
    }

    // --- persistent mode: the worker's state ----------------------------------------------------------

    private function statePath(): string
    {
        return $this->stateDir . '/metricsd-php-' . $this->pid . '.state';
    }

    /** The process's start time: tells this worker's state file from a dead one's with the same pid. */
    private static function processStart(): string
    {
        $stat = @file_get_contents('/proc/self/stat');
        if ($stat === false) {
            return '';
        }
        $fields = explode(' ', substr($stat, strrpos($stat, ')') + 2));
        return $fields[19] ?? '';
    }

    private function ensureState(): void
    {
        if ($this->stateLoaded) {
            return;
        }
        $this->stateLoaded = true;
        if (!$this->persistent) {
            return;
        }
        $text = @file_get_contents($this->statePath());
        $state = $text === false ? false : @unserialize($text, ['allowed_classes' => false]);
        if (!is_array($state) || !$this->ownsState($state)) {
            $this->stateStart = self::processStart();
            $this->removeStaleStates();
            return;
        }
        $this->stateStart = $state['start'];
        $this->families = $state['families'];
        $this->familyInfo = $state['familyInfo'];
        $this->series = $state['series'];
        $this->seriesInfo = $state['seriesInfo'];
        $this->decls = $state['decls'];
        $this->gauges = $this->savedGauges = $state['gauges'];
        $this->nextFamily = $state['nextFamily'];
        $this->nextSeries = $state['nextSeries'];
        $this->connIno = $state['ino'];
        $this->everConnected = $state['everConnected'];
        $this->outageLogged = $state['outageLogged'] ?? false;
        $this->sent = $state['sent'];
    }

    /**
     * Whether a state file with this pid is this process's, not a dead one's. Usually proved
     * by the worker's live connection (opened anyway to send at request end): its inode is
     * the file's and it was used before. Otherwise by the process start time (/proc, a dozen
     * system calls: only after a reconnect).
     * @param array<string, mixed> $state
     */
    private function ownsState(array $state): bool
    {
        if (($state['ino'] ?? 0) !== 0) {
            $fp = @pfsockopen('unix://' . $this->socketPath(), -1, $errno, $errstr, $this->connectTimeout);
            if ($fp !== false && ftell($fp) > 0 && (fstat($fp)['ino'] ?? 0) === $state['ino']) {
                $this->adopt($fp); // connect() has nothing left to do
                return true;
            }
        }
        return ($state['start'] ?? null) === self::processStart();
    }

    private function saveState(): void
    {
        if (!$this->persistent || !$this->stateLoaded || (!$this->stateDirty && $this->gauges === $this->savedGauges)) {
            return;
        }
        $this->savedGauges = $this->gauges;
        $this->stateDirty = false;
        $text = serialize(['start' => $this->stateStart, 'families' => $this->families, 'familyInfo' => $this->familyInfo,
            'series' => $this->series, 'seriesInfo' => $this->seriesInfo, 'decls' => $this->decls,
            'gauges' => $this->gauges, 'nextFamily' => $this->nextFamily, 'nextSeries' => $this->nextSeries,
            'everConnected' => $this->everConnected, 'outageLogged' => $this->outageLogged, 'ino' => $this->conn !== null ? $this->connIno : 0, 'sent' => $this->conn !== null ? $this->sent : 0]);
        $path = $this->statePath();
        $tmp = $path . '.tmp';
        if (@file_put_contents($tmp, $text) !== strlen($text) || !@rename($tmp, $path)) {
            // Without the file the next request cannot know what this connection has bound:
            // close it, so that the next request starts on a new one.
            $this->noteError('client', "cannot write $path");
            @unlink($path);
            $this->disconnect(null);
        }
    }

    /** A new worker: remove state files of workers that are gone (pm.max_requests recycles many). */
    private function removeStaleStates(): void
    {
        foreach (glob($this->stateDir . '/metricsd-php-*.state') ?: [] as $file) {
            if (preg_match('/-(\d+)\.state$/', $file, $m) && (int) $m[1] !== $this->pid && !file_exists('/proc/' . $m[1])) {
                @unlink($file);
            }
        }
    }

    // --- errors ----------------------------------------------------------------------------------------

    /** @param array<string, mixed>|null $frame */
    private function noteError(string $code, string $message, ?array $frame = null): void
    {
        $this->errors++;
        $text = "$code: $message";
        $this->lastError = $text;
        if ($this->onError !== null) {
            try {
                ($this->onError)(['code' => $code, 'message' => $message, 'handle' => $frame['handle'] ?? null,
                    'frame' => $frame['frame'] ?? null]);
            } catch (\Throwable) {
                // the application's callback must not break the client
            }
            return;
        }
        // Under FPM $logged lasts one request: while the daemon stays unreachable, a worker
        // logs its outage once (remembered in the state file), not once per request.
        if ($this->outageLogged && $code === 'client') {
            return;
        }
        if (!isset($this->logged[$text]) && count($this->logged) < self::MAX_LOGGED_MESSAGES) {
            $this->logged[$text] = true;
            error_log("metricsd: $text");
        }
    }
}
