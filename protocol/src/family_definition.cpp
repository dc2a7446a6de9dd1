#include <metricsd/protocol/family_definition.hpp>

namespace metricsd::protocol {

family_decl_view::family_decl_view(const family_definition& def, std::uint32_t handle)
    : labels_(def.label_names.begin(), def.label_names.end()),
      buckets_(def.bucket_texts.begin(), def.bucket_texts.end()) {
    decl_.handle = handle;
    decl_.type = def.type;
    decl_.mode = def.mode;
    decl_.name = def.name;
    decl_.help = def.help;
    decl_.label_names = labels_;
    decl_.buckets = buckets_;
}

} // namespace metricsd::protocol
