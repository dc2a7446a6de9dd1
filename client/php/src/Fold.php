<?php
// Per-series accumulators for ops that find the client's buffer full (PROTOCOL.md section 4.7).
//
// When the daemon is slow, stopped or down, ops beyond maxBufferOps are folded into their
// series' running state instead of being dropped: a counter's summed increments; a gauge's
// last set plus the change since; a histogram's bucket counts, sum and count; a summary's sum
// and count. Memory then grows with the number of series, not of ops.

declare(strict_types=1);

namespace Metricsd;

final class Folder
{
    /** @var array<int, array{kind: string, bounds: list<float>, assigned: bool, value: float, delta: float, count: int, buckets: list<int>}> */
    private array $acc = [];

    public function size(): int
    {
        return count($this->acc);
    }

    /** The daemon's rule: the first bucket whose bound is >= value, else +Inf (the last). */
    public static function bucketIndex(array $bounds, float $value): int
    {
        $lo = 0;
        $hi = count($bounds);
        while ($lo < $hi) {
            $mid = ($lo + $hi) >> 1;
            if ($bounds[$mid] < $value) {
                $lo = $mid + 1;
            } else {
                $hi = $mid;
            }
        }
        return $lo;
    }

    /** Folds one op; false when the daemon would refuse it (then it is not folded). */
    public function fold(int $op, int $handle, float $value, string $kind, array $bounds): bool
    {
        if (!self::valid($kind, $op, $value)) {
            return false;
        }
        if (!isset($this->acc[$handle])) {
            $this->acc[$handle] = ['kind' => $kind, 'bounds' => $bounds, 'assigned' => false, 'value' => 0.0,
                'delta' => 0.0, 'count' => 0, 'buckets' => $kind === 'histogram' ? array_fill(0, count($bounds) + 1, 0) : []];
        }
        $a = &$this->acc[$handle];
        if ($op === Protocol::OP_OBSERVE) {
            $a['delta'] += $value;
            $a['count']++;
            if ($kind === 'histogram') {
                $a['buckets'][self::bucketIndex($bounds, $value)]++;
            }
        } elseif ($op === Protocol::OP_SET) {
            $a['assigned'] = true;
            $a['value'] = $value;
            $a['delta'] = 0.0;
        } else {
            $a['delta'] += $op === Protocol::OP_INC ? $value : -$value;
        }
        return true;
    }

    /**
     * The folded state as op records and FOLD frames, each with the number of ops it stands
     * for; empties the folder.
     * @return array{records: string, ops: int, frames: list<array{0: string, 1: int}>}
     */
    public function drain(): array
    {
        $records = '';
        $ops = 0;
        $frames = [];
        foreach ($this->acc as $handle => $a) {
            if ($a['kind'] === 'counter') {
                $records .= Protocol::record(Protocol::OP_INC, $handle, $a['delta']);
                $ops++;
            } elseif ($a['kind'] === 'gauge') {
                if ($a['assigned']) {
                    $records .= Protocol::record(Protocol::OP_SET, $handle, $a['value']);
                    $ops++;
                }
                if (!$a['assigned'] || $a['delta'] != 0.0) {
                    $records .= Protocol::record(Protocol::OP_INC, $handle, $a['delta']);
                    $ops++;
                }
            } else {
                $frames[] = [Protocol::encodeFold($handle, $a['count'], $a['delta'], $a['buckets']), $a['count']];
            }
        }
        $this->acc = [];
        return ['records' => $records, 'ops' => $ops, 'frames' => $frames];
    }

    private static function valid(string $kind, int $op, float $value): bool
    {
        if ($kind === 'counter') {
            return $op === Protocol::OP_INC && $value >= 0 && is_finite($value);
        }
        if ($kind === 'gauge') {
            return $op === Protocol::OP_SET || (($op === Protocol::OP_INC || $op === Protocol::OP_DEC) && is_finite($value));
        }
        return $op === Protocol::OP_OBSERVE && !is_nan($value);
    }
}
