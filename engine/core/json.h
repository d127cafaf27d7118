// Reading the JSON files of a diffusers folder (model_index.json,
// config.json, scheduler_config.json) with errors that name the file.
#pragma once

#include <nlohmann/json.hpp>

#include <string>

namespace daub {

/// Parses a JSON file; ModelError("<path>: ...") when missing or invalid.
nlohmann::json read_json_file(const std::string& path);

/// `j[key]` as T, or `fallback` when the key is absent or null.
template <typename T>
T json_value(const nlohmann::json& j, const char* key, const T& fallback) {
    auto it = j.find(key);
    if (it == j.end() || it->is_null())
        return fallback;
    return it->template get<T>();
}

} // namespace daub
