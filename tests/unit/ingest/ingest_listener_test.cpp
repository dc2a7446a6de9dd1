// The ingest listener on a real Unix socket, its io_context on a thread of its own, clients
// blocking on the test thread. Faults are injected through ingest_options::before_process.
#include "daemon/ingest/ingest_listener.hpp"
#include "daemon/store/store.hpp"
#include "harness.hpp"
#include "raw_client.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <memory>
#include <new>
#include <stdexcept>
#include <thread>

namespace metricsd::daemon {
namespace {

using protocol::error_code;
using protocol::frame_type;
using protocol::metric_type;
using protocol::op_code;
using test::raw_client;

std::uint64_t errors(const ingest_stats& s, error_code code) {
    return s.errors[static_cast<std::size_t>(code)];
}

/// A listener serving `store_` on its own io_context thread. Every call into the listener goes
/// through on_loop(), since it is io_context-thread only.
class listener_test : public ::testing::Test {
protected:
    void start(ingest_options options) {
        options.socket_path = dir_.file("ingest.sock");
        listener_ = std::make_unique<ingest_listener>(ioc_, store_, std::move(options));
        listener_->start();
        loop_ = std::thread([this] { ioc_.run(); });
    }

    /// f() run on the loop thread; its result.
    template <class F>
    auto on_loop(F f) {
        std::promise<decltype(f())> done;
        net::post(ioc_, [&] { done.set_value(f()); });
        return done.get_future().get();
    }

    /// Stop the listener and wait until every session has ended and the loop has returned:
    /// the daemon's SIGTERM path.
    void shut_down() {
        on_loop([this] {
            listener_->close();
            return 0;
        });
        loop_.join();
    }

    void TearDown() override {
        if (loop_.joinable())
            shut_down();
    }

    /// open_connections() once it has settled to `n` (sessions end asynchronously after EOF).
    std::size_t open_connections_settled(std::size_t n) {
        std::size_t open = 0;
        for (int i = 0; i < 500; ++i) {
            open = on_loop([this] { return listener_->open_connections(); });
            if (open == n)
                break;
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
        return open;
    }

    std::string path() const { return dir_.file("ingest.sock"); }

    test::temp_dir dir_;
    store store_;
    net::io_context ioc_{1};
    std::unique_ptr<ingest_listener> listener_;
    std::thread loop_;
};

/// Makes the next session step throw `E` once armed.
template <class E>
struct fault {
    std::atomic<bool> armed{false};
    std::function<void()> hook() {
        return [this] {
            if (armed.exchange(false))
                throw E("injected");
        };
    }
};

struct injected_bad_alloc : std::bad_alloc {
    explicit injected_bad_alloc(const char*) {}
};

TEST_F(listener_test, bad_alloc_refuses_that_client_with_error_internal_and_nothing_else) {
    fault<injected_bad_alloc> oom;
    ingest_options options;
    options.before_process = oom.hook();
    start(std::move(options));

    raw_client a(path());
    a.send(test::hello() + test::family(0, "jobs_total", metric_type::counter) +
           test::series(0, 0) + test::ops({{op_code::inc, 0, 1}}));
    ASSERT_EQ(a.sync(1).back().type, frame_type::ack);

    oom.armed = true;
    raw_client b(path());
    b.send(test::hello());
    const auto refused = b.read_until(frame_type::error);
    ASSERT_EQ(refused.size(), 1u); // no WELCOME, no partial output: the ERROR alone
    EXPECT_EQ(refused[0].type, frame_type::error);
    EXPECT_EQ(refused[0].code, error_code::internal);
    EXPECT_EQ(refused[0].message, "out of memory");
    EXPECT_TRUE(b.closed_by_peer());

    // The failed session is gone from the listener, so reading the stats of every open
    // session touches only live ones (this was a heap-use-after-free).
    EXPECT_EQ(open_connections_settled(1), 1u);
    const auto stats = on_loop([this] { return listener_->stats(); });
    EXPECT_EQ(errors(stats, error_code::internal), 1u);
    EXPECT_EQ(on_loop([this] { return listener_->totals().sessions_failed; }), 1u);

    // The other client and a new one are unaffected.
    a.send(test::ops({{op_code::inc, 0, 1}}));
    const auto more = a.sync(2);
    ASSERT_EQ(more.size(), 1u);
    EXPECT_EQ(more[0].type, frame_type::ack);
    raw_client c(path());
    c.send(test::hello());
    const auto welcomed = c.sync(1);
    ASSERT_EQ(welcomed.size(), 2u);
    EXPECT_EQ(welcomed[0].type, frame_type::welcome);
    EXPECT_EQ(welcomed[1].type, frame_type::ack);
    EXPECT_EQ(open_connections_settled(2), 2u);

    // Shutdown drains the live sessions only.
    shut_down();
    EXPECT_EQ(listener_->open_connections(), 0u);
    EXPECT_EQ(errors(listener_->stats(), error_code::internal), 1u);
    EXPECT_EQ(listener_->stats().ops_applied, 2u);
}

TEST_F(listener_test, any_exception_from_a_session_refuses_only_that_client) {
    fault<std::runtime_error> broken;
    ingest_options options;
    options.before_process = broken.hook();
    start(std::move(options));

    raw_client a(path());
    a.send(test::hello());
    ASSERT_EQ(a.sync(1).back().type, frame_type::ack);
    broken.armed = true; // a's next step throws, mid-connection
    a.send(test::family(0, "jobs_total", metric_type::counter));
    const auto refused = a.read_until(frame_type::error);
    ASSERT_EQ(refused.size(), 1u);
    EXPECT_EQ(refused[0].code, error_code::internal);
    EXPECT_EQ(refused[0].message, "internal error");
    EXPECT_TRUE(a.closed_by_peer());
    EXPECT_EQ(open_connections_settled(0), 0u);

    raw_client b(path());
    b.send(test::hello());
    EXPECT_EQ(b.sync(1).back().type, frame_type::ack);
    shut_down();
    EXPECT_EQ(listener_->totals().sessions_failed, 1u);
}

TEST_F(listener_test, refused_connections_count_as_too_many_connections_errors) {
    ingest_options options;
    options.max_connections = 1;
    start(std::move(options));

    raw_client a(path());
    a.send(test::hello());
    ASSERT_EQ(a.sync(1).back().type, frame_type::ack);
    for (int i = 0; i < 3; ++i) {
        raw_client extra(path());
        const auto r = extra.read_until(frame_type::error);
        ASSERT_EQ(r.size(), 1u);
        EXPECT_EQ(r[0].code, error_code::too_many_connections);
        EXPECT_TRUE(extra.closed_by_peer());
    }
    const auto stats = on_loop([this] { return listener_->stats(); });
    EXPECT_EQ(errors(stats, error_code::too_many_connections), 3u);
    EXPECT_EQ(on_loop([this] { return listener_->totals().connections_rejected; }), 3u);
}

} // namespace
} // namespace metricsd::daemon
