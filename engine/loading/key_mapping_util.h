// Small string helpers shared by the key_mapping_*.cpp renaming files.
#pragma once

#include "core/errors.h"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace daub::keymap {

inline bool starts_with(std::string_view s, std::string_view prefix) {
    return s.substr(0, prefix.size()) == prefix;
}

/// "a.b.c" -> {"a", "b", "c"}.
inline std::vector<std::string> split_dots(std::string_view s) {
    std::vector<std::string> out;
    size_t start = 0;
    while (true) {
        const size_t dot = s.find('.', start);
        out.emplace_back(s.substr(start, dot == std::string_view::npos ? s.size() - start
                                                                        : dot - start));
        if (dot == std::string_view::npos)
            break;
        start = dot + 1;
    }
    return out;
}

/// parts[from..] joined with dots.
inline std::string join_from(const std::vector<std::string>& parts, size_t from) {
    std::string out;
    for (size_t i = from; i < parts.size(); ++i) {
        if (i > from)
            out += '.';
        out += parts[i];
    }
    return out;
}

/// A non-negative decimal block index, or -1 when `s` is not one.
inline int64_t parse_index(const std::string& s) {
    if (s.empty() || s.size() > 6)
        return -1;
    int64_t v = 0;
    for (char c : s) {
        if (c < '0' || c > '9')
            return -1;
        v = v * 10 + (c - '0');
    }
    return v;
}

/// The ModelError for a key inside a component's prefix that has no place
/// in the diffusers model.
[[noreturn]] inline void unknown_key(const std::string& file, const std::string& key,
                                     const std::string& component) {
    throw ModelError(file + ": tensor '" + key + "' is not part of a " + component +
                     " that Daub knows (is this a model variant Daub does not run?).");
}

} // namespace daub::keymap
