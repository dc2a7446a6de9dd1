<?php
// System calls of one warm PHP-FPM-style request, simulated in the CLI (persistent mode, state
// file, a new Client and metrics per "request"); the third request is framed by marker writes.
// Usage: strace -o /tmp/trace php bench/request_syscalls.php &&
//        awk '/MARK-START/{f=1;next} /MARK-END/{f=0} f' /tmp/trace | awk -F'(' '{print $1}' | sort | uniq -c
declare(strict_types=1);
require_once __DIR__ . '/../tests/support.php';

$daemon = (new Daemon())->start();
$state = tempDir('metricsd-php-syscalls-');
$request = function () use ($daemon, $state): void {
    $c = new Metricsd\Client(['socket' => $daemon->socketPath, 'persistent' => true, 'stateDir' => $state]);
    $r = new Metricsd\Counter('bench_fpm_requests_total', 'Requests.', ['route'], $c);
    $g = new Metricsd\Gauge('bench_fpm_in_progress', 'In progress.', [], $c);
    $h = new Metricsd\Histogram('bench_fpm_latency_seconds', 'Latency.', ['route'], $c);
    $r->labels('/a')->inc();
    $g->inc();
    $h->labels('/a')->observe(0.01);
    $g->dec();
    $c->shutdown();
    // What the end of an FPM request does to PHP's statics (the connection stays).
    (new ReflectionProperty(Metricsd\Client::class, 'persistentSockets'))->setValue(null, []);
};
$request();
$request();
echo "MARK-START\n";
$request();
echo "MARK-END\n";
$daemon->stop();
$daemon->cleanup();
removeTree($state);
