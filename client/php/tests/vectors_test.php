<?php
// protocol/test_vectors.json: every client_to_daemon vector encodes byte-exactly, every
// daemon_to_client vector decodes (whole, split at every offset, byte by byte), every
// client-role invalid vector yields exactly its expected results, and the client's family
// rules agree with every family_rules vector.

declare(strict_types=1);

require_once __DIR__ . '/support.php';

use Metricsd\ClientDecoder;
use Metricsd\Protocol;
use Metricsd\ValidationError;

$doc = json_decode(file_get_contents(REPO . '/protocol/test_vectors.json'), true, 512, JSON_THROW_ON_ERROR);

function num(mixed $v): float
{
    return match ($v) { 'NaN' => NAN, '+Inf' => INF, '-Inf' => -INF, '-0' => -0.0, default => (float) $v };
}

function encode(array $m): string
{
    return match ($m['type']) {
        'handshake' => Protocol::encodeHandshake($m['version']),
        'declare_family' => Protocol::encodeDeclareFamily($m['handle'], $m['metric_type'], $m['gauge_mode'], $m['name'], $m['help'], $m['label_names'], $m['buckets']),
        'declare_series' => Protocol::encodeDeclareSeries($m['handle'], $m['family'], $m['label_values']),
        'ops' => Protocol::encodeOps(implode('', array_map(fn ($r) => Protocol::record(Protocol::OPS[$r['op']], $r['handle'], num($r['value'])), $m['records']))),
        'sync' => Protocol::encodeSync($m['token']),
        'client_stats' => Protocol::encodeClientStats($m['dropped_ops']),
        'fold' => Protocol::encodeFold($m['handle'], $m['count'], num($m['sum']), $m['buckets']),
        'welcome' => Protocol::encodeWelcome($m['max_frame_payload'], $m['max_family_handle'], $m['max_series_handle'], $m['version']),
        'ack' => Protocol::encodeAck($m['token']),
        'error' => Protocol::encodeError(Protocol::ERROR_CODES[$m['code']], $m['handle'], $m['frame'], $m['message']),
    };
}

/** A decoded message in the vectors' spelling. */
function spelled(array $m): array
{
    return match ($m['type']) {
        'welcome' => ['type' => 'welcome', 'version' => $m['version'], 'max_frame_payload' => $m['max_frame_payload'],
            'max_family_handle' => $m['max_family_handle'], 'max_series_handle' => $m['max_series_handle']],
        'ack' => ['type' => 'ack', 'token' => $m['token']],
        'error' => ['type' => 'error', 'code' => $m['code_name'], 'handle' => $m['handle'], 'frame' => $m['frame'], 'message' => $m['message']],
        'decode_error' => ['error' => $m['code'], 'fatal' => $m['fatal'], 'frame' => $m['frame'], 'handle' => $m['handle']],
    };
}

/** Decodes $bytes split into pieces of $size (0: whole). */
function decodeAll(string $bytes, int $size, int $max): array
{
    $d = new ClientDecoder($max);
    $out = [];
    $pieces = $size === 0 ? [$bytes] : str_split($bytes, $size);
    if ($size > 0 && $bytes === '') {
        $pieces = [];
    }
    foreach ($pieces as $piece) {
        foreach ($d->feed($piece) as $m) {
            $out[] = spelled($m);
        }
    }
    return $out;
}

$count = 0;
foreach ($doc['valid'] as $v) {
    $bytes = hex2bin($v['hex']);
    same($v['hex'], bin2hex(encode($v['message'])), "encode {$v['name']}");
    if ($v['direction'] === 'daemon_to_client') {
        $want = [$v['message']];
        foreach ([0, 1, 3, 7] as $size) {
            same($want, decodeAll($bytes, $size, $doc['max_frame_payload']), "decode {$v['name']} in pieces of $size");
        }
        // Split in two at every offset.
        for ($at = 1; $at < strlen($bytes); $at++) {
            $d = new ClientDecoder();
            $got = array_map('spelled', array_merge($d->feed(substr($bytes, 0, $at)), $d->feed(substr($bytes, $at))));
            same($want, $got, "decode {$v['name']} split at $at");
        }
    }
    $count++;
}

foreach ($doc['invalid'] as $v) {
    if ($v['role'] !== 'client') {
        continue;
    }
    $want = array_map(fn ($e) => isset($e['message']) ? ['type' => $e['message']] : $e, $v['expect']);
    foreach ([0, 1, 5] as $size) {
        $got = array_map(fn ($m) => isset($m['type']) ? ['type' => $m['type']] : $m, decodeAll(hex2bin($v['hex']), $size, $doc['max_frame_payload']));
        same($want, $got, "invalid {$v['name']} in pieces of $size");
    }
    $count++;
}

foreach ($doc['family_rules'] as $v) {
    $d = $v['declaration'];
    $error = null;
    try {
        Protocol::checkFamily($d['metric_type'], $d['gauge_mode'], $d['name'], $d['help'], $d['label_names'], $d['buckets']);
    } catch (ValidationError $e) {
        $error = $e->codeName;
    }
    same($v['error'], $error, "family_rules {$v['name']}");
    $count++;
}

// Bucket texts: what Python's str() prints for the same literal (PROTOCOL.md section 8).
$texts = [[0.005, '0.005'], [1, '1'], [1.0, '1.0'], [1e-05, '1e-05'], [10.0, '10.0'], [2.5, '2.5'], [1e16, '1e+16'],
    [123456789.125, '123456789.125'], [0.0001, '0.0001'], [-3.5, '-3.5'], [1e22, '1e+22'], [0.1 + 0.2, '0.30000000000000004'],
    [1.5e-7, '1.5e-07'], [-0.0, '-0.0'], [9007199254740993, '9007199254740993'], ['.5', '.5']];
foreach ($texts as [$value, $text]) {
    same($text, Protocol::bucketText($value), 'bucketText(' . var_export($value, true) . ')');
}
same(Metricsd\DEFAULT_BUCKETS, array_map(fn ($b) => Protocol::bucketText($b), [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10]), 'default bucket texts as the Python client sends them');
echo "ok: $count vectors\n";
