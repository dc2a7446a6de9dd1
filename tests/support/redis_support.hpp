// Helpers shared by the Redis tests (unit and round trip): family specs from short arguments,
// and canned RESP bytes turned into replies.
#pragma once

#include "daemon/store/family_spec.hpp"
#include "daemon/redis/redis_codec.hpp"

#include <gtest/gtest.h>

#include <string_view>
#include <vector>

namespace metricsd::daemon::test_support {

/// A validated family spec (help "help"); fails the test if the declaration is invalid.
inline family_spec make(std::string_view name, protocol::metric_type type,
                        std::vector<std::string_view> labels,
                        std::vector<std::string_view> buckets = {},
                        protocol::gauge_mode mode = protocol::gauge_mode::livesum) {
    protocol::family_decl d;
    d.type = type;
    d.mode = mode;
    d.name = name;
    d.help = "help";
    d.label_names = labels;
    d.buckets = buckets;
    auto spec = make_family_spec(d);
    EXPECT_TRUE(spec) << spec.error().message;
    return spec.value();
}

/// Every complete reply in `resp`, in order.
inline std::vector<reply_ptr> replies_of(std::string_view resp) {
    reply_reader reader;
    EXPECT_TRUE(reader.feed(resp));
    std::vector<reply_ptr> out;
    for (auto r = reader.next(); r.state == reply_reader::status::reply; r = reader.next())
        out.push_back(std::move(r.reply));
    return out;
}

} // namespace metricsd::daemon::test_support
