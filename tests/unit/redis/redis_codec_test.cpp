// hiredis as a codec: commands formatted byte for byte, replies parsed from canned RESP.
#include "daemon/redis/redis_codec.hpp"

#include <gtest/gtest.h>

#include <array>
#include <vector>

namespace metricsd::daemon {
namespace {

using namespace std::string_literals;

std::string format(std::vector<std::string_view> argv) {
    std::string out;
    EXPECT_TRUE(append_command(out, argv));
    return out;
}

TEST(redis_codec, formats_commands_byte_exact) {
    EXPECT_EQ(format({"PING"}), "*1\r\n$4\r\nPING\r\n");
    EXPECT_EQ(format({"HINCRBYFLOAT", "h", R"({"a": "b"})", "2.5"}),
              "*4\r\n$12\r\nHINCRBYFLOAT\r\n$1\r\nh\r\n$10\r\n{\"a\": \"b\"}\r\n$3\r\n2.5\r\n");
    EXPECT_EQ(format({"SET", "k", ""}), "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$0\r\n\r\n");
}

TEST(redis_codec, formatting_is_binary_safe_and_appends) {
    const std::string nul_crlf("a\0\r\nb", 5);
    std::string out = "prefix";
    const std::array<std::string_view, 2> argv{"GET", nul_crlf};
    ASSERT_TRUE(append_command(out, argv));
    EXPECT_EQ(out, "prefix*2\r\n$3\r\nGET\r\n$5\r\na\0\r\nb\r\n"s);
    // More arguments than the inline buffer holds.
    std::vector<std::string_view> many(20, "x");
    many[0] = "MSET";
    const auto text = format(many);
    EXPECT_EQ(text.substr(0, 15), "*20\r\n$4\r\nMSET\r\n");
    EXPECT_EQ(text.size(), 15 + 19 * 7u);
}

TEST(redis_codec, reads_every_reply_type) {
    reply_reader reader;
    ASSERT_TRUE(reader.feed("+OK\r\n-ERR bad\r\n:42\r\n$3\r\nabc\r\n$-1\r\n*-1\r\n$0\r\n\r\n"));
    auto r = reader.next();
    ASSERT_EQ(r.state, reply_reader::status::reply);
    EXPECT_EQ(r.reply->type, REDIS_REPLY_STATUS);
    EXPECT_EQ(reply_text(*r.reply), "OK");
    r = reader.next();
    EXPECT_EQ(r.reply->type, REDIS_REPLY_ERROR);
    EXPECT_EQ(reply_text(*r.reply), "ERR bad");
    r = reader.next();
    EXPECT_EQ(r.reply->type, REDIS_REPLY_INTEGER);
    EXPECT_EQ(r.reply->integer, 42);
    r = reader.next();
    EXPECT_EQ(reply_text(*r.reply), "abc");
    EXPECT_EQ(reader.next().reply->type, REDIS_REPLY_NIL);
    EXPECT_EQ(reader.next().reply->type, REDIS_REPLY_NIL);
    r = reader.next();
    EXPECT_EQ(r.reply->type, REDIS_REPLY_STRING);
    EXPECT_EQ(reply_text(*r.reply), "");
    EXPECT_EQ(reader.next().state, reply_reader::status::need_more);
    EXPECT_EQ(reader.error(), "");
}

// An EXEC reply as our scrape gets it: nested arrays, a nil, an error element, binary data.
const std::string exec_reply =
    "*4\r\n"
    "*4\r\n$10\r\n{\"a\": \"b\"}\r\n$4\r\n10.5\r\n$2\r\n{}\r\n$1\r\n3\r\n"
    "$-1\r\n"
    "-WRONGTYPE Operation against a key holding the wrong kind\r\n"
    "*2\r\n*0\r\n$5\r\nx\r\ny\0\r\n"s;

void expect_exec_reply(const redisReply& r) {
    ASSERT_EQ(r.type, REDIS_REPLY_ARRAY);
    const auto items = reply_elements(r);
    ASSERT_EQ(items.size(), 4u);
    ASSERT_EQ(reply_elements(*items[0]).size(), 4u);
    EXPECT_EQ(reply_text(*reply_elements(*items[0])[0]), "{\"a\": \"b\"}");
    EXPECT_EQ(reply_text(*reply_elements(*items[0])[1]), "10.5");
    EXPECT_EQ(items[1]->type, REDIS_REPLY_NIL);
    EXPECT_EQ(items[2]->type, REDIS_REPLY_ERROR);
    EXPECT_EQ(reply_text(*items[2]).substr(0, 9), "WRONGTYPE");
    const auto nested = reply_elements(*items[3]);
    ASSERT_EQ(nested.size(), 2u);
    EXPECT_TRUE(reply_elements(*nested[0]).empty());
    EXPECT_EQ(nested[0]->type, REDIS_REPLY_ARRAY);
    EXPECT_EQ(reply_text(*nested[1]), std::string_view("x\r\ny\0", 5));
}

TEST(redis_codec, reads_a_reply_split_at_every_offset) {
    const std::string stream = "+OK\r\n" + exec_reply;
    for (std::size_t split = 0; split <= stream.size(); ++split) {
        reply_reader reader;
        std::vector<reply_ptr> got;
        for (std::string_view part :
             {std::string_view(stream).substr(0, split), std::string_view(stream).substr(split)}) {
            ASSERT_TRUE(reader.feed(part));
            for (auto r = reader.next(); r.state == reply_reader::status::reply; r = reader.next())
                got.push_back(std::move(r.reply));
        }
        ASSERT_EQ(got.size(), 2u) << "split at " << split;
        EXPECT_EQ(reply_text(*got[0]), "OK");
        expect_exec_reply(*got[1]);
    }
}

TEST(redis_codec, reads_byte_by_byte) {
    reply_reader reader;
    reply_ptr got;
    for (char c : exec_reply) {
        ASSERT_FALSE(got);
        ASSERT_TRUE(reader.feed(std::string_view(&c, 1)));
        auto r = reader.next();
        ASSERT_NE(r.state, reply_reader::status::protocol_error);
        got = std::move(r.reply);
    }
    ASSERT_TRUE(got);
    expect_exec_reply(*got);
}

TEST(redis_codec, protocol_error_is_sticky) {
    reply_reader reader;
    ASSERT_TRUE(reader.feed("?what\r\n"));
    EXPECT_EQ(reader.next().state, reply_reader::status::protocol_error);
    EXPECT_NE(reader.error(), "");
    EXPECT_FALSE(reader.feed("+OK\r\n"));
    EXPECT_EQ(reader.next().state, reply_reader::status::protocol_error);
}

// A 13-byte array header must not make the reader allocate its element table (hiredis 0.14
// would take 8 bytes per declared element at once: 16 GiB here); nested arrays at the bound
// still read.
TEST(redis_codec, an_array_header_over_the_bound_is_a_protocol_error_not_an_allocation) {
    reply_reader reader;
    ASSERT_TRUE(reader.feed("*2147483647\r\n"));
    EXPECT_EQ(reader.next().state, reply_reader::status::protocol_error);
    EXPECT_EQ(reader.error(), "out of memory, or an array reply over 16777216 elements");

    reply_reader over;
    ASSERT_TRUE(over.feed("*1\r\n*" + std::to_string(reply_reader::max_array_elements + 1) +
                          "\r\n"));
    EXPECT_EQ(over.next().state, reply_reader::status::protocol_error);

    reply_reader fine;
    ASSERT_TRUE(fine.feed("*2\r\n*1\r\n:7\r\n$2\r\nok\r\n"));
    const auto r = fine.next();
    ASSERT_EQ(r.state, reply_reader::status::reply);
    ASSERT_EQ(reply_elements(*r.reply).size(), 2u);
    EXPECT_EQ(reply_elements(*reply_elements(*r.reply)[0])[0]->integer, 7);
    EXPECT_EQ(reply_text(*reply_elements(*r.reply)[1]), "ok");
}

} // namespace
} // namespace metricsd::daemon
