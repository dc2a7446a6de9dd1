// Series expiry settings: per-family TTLs after which series that saw no op are dropped, their
// compact text form (METRICSD_SERIES_TTL, --series-ttl) and the sweep period they imply. Pure;
// the store does the expiring (store::expire_idle_series), the app runs the sweep timer.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>

namespace metricsd::daemon {

/// The largest TTL accepted, in seconds (one year).
inline constexpr std::uint64_t max_series_ttl_seconds = 31'536'000;

/// How long a series may go without an op before series expiry takes it. A TTL of 0 means
/// never. Families not listed get the default.
struct series_ttl_policy {
    std::chrono::seconds default_ttl{0};
    /// By family name; an entry of 0 keeps that family's series forever whatever the default.
    std::map<std::string, std::chrono::seconds, std::less<>> families;

    /// The TTL of the family called `family` (0: never). A family named `x_total` (every
    /// counter) also takes an entry for `x`.
    std::chrono::seconds ttl_for(std::string_view family) const;
    /// The entry that looks like a misspelling of `family` (edit distance 1 or 2), when
    /// `family` has no entry of its own; empty otherwise. For a warning when such a family is
    /// declared: the TTL it meant to set does not apply.
    std::string near_miss(std::string_view family) const;
    /// True when some family can have a non-zero TTL.
    bool enabled() const noexcept;
    bool operator==(const series_ttl_policy&) const = default;
};

/// How often the app sweeps: a quarter of the shortest non-zero TTL, at least one second.
/// Zero when expiry is off. A series expires between its TTL and TTL + one period after its
/// last op.
std::chrono::seconds sweep_period(const series_ttl_policy& p) noexcept;

/// Parse the compact form: comma-separated `NAME=SECONDS` entries, `*=SECONDS` for the
/// default, e.g. `http_requests_total=600,jobs_total=60,*=3600`; blanks around entries are
/// ignored; "" is no TTL at all. Throws std::invalid_argument saying what is wrong.
series_ttl_policy parse_series_ttl(std::string_view text);

/// The compact form of `p` (families in name order, then `*=N` unless the default is 0);
/// parse_series_ttl gives `p` back.
std::string to_string(const series_ttl_policy& p);

} // namespace metricsd::daemon
