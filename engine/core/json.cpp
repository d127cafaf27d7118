#include "core/json.h"

#include "core/errors.h"

#include <fstream>

namespace daub {

nlohmann::json read_json_file(const std::string& path) {
    std::ifstream in(path);
    if (!in)
        throw ModelError(path + ": file is missing or unreadable.");
    try {
        return nlohmann::json::parse(in);
    } catch (const nlohmann::json::exception& e) {
        throw ModelError(path + ": invalid JSON (" + e.what() + ").");
    }
}

} // namespace daub
