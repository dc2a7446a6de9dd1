<?php
// Counter, Gauge, Histogram and Summary, shaped like prometheus_client's (and the Python
// client's) classes: label names, labels(...), inc/dec/set/observe, timers, in-progress tracking.
//
// A metric declares its family on its Client; labels(...) returns a child bound to one series.
// A child's op methods are the hot path: they validate the value and append a 16-byte record
// to the client's buffer. They throw (ValidationError, an InvalidArgumentException carrying the
// protocol's error code) only on a programming mistake, never because of the daemon.

declare(strict_types=1);

namespace Metricsd;

/** prometheus_client's default bounds with the Python client's texts (1, 5 and 10 as pytheus writes them): what every client declares. */
const DEFAULT_BUCKETS = ['0.005', '0.01', '0.025', '0.05', '0.075', '0.1', '0.25', '0.5', '0.75', '1', '2.5', '5', '7.5', '10'];

function invalid(string $message): ValidationError
{
    return new ValidationError('invalid_value', $message);
}

/** The number an op gets: int or float (a numeric string is a programming mistake, as in strict mode). */
function number(mixed $value, string $what): float
{
    if (is_float($value) || is_int($value)) {
        return (float) $value;
    }
    throw invalid("$what must be a number, not " . get_debug_type($value));
}

/** A monotonic start; the returned callable reports the seconds elapsed and returns them. */
function startTimer(callable $report): \Closure
{
    $start = hrtime(true);
    return static function () use ($start, $report): float {
        $seconds = (hrtime(true) - $start) / 1e9;
        $report($seconds);
        return $seconds;
    };
}

class CounterChild
{
    public function __construct(protected Client $client, protected int $handle)
    {
    }

    /** Increment by $value (default 1; finite and >= 0). */
    public function inc(int|float $value = 1): void
    {
        if (!($value >= 0 && $value < INF)) {
            throw invalid("Counters can only be incremented by non-negative finite amounts, not $value");
        }
        $this->client->op(Protocol::OP_INC, $this->handle, (float) $value);
    }
}

class GaugeChild
{
    public function __construct(protected Client $client, protected int $handle)
    {
    }

    /** Add $value (default 1; finite, may be negative). */
    public function inc(int|float $value = 1): void
    {
        if (!is_finite((float) $value)) {
            throw invalid("Gauge increments must be finite, not $value");
        }
        $this->client->op(Protocol::OP_INC, $this->handle, (float) $value);
    }

    /** Subtract $value (default 1; finite, may be negative). */
    public function dec(int|float $value = 1): void
    {
        if (!is_finite((float) $value)) {
            throw invalid("Gauge decrements must be finite, not $value");
        }
        $this->client->op(Protocol::OP_DEC, $this->handle, (float) $value);
    }

    /** Set to $value (any number, NAN and INF included). */
    public function set(int|float $value): void
    {
        $this->client->op(Protocol::OP_SET, $this->handle, (float) $value);
    }

    /** This process's current value (what it has set and added). */
    public function value(): float
    {
        return $this->client->gaugeValue($this->handle);
    }

    public function setToCurrentTime(): void
    {
        $this->set(microtime(true));
    }

    /** Returns a callable that sets the gauge to the seconds elapsed since now. */
    public function startTimer(): \Closure
    {
        return startTimer(fn (float $s) => $this->set($s));
    }

    /** inc() now; the returned callable dec()s once (later calls do nothing). */
    public function startInProgress(): \Closure
    {
        $this->inc();
        $done = false;
        return function () use (&$done): void {
            if (!$done) {
                $done = true;
                $this->dec();
            }
        };
    }

    /** Calls $fn counted as in progress: inc() before, dec() after (also when it throws). */
    public function trackInProgress(callable $fn): mixed
    {
        $done = $this->startInProgress();
        try {
            return $fn();
        } finally {
            $done();
        }
    }
}

/** A histogram's or summary's series: the daemon does the bucketing. */
class ObserveChild
{
    public function __construct(protected Client $client, protected int $handle)
    {
    }

    /** Record one observation (any number but NAN). */
    public function observe(int|float $value): void
    {
        if (is_nan((float) $value)) {
            throw invalid('Cannot observe NAN');
        }
        $this->client->op(Protocol::OP_OBSERVE, $this->handle, (float) $value);
    }

    /** Returns a callable that observes the seconds elapsed since now. */
    public function startTimer(): \Closure
    {
        return startTimer(fn (float $s) => $this->observe($s));
    }

    /** Calls $fn and observes how long it took (also when it throws); returns what it returns. */
    public function time(callable $fn): mixed
    {
        $end = $this->startTimer();
        try {
            return $fn();
        } finally {
            $end();
        }
    }
}

abstract class Metric
{
    public readonly string $name;
    /** @var list<string> */
    public readonly array $labelNames;
    protected Client $client;
    protected int $family;
    /** @var array<string, object> label values joined by "\0" => child */
    private array $children = [];
    private ?object $only = null;

    /**
     * @param list<string> $labelNames
     * @param list<string> $bucketTexts
     */
    protected function __construct(string $type, string $name, string $help, array $labelNames, ?Client $client, string $mode, array $bucketTexts)
    {
        Protocol::checkMetricName($name);
        if ($type === 'counter' && !str_ends_with($name, '_total')) {
            $name .= '_total'; // what prometheus_client and the other clients export for a counter so named
        }
        $this->name = $name;
        $this->labelNames = array_values($labelNames);
        $this->client = $client ?? Client::default();
        $this->family = $this->client->declareFamily($type, $mode, $name, $help, $this->labelNames, $bucketTexts);
        if (!$this->labelNames) {
            $this->only = $this->child([]);
        }
    }

    abstract protected function newChild(int $handle): object;

    private function child(array $values): object
    {
        return $this->newChild($this->client->declareSeries($this->family, $values));
    }

    /**
     * The child for one set of label values, by position (labels('GET', '200')) or by name
     * (labels(['method' => 'GET', 'code' => '200'])). Values are turned into strings.
     */
    public function labels(mixed ...$values): object
    {
        if (count($values) === 1 && is_array($values[0])) {
            $given = $values[0];
            $values = [];
            foreach ($this->labelNames as $label) {
                if (!array_key_exists($label, $given)) {
                    break;
                }
                $values[] = $given[$label];
            }
            if (count($values) !== count($this->labelNames) || count($given) !== count($this->labelNames)) {
                throw new ValidationError('label_count_mismatch', "Incorrect label names for {$this->name}: expected ["
                    . implode(', ', $this->labelNames) . '], got [' . implode(', ', array_keys($given)) . ']');
            }
        }
        if (!$this->labelNames) {
            throw new ValidationError('label_count_mismatch', "No label names were set for {$this->name}");
        }
        if (count($values) !== count($this->labelNames)) {
            throw new ValidationError('label_count_mismatch', "Incorrect label count for {$this->name}: expected "
                . count($this->labelNames) . ', got ' . count($values));
        }
        foreach ($values as &$v) {
            $v = (string) $v;
        }
        unset($v);
        $key = implode("\0", $values);
        return $this->children[$key] ??= $this->child($values);
    }

    /** The unlabelled series. */
    protected function only(): object
    {
        return $this->only ?? throw new ValidationError('label_count_mismatch', "{$this->name} has label names: use labels(...)");
    }
}

/** A monotonically increasing count; the exported name always ends in `_total`. */
final class Counter extends Metric
{
    public function __construct(string $name, string $help = '', array $labelNames = [], ?Client $client = null)
    {
        parent::__construct('counter', $name, $help, $labelNames, $client, 'livesum', []);
    }

    protected function newChild(int $handle): CounterChild
    {
        return new CounterChild($this->client, $handle);
    }

    public function inc(int|float $value = 1): void
    {
        $this->only()->inc($value);
    }
}

/** A value that goes up and down; $mode says how the daemon combines worker processes. */
final class Gauge extends Metric
{
    public function __construct(string $name, string $help = '', array $labelNames = [], ?Client $client = null, public readonly string $mode = 'livesum')
    {
        Protocol::checkGaugeMode('gauge', $mode);
        parent::__construct('gauge', $name, $help, $labelNames, $client, $mode, []);
    }

    protected function newChild(int $handle): GaugeChild
    {
        return new GaugeChild($this->client, $handle);
    }

    public function inc(int|float $value = 1): void
    {
        $this->only()->inc($value);
    }

    public function dec(int|float $value = 1): void
    {
        $this->only()->dec($value);
    }

    public function set(int|float $value): void
    {
        $this->only()->set($value);
    }

    public function value(): float
    {
        return $this->only()->value();
    }

    public function setToCurrentTime(): void
    {
        $this->only()->setToCurrentTime();
    }

    public function startTimer(): \Closure
    {
        return $this->only()->startTimer();
    }

    public function startInProgress(): \Closure
    {
        return $this->only()->startInProgress();
    }

    public function trackInProgress(callable $fn): mixed
    {
        return $this->only()->trackInProgress($fn);
    }
}

abstract class Observed extends Metric
{
    protected function newChild(int $handle): ObserveChild
    {
        return new ObserveChild($this->client, $handle);
    }

    public function observe(int|float $value): void
    {
        $this->only()->observe($value);
    }

    public function startTimer(): \Closure
    {
        return $this->only()->startTimer();
    }

    public function time(callable $fn): mixed
    {
        return $this->only()->time($fn);
    }
}

/** Observations summed and counted (`_sum`, `_count`); no quantiles. */
final class Summary extends Observed
{
    public function __construct(string $name, string $help = '', array $labelNames = [], ?Client $client = null)
    {
        parent::__construct('summary', $name, $help, $labelNames, $client, 'livesum', []);
    }
}

/** Observations counted in cumulative buckets, plus `_sum` and `_count`. */
final class Histogram extends Observed
{
    /** @var list<string> */
    public readonly array $buckets;

    /** @param list<int|float|string>|null $buckets bounds (+Inf is implicit); default DEFAULT_BUCKETS */
    public function __construct(string $name, string $help = '', array $labelNames = [], ?Client $client = null, ?array $buckets = null)
    {
        $buckets = $buckets === null ? DEFAULT_BUCKETS : array_values($buckets);
        $last = end($buckets);
        if ($last === INF || $last === '+Inf') {
            array_pop($buckets); // +Inf is implicit
        }
        $this->buckets = array_map([Protocol::class, 'bucketText'], $buckets);
        parent::__construct('histogram', $name, $help, $labelNames, $client, 'livesum', $this->buckets);
    }
}
