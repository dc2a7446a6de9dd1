<?php
// What the client adds to one PHP-FPM request, measured inside a real php-fpm worker with
// hrtime(): "setup" = the client and 3 metrics created (the worker's state file read) and 3 ops;
// "request end" = the shutdown work (one write of the request's ops, the state file saved when
// something changed). A worker's first request (connect + handshake) is reported apart.
// Usage: php bench/fpm_overhead.php [requests]   (METRICSD_BINARY or build/bin/metricsd)
declare(strict_types=1);
require_once __DIR__ . '/../tests/support.php';

$n = (int) ($argv[1] ?? 300);
$daemon = (new Daemon())->start();
$dir = fpmAppDir('metricsd-php-bench-', <<<'PHP'
$t0 = hrtime(true);
$client = new Metricsd\Client(['stateDir' => 'STATE_DIR']);
$requests = new Metricsd\Counter('bench_fpm_requests_total', 'Requests.', ['route'], $client);
$inflight = new Metricsd\Gauge('bench_fpm_in_progress', 'In progress.', [], $client);
$latency = new Metricsd\Histogram('bench_fpm_latency_seconds', 'Latency.', ['route'], $client);
$requests->labels('/a')->inc();
$inflight->inc();
$latency->labels('/a')->observe(0.01);
$inflight->dec();
$t1 = hrtime(true);
$client->shutdown();
$t2 = hrtime(true);
echo 'pid=' . getmypid() . ' setup=' . ($t1 - $t0) . ' end=' . ($t2 - $t1);
PHP);
$fpm = new Fpm($dir, 2, 0, ['METRICSD_SOCKET' => $daemon->socketPath]);
$seen = [];
$first = $setup = $end = [];
for ($i = 0; $i < $n; $i++) {
    preg_match('/pid=(\d+) setup=(\d+) end=(\d+)/', $fpm->request('app.php'), $m) || fail('bad response');
    if (!isset($seen[$m[1]])) {
        $seen[$m[1]] = true;
        $first[] = ($m[2] + $m[3]) / 1000;
        continue;
    }
    $setup[] = $m[2] / 1000;
    $end[] = $m[3] / 1000;
}
$fpm->stop();
$total = $daemon->samples()['bench_fpm_requests_total{route="/a"}'];
$daemon->stop();
$daemon->cleanup();
removeTree($dir);
same((float) $n, $total, 'every request counted');
function pct(array $v, float $p): float
{
    sort($v);
    return $v[(int) floor($p * (count($v) - 1))];
}
printf("first request of a worker (connect, handshake, declarations): median %.1f us\n", pct($first, 0.5));
printf("setup (client, 3 metrics, 4 ops):  median %.1f us, p99 %.1f us\n", pct($setup, 0.5), pct($setup, 0.99));
printf("request end (send, state):         median %.1f us, p99 %.1f us\n", pct($end, 0.5), pct($end, 0.99));
