<?php
// PHP's FFI against libmetricsd through metricsd_ffi.h, as a PHP application would use it:
// FFI::cdef(file_get_contents(header), library). Counts `queue=mail` three times on counter
// `ffi_jobs`, waits for the daemon's ACK, exits 0; any failure is printed and exits 1.
//     php php_ffi.php HEADER LIBRARY   (the daemon's socket from $METRICSD_SOCKET)
[$_, $header, $library] = $argv;
$ffi = FFI::cdef(file_get_contents($header), $library);

$client = null;

function check(FFI $ffi, int $status, string $what): void {
    global $client;
    if ($status !== $ffi->METRICSD_OK) {
        fwrite(STDERR, "$what: " . $ffi->metricsd_strerror($status) . ": " .
                       $ffi->metricsd_error_detail() . "\n");
        // The client's sender thread must stop before PHP unloads the library at exit.
        if ($client !== null && !FFI::isNull($client))
            $ffi->metricsd_client_free($client);
        exit(1);
    }
}

// A C string the arrays of `const char*` can point at; the PHP variable keeps it alive.
function c_string(FFI $ffi, string $s): FFI\CData {
    $buf = $ffi->new("char[" . (strlen($s) + 1) . "]");
    FFI::memcpy($buf, $s, strlen($s));
    return $buf;
}

$client = $ffi->new("metricsd_client*");
check($ffi, $ffi->metricsd_client_new(null, FFI::addr($client)), "metricsd_client_new");
$label = c_string($ffi, "queue");
$names = $ffi->new("const char*[1]");
$names[0] = FFI::cast("const char*", FFI::addr($label[0]));
$family = $ffi->new("metricsd_family*");
check($ffi, $ffi->metricsd_counter($client, "ffi_jobs", "Jobs run.", $names, 1, FFI::addr($family)),
      "metricsd_counter");
$value = c_string($ffi, "mail");
$values = $ffi->new("const char*[1]");
$values[0] = FFI::cast("const char*", FFI::addr($value[0]));
$series = $ffi->new("metricsd_series*");
check($ffi, $ffi->metricsd_labels($family, $values, 1, FFI::addr($series)), "metricsd_labels");
for ($i = 0; $i < 3; ++$i)
    check($ffi, $ffi->metricsd_inc($series, 1.0), "metricsd_inc");
check($ffi, $ffi->metricsd_flush($client, 5000), "metricsd_flush");
$ffi->metricsd_client_free($client);
echo "ok ", $ffi->metricsd_version(), "\n";
