<?php
// Test helpers: run the real metricsd binary on a temporary socket, scrape its /metrics, and
// a few assertions. The binary comes from $METRICSD_BINARY (CTest sets it), else
// <repo>/build/bin/metricsd. Each test file is a plain script: exit 0 = pass.

declare(strict_types=1);

require_once __DIR__ . '/../autoload.php';

const REPO = __DIR__ . '/../../..';

function fail(string $message): never
{
    fwrite(STDERR, "FAIL: $message\n");
    exit(1);
}

function check(bool $ok, string $what): void
{
    if (!$ok) {
        fail($what);
    }
}

function same(mixed $expected, mixed $got, string $what): void
{
    if ($expected !== $got) {
        fail("$what\n  expected: " . var_export($expected, true) . "\n  got:      " . var_export($got, true));
    }
}

/** Polls $predicate every 20 ms until it returns a truthy value or $timeout seconds passed. */
function waitFor(callable $predicate, float $timeout = 5.0): mixed
{
    $deadline = microtime(true) + $timeout;
    while (true) {
        $value = $predicate();
        if ($value || microtime(true) >= $deadline) {
            return $value;
        }
        usleep(20000);
    }
}

function tempDir(string $prefix): string
{
    $dir = sys_get_temp_dir() . '/' . $prefix . bin2hex(random_bytes(4));
    mkdir($dir, 0700);
    return $dir;
}

function removeTree(string $dir): void
{
    if (!is_dir($dir)) {
        return;
    }
    foreach (scandir($dir) as $f) {
        if ($f !== '.' && $f !== '..') {
            is_dir("$dir/$f") && !is_link("$dir/$f") ? removeTree("$dir/$f") : @unlink("$dir/$f");
        }
    }
    @rmdir($dir);
}

final class Daemon
{
    public string $dir;
    public string $socketPath;
    public string $logPath;
    public int $port = 0;
    /** @var resource|null */
    private $proc = null;

    public function __construct()
    {
        $this->dir = tempDir('metricsd-php-');
        $this->socketPath = "{$this->dir}/s.sock";
        $this->logPath = "{$this->dir}/daemon.log";
    }

    public function start(): self
    {
        $binary = getenv('METRICSD_BINARY') ?: REPO . '/build/bin/metricsd';
        if (!is_executable($binary)) {
            fail("metricsd binary not found at $binary (set METRICSD_BINARY)");
        }
        $log = fopen($this->logPath, 'a');
        $this->proc = proc_open([$binary, '--socket', $this->socketPath, '--listen', '127.0.0.1:0'],
            [0 => ['file', '/dev/null', 'r'], 1 => $log, 2 => $log], $pipes);
        fclose($log);
        $this->port = (int) waitFor(function () {
            clearstatcache();
            if (!preg_match_all('/metricsd ready: ingest socket .* http 127\.0\.0\.1:(\d+) backend/', (string) @file_get_contents($this->logPath), $m)) {
                return 0;
            }
            return file_exists($this->socketPath) ? (int) end($m[1]) : 0;
        }, 10.0);
        if ($this->port === 0) {
            $this->stop();
            fail("metricsd did not become ready; log:\n" . @file_get_contents($this->logPath));
        }
        return $this;
    }

    public function pid(): int
    {
        return $this->proc === null ? 0 : proc_get_status($this->proc)['pid'];
    }

    /** SIGTERM and wait; returns the exit code (0 for a clean shutdown). */
    public function stop(): int
    {
        if ($this->proc === null) {
            return 0;
        }
        proc_terminate($this->proc, 15);
        $deadline = microtime(true) + 10;
        do {
            $status = proc_get_status($this->proc);
            if (!$status['running']) {
                break;
            }
            usleep(20000);
        } while (microtime(true) < $deadline);
        if ($status['running']) {
            proc_terminate($this->proc, 9);
        }
        proc_close($this->proc);
        $this->proc = null;
        return $status['exitcode'];
    }

    public function scrape(): string
    {
        $text = @file_get_contents("http://127.0.0.1:{$this->port}/metrics", false,
            stream_context_create(['http' => ['timeout' => 10]]));
        if ($text === false) {
            fail('scrape failed');
        }
        return $text;
    }

    /** @return array<string, float> sample lines as `name{labels}` => value */
    public function samples(): array
    {
        $out = [];
        foreach (explode("\n", $this->scrape()) as $line) {
            if ($line === '' || $line[0] === '#') {
                continue;
            }
            $at = strrpos($line, ' ');
            $out[substr($line, 0, $at)] = (float) substr($line, $at + 1);
        }
        return $out;
    }

    public function cleanup(): void
    {
        removeTree($this->dir);
    }
}
