// The memory backend's durable state, as bytes: counters, histograms and summaries survive a
// restart through this encoding. Gauges are not kept: they describe live processes (requests
// in flight, queue depth, memory in use) and a value from before the restart would be a lie
// until every worker wrote again. Pure: no IO, no logging; the file handling is in
// atomic_file.hpp.
//
// Format (version 1): one header line, then a JSON body with one series per line.
//   metricsd-state 1 crc32=1a2b3c4d bytes=1234\n
//   {"written_at":...,"hostname":...,"instance":...,"families":[
//   {"name":"jobs_total","type":"counter","help":"...","labels":["queue"],"series":[
//   {"labels":["a"],"value":12},
//   ...]}]}
// crc32 (zlib) and bytes cover the body, so truncation and bit rot are caught before the JSON
// is even parsed. Non-finite numbers (a histogram sum can be +Inf or NaN) are the strings
// "+Inf", "-Inf", "NaN"; finite ones are JSON numbers that round-trip exactly.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace metricsd::daemon {

class store;
class family;

/// Who wrote a state file and when; informative only (a container's hostname changes on every
/// restart, so a different hostname is not a reason to refuse a file).
struct state_metadata {
    std::int64_t written_at = 0; ///< unix seconds
    std::string hostname;
    std::string instance; ///< random per daemon process: tells two writers apart in logs
};

/// This process: now, gethostname(), and an instance id drawn once per process.
state_metadata current_state_metadata();

/// Serialise every counter, histogram and summary family of `s` with its series, in one string
/// (tests, small stores). Snapshots use state_encoder.
std::string encode_state(const store& s, const state_metadata& meta);

/// The body of a state file (everything after the header line), produced in pieces so a
/// snapshot never holds the whole store as text: each next() appends whole series until `out`
/// holds at least `budget` bytes. The store may change between two calls (ingest runs in
/// between): each series is written as it is at that moment, in one piece; a series erased
/// since is left out, one created since is written if it sorts after the last one written
/// (families by name, series by label values), so the pieces always make one valid body.
/// Families are never erased, so the encoder may keep a pointer to the one it is in.
class state_encoder {
public:
    state_encoder(const store& s, state_metadata meta);
    /// Append the next piece to `out`; false once the body is complete (the last piece was
    /// appended by this call or an earlier one).
    bool next(std::string& out, std::size_t budget);

private:
    void next_family(std::string& out);
    /// Series of the current family until `budget`; true when the family is complete.
    bool next_series(std::string& out, std::size_t budget);

    const store& store_;
    state_metadata meta_;
    bool preamble_written_ = false;
    bool started_ = false;       ///< a family was looked for: family_name_ is the cursor
    bool done_ = false;
    bool first_family_ = true;
    bool first_series_ = true;
    const family* family_ = nullptr; ///< inside this family's series list; null: between
    std::string family_name_;
    std::vector<std::string> after_; ///< label values of the last series written
};
inline constexpr std::string_view state_magic = "metricsd-state";
inline constexpr int state_format_version = 1;

/// The outcome of restore_state: what was restored, or why nothing was.
struct restore_result {
    bool ok = false;
    std::string error; ///< empty when ok; else a complete sentence for the log
    state_metadata meta;
    std::size_t families = 0; ///< restored
    std::size_t series = 0;   ///< restored
    /// Left out because they did not fit the store's limits (see restore_state).
    std::size_t skipped_families = 0;
    std::size_t skipped_series = 0; ///< those of skipped families included
    std::string first_skipped;      ///< the first limit refusal, for the log; empty if none
    explicit operator bool() const noexcept { return ok; }
};

/// Restore an encoded state into `s`, which must be empty (restore happens at start-up, before
/// any worker connects). Everything is validated first (header, checksum, JSON, names, bucket
/// counts, values); on any error `s` is left untouched and the result says why. Never throws
/// on bad input.
///
/// Limits lower than when the file was written (max families, series, series per family,
/// label value length) do not refuse the file: families and series are restored in file order
/// (families by name, series by label values) until a limit refuses one; what is refused is
/// skipped and counted in skipped_families / skipped_series, and the rest goes on, so an
/// unrelated counter never loses its total because another family grew.
restore_result restore_state(std::string_view bytes, store& s);

} // namespace metricsd::daemon
