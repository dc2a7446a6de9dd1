<?php
// The client against the real daemon in a CLI process: the daemon down (nothing thrown, bounded
// time, ops kept and folded, exact totals once it is up), a daemon restart (re-declaration and
// gauge re-send), a stopped daemon (SIGSTOP: a send waits at most the send timeout) and
// pcntl_fork (the child never writes into the parent's stream nor re-sends the parent's ops).

declare(strict_types=1);

require_once __DIR__ . '/support.php';

use Metricsd\Client;
use Metricsd\Counter;
use Metricsd\Gauge;
use Metricsd\Histogram;

$daemon = new Daemon();
$errors = [];
$options = ['socket' => $daemon->socketPath, 'persistent' => false, 'maxBufferOps' => 1000,
    'onError' => function (array $e) use (&$errors): void { $errors[] = $e['code']; }];

// 1. The daemon is not there yet: 5000 incs and observations go nowhere, folding beyond 1000.
$client = new Client($options);
$c = new Counter('php_down_total', 'Counted while the daemon was down.', ['k'], $client);
$g = new Gauge('php_down_gauge', 'Set while the daemon was down.', [], $client);
$h = new Histogram('php_down_seconds', 'Observed while the daemon was down.', [], $client, buckets: [1, 2]);
$t0 = microtime(true);
for ($i = 0; $i < 5000; $i++) {
    $c->labels($i % 2 ? 'odd' : 'even')->inc();
    $g->set($i);
    $h->observe($i % 3);
}
same(false, $client->flush(200), 'flush without a daemon');
$elapsed = microtime(true) - $t0;
check($elapsed < 1.0, "15000 ops and a flush without a daemon took {$elapsed}s");
same(['buffered' => 1000, 'folded' => 4, 'families' => 3, 'series' => 4], $client->stats(), 'buffered up to maxBufferOps, the rest folded per series');
same(0, $client->droppedOps(), 'nothing dropped while folding');
check(str_starts_with((string) $client->lastError(), 'client: cannot connect'), 'the failed connect is reported: ' . $client->lastError());

$daemon->start();
// Without a flush, as a long-running script: the folds go out from the hot path once the
// daemon is back (the first retry waits out the connect backoff, at most 2 s).
check((bool) waitFor(function () use ($client, $g) {
    for ($i = 0; $i < 1000; $i++) { // the client tries a send every 1000 (maxBufferOps) folded ops
        $g->set(4999);
    }
    return $client->stats()['folded'] === 0;
}, 5.0), 'the folds were sent without a flush');
same(true, $client->flush(5000), 'flush once the daemon is up');
$s = $daemon->samples();
// Observed 0 (1667 times), 1 (1667) and 2 (1666): le=1 holds 3334, le=2 all 5000, sum 4999.
same([2500.0, 2500.0, 4999.0, 5000.0, 3334.0, 5000.0, 4999.0], [$s['php_down_total{k="even"}'], $s['php_down_total{k="odd"}'],
    $s['php_down_gauge'], $s['php_down_seconds_count'], $s['php_down_seconds_bucket{le="1.0"}'], $s['php_down_seconds_bucket{le="2.0"}'],
    $s['php_down_seconds_sum']], 'exact totals after the daemon came up');

// 2. Restart the daemon (its store starts empty): the client re-declares and sets its gauge again.
same(0, $daemon->stop(), 'daemon stop');
$daemon->start();
$c->labels('even')->inc(7);
same(true, $client->flush(5000), 'flush after a daemon restart');
$s = $daemon->samples();
same(7.0, $s['php_down_total{k="even"}'], 'ops after the restart, on the re-declared series');
same(4999.0, $s['php_down_gauge'], 'the gauge value is set again on the new connection');

// 3. SIGSTOP: the daemon reads nothing; a send waits at most the send timeout, never throws.
$pid = $daemon->pid();
check($pid > 0, 'daemon pid');
posix_kill($pid, SIGSTOP);
$t0 = microtime(true);
$n = 0;
$worst = 0.0;
while (microtime(true) - $t0 < 1.0) { // as many ops as one second takes: fills the socket buffer
    $a = hrtime(true);
    $c->labels('odd')->inc();
    $worst = max($worst, (hrtime(true) - $a) / 1e9);
    $n++;
}
posix_kill($pid, SIGCONT);
fwrite(STDERR, "while stopped: $n incs, the slowest took {$worst}s, " . count($errors) . " problem(s) reported\n");
check($worst < 0.5, "the slowest inc() while the daemon was stopped took {$worst}s (send timeout 20 ms, connect timeout 100 ms)");
same(true, $client->flush(5000), 'flush after SIGCONT');
same((float) $n, $daemon->samples()['php_down_total{k="odd"}'], "all $n incs made while the daemon was stopped arrive exactly once");
same(0, $client->droppedOps(), 'counter folds are re-sent, nothing dropped');

// 4. pcntl_fork: the child has the parent's unsent ops in its copy of the buffer; it must not
// send them, nor write into the parent's connection. The first child calls Client::forked()
// (exact); the second does not: its first send notices the new pid, sends nothing inherited,
// and counts the ops it buffered before that as dropped.
$before = $daemon->samples()['metricsd_ingest_connections_total'];
$c->labels('fork')->inc(3); // unsent when forking
foreach ([true, false] as $announced) {
    $child = pcntl_fork();
    if ($child === 0) {
        if ($announced) {
            Client::forked();
        }
        $c->labels('fork')->inc(10);
        $first = $client->flush(5000);
        $c->labels('fork')->inc(100);
        // Unannounced: its inc(10) and the parent's inc(3) were buffered when the fork was noticed.
        $ok = $first && $client->flush(5000) && $client->droppedOps() === ($announced ? 0 : 2);
        if (!$ok) { fwrite(STDERR, "child: first=" . var_export($first, true) . " dropped=" . $client->droppedOps() . " " . $client->lastError() . "\n"); }
        exit($ok ? 0 : 3);
    }
    pcntl_waitpid($child, $status);
    same(0, pcntl_wexitstatus($status), "the child (forked() called: $announced) flushed on its own connection");
}
$c->labels('fork')->inc(1);
same(true, $client->flush(5000), 'the parent flushes on its connection');
$s = $daemon->samples();
same(3.0 + 1 + 10 + 100 + 100, $s['php_down_total{k="fork"}'], 'parent 3 + 1, children 10 + 100 and 100: nothing twice');
same($before + 2, $s['metricsd_ingest_connections_total'], 'each child opened its own connection; the parent kept its own');

$client->close();
same(0, $daemon->stop(), 'the daemon exits cleanly');
$daemon->cleanup();
echo "ok: daemon down, restarted, stopped; fork\n";
