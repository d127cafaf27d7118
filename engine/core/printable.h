// Bytes from a file quoted in an error message: printable ASCII only, so a
// hostile name cannot put control characters or a megabyte into the chat.
#pragma once

#include <string>
#include <string_view>

namespace daub {

/// Printable ASCII of `s` (other bytes as '?'), at most 80 characters and
/// "..." when it was longer.
inline std::string printable(std::string_view s) {
    std::string out;
    for (char c : s.substr(0, 80))
        out += (c >= 0x20 && c < 0x7f) ? c : '?';
    if (s.size() > 80)
        out += "...";
    return out;
}

} // namespace daub
