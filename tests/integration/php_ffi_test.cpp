// Issue 13 item 14: PHP's FFI::cdef takes C declarations but no preprocessor lines, so
// metricsd.h itself fails there; metricsd_ffi.h (generated at build from it) is what PHP loads.
// Real php-cli (Debian php8.2-cli, FFI included) against libmetricsd.so and the real daemon.
#include "daemon_fixture.hpp"
#include "sanitizer.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

namespace metricsd::test {
namespace {

const std::string script = METRICSD_SOURCE_DIR "/tests/integration/php_ffi.php";

bool have_php() {
    std::string out;
    return run_command("php -r 'exit(class_exists(\"FFI\") ? 0 : 1);'", out) == 0;
}

TEST(php_ffi, the_ffi_header_loads_in_php_and_counts_through_the_daemon) {
    if (!have_php())
        GTEST_SKIP() << "php with FFI is not installed (Debian php8.2-cli; scripts/install-deps)";
    if (address_sanitizer)
        GTEST_SKIP() << "an ASan-built libmetricsd.so cannot be loaded into an uninstrumented php "
                        "(ASan's runtime must come first; preloading it fails on PHP's "
                        "RTLD_DEEPBIND dlopen of opcache); the plain build runs this test";
    temp_dir dir;
    daemon_process d(dir);
    std::string out;
    ASSERT_EQ(run_command("METRICSD_SOCKET=" + quoted(d.socket_path()) + " php " + quoted(script) +
                              " " + quoted(METRICSD_FFI_HEADER) + " " + quoted(METRICSD_C_LIBRARY),
                          out),
              0)
        << out;
    EXPECT_EQ(out.rfind("ok ", 0), 0u) << out;
    // A counter declared `ffi_jobs` is exported as `ffi_jobs_total`, as from every client.
    EXPECT_EQ(sample_value(d.scrape(), "ffi_jobs_total{queue=\"mail\"}"), 3);
    EXPECT_EQ(d.stop(), 0);
}

// The header as it is (with its include guard and #includes) is what FFI::cdef refuses: the
// reason metricsd_ffi.h exists. If PHP ever accepts it, this test says the extra file can go.
TEST(php_ffi, the_plain_header_is_refused_by_ffi_cdef) {
    if (!have_php())
        GTEST_SKIP() << "php with FFI is not installed (Debian php8.2-cli; scripts/install-deps)";
    std::string out;
    EXPECT_NE(run_command("php -r " +
                              quoted("FFI::cdef(file_get_contents('" METRICSD_SOURCE_DIR
                                     "/client/c/include/metricsd.h'));"),
                          out),
              0);
    EXPECT_NE(out.find("FFI\\ParserException"), std::string::npos) << out;
}

} // namespace
} // namespace metricsd::test
