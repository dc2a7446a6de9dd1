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

/**
 * A temp dir for a php-fpm pool: state/ for the client's state files and app.php, which loads
 * the client and runs $code. Returns the dir.
 */
function fpmAppDir(string $prefix, string $code): string
{
    $dir = tempDir($prefix);
    mkdir("$dir/state");
    $autoload = realpath(__DIR__ . '/../autoload.php');
    file_put_contents("$dir/app.php", "<?php\nrequire '$autoload';\n" . str_replace('STATE_DIR', "$dir/state", $code));
    return $dir;
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
        clearstatcache();
        $offset = file_exists($this->logPath) ? filesize($this->logPath) : 0; // a restart appends
        $log = fopen($this->logPath, 'a');
        $owner = getmypid();
        // Also when a check fails (fail() exits): no daemon outlives the test. Not from a
        // forked child of the test, whose exit runs these functions too.
        register_shutdown_function(function () use ($owner): void {
            if (getmypid() === $owner) {
                $this->stop();
            }
        });
        $this->proc = proc_open([$binary, '--socket', $this->socketPath, '--listen', '127.0.0.1:0'],
            [0 => ['file', '/dev/null', 'r'], 1 => $log, 2 => $log], $pipes);
        fclose($log);
        $this->port = (int) waitFor(function () use ($offset) {
            clearstatcache();
            if (!preg_match_all('/metricsd ready: ingest socket .* http 127\.0\.0\.1:(\d+) backend/', (string) @file_get_contents($this->logPath, false, null, $offset), $m)) {
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
            fail('scrape failed: ' . (error_get_last()['message'] ?? ''));
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

/** A real php-fpm master with its own config in $dir: pm=static, a unix listen socket. */
final class Fpm
{
    /** @var resource|null */
    private $master;
    public int $masterPid;
    private string $cgi;

    public function __construct(public string $dir, int $children, int $maxRequests, array $env)
    {
        // CTest passes the programs it found; by hand, PATH and /usr/sbin are searched.
        $fpm = getenv('METRICSD_PHP_FPM') ?: trim((string) shell_exec('command -v php-fpm8.2 || command -v php-fpm || ls /usr/sbin/php-fpm* 2>/dev/null | head -1'));
        $this->cgi = getenv('METRICSD_CGI_FCGI') ?: trim((string) shell_exec('command -v cgi-fcgi'));
        if ($fpm === '' || $this->cgi === '') {
            fail('php-fpm or cgi-fcgi not found (scripts/install-deps installs php-fpm and libfcgi-bin)');
        }
        $envLines = '';
        foreach ($env as $k => $v) {
            $envLines .= "env[$k] = $v\n";
        }
        file_put_contents("$dir/fpm.conf", <<<CONF
[global]
pid = $dir/fpm.pid
error_log = $dir/fpm.log
daemonize = no
[app]
listen = $dir/fpm.sock
pm = static
pm.max_children = $children
pm.max_requests = $maxRequests
catch_workers_output = yes
php_admin_value[error_log] = $dir/php.log
$envLines
CONF);
        $args = [$fpm, '-F', '-y', "$dir/fpm.conf"];
        if (posix_getuid() === 0) {
            $args[] = '-R'; // as root in a container: let the workers run as root too
        }
        $out = ['file', "$dir/fpm.out", 'a'];
        $this->master = proc_open($args, [0 => ['file', '/dev/null', 'r'], 1 => $out, 2 => $out], $pipes);
        $this->masterPid = proc_get_status($this->master)['pid'];
        register_shutdown_function([$this, 'stop']); // also when a check fails
        if (!waitFor(fn () => file_exists("$dir/fpm.sock") && count($this->workers()) === $children, 10.0)) {
            $log = @file_get_contents("$dir/fpm.out") . @file_get_contents("$dir/fpm.log");
            $this->stop();
            fail("php-fpm did not start:\n$log");
        }
    }

    /** The environment of one FastCGI request for $script (cgi-fcgi passes it as params). */
    public function params(string $script, string $query): array
    {
        return ['SCRIPT_FILENAME' => "{$this->dir}/$script", 'REQUEST_METHOD' => 'GET', 'QUERY_STRING' => $query];
    }

    /** Starts one request; returns the cgi-fcgi process (read its stdout, then proc_close). */
    public function start(string $script, string $query, ?array &$pipes)
    {
        return proc_open([$this->cgi, '-bind', '-connect', "{$this->dir}/fpm.sock"],
            [0 => ['file', '/dev/null', 'r'], 1 => ['pipe', 'w'], 2 => ['file', '/dev/null', 'w']], $pipes, null,
            $this->params($script, $query));
    }

    /** One request over FastCGI; returns the response (headers and body). */
    public function request(string $script, string $query = ''): string
    {
        $p = $this->start($script, $query, $pipes);
        $response = stream_get_contents($pipes[1]);
        fclose($pipes[1]);
        proc_close($p);
        return $response;
    }

    /** @return list<int> live worker pids: the master's children */
    public function workers(): array
    {
        $pids = array_map('intval', array_filter(explode(' ', trim((string) @file_get_contents("/proc/{$this->masterPid}/task/{$this->masterPid}/children")))));
        sort($pids);
        return $pids;
    }

    public function stop(): void
    {
        if ($this->master === null) {
            return;
        }
        proc_terminate($this->master, 15);
        waitFor(fn () => !proc_get_status($this->master)['running'], 10.0);
        proc_close($this->master);
        $this->master = null;
    }
}
