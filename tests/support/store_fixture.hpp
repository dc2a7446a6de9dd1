// Helpers that build store contents for tests, and the shared exposition fixture.
#pragma once

#include "daemon/store/store.hpp"

#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

namespace metricsd::test {

/// Declaration arguments with owned storage for the views a family_decl holds.
struct family_args {
    std::string name;
    protocol::metric_type type = protocol::metric_type::counter;
    std::string help;
    std::vector<std::string_view> labels;
    std::vector<std::string_view> buckets;
    protocol::gauge_mode mode = protocol::gauge_mode::livesum;

    protocol::family_decl decl() const {
        protocol::family_decl d;
        d.type = type;
        d.mode = mode;
        d.name = name;
        d.help = help;
        d.label_names = labels;
        d.buckets = buckets;
        return d;
    }
};

/// Declare or fail the test (via the returned outcome).
daemon::outcome<const daemon::family*> declare(daemon::store& s, const family_args& a);

/// Declare or throw std::runtime_error with the store's reason: for set-up that must work.
const daemon::family* must_declare(daemon::store& s, const family_args& a);

/// Bind worker w to the series with these values; aborts the test on failure.
daemon::binding bind(daemon::store& s, const daemon::family* f,
                     std::initializer_list<std::string_view> values, daemon::worker_id w);

/// The fixture used by the exposition golden tests and the promtool check: every metric type,
/// escaping, special values, a histogram, a per-pid gauge, a retired worker.
void build_fixture(daemon::store& s);

} // namespace metricsd::test
