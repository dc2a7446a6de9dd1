// Writes the exposition fixture to stdout, for `promtool check metrics` in ctest: the fixture
// store's families, then self-metrics with labelled samples (per-pid client drops included).
// Usage: render_fixture [text|openmetrics]
#include "daemon/exposition/self_metrics.hpp"
#include "daemon/exposition/store_exposition.hpp"
#include "daemon/store/store.hpp"
#include "store_fixture.hpp"

#include <cstdio>
#include <string>
#include <string_view>

int main(int argc, char** argv) {
    using metricsd::daemon::exposition_format;
    const std::string_view which = argc > 1 ? argv[1] : "text";
    const auto format =
        which == "openmetrics" ? exposition_format::openmetrics : exposition_format::text;
    metricsd::daemon::store s;
    metricsd::test::build_fixture(s);
    std::string out;
    metricsd::daemon::render_families(s, format, out);
    metricsd::daemon::self_metrics_snapshot self;
    self.version = "1.2.3";
    self.ingest_errors = {{"invalid_op", 1}};
    self.client_dropped_ops = {{4242, 3}, {17, 5}};
    self.client_dropped_ops_exited = 9;
    self.http_requests = {{"/metrics", 200, 3}};
    metricsd::daemon::render_self_metrics(self, format, out);
    metricsd::daemon::render_trailer(format, out);
    std::fwrite(out.data(), 1, out.size(), stdout);
    return 0;
}
