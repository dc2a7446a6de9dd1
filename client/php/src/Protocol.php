<?php
// metricsd wire protocol v1: pure encoders, the family rules and an incremental decoder of the
// daemon's frames (no sockets). Byte layouts: protocol/PROTOCOL.md; every byte is pinned by
// protocol/test_vectors.json, which tests/vectors_test.php runs against this class.

declare(strict_types=1);

namespace Metricsd;

/** A declaration or op the daemon would refuse; getCodeName() is the code it would send. */
class ValidationError extends \InvalidArgumentException
{
    public function __construct(public readonly string $codeName, string $message)
    {
        parent::__construct($message);
    }
}

final class Protocol
{
    public const VERSION = 1;
    public const METRIC_TYPES = ['counter' => 1, 'gauge' => 2, 'histogram' => 3, 'summary' => 4];
    public const GAUGE_MODES = ['livesum' => 0, 'sum' => 1, 'max' => 2, 'min' => 3, 'mostrecent' => 4,
        'all' => 5, 'liveall' => 6, 'livemax' => 7, 'livemin' => 8, 'livemostrecent' => 9, 'shared' => 10];
    public const OP_INC = 1;
    public const OP_DEC = 2;
    public const OP_SET = 3;
    public const OP_OBSERVE = 4;
    public const OPS = ['inc' => 1, 'dec' => 2, 'set' => 3, 'observe' => 4];
    public const FRAME_DECLARE_FAMILY = 0x01;
    public const FRAME_DECLARE_SERIES = 0x02;
    public const FRAME_OPS = 0x03;
    public const FRAME_SYNC = 0x04;
    public const FRAME_FOLD = 0x05;
    public const FRAME_CLIENT_STATS = 0x06;
    public const FRAME_WELCOME = 0x81;
    public const FRAME_ACK = 0x82;
    public const FRAME_ERROR = 0x83;
    public const ERROR_CODES = [
        'bad_magic' => 1, 'unsupported_version' => 2, 'bad_handshake' => 3, 'frame_too_large' => 4,
        'bad_frame_header' => 5, 'handshake_timeout' => 6, 'idle_timeout' => 7, 'connection_memory_limit' => 8,
        'unknown_frame_type' => 16, 'malformed_frame' => 17, 'string_too_long' => 18, 'invalid_metric_type' => 19,
        'invalid_gauge_mode' => 20, 'too_many_labels' => 21, 'too_many_buckets' => 22, 'handle_out_of_range' => 23,
        'invalid_metric_name' => 32, 'invalid_label_name' => 33, 'invalid_label_value' => 34, 'invalid_buckets' => 35,
        'family_conflict' => 36, 'name_collision' => 37, 'handle_conflict' => 38, 'unknown_family' => 39,
        'label_count_mismatch' => 40, 'family_series_limit' => 41, 'total_series_limit' => 42,
        'unknown_series' => 48, 'invalid_op' => 49, 'invalid_value' => 50, 'too_many_connections' => 64,
        'shutting_down' => 65, 'internal' => 66,
    ];
    // Protocol limits (section 10).
    public const MAX_FRAME_PAYLOAD = 1048576;
    public const MAX_FAMILY_HANDLE = 65535;
    public const MAX_SERIES_HANDLE = 1048575;
    public const MAX_NAME_LENGTH = 255;
    public const MAX_HELP_LENGTH = 4096;
    public const MAX_LABEL_VALUE_LENGTH = 4096;
    public const MAX_BUCKET_TEXT_LENGTH = 64;
    public const MAX_LABELS = 32;
    public const MAX_BUCKETS = 256;
    public const MAX_ERROR_MESSAGE_LENGTH = 1024;
    public const HEADER_SIZE = 8;
    public const RECORD_SIZE = 16;
    public const NO_HANDLE = 0xffffffff;
    public const RESERVED_METRIC_PREFIX = 'metricsd_';

    // --- validation: the family rules (PROTOCOL.md section 5.1) -------------------------------
    // A copy of protocol/src/family_rules.cpp, checked against the same "family_rules" vectors.

    private static function quote(mixed $text): string
    {
        return json_encode(substr((string) $text, 0, 40), JSON_UNESCAPED_UNICODE | JSON_INVALID_UTF8_SUBSTITUTE) ?: '""';
    }

    /** UTF-8 length of $text; refuses what is not valid UTF-8. */
    public static function utf8Length(mixed $text, string $what): int
    {
        if (!is_string($text)) {
            throw new ValidationError('invalid_label_value', "$what must be a string, not " . get_debug_type($text));
        }
        if (!preg_match('//u', $text)) {
            throw new ValidationError('invalid_label_value', "$what is not valid UTF-8: " . self::quote($text));
        }
        return strlen($text);
    }

    public static function checkMetricName(mixed $name): void
    {
        if (!is_string($name)) {
            throw new ValidationError('invalid_metric_name', 'Invalid metric name: ' . self::quote(get_debug_type($name)));
        }
        if (self::utf8Length($name, 'Metric name') > self::MAX_NAME_LENGTH) {
            throw new ValidationError('string_too_long', 'Metric name longer than ' . self::MAX_NAME_LENGTH . ' bytes: ' . self::quote($name) . '...');
        }
        if (!preg_match('/^[a-zA-Z_:][a-zA-Z0-9_:]*$/D', $name)) {
            throw new ValidationError('invalid_metric_name', 'Invalid metric name: ' . self::quote($name));
        }
        if (str_starts_with($name, self::RESERVED_METRIC_PREFIX)) {
            throw new ValidationError('name_collision', 'Metric name ' . self::quote($name) . ': the ' . self::RESERVED_METRIC_PREFIX . " prefix is reserved for the daemon's own metrics");
        }
    }

    public static function checkHelp(mixed $text): void
    {
        if (self::utf8Length($text, 'Help') > self::MAX_HELP_LENGTH) {
            throw new ValidationError('string_too_long', 'Help longer than ' . self::MAX_HELP_LENGTH . ' bytes');
        }
    }

    public static function checkGaugeMode(string $type, mixed $mode): void
    {
        if (!is_string($mode) || !isset(self::GAUGE_MODES[$mode])) {
            throw new ValidationError('invalid_gauge_mode', 'Invalid gauge mode: ' . self::quote($mode));
        }
        if ($type !== 'gauge' && $mode !== 'livesum') {
            throw new ValidationError('invalid_gauge_mode', "Gauge mode $mode given for a $type; only gauges take a mode");
        }
    }

    /** @param list<mixed> $names */
    public static function checkLabelNames(array $names, bool $perPid): void
    {
        if (count($names) > self::MAX_LABELS) {
            throw new ValidationError('too_many_labels', 'At most ' . self::MAX_LABELS . ' label names are allowed');
        }
        $seen = [];
        foreach ($names as $label) {
            if (!is_string($label)) {
                throw new ValidationError('invalid_label_name', 'Invalid label name: ' . self::quote(get_debug_type($label)));
            }
            if (self::utf8Length($label, 'Label name') > self::MAX_NAME_LENGTH) {
                throw new ValidationError('string_too_long', 'Label name longer than ' . self::MAX_NAME_LENGTH . ' bytes: ' . self::quote($label) . '...');
            }
            if (!preg_match('/^[a-zA-Z_][a-zA-Z0-9_]*$/D', $label)) {
                throw new ValidationError('invalid_label_name', 'Invalid label name: ' . self::quote($label));
            }
            if (str_starts_with($label, '__') || $label === 'le' || $label === 'quantile') {
                throw new ValidationError('invalid_label_name', "Reserved label name: $label");
            }
            if ($perPid && $label === 'pid') {
                throw new ValidationError('invalid_label_name', "Label name 'pid' is added by gauge modes 'all' and 'liveall'");
            }
            if (isset($seen[$label])) {
                throw new ValidationError('invalid_label_name', 'Duplicate label name ' . self::quote($label));
            }
            $seen[$label] = true;
        }
    }

    /** The value of one bound given as text, as the daemon reads it (section 8). */
    public static function bucketBound(mixed $text): float
    {
        if (self::utf8Length($text, 'Bucket bound') > self::MAX_BUCKET_TEXT_LENGTH) {
            throw new ValidationError('string_too_long', 'Bucket bound longer than ' . self::MAX_BUCKET_TEXT_LENGTH . ' bytes: ' . self::quote($text) . '...');
        }
        // C++ from_chars after one optional '+'; PHP's is_numeric() would also take " 1" and "1 ".
        if (!preg_match('/^[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$/D', $text)) {
            throw new ValidationError('invalid_buckets', 'Bucket bound ' . self::quote($text) . ' is not a finite number');
        }
        $value = (float) $text;
        $mantissa = str_replace(['+', '-', '.', '0'], '', preg_split('/[eE]/', $text)[0]);
        // Out of range for the daemon: what overflows to infinity or underflows to zero.
        if (!is_finite($value) || ($value == 0.0 && $mantissa !== '')) {
            throw new ValidationError('invalid_buckets', 'Bucket bound ' . self::quote($text) . ' is out of range');
        }
        return $value;
    }

    /**
     * Checks bucket texts for the type; returns their values.
     * @param list<string> $texts
     * @return list<float>
     */
    public static function checkBuckets(string $type, array $texts): array
    {
        if ($type !== 'histogram') {
            if ($texts) {
                throw new ValidationError('too_many_buckets', 'Only histograms have buckets');
            }
            return [];
        }
        if (count($texts) > self::MAX_BUCKETS) {
            throw new ValidationError('too_many_buckets', 'At most ' . self::MAX_BUCKETS . ' buckets are allowed');
        }
        if (!$texts) {
            throw new ValidationError('invalid_buckets', 'A histogram needs at least one finite bucket bound');
        }
        $bounds = [];
        foreach ($texts as $text) {
            $value = self::bucketBound($text);
            if ($bounds && $value <= $bounds[count($bounds) - 1]) {
                throw new ValidationError('invalid_buckets', 'Buckets not in sorted order');
            }
            $bounds[] = $value;
        }
        return $bounds;
    }

    /**
     * Every family rule, in the daemon's order; returns the bucket values.
     * @param list<mixed> $labelNames
     * @param list<string> $buckets
     * @return list<float>
     */
    public static function checkFamily(mixed $type, mixed $mode, mixed $name, mixed $help, array $labelNames, array $buckets): array
    {
        if (!is_string($type) || !isset(self::METRIC_TYPES[$type])) {
            throw new ValidationError('invalid_metric_type', 'Invalid metric type: ' . self::quote($type));
        }
        self::checkMetricName($name);
        self::checkHelp($help);
        self::checkGaugeMode($type, $mode);
        self::checkLabelNames($labelNames, $type === 'gauge' && ($mode === 'all' || $mode === 'liveall'));
        return self::checkBuckets($type, $buckets);
    }

    // --- bucket texts ---------------------------------------------------------------------------

    /**
     * The text a bound is declared with: a string as written, an int as Python prints an int
     * ("1"), a float as Python's str() prints it ("0.005", "1.0", "1e-05"), so that PHP, Python
     * and Node workers declare the same texts (PROTOCOL.md section 8). PHP keeps int and float
     * apart, as Python does: 1 is "1" and 1.0 is "1.0".
     */
    public static function bucketText(mixed $value): string
    {
        if (is_string($value)) {
            return $value;
        }
        if (is_int($value)) {
            return (string) $value;
        }
        if (!is_float($value) || !is_finite($value)) {
            throw new ValidationError('invalid_buckets', 'Bucket bound ' . self::quote(var_export($value, true)) . ' is not a finite number');
        }
        return self::pythonFloatRepr($value);
    }

    /** Python's repr() of a finite float: shortest round-trip digits, fixed for 1e-4 <= |x| < 1e16. */
    public static function pythonFloatRepr(float $value): string
    {
        if ($value == 0.0) {
            return fdiv(1.0, $value) < 0 ? '-0.0' : '0.0';
        }
        // var_export() prints the shortest digits that round-trip (serialize_precision -1).
        $old = ini_set('serialize_precision', '-1');
        $short = var_export($value, true);
        if ($old !== false) {
            ini_set('serialize_precision', $old);
        }
        $negative = $value < 0;
        $short = ltrim($short, '-');
        [$mant, $exp] = array_pad(preg_split('/[eE]/', $short), 2, '0');
        $exp = (int) $exp;
        [$int, $frac] = array_pad(explode('.', $mant), 2, '');
        // Normalise to digits d1d2d3... with the decimal exponent of d1.
        $digits = ltrim($int . $frac, '0');
        $e = $exp + strlen($int) - 1 - (strlen($int . $frac) - strlen(ltrim($int . $frac, '0')));
        $digits = rtrim($digits, '0');
        if ($digits === '') {
            $digits = '0';
        }
        $sign = $negative ? '-' : '';
        if ($e < -4 || $e >= 16) {
            $m = strlen($digits) > 1 ? $digits[0] . '.' . substr($digits, 1) : $digits;
            $abs = abs($e);
            return $sign . $m . 'e' . ($e < 0 ? '-' : '+') . ($abs < 10 ? '0' : '') . $abs;
        }
        if ($e < 0) {
            return $sign . '0.' . str_repeat('0', -$e - 1) . $digits;
        }
        $intPart = str_pad(substr($digits, 0, $e + 1), $e + 1, '0');
        $fracPart = substr($digits, $e + 1);
        return $sign . $intPart . '.' . ($fracPart === '' ? '0' : $fracPart);
    }

    // --- encoders -------------------------------------------------------------------------------

    public static function header(int $length, int $type): string
    {
        return pack('Vvv', $length, $type, 0);
    }

    /** `u16` byte length + UTF-8 bytes. */
    public static function encodeStr(mixed $text, int $limit, string $what): string
    {
        $length = self::utf8Length($text, $what);
        if ($length > $limit) {
            throw new ValidationError('string_too_long', "$what longer than $limit bytes: " . self::quote($text) . '...');
        }
        return pack('v', $length) . $text;
    }

    public static function encodeHandshake(int $version = self::VERSION): string
    {
        return 'MTRD' . pack('vv', $version, 0);
    }

    /**
     * @param list<string> $labelNames
     * @param list<string> $buckets
     */
    public static function encodeDeclareFamily(int $handle, string $type, string $mode, string $name, string $help, array $labelNames, array $buckets): string
    {
        $p = pack('VCCvvv', $handle, self::METRIC_TYPES[$type], self::GAUGE_MODES[$mode], count($labelNames), count($buckets), 0)
            . self::encodeStr($name, self::MAX_NAME_LENGTH, 'Metric name')
            . self::encodeStr($help, self::MAX_HELP_LENGTH, 'Help');
        foreach ($labelNames as $label) {
            $p .= self::encodeStr($label, self::MAX_NAME_LENGTH, 'Label name');
        }
        foreach ($buckets as $bound) {
            $p .= self::encodeStr($bound, self::MAX_BUCKET_TEXT_LENGTH, 'Bucket bound');
        }
        return self::header(strlen($p), self::FRAME_DECLARE_FAMILY) . $p;
    }

    /** @param list<string> $labelValues */
    public static function encodeDeclareSeries(int $handle, int $family, array $labelValues): string
    {
        $p = pack('VVvv', $handle, $family, count($labelValues), 0);
        foreach ($labelValues as $value) {
            $p .= self::encodeStr($value, self::MAX_LABEL_VALUE_LENGTH, 'Label value');
        }
        return self::header(strlen($p), self::FRAME_DECLARE_SERIES) . $p;
    }

    /** One 16-byte op record: the op byte, three reserved zero bytes, handle, value. */
    public static function record(int $op, int $handle, float $value): string
    {
        return pack('VVe', $op, $handle, $value);
    }

    /** OPS frames for a string of records, at most $perFrame records each. */
    public static function encodeOps(string $records, int $perFrame = 65536): string
    {
        $out = '';
        $step = $perFrame * self::RECORD_SIZE;
        for ($at = 0, $n = strlen($records); $at < $n; $at += $step) {
            $piece = substr($records, $at, $step);
            $out .= self::header(strlen($piece), self::FRAME_OPS) . $piece;
        }
        return $out;
    }

    public static function encodeSync(int $token): string
    {
        return self::header(8, self::FRAME_SYNC) . pack('P', $token);
    }

    /** CLIENT_STATS: ops dropped, cumulative over the connection (PROTOCOL.md 4.8). Only for a
     * daemon whose WELCOME announced revision 2 or later; this client does not send it yet. */
    public static function encodeClientStats(int $droppedOps): string
    {
        return self::header(8, self::FRAME_CLIENT_STATS) . pack('P', $droppedOps);
    }

    /**
     * FOLD: $count observations adding up to $sum, per bucket (not cumulative, +Inf last; none
     * for a summary).
     * @param list<int> $buckets
     */
    public static function encodeFold(int $handle, int $count, float $sum, array $buckets): string
    {
        $p = pack('VvvPe', $handle, count($buckets), 0, $count, $sum);
        foreach ($buckets as $n) {
            $p .= pack('P', $n);
        }
        return self::header(strlen($p), self::FRAME_FOLD) . $p;
    }

    // Daemon -> client encoders: the daemon's side, for the vector tests.
    public static function encodeWelcome(int $maxFramePayload, int $maxFamilyHandle, int $maxSeriesHandle, int $version = self::VERSION): string
    {
        return self::header(16, self::FRAME_WELCOME) . pack('vvVVV', $version, 0, $maxFramePayload, $maxFamilyHandle, $maxSeriesHandle);
    }

    public static function encodeAck(int $token): string
    {
        return self::header(8, self::FRAME_ACK) . pack('P', $token);
    }

    public static function encodeError(int $code, ?int $handle, ?int $frame, string $message): string
    {
        $p = pack('vvV', $code, 0, $handle ?? self::NO_HANDLE) . ($frame === null ? str_repeat("\xff", 8) : pack('P', $frame))
            . self::encodeStr($message, self::MAX_ERROR_MESSAGE_LENGTH, 'Message');
        return self::header(strlen($p), self::FRAME_ERROR) . $p;
    }

    // --- decoding (daemon -> client) ------------------------------------------------------------

    /** Stream-level codes: the daemon closes the connection after sending them. */
    public static function isFatalCode(int $code): bool
    {
        return ($code >= 1 && $code <= 15) || $code === 64 || $code === 65;
    }

    public static function errorName(int $code): string
    {
        static $names = null;
        $names ??= array_flip(self::ERROR_CODES);
        return $names[$code] ?? "error_$code";
    }
}

/**
 * Incremental decoder of the frames a daemon sends: feed bytes, get messages (arrays with a
 * 'type') and decode errors (type 'decode_error'). Results never depend on how the stream is
 * split; after a fatal error the decoder stays failed and yields nothing more.
 */
final class ClientDecoder
{
    private string $buf = '';
    private int $frameIndex = 0;
    private bool $failed = false;

    public function __construct(private int $max = Protocol::MAX_FRAME_PAYLOAD)
    {
    }

    /** Bytes of a frame not complete yet. */
    public function pending(): int
    {
        return strlen($this->buf);
    }

    /** @return list<array<string, mixed>> */
    public function feed(string $data): array
    {
        $out = [];
        if ($this->failed) {
            return $out;
        }
        $buf = $this->buf . $data;
        $pos = 0;
        $n = strlen($buf);
        while ($n - $pos >= Protocol::HEADER_SIZE) {
            ['l' => $length, 't' => $type, 'r' => $reserved] = unpack('Vl/vt/vr', $buf, $pos);
            $index = $this->frameIndex;
            if ($reserved !== 0 || $length > $this->max) {
                $out[] = ['type' => 'decode_error', 'code' => $reserved ? 'bad_frame_header' : 'frame_too_large',
                    'fatal' => true, 'frame' => $index, 'handle' => null];
                $this->failed = true;
                $this->buf = '';
                return $out;
            }
            if ($n - $pos < Protocol::HEADER_SIZE + $length) {
                break;
            }
            $payload = substr($buf, $pos + Protocol::HEADER_SIZE, $length);
            $pos += Protocol::HEADER_SIZE + $length;
            $this->frameIndex++;
            $m = self::decodePayload($type, $payload);
            if (is_string($m)) {
                $out[] = ['type' => 'decode_error', 'code' => $m, 'fatal' => false, 'frame' => $index, 'handle' => null];
            } else {
                $out[] = $m;
            }
        }
        $this->buf = (string) substr($buf, $pos);
        return $out;
    }

    /** @return array<string, mixed>|string a message, or the code of a decode error */
    private static function decodePayload(int $type, string $p): array|string
    {
        $n = strlen($p);
        if ($type === Protocol::FRAME_ACK) {
            return $n === 8 ? ['type' => 'ack', 'token' => unpack('P', $p)[1]] : 'malformed_frame';
        }
        if ($type === Protocol::FRAME_WELCOME) {
            if ($n !== 16) {
                return 'malformed_frame';
            }
            $w = unpack('vversion/vreserved/Vmax_frame_payload/Vmax_family_handle/Vmax_series_handle', $p);
            if ($w['reserved'] !== 0) {
                return 'malformed_frame';
            }
            unset($w['reserved']);
            return ['type' => 'welcome'] + $w;
        }
        if ($type === Protocol::FRAME_ERROR) {
            if ($n < 18) {
                return 'malformed_frame';
            }
            $e = unpack('vcode/vreserved/Vhandle', $p);
            if ($e['reserved'] !== 0) {
                return 'malformed_frame';
            }
            $length = unpack('v', $p, 16)[1];
            if ($n < 18 + $length) {
                return 'malformed_frame';
            }
            if ($length > Protocol::MAX_ERROR_MESSAGE_LENGTH) {
                return 'string_too_long';
            }
            if ($n !== 18 + $length) {
                return 'malformed_frame';
            }
            $frame = substr($p, 8, 8) === str_repeat("\xff", 8) ? null : unpack('P', $p, 8)[1];
            return ['type' => 'error', 'code' => $e['code'], 'code_name' => Protocol::errorName($e['code']),
                'handle' => $e['handle'] === Protocol::NO_HANDLE ? null : $e['handle'], 'frame' => $frame,
                'message' => substr($p, 18), 'fatal' => Protocol::isFatalCode($e['code'])];
        }
        return 'unknown_frame_type';
    }
}
