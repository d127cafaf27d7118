#include "metadata/prompt_syntax.h"

#include "core/errors.h"
#include "tokenizer/unicode_text.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>
#include <system_error>

namespace daub {

namespace {

constexpr double kRoundMultiplier = 1.1;      // (text)
constexpr double kSquareMultiplier = 1 / 1.1; // [text], divided in double as Python does
// Limits against hostile text (a prompt read from an image file): each
// closing bracket multiplies every piece since its opening one, so the work
// grows with pieces × nesting depth.
constexpr std::size_t kMaxPromptBytes = std::size_t{1} << 20;
constexpr std::size_t kMaxBracketDepth = 256;

/// True when `c` is one of `set`. (Not strchr: it finds '\0', the end of
/// its string, so a NUL in a prompt stopped the text scan from advancing.)
bool is_one_of(char c, std::string_view set) { return set.find(c) != std::string_view::npos; }

/// One code point decoded from UTF-8 at `pos`, and its length in bytes; a
/// byte that starts no valid sequence is U+FFFD of length 1.
std::pair<char32_t, std::size_t> decode_at(std::string_view s, std::size_t pos) {
    const auto b0 = static_cast<unsigned char>(s[pos]);
    if (b0 < 0x80)
        return {b0, 1};
    std::size_t len = 0;
    char32_t cp = 0, min = 0;
    if ((b0 & 0xE0) == 0xC0)
        len = 2, cp = b0 & 0x1F, min = 0x80;
    else if ((b0 & 0xF0) == 0xE0)
        len = 3, cp = b0 & 0x0F, min = 0x800;
    else if ((b0 & 0xF8) == 0xF0)
        len = 4, cp = b0 & 0x07, min = 0x10000;
    else
        return {0xFFFD, 1};
    if (s.size() - pos < len)
        return {0xFFFD, 1};
    for (std::size_t k = 1; k < len; ++k) {
        const auto b = static_cast<unsigned char>(s[pos + k]);
        if ((b & 0xC0) != 0x80)
            return {0xFFFD, 1};
        cp = (cp << 6) | (b & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return {0xFFFD, 1};
    return {cp, len};
}

/// The code point that ends just before `pos` (> 0), and its length.
std::pair<char32_t, std::size_t> decode_before(std::string_view s, std::size_t pos) {
    std::size_t start = pos - 1;
    while (start > 0 && pos - start < 4 && (static_cast<unsigned char>(s[start]) & 0xC0) == 0x80)
        --start;
    const auto [cp, len] = decode_at(s, start);
    if (start + len == pos)
        return {cp, len};
    return {0xFFFD, 1};
}

/// Python's `\s` in a str pattern (str.isspace).
bool is_python_space(char32_t c) {
    return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20) || c == 0x85 || c == 0xA0 ||
           c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 ||
           c == 0x202F || c == 0x205F || c == 0x3000;
}

/// Python's `\w` in a str pattern: letters, numbers and '_'.
bool is_python_word(char32_t c) {
    return c == U'_' || unicode::is_letter(c) || unicode::is_number(c);
}

/// The zeros of Unicode 14's runs of decimal digits (General_Category Nd),
/// each followed by its 1 to 9: Python's `\d`, and what its float() reads.
constexpr char32_t kDecimalZeros[] = {
    0x30,    0x660,   0x6F0,   0x7C0,   0x966,   0x9E6,   0xA66,   0xAE6,   0xB66,   0xBE6,
    0xC66,   0xCE6,   0xD66,   0xDE6,   0xE50,   0xED0,   0xF20,   0x1040,  0x1090,  0x17E0,
    0x1810,  0x1946,  0x19D0,  0x1A80,  0x1A90,  0x1B50,  0x1BB0,  0x1C40,  0x1C50,  0xA620,
    0xA8D0,  0xA900,  0xA9D0,  0xA9F0,  0xAA50,  0xABF0,  0xFF10,  0x104A0, 0x10D30, 0x11066,
    0x110F0, 0x11136, 0x111D0, 0x112F0, 0x11450, 0x114D0, 0x11650, 0x116C0, 0x11730, 0x118E0,
    0x11950, 0x11C50, 0x11D50, 0x11DA0, 0x16A60, 0x16AC0, 0x16B50, 0x1D7CE, 0x1D7D8, 0x1D7E2,
    0x1D7EC, 0x1D7F6, 0x1E140, 0x1E2F0, 0x1E950, 0x1FBF0};

/// The value of a decimal digit (Python's `\d`), or -1.
int decimal_value(char32_t c) {
    const auto* it = std::upper_bound(std::begin(kDecimalZeros), std::end(kDecimalZeros), c);
    if (it == std::begin(kDecimalZeros))
        return -1;
    const char32_t zero = *(it - 1);
    return c - zero < 10 ? static_cast<int>(c - zero) : -1;
}

/// `s` split at each `\s*\bBREAK\b\s*`, as Python's re.split.
std::vector<std::string_view> split_at_break(std::string_view s) {
    static constexpr std::string_view kBreak = "BREAK";
    std::vector<std::string_view> parts;
    std::size_t part_start = 0, search = 0;
    while (true) {
        std::size_t p = s.find(kBreak, search);
        for (; p != std::string_view::npos; p = s.find(kBreak, p + 1)) {
            const bool word_before = p > 0 && is_python_word(decode_before(s, p).first);
            const std::size_t after = p + kBreak.size();
            const bool word_after = after < s.size() && is_python_word(decode_at(s, after).first);
            if (!word_before && !word_after)
                break;
        }
        if (p == std::string_view::npos)
            break;
        // The leftmost match starts at the whitespace run before BREAK (the
        // previous match took the whitespace before `search`).
        std::size_t start = p;
        while (start > search) {
            const auto [cp, len] = decode_before(s, start);
            if (!is_python_space(cp))
                break;
            start -= len;
        }
        std::size_t end = p + kBreak.size();
        while (end < s.size()) {
            const auto [cp, len] = decode_at(s, end);
            if (!is_python_space(cp))
                break;
            end += len;
        }
        parts.push_back(s.substr(part_start, start - part_start));
        part_start = search = end;
    }
    parts.push_back(s.substr(part_start));
    return parts;
}

/// A weight closing a round bracket at `pos` (a ':'): `:\s*([+-]?[.\d]+)\s*\)`.
struct WeightMatch {
    std::size_t end = 0;     ///< one past the ')'; 0 when there is no match
    std::string_view number; ///< the `[+-]?[.\d]+` group
};

WeightMatch match_weight(std::string_view s, std::size_t pos) {
    std::size_t i = pos + 1;
    auto skip_space = [&] {
        while (i < s.size()) {
            const auto [cp, len] = decode_at(s, i);
            if (!is_python_space(cp))
                break;
            i += len;
        }
    };
    skip_space();
    const std::size_t number_start = i;
    if (i < s.size() && (s[i] == '+' || s[i] == '-'))
        ++i;
    const std::size_t digits_start = i;
    while (i < s.size()) {
        const auto [cp, len] = decode_at(s, i);
        if (cp != U'.' && decimal_value(cp) < 0)
            break;
        i += len;
    }
    if (i == digits_start)
        return {};
    const std::size_t number_end = i;
    skip_space();
    if (i >= s.size() || s[i] != ')')
        return {};
    return {i + 1, s.substr(number_start, number_end - number_start)};
}

/// Python's float() of `[+-]?[.\d]+`: a number when it has a digit and at
/// most one '.'; decimal strings beyond the double range become ±inf or ±0.
double parse_weight(std::string_view number) {
    auto not_a_number = [&] {
        return RequestError("The prompt's attention weight \"" + std::string(number) +
                            "\" is not a number; write it as (text:1.2).");
    };
    // The digits in ASCII (Python reads every script's decimal digits).
    std::string ascii;
    for (std::size_t i = 0; i < number.size();) {
        const auto [cp, len] = decode_at(number, i);
        ascii += cp < 0x80 ? static_cast<char>(cp) : static_cast<char>('0' + decimal_value(cp));
        i += len;
    }
    std::string_view digits = ascii;
    const bool negative = digits.front() == '-';
    if (digits.front() == '+' || digits.front() == '-')
        digits.remove_prefix(1);
    const auto dots = std::count(digits.begin(), digits.end(), '.');
    if (dots > 1 || static_cast<std::size_t>(dots) == digits.size())
        throw not_a_number();
    double value = 0;
    const auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
    if (ec == std::errc::result_out_of_range) {
        // Too large when a non-zero digit comes before the '.', else too small.
        const std::string_view whole = digits.substr(0, digits.find('.'));
        value = whole.find_first_not_of('0') != std::string_view::npos ? HUGE_VAL : 0.0;
    } else if (ec != std::errc() || ptr != digits.data() + digits.size()) {
        throw not_a_number();
    }
    return negative ? -value : value;
}

/// Python's repr of a float, or json.dumps' word for the non-finite ones.
void append_python_float(std::string& out, double v) {
    if (std::isnan(v)) {
        out += "NaN";
        return;
    }
    if (std::isinf(v)) {
        out += v < 0 ? "-Infinity" : "Infinity";
        return;
    }
    // Shortest round-trip digits, as "d.ddde±x".
    char buf[64];
    const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::scientific);
    std::string_view sci(buf, static_cast<std::size_t>(end - buf));
    if (!sci.empty() && sci.front() == '-') {
        out += '-';
        sci.remove_prefix(1);
    }
    const std::size_t e = sci.find('e');
    std::string digits;
    for (char c : sci.substr(0, e))
        if (c != '.')
            digits += c;
    int exponent = 0;
    std::from_chars(sci.data() + e + 1 + (sci[e + 1] == '+'), sci.data() + sci.size(), exponent);
    if (exponent < -4 || exponent >= 16) { // repr switches to exponent notation there
        out += digits[0];
        if (digits.size() > 1)
            out += '.' + digits.substr(1);
        out += exponent < 0 ? "e-" : "e+";
        const std::string mag = std::to_string(std::abs(exponent));
        if (mag.size() < 2)
            out += '0';
        out += mag;
        return;
    }
    if (exponent < 0) {
        out += "0." + std::string(static_cast<std::size_t>(-exponent - 1), '0') + digits;
        return;
    }
    const std::size_t whole = static_cast<std::size_t>(exponent) + 1;
    if (digits.size() <= whole) {
        out += digits + std::string(whole - digits.size(), '0') + ".0";
    } else {
        out += digits.substr(0, whole) + '.' + digits.substr(whole);
    }
}

void append_json_string(std::string& out, std::string_view s) {
    out += '"';
    for (std::size_t i = 0; i < s.size();) {
        const auto [cp, len] = decode_at(s, i);
        const char c = s[i];
        if (c == '"' || c == '\\') {
            out += '\\';
            out += c;
        } else if (cp < 0x20) {
            static const char* hex = "0123456789abcdef";
            out += "\\u00";
            out += hex[cp >> 4];
            out += hex[cp & 15];
        } else if (cp == 0xFFFD && len == 1) {
            out += "\xEF\xBF\xBD"; // a byte that is not UTF-8
        } else {
            out.append(s.substr(i, len));
        }
        i += len;
    }
    out += '"';
}

} // namespace

std::vector<PromptWeight> parse_prompt_attention(std::string_view text) {
    std::vector<PromptWeight> res;
    std::vector<std::size_t> round_brackets, square_brackets;

    auto multiply_range = [&](std::size_t start, double multiplier) {
        for (std::size_t p = start; p < res.size(); ++p)
            res[p].second *= multiplier;
    };
    auto pop = [](std::vector<std::size_t>& stack) {
        const std::size_t top = stack.back();
        stack.pop_back();
        return top;
    };
    auto append_text = [&](std::string_view piece) {
        const std::vector<std::string_view> parts = split_at_break(piece);
        for (std::size_t k = 0; k < parts.size(); ++k) {
            if (k > 0)
                res.emplace_back("BREAK", -1.0);
            res.emplace_back(std::string(parts[k]), 1.0);
        }
    };

    if (text.size() > kMaxPromptBytes)
        throw RequestError("The prompt is " + std::to_string(text.size()) +
                           " bytes long; Daub reads prompts of up to " +
                           std::to_string(kMaxPromptBytes) + " bytes.");
    auto open = [&](std::vector<std::size_t>& stack) {
        if (round_brackets.size() + square_brackets.size() >= kMaxBracketDepth)
            throw RequestError("The prompt opens more than " + std::to_string(kMaxBracketDepth) +
                               " brackets at once; close some, or write \\( for a literal one.");
        stack.push_back(res.size());
    };

    // The tokens of A1111's re_attention, in its order of alternatives.
    const std::size_t n = text.size();
    for (std::size_t i = 0; i < n;) {
        const char c = text[i];
        if (c == '\\') {
            // \( \) \[ \] \\ give the character; a lone backslash gives "".
            if (i + 1 < n && is_one_of(text[i + 1], "()[]\\")) {
                res.emplace_back(std::string(1, text[i + 1]), 1.0);
                i += 2;
            } else {
                res.emplace_back("", 1.0);
                i += 1;
            }
        } else if (c == '(') {
            open(round_brackets);
            ++i;
        } else if (c == '[') {
            open(square_brackets);
            ++i;
        } else if (c == ':') {
            const WeightMatch w = match_weight(text, i);
            if (w.end != 0 && !round_brackets.empty()) {
                multiply_range(pop(round_brackets), parse_weight(w.number));
                i = w.end;
            } else if (w.end != 0) {
                append_text(text.substr(i, w.end - i));
                i = w.end;
            } else {
                append_text(":");
                ++i;
            }
        } else if (c == ')' && !round_brackets.empty()) {
            multiply_range(pop(round_brackets), kRoundMultiplier);
            ++i;
        } else if (c == ']' && !square_brackets.empty()) {
            multiply_range(pop(square_brackets), kSquareMultiplier);
            ++i;
        } else if (c == ')' || c == ']') {
            append_text(text.substr(i, 1));
            ++i;
        } else {
            std::size_t j = i;
            while (j < n && !is_one_of(text[j], "\\()[]:"))
                ++j;
            append_text(text.substr(i, j - i));
            i = j;
        }
    }

    // Brackets still open close at the end: round ones first, outermost first.
    for (std::size_t pos : round_brackets)
        multiply_range(pos, kRoundMultiplier);
    for (std::size_t pos : square_brackets)
        multiply_range(pos, kSquareMultiplier);

    if (res.empty())
        res.emplace_back("", 1.0);

    // Merge runs of equal weights (into the first of each run, as A1111).
    std::vector<PromptWeight> merged;
    for (PromptWeight& piece : res) {
        if (!merged.empty() && merged.back().second == piece.second)
            merged.back().first += piece.first;
        else
            merged.push_back(std::move(piece));
    }
    return merged;
}

std::string prompt_weights_json(const std::vector<PromptWeight>& pairs) {
    std::string out = "[";
    for (std::size_t k = 0; k < pairs.size(); ++k) {
        if (k > 0)
            out += ',';
        out += '[';
        append_json_string(out, pairs[k].first);
        out += ',';
        append_python_float(out, pairs[k].second);
        out += ']';
    }
    out += ']';
    return out;
}

} // namespace daub
