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
// Timed in batches of 4000 ops (below the 4096-op send): the op itself, not the daemon's
// speed; each batch is then flushed untimed.
$batches = intdiv($n, 4000);
foreach (['counter child inc()' => fn () => $child->inc(), 'histogram observe()' => fn () => $hist->observe(0.25)] as $what => $fn) {
    $spent = 0;
    for ($b = 0; $b < $batches; $b++) {
        $t = hrtime(true);
        for ($i = 0; $i < 4000; $i++) {
            $fn();
        }
        $spent += hrtime(true) - $t;
        $client->flush();
    }
    printf("%-22s %6.0f ns/op (%d ops through a closure)\n", $what, $spent / ($batches * 4000), $batches * 4000);
}
$spent = 0;
for ($b = 0; $b < $batches; $b++) {
    $t = hrtime(true);
    for ($i = 0; $i < 4000; $i++) {
        $child->inc();
    }
    $spent += hrtime(true) - $t;
    $client->flush();
}
printf("%-22s %6.0f ns/op (direct call)\n", 'counter child inc()', $spent / ($batches * 4000));
$t = hrtime(true);
$buf = '';
for ($i = 0; $i < 4000 * $batches; $i++) {
    if ($i % 4000 === 0) {
        $buf = '';
    }
    $buf .= pack('VVe', 1, 0, 1.0);
}
printf("%-22s %6.0f ns/op (the floor: pack() and append alone)\n", 'pack + append', (hrtime(true) - $t) / ($batches * 4000));
$client->flush();
same((float) (2 * $batches * 4000), $daemon->samples()['bench_requests_total{route="/a"}'], 'every inc arrived');
$client->close();
$daemon->stop();
$daemon->cleanup();
