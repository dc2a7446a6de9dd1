#include "daemon/store/store_cost.hpp"

#include "daemon/store/family.hpp"

namespace metricsd::daemon::store_cost {
namespace {

/// A std::string member (32 bytes, counted by its holder) keeps up to 15 bytes inline.
std::size_t text(const std::string& s) noexcept {
    return s.size() > 15 ? heap_block(s.size() + 1) : 0;
}

} // namespace

std::size_t family_bytes(const family_spec& spec) noexcept {
    // The family object, and its node in the store's name -> family map (key string and
    // pointer beside the tree links).
    std::size_t n = heap_block(sizeof(family)) + heap_block(32 + 32 + 8) + 2 * text(spec.name);
    n += text(spec.help);
    for (const auto& label : spec.label_names) // the name, and the label's value pool
        n += sizeof(std::string) + text(label) + sizeof(label_pool);
    for (const auto& bound : spec.bucket_texts) // as declared, parsed, and as rendered `le`
        n += 2 * (sizeof(std::string) + text(bound)) + sizeof(double);
    // Claimed sample names (name, name_total, name_bucket, ...): a hash node each, with its
    // text and a bucket.
    n += 4 * (heap_block(8 + 32 + 8 + 8) + 8 + heap_block(spec.name.size() + 9));
    return n;
}

} // namespace metricsd::daemon::store_cost
