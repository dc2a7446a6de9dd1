<?php
// A real php-fpm (its own config in a temp dir: pm=static, 2 workers, pm.max_requests=7, a
// unix listen socket) running an app that uses the client, driven over FastCGI by cgi-fcgi.
//
// 1. 40 requests: the counter and the histogram count are exactly 40; the liveall gauge that
//    every request inc()s holds one series per live worker, equal to the requests that worker
//    served (its value lives in the worker's state across requests; recycled workers are gone).
// 2. A worker is SIGKILLed in the middle of a request. What it may lose is defined: the ops of
//    that in-flight request (they are sent at request end), nothing of a request that got its
//    response (its ops were written to the daemon's socket before the response was finished).
//    The totals stay exactly 40, the dead worker's gauge series disappears, and 10 more
//    requests (the master respawns the worker) bring the totals to exactly 50.

declare(strict_types=1);

require_once __DIR__ . '/support.php';

$fpm = trim((string) shell_exec('command -v php-fpm8.2 || command -v php-fpm || ls /usr/sbin/php-fpm* 2>/dev/null | head -1'));
$cgi = trim((string) shell_exec('command -v cgi-fcgi'));
if ($fpm === '' || $cgi === '') {
    fail('php-fpm or cgi-fcgi not found (scripts/install-deps installs php-fpm and libfcgi-bin)');
}

$daemon = (new Daemon())->start();
$dir = tempDir('metricsd-php-fpm-');
mkdir("$dir/state");
$autoload = realpath(__DIR__ . '/../autoload.php');
file_put_contents("$dir/app.php", <<<PHP
<?php
require '$autoload';
\$client = new Metricsd\\Client(['stateDir' => '$dir/state']);
\$requests = new Metricsd\\Counter('php_fpm_requests_total', 'Requests.', ['route'], \$client);
\$served = new Metricsd\\Gauge('php_fpm_worker_requests', 'Requests this worker served.', [], \$client, mode: 'liveall');
\$latency = new Metricsd\\Histogram('php_fpm_latency_seconds', 'Latency.', [], \$client, buckets: [0.25, 1]);
\$requests->labels(\$_GET['route'] ?? 'a')->inc();
\$served->inc();
\$latency->observe(0.125);
if (isset(\$_GET['hang'])) {
    touch('$dir/hanging-' . getmypid());
    sleep(20); // SIGKILLed before it ends
}
echo 'pid=' . getmypid() . ' value=' . \$served->value();
PHP);
file_put_contents("$dir/fpm.conf", <<<CONF
[global]
pid = $dir/fpm.pid
error_log = $dir/fpm.log
daemonize = no
[app]
listen = $dir/fpm.sock
pm = static
pm.max_children = 2
pm.max_requests = 7
env[METRICSD_SOCKET] = {$daemon->socketPath}
catch_workers_output = yes
php_admin_value[error_log] = $dir/php.log
CONF);

$args = [$fpm, '-F', '-y', "$dir/fpm.conf"];
if (function_exists('posix_getuid') ? posix_getuid() === 0 : trim((string) shell_exec('id -u')) === '0') {
    $args[] = '-R'; // as root in a container: let the workers run as root too
}
$master = proc_open($args, [0 => ['file', '/dev/null', 'r'], 1 => ['file', "$dir/fpm.out", 'a'], 2 => ['file', "$dir/fpm.out", 'a']], $pipes);
$masterPid = proc_get_status($master)['pid'];
$cleanup = function () use ($master, $daemon, $dir): void {
    proc_terminate($master, 15);
    waitFor(fn () => !proc_get_status($master)['running'], 10.0);
    proc_close($master);
    $daemon->stop();
    $daemon->cleanup();
    removeTree($dir);
};
if (!waitFor(fn () => file_exists("$dir/fpm.sock"), 10.0)) {
    $log = @file_get_contents("$dir/fpm.out") . @file_get_contents("$dir/fpm.log");
    $cleanup();
    fail("php-fpm did not start:\n$log");
}

/** One request over FastCGI; returns [pid, gauge value] from the body. */
function request(string $cgi, string $dir, string $query = ''): array
{
    $env = ['SCRIPT_FILENAME' => "$dir/app.php", 'REQUEST_METHOD' => 'GET', 'QUERY_STRING' => $query, 'PATH' => '/usr/bin:/bin'];
    $out = [];
    $p = proc_open([$cgi, '-bind', '-connect', "$dir/fpm.sock"], [0 => ['file', '/dev/null', 'r'], 1 => ['pipe', 'w'], 2 => ['pipe', 'w']], $pipes, null, $env);
    $body = stream_get_contents($pipes[1]);
    fclose($pipes[1]);
    fclose($pipes[2]);
    proc_close($p);
    if (!preg_match('/pid=(\d+) value=(\d+)/', $body, $out)) {
        fail("bad response: $body\n" . @file_get_contents("$dir/php.log"));
    }
    return [(int) $out[1], (int) $out[2]];
}

/** Live worker pids: the master's children. */
function workers(int $masterPid): array
{
    $pids = array_map('intval', array_filter(explode(' ', trim((string) @file_get_contents("/proc/$masterPid/task/$masterPid/children")))));
    sort($pids);
    return $pids;
}

/** The liveall gauge's series: pid => value. */
function gaugeByPid(Daemon $daemon): array
{
    $out = [];
    foreach ($daemon->samples() as $key => $value) {
        if (preg_match('/^php_fpm_worker_requests\{pid="(\d+)"\}$/', $key, $m)) {
            $out[(int) $m[1]] = (int) $value;
        }
    }
    ksort($out);
    return $out;
}

$served = []; // pid => requests it answered
$routes = []; // pid => route => true
$serve = function (int $n) use ($cgi, $dir, &$served, &$routes): void {
    for ($i = 0; $i < $n; $i++) {
        $route = $i % 2 ? 'a' : 'b';
        [$pid, $value] = request($cgi, $dir, "route=$route");
        $served[$pid] = ($served[$pid] ?? 0) + 1;
        $routes[$pid][$route] = true;
        same($served[$pid], $value, "the gauge value worker $pid carries across its requests");
    }
};
$expectTotals = function (int $total) use ($daemon, $masterPid, &$served): void {
    $want = function () use ($total, $masterPid, &$served): array {
        $live = [];
        foreach (workers($masterPid) as $pid) {
            if (isset($served[$pid])) {
                $live[$pid] = $served[$pid];
            }
        }
        return ['requests' => (float) $total, 'latency_count' => (float) $total, 'gauges' => $live];
    };
    $got = [];
    $ok = waitFor(function () use ($daemon, $want, &$got) {
        $s = $daemon->samples();
        $got = ['requests' => ($s['php_fpm_requests_total{route="a"}'] ?? 0) + ($s['php_fpm_requests_total{route="b"}'] ?? 0),
            'latency_count' => $s['php_fpm_latency_seconds_count'] ?? 0.0, 'gauges' => gaugeByPid($daemon)];
        return $got === $want();
    }, 5.0);
    if (!$ok) {
        same($want(), $got, "totals after $total acknowledged requests");
    }
};

try {
    $serve(40);
    check(count($served) > 2, 'pm.max_requests recycled workers (' . count($served) . ' pids served)');
    $expectTotals(40);

    // A request hangs; its worker is SIGKILLed mid-request.
    $hung = proc_open([$cgi, '-bind', '-connect', "$dir/fpm.sock"], [0 => ['file', '/dev/null', 'r'], 1 => ['file', '/dev/null', 'w'], 2 => ['file', '/dev/null', 'w']], $pipes, null,
        ['SCRIPT_FILENAME' => "$dir/app.php", 'REQUEST_METHOD' => 'GET', 'QUERY_STRING' => 'hang=1&route=a']);
    $victim = (int) waitFor(function () use ($dir) {
        $files = glob("$dir/hanging-*");
        return $files ? (int) substr($files[0], strrpos($files[0], '-') + 1) : 0;
    }, 5.0);
    check($victim > 0, 'the hanging request started');
    posix_kill($victim, 9);
    proc_close($hung);
    check(waitFor(fn () => !in_array($victim, workers($masterPid), true) && count(workers($masterPid)) === 2, 5.0), 'the master replaced the killed worker');
    // The killed worker's series leaves the live gauge; the in-flight request's ops are lost.
    $expectTotals(40);
    check(!isset(gaugeByPid($daemon)[$victim]), 'the killed worker left the live gauge');

    $serve(10);
    $expectTotals(50);
    // One connection per worker for all its requests, each family and series declared once
    // per worker (3 families, the gauge's and the histogram's series, one per route), and one
    // OPS frame of 3 ops per request: nothing re-declared, nothing re-sent.
    $self = $daemon->samples();
    same((float) count($served), $self['metricsd_ingest_connections_total'], 'ingest connections: one per worker');
    same((float) (array_sum(array_map(fn ($r) => 5 + count($r), $routes)) + 50), $self['metricsd_ingest_frames_total'], 'ingest frames');
    same(150.0, $self['metricsd_ingest_ops_applied_total'], 'ops applied');
    // Every state file belongs to a live worker or one recycled after the last cleanup.
    check(count(glob("$dir/state/*.state")) <= count($served) + 1, 'state files are bounded');
} finally {
    $phpLog = (string) @file_get_contents("$dir/php.log");
    $cleanup();
}
check(!str_contains($phpLog, 'metricsd:'), "the client reported no problem:\n$phpLog");
echo 'ok: php-fpm, ' . count($served) . " worker pids, 50 requests, one worker SIGKILLed\n";
