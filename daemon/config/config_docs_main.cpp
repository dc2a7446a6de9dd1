// metricsd_config_docs: prints or rewrites the documents derived from the table of settings.
//   metricsd_config_docs --schema          the JSON schema, to stdout
//   metricsd_config_docs --table           the README's settings table, to stdout
//   metricsd_config_docs --update SRC_DIR  rewrite SRC_DIR/config/metricsd.schema.json and the
//                                          table in SRC_DIR/config/README.md
#include "daemon/config/config.hpp"
#include "daemon/config/config_docs.hpp"

#include <fstream>
#include <iostream>
#include <sstream>
#include <string>

namespace {

bool write(const std::string& path, const std::string& text) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << text;
    return static_cast<bool>(out.flush());
}

} // namespace

int main(int argc, char** argv) {
    using namespace metricsd::daemon;
    const std::string mode = argc > 1 ? argv[1] : "";
    if (mode == "--schema" && argc == 2) {
        std::cout << config_schema();
        return 0;
    }
    if (mode == "--table" && argc == 2) {
        std::cout << config_settings_table();
        return 0;
    }
    if (mode == "--update" && argc == 3) {
        const std::string dir = std::string(argv[2]) + "/config/";
        std::ifstream in(dir + "README.md", std::ios::binary);
        std::ostringstream readme;
        readme << in.rdbuf();
        try {
            if (!in || !write(dir + "README.md", with_settings_table(readme.str())) ||
                !write(dir + "metricsd.schema.json", config_schema())) {
                std::cerr << "metricsd_config_docs: cannot update files in " << dir << '\n';
                return 1;
            }
        } catch (const config_error& e) {
            std::cerr << "metricsd_config_docs: " << dir << "README.md: " << e.what() << '\n';
            return 1;
        }
        return 0;
    }
    std::cerr << "usage: metricsd_config_docs --schema | --table | --update SOURCE_DIR\n";
    return 2;
}
