<?php
// Per-op cost of the hot path: N inc() on one counter child and N observe() on a histogram
// child, the client connected to a real daemon (sends every 4096 ops included), then a flush.
// Usage: php bench/inc_cost.php [N]   (METRICSD_BINARY or build/bin/metricsd)
declare(strict_types=1);
require_once __DIR__ . '/../tests/support.php';

$n = (int) ($argv[1] ?? 1000000);
$daemon = (new Daemon())->start();
$client = new Metricsd\Client(['socket' => $daemon->socketPath, 'persistent' => false]);
$child = (new Metricsd\Counter('bench_requests_total', 'x', ['route'], $client))->labels('/a');
$hist = (new Metricsd\Histogram('bench_seconds', 'x', [], $client));
$client->flush();
foreach (['counter child inc()' => fn () => $child->inc(), 'histogram observe()' => fn () => $hist->observe(0.25)] as $what => $fn) {
    $t = hrtime(true);
    for ($i = 0; $i < $n; $i++) {
        $fn();
    }
    $client->flush();
    printf("%-22s %6.0f ns/op (%d ops, flush included)\n", $what, (hrtime(true) - $t) / $n, $n);
}
$t = hrtime(true);
for ($i = 0; $i < $n; $i++) {
    $child->inc();
}
printf("%-22s %6.0f ns/op (direct call, no closure)\n", 'counter child inc()', (hrtime(true) - $t) / $n);
$client->flush();
same((float) (2 * $n), $daemon->samples()['bench_requests_total{route="/a"}'], 'every inc arrived');
$client->close();
$daemon->stop();
$daemon->cleanup();
