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
// 3. The daemon restarts under the live workers: 10 more requests are counted exactly, and the
//    live gauge shows, for each worker that served since, all the requests it ever served.
// (Between 2 and 3, a request declares a family the daemon refuses: reported, not thrown.)
// 4. The daemon is down for 6 requests (answered; their ops lost; one log line per worker),
//    then 4 more are counted exactly.

declare(strict_types=1);

require_once __DIR__ . '/support.php';

$daemon = (new Daemon())->start();
$dir = fpmAppDir('metricsd-php-fpm-', <<<'PHP'
$client = new Metricsd\Client(['stateDir' => 'STATE_DIR']);
$requests = new Metricsd\Counter('php_fpm_requests_total', 'Requests.', ['route'], $client);
$served = new Metricsd\Gauge('php_fpm_worker_requests', 'Requests this worker served.', [], $client, mode: 'liveall');
$latency = new Metricsd\Histogram('php_fpm_latency_seconds', 'Latency.', [], $client, buckets: [0.25, 1]);
$requests->labels($_GET['route'] ?? 'a')->inc();
$served->inc();
$latency->observe(0.125);
if (isset($_GET['hang'])) {
    touch(__DIR__ . '/hanging-' . getmypid());
    sleep(20); // SIGKILLed before it ends
}
if (isset($_GET['collide'])) {
    // The daemon refuses this one (name_collision with the histogram's _count): reported on
    // flush, never thrown into the request.
    (new Metricsd\Gauge('php_fpm_latency_seconds_count', 'Collides.', [], $client))->set(1);
    $client->flush(5000);
    echo 'error=' . $client->lastError() . ' ';
}
echo 'pid=' . getmypid() . ' value=' . $served->value();
PHP);
$fpm = new Fpm($dir, 2, 7, ['METRICSD_SOCKET' => $daemon->socketPath]);
$cleanup = function () use ($fpm, $daemon, $dir): void {
    $fpm->stop();
    $daemon->stop();
    $daemon->cleanup();
    removeTree($dir);
};

/** One request; returns [pid, gauge value, body]. */
function request(Fpm $fpm, string $query): array
{
    $body = $fpm->request('app.php', $query);
    if (!preg_match('/pid=(\d+) value=(\d+)/', $body, $out)) {
        fail("bad response: $body\n" . @file_get_contents("{$fpm->dir}/php.log"));
    }
    return [(int) $out[1], (int) $out[2], $body];
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
$serve = function (int $n) use ($fpm, &$served, &$routes, &$servedSince): void {
    for ($i = 0; $i < $n; $i++) {
        $route = $i % 2 ? 'a' : 'b';
        [$pid, $value] = request($fpm, "route=$route");
        $served[$pid] = ($served[$pid] ?? 0) + 1;
        $routes[$pid][$route] = true;
        if ($servedSince !== null) {
            $servedSince[$pid] = true;
        }
        same($served[$pid], $value, "the gauge value worker $pid carries across its requests");
    }
};
$servedSince = null; // after a daemon restart: pid => true for the workers that served since
$expectTotals = function (int $total) use ($daemon, $fpm, &$served, &$servedSince): void {
    $want = function () use ($total, $fpm, &$served, &$servedSince): array {
        $live = [];
        foreach ($fpm->workers() as $pid) {
            if (isset($served[$pid]) && ($servedSince === null || isset($servedSince[$pid]))) {
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
    $hung = $fpm->start('app.php', 'hang=1&route=a', $pipes);
    $victim = (int) waitFor(function () use ($dir) {
        $files = glob("$dir/hanging-*");
        return $files ? (int) substr($files[0], strrpos($files[0], '-') + 1) : 0;
    }, 5.0);
    check($victim > 0, 'the hanging request started');
    posix_kill($victim, 9);
    fclose($pipes[1]);
    proc_close($hung);
    check(waitFor(fn () => !in_array($victim, $fpm->workers(), true) && count($fpm->workers()) === 2, 5.0), 'the master replaced the killed worker');
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
    // A declaration the daemon refuses reaches the request as lastError(), not as an exception.
    [$pid, , $body] = request($fpm, 'route=a&collide=1');
    $served[$pid] = ($served[$pid] ?? 0) + 1;
    check(str_contains($body, 'error=name_collision: '), "the refusal is reported: $body");

    // 3. The daemon restarts (its store starts empty) under the live workers: each worker's
    // next request finds its persistent connection dead, connects again, declares everything
    // under the same handles and sets its gauge to the value it carries.
    same(0, $daemon->stop(), 'daemon stop');
    $daemon->start();
    $servedSince = [];
    $serve(10);
    $expectTotals(10);
    // (Between 2 and 3, a request declares a family the daemon refuses: reported, not thrown.)
// 4. The daemon is down for 6 requests: they are answered (nothing thrown), their ops are
    // lost (nothing outlives a request), and each worker logs the outage once, not per request.
    same(0, $daemon->stop(), 'daemon stop');
    $down = [];
    $before = $served;
    $serve(6);
    foreach ($served as $pid => $count) {
        if ($count !== ($before[$pid] ?? 0)) {
            $down[$pid] = true;
        }
    }
    $daemon->start();
    $servedSince = [];
    $serve(4);
    $expectTotals(4);
    // Every state file belongs to a live worker or one recycled after the last cleanup.
    check(count(glob("$dir/state/*.state")) <= count($served) + 1, 'state files are bounded');
} finally {
    $phpLog = (string) @file_get_contents("$dir/php.log");
    $cleanup();
}
// The restart is reported (once per worker that served since), the outage once per worker
// that served during it; nothing else is.
$lines = array_values(array_filter(explode("\n", $phpLog), fn ($l) => str_contains($l, 'metricsd:')));
$outage = array_filter($lines, fn ($l) => str_contains($l, 'metricsd: client: cannot connect to'));
same(count($down), count($outage), 'one outage line per worker that served while the daemon was down');
$problems = array_filter($lines, fn ($l) => !str_contains($l, 'closed the connection (restarted?)') && !str_contains($l, 'cannot connect to')
    && !str_contains($l, 'metricsd: name_collision: '));
same([], array_values($problems), 'the client reported no other problem');
echo 'ok: php-fpm, ' . count($served) . " worker pids, 71 requests, one worker SIGKILLed, the daemon restarted and down\n";
