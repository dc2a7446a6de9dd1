<?php
// The shared end-to-end scenario (protocol/conformance/scenario.json) against the real daemon,
// through the public API. protocol/conformance/README.md describes the format.

declare(strict_types=1);

require_once __DIR__ . '/support.php';

use Metricsd\Client;
use Metricsd\Counter;
use Metricsd\Gauge;
use Metricsd\Histogram;
use Metricsd\Summary;
use Metricsd\ValidationError;

$scenario = json_decode(file_get_contents(REPO . '/protocol/conformance/scenario.json'), true, 512, JSON_THROW_ON_ERROR);
same($scenario['default_buckets'], array_map('floatval', Metricsd\DEFAULT_BUCKETS), 'the default buckets are the scenario\'s');

function value(mixed $v): int|float
{
    return is_string($v) ? ['NaN' => NAN, '+Inf' => INF, '-Inf' => -INF][$v] : $v;
}

/** The scrape's lines that belong to families named with $prefix. */
function scraped(string $text, string $prefix): array
{
    return array_values(array_filter(explode("\n", $text),
        fn ($line) => str_starts_with(str_starts_with($line, '# ') ? (explode(' ', $line)[2] ?? '') : $line, $prefix)));
}

$daemon = (new Daemon())->start();
$clients = [];
foreach ($scenario['clients'] as $name => $opts) {
    $options = ['socket' => $daemon->socketPath, 'persistent' => false, 'onError' => static function (): void {}];
    if (isset($opts['max_buffer_ops'])) {
        $options['maxBufferOps'] = $opts['max_buffer_ops'];
    }
    $clients[$name] = new Client($options);
}
$metrics = [];

$make = function (array $step) use (&$clients) {
    $client = $clients[$step['client']];
    return match ($step['type']) {
        'counter' => new Counter($step['name'], $step['help'], $step['label_names'], $client),
        'gauge' => new Gauge($step['name'], $step['help'], $step['label_names'], $client, $step['mode'] ?? 'livesum'),
        'summary' => new Summary($step['name'], $step['help'], $step['label_names'], $client),
        'histogram' => new Histogram($step['name'], $step['help'], $step['label_names'], $client, $step['buckets'] ?? null),
    };
};
$call = function (array $step, string $op) use (&$metrics): void {
    $metric = $metrics[$step['id']];
    $target = $step['labels'] ? $metric->labels(...$step['labels']) : $metric;
    if (array_key_exists('value', $step)) {
        $target->$op(value($step['value']));
    } else {
        $target->$op();
    }
};
$refused = function (callable $fn, string $code, string $where): void {
    try {
        $fn();
    } catch (ValidationError $e) {
        same($code, $e->codeName, $where);
        return;
    }
    fail("$where: nothing was thrown");
};

foreach ($scenario['steps'] as $step) {
    $where = substr(json_encode($step), 0, 120);
    switch ($step['do']) {
        case 'declare':
            $metrics[$step['id']] = $make($step);
            break;
        case 'inc': case 'dec': case 'set': case 'observe':
            $call($step, $step['do']);
            break;
        case 'repeat':
            for ($i = 0; $i < $step['times']; $i++) {
                foreach ($step['steps'] as $s) {
                    $call($s, $s['do']);
                }
            }
            break;
        case 'flush':
            same(true, $clients[$step['client']]->flush(5000), $where);
            break;
        case 'refuse_declare':
            $refused(fn () => $make($step), $step['error'], $where);
            break;
        case 'refuse_op':
            $refused(fn () => $call($step + ['value' => null], $step['op']), $step['error'], $where);
            break;
        case 'refuse_labels':
            $refused(fn () => $metrics[$step['id']]->labels(...$step['labels']), $step['error'], $where);
            break;
        case 'expect_error':
            $error = $clients[$step['client']]->lastError() ?? '';
            check(str_starts_with($error, $step['error'] . ':'), "$where: $error");
            break;
        case 'expect_dropped':
            same($step['count'], $clients[$step['client']]->droppedOps(), $where);
            break;
        case 'scrape':
            $expected = array_map(fn ($l) => str_replace('{pid}', (string) getmypid(), $l), $scenario['expected'][$step['expect']]);
            $got = [];
            waitFor(function () use ($daemon, $scenario, $expected, &$got) {
                $got = scraped($daemon->scrape(), $scenario['scrape_prefix']);
                return $got === $expected;
            }, ($step['eventually'] ?? false) ? 5.0 : 0.0);
            same($expected, $got, $where);
            break;
        case 'close':
            $clients[$step['client']]->close();
            break;
        default:
            fail("unknown step {$step['do']}");
    }
}
same(0, $daemon->stop(), 'the daemon exits cleanly');
$daemon->cleanup();
echo "ok: the shared conformance scenario\n";
