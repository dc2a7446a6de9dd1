#include "daemon/http/scrape_broadcast.hpp"

#include "daemon/http/gzip.hpp"
#include "daemon/net/spawn.hpp"

#include <algorithm>
#include <array>
#include <exception>
#include <utility>

namespace metricsd::daemon {

using clock = std::chrono::steady_clock;

namespace {
/// A yield that took longer than this beyond renders was the loop serving other work: ingest
/// is busy, so the renders' share is enforced. An idle loop turns in a few microseconds.
constexpr auto busy_yield = std::chrono::microseconds(50);

constexpr std::size_t kind_count = 4; // format x gzip

std::size_t kind_index(exposition_format f, bool gzip) noexcept {
    return (f == exposition_format::openmetrics ? 2u : 0u) + (gzip ? 1u : 0u);
}

/// A timer used as a condition: waiters wait until cancel(); it never expires by itself.
void make_condition(net::steady_timer& t) {
    t.expires_at(clock::time_point::max());
}

} // namespace

bool string_exposition::next(std::string& out, std::size_t budget) {
    const std::size_t n = std::min(budget, body_.size() - sent_);
    out.append(body_, sent_, n);
    sent_ += n;
    return sent_ == body_.size();
}

struct detail::scrape_broadcast_state {
    scrape_fn scrape;
    scrape_render_options options;
    scrape_render_stats stats;
    std::array<std::shared_ptr<scrape_job>, kind_count> gathering; ///< joinable renders
    std::array<std::weak_ptr<scrape_job>, kind_count> running;     ///< one per kind at a time
    /// Pacing shared by every render: none starts a slice before this while ingest is busy.
    clock::time_point next_allowed{};
    /// Time spent in slices so far, so a yield can tell renders' time from other work.
    clock::duration rendering{};
};

struct detail::scrape_job {
    enum class phase : std::uint8_t { gathering, running, finished };

    scrape_job(const net::any_io_executor& ex, std::shared_ptr<scrape_broadcast_state> st,
               exposition_format f, bool gzip)
        : owner(std::move(st)), format(f), gzip_accepted(gzip), slice_ready(ex), written(ex),
          ended(ex), pause(ex) {
        make_condition(slice_ready);
        make_condition(written);
        make_condition(ended);
    }

    std::shared_ptr<scrape_broadcast_state> owner;
    exposition_format format;
    bool gzip_accepted;
    phase state = phase::gathering;
    std::size_t subscribers = 0;
    std::size_t unfinished = 0; ///< subscribers still to take or finish the current slice
    std::uint64_t published = 0;
    scrape_slice current;
    std::string raw;    ///< the current slice as rendered
    std::string packed; ///< ... and compressed, when gzip
    std::string message;
    std::size_t held = 0; ///< bytes counted in stats().bytes_in_flight
    net::steady_timer slice_ready; ///< cancelled: a slice was published, or the render ended
    net::steady_timer written;     ///< cancelled: a subscriber finished a slice or left
    net::steady_timer ended;       ///< cancelled: the render ended (the next of its kind starts)
    net::steady_timer pause;       ///< pacing

    void account() noexcept {
        auto& s = owner->stats;
        const std::size_t now = raw.capacity() + packed.capacity();
        s.bytes_in_flight = s.bytes_in_flight + now - held;
        s.bytes_in_flight_max = std::max(s.bytes_in_flight_max, s.bytes_in_flight);
        held = now;
    }
    void publish(scrape_slice s) {
        current = s;
        ++published;
        unfinished = subscribers;
        slice_ready.cancel();
    }
};

namespace {

using job_ptr = std::shared_ptr<detail::scrape_job>;
using phase = detail::scrape_job::phase;

net::awaitable<void> wait_on(net::steady_timer& condition) {
    beast::error_code ignored; // operation_aborted is the signal
    co_await condition.async_wait(net::redirect_error(net::use_awaitable, ignored));
}

/// Until every subscriber finished the current slice, or none is left.
net::awaitable<void> wait_written(detail::scrape_job& job) {
    while (job.unfinished > 0 && job.subscribers > 0)
        co_await wait_on(job.written);
}

/// Waits, while ingest is busy, until this render may take its share again.
net::awaitable<void> wait_turn(detail::scrape_job& job) {
    auto& st = *job.owner;
    while (clock::now() < st.next_allowed) {
        ++st.stats.paced_waits;
        job.pause.expires_at(st.next_allowed);
        beast::error_code ignored;
        co_await job.pause.async_wait(net::redirect_error(net::use_awaitable, ignored));
    }
}

/// Lets the event loop run everything ready (ingest reads, other sessions), then, if that
/// took a while, keeps the renders to their share of the loop.
net::awaitable<void> yield(detail::scrape_job& job, clock::duration slice_time) {
    auto& st = *job.owner;
    const auto before = clock::now();
    const auto rendered_before = st.rendering;
    auto ex = co_await net::this_coro::executor;
    co_await net::post(ex, net::use_awaitable);
    const auto now = clock::now();
    const auto other = (now - before) - (st.rendering - rendered_before);
    if (other > busy_yield && st.options.loop_share > 0 && st.options.loop_share < 1) {
        const auto rest = std::chrono::duration_cast<clock::duration>(
            slice_time * ((1 - st.options.loop_share) / st.options.loop_share));
        st.next_allowed = std::max(st.next_allowed, before) + rest;
    }
}

/// Renders one slice into job.raw (and job.packed); returns the slice to publish.
scrape_slice render_slice(detail::scrape_job& job, exposition_stream& body, bool first) {
    const auto& opt = job.owner->options;
    job.raw.clear();
    job.packed.clear();
    scrape_slice s;
    s.last = body.next(job.raw, opt.slice_bytes);
    if (first)
        job.current.gzip = job.gzip_accepted && !(s.last && job.raw.size() < opt.gzip_min_size);
    s.gzip = job.current.gzip;
    s.data = job.raw;
    return s;
}

net::awaitable<void> run_body(job_ptr job, exposition_stream& body) {
    auto& st = *job->owner;
    gzip_stream gz; // one gzip member across the slices: ~256 KiB of zlib state per render
    clock::duration busy{};
    for (bool first = true;; first = false) {
        co_await wait_turn(*job);
        if (job->subscribers == 0)
            co_return; // everybody left: stop rendering
        const auto t0 = clock::now();
        scrape_slice s;
        bool failed = false;
        try {
            s = render_slice(*job, body, first);
            if (s.gzip) {
                if (!gz.write(job->raw, s.last, job->packed))
                    throw std::bad_alloc();
                s.data = job->packed;
            }
        } catch (const std::exception& e) {
            job->message = e.what();
            failed = true;
        }
        if (failed) { // no co_await inside a catch block
            if (first)
                job->publish({scrape_slice::kind::failed, job->message, true});
            else
                job->publish({scrape_slice::kind::aborted, {}, true});
            co_await wait_written(*job);
            co_return;
        }
        const auto took = clock::now() - t0;
        busy += took;
        st.rendering += took;
        job->account();
        job->publish(s);
        co_await wait_written(*job);
        if (s.last || job->subscribers == 0)
            break;
        co_await yield(*job, took);
    }
    const double seconds = std::chrono::duration<double>(busy).count();
    st.stats.seconds_last = seconds;
    st.stats.seconds_total += seconds;
}

void finish(detail::scrape_job& job) noexcept {
    job.state = phase::finished;
    job.raw = std::string();
    job.packed = std::string();
    job.account();
    job.slice_ready.cancel();
    job.ended.cancel();
}

/// One render, from the moment it gathers subscribers to its last slice.
net::awaitable<void> run_job(job_ptr job, std::size_t kind) {
    auto& st = *job->owner;
    // Subscribers of this loop turn join before the render begins.
    auto ex = co_await net::this_coro::executor;
    co_await net::post(ex, net::use_awaitable);
    while (auto previous = st.running[kind].lock()) {
        if (previous->state == phase::finished)
            break;
        co_await wait_on(previous->ended); // one render of a kind at a time
    }
    if (st.gathering[kind] == job)
        st.gathering[kind] = nullptr; // later scrapes join the next render
    st.running[kind] = job;
    job->state = phase::running;
    if (job->subscribers == 0) {
        finish(*job);
        co_return;
    }
    ++st.stats.renders;
    scrape_outcome outcome;
    try {
        outcome = co_await st.scrape(job->format);
    } catch (const std::exception& e) {
        job->message = e.what();
    }
    if (!job->message.empty() || !outcome.unavailable.empty() || !outcome.body) {
        const bool failed = !job->message.empty() || outcome.unavailable.empty();
        if (!failed)
            job->message = std::move(outcome.unavailable);
        else if (job->message.empty())
            job->message = "no body";
        job->publish({failed ? scrape_slice::kind::failed : scrape_slice::kind::unavailable,
                      job->message, true});
        co_await wait_written(*job);
    } else {
        co_await run_body(job, *outcome.body);
    }
    finish(*job);
}

} // namespace

scrape_subscription::scrape_subscription(std::shared_ptr<detail::scrape_job> job) noexcept
    : job_(std::move(job)) {
    ++job_->subscribers;
}

scrape_subscription::~scrape_subscription() {
    if (holding_ || seen_ < job_->published)
        done_with_current(); // not taken yet: the render must not wait for us either
    --job_->subscribers;
    job_->written.cancel();
}

void scrape_subscription::done_with_current() noexcept {
    holding_ = false;
    if (job_->unfinished > 0 && --job_->unfinished == 0)
        job_->written.cancel();
}

net::awaitable<scrape_slice> scrape_subscription::next() {
    if (holding_)
        done_with_current();
    while (job_->published <= seen_ && job_->state != phase::finished)
        co_await wait_on(job_->slice_ready);
    if (job_->published <= seen_)
        co_return scrape_slice{scrape_slice::kind::aborted, {}, true};
    seen_ = job_->published;
    holding_ = true;
    co_return job_->current;
}

scrape_broadcast::scrape_broadcast(scrape_fn scrape, scrape_render_options options)
    : state_(std::make_shared<detail::scrape_broadcast_state>()) {
    state_->scrape = std::move(scrape);
    state_->options = options;
    state_->options.slice_bytes = std::max<std::size_t>(state_->options.slice_bytes, 1);
}

scrape_broadcast::~scrape_broadcast() = default;

std::unique_ptr<scrape_subscription>
scrape_broadcast::subscribe(const net::any_io_executor& executor, exposition_format format,
                            bool gzip) {
    const std::size_t kind = kind_index(format, gzip);
    auto& slot = state_->gathering[kind];
    if (slot && slot->state == phase::gathering) {
        ++state_->stats.shared;
        return std::make_unique<scrape_subscription>(slot);
    }
    slot = std::make_shared<detail::scrape_job>(executor, state_, format, gzip);
    auto sub = std::make_unique<scrape_subscription>(slot);
    spawn_logged(executor, run_job(slot, kind), "scrape render");
    return sub;
}

scrape_render_stats scrape_broadcast::stats() const noexcept {
    return state_->stats;
}

const scrape_render_options& scrape_broadcast::options() const noexcept {
    return state_->options;
}

} // namespace metricsd::daemon
