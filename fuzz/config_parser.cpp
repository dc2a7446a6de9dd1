// Fuzzes the configuration parsers (daemon/config): the JSON config file, the METRICSD_*
// environment, the command line's per-setting text (apply_setting, what each flag calls),
// and the HOST:PORT and Redis URL syntaxes they use.
//
// Input: one control byte, then the text. control % 4 picks the entry point:
//   0  the text is a config file
//   1  the text is environment lines NAME=VALUE
//   2  the text is flag lines: the first byte of a line picks a setting (of config_keys()),
//      the rest of the line is its value
//   3  the text is a HOST:PORT (listen rules and the connect rules) and a Redis URL
// Checked: only the documented errors are thrown (config_error, host_port_error,
// std::invalid_argument for URLs), and every configuration that loads round-trips:
// parse_config(to_json(c)) gives the same JSON, and each setting's text form applied to a
// default configuration gives the same text back.
#include "fuzz_check.hpp"

#include "daemon/config/config.hpp"
#include "daemon/config/host_port.hpp"
#include "daemon/config/redis_url.hpp"

#include <cstddef>
#include <cstdint>
#include <map>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace {

using namespace metricsd::daemon;

std::vector<std::string_view> lines(std::string_view text) {
    std::vector<std::string_view> out;
    while (!text.empty()) {
        const std::size_t nl = text.find('\n');
        out.push_back(text.substr(0, nl));
        text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
    }
    return out;
}

void check_round_trip(const config& c) {
    const std::string json = to_json(c);
    config again;
    try {
        again = parse_config(json, "to_json");
    } catch (const config_error& e) {
        metricsd::fuzz::fail(std::string("to_json output does not parse: ") + e.what(), json);
    }
    if (to_json(again) != json)
        metricsd::fuzz::fail("to_json does not round-trip", json + "\n=== again:\n" + to_json(again));
    for (const config_key& k : config_keys()) {
        const std::string text = setting_text(c, k.key);
        config fresh;
        try {
            apply_setting(fresh, k.key, text, "fuzz");
        } catch (const config_error& e) {
            metricsd::fuzz::fail(std::string(k.key) + ": its text form is refused: " + e.what(), text);
        }
        FUZZ_CHECK(setting_text(fresh, k.key) == text);
    }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0)
        return 0;
    const std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
    config c;
    try {
        switch (data[0] % 4) {
        case 0:
            c = parse_config(text, "fuzz.json");
            break;
        case 1: {
            std::map<std::string, std::string, std::less<>> env;
            for (const std::string_view l : lines(text)) {
                const std::size_t eq = l.find('=');
                if (eq != std::string_view::npos)
                    env[std::string(l.substr(0, eq))] = std::string(l.substr(eq + 1));
            }
            apply_environment(c, [&env](const char* name) -> const char* {
                const auto it = env.find(std::string_view(name));
                return it == env.end() ? nullptr : it->second.c_str();
            });
            break;
        }
        case 2: {
            const auto& keys = config_keys();
            for (const std::string_view l : lines(text)) {
                if (l.empty())
                    continue;
                const config_key& k = keys[static_cast<unsigned char>(l[0]) % keys.size()];
                apply_setting(c, k.key, l.substr(1), "--fuzz");
            }
            break;
        }
        default: {
            const std::size_t nl = text.find('\n');
            try {
                (void)parse_host_port(text.substr(0, nl), listen_address_rules);
            } catch (const host_port_error&) {
            }
            try {
                (void)parse_host_port(text.substr(0, nl), {.default_port = 6379, .min_port = 1});
            } catch (const host_port_error&) {
            }
            try {
                const redis_endpoint e = parse_redis_url(
                    nl == std::string_view::npos ? text : text.substr(nl + 1));
                (void)describe(e);
            } catch (const std::invalid_argument&) {
            }
            return 0;
        }
        }
    } catch (const config_error&) {
        return 0;
    }
    try {
        validate(c);
    } catch (const config_error&) {
    }
    check_round_trip(c);
    return 0;
}
