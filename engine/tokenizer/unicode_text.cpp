#include "tokenizer/unicode_text.h"

#include "tokenizer/unicode_data.h"

#include <algorithm>

namespace daub::unicode {

namespace ud = unicode_data;

namespace {

constexpr char32_t kReplacement = 0xFFFD;

// Hangul syllables compose and decompose by arithmetic (Unicode 3.12).
constexpr char32_t kSBase = 0xAC00, kLBase = 0x1100, kVBase = 0x1161, kTBase = 0x11A7;
constexpr char32_t kLCount = 19, kVCount = 21, kTCount = 28;
constexpr char32_t kNCount = kVCount * kTCount, kSCount = kLCount * kNCount;

bool in_ranges(const ud::CodeRange* ranges, std::size_t n, char32_t cp) {
    const ud::CodeRange* end = ranges + n;
    // First range whose last >= cp.
    const ud::CodeRange* it = std::lower_bound(
        ranges, end, cp, [](const ud::CodeRange& r, char32_t c) { return r.last < c; });
    return it != end && it->first <= cp;
}

void decompose_into(std::u32string& out, char32_t cp) {
    if (cp >= kSBase && cp < kSBase + kSCount) {
        const char32_t s = cp - kSBase;
        out.push_back(kLBase + s / kNCount);
        out.push_back(kVBase + (s % kNCount) / kTCount);
        if (s % kTCount != 0)
            out.push_back(kTBase + s % kTCount);
        return;
    }
    const ud::Decomposition* end = ud::decompositions + ud::decompositions_size;
    const ud::Decomposition* it =
        std::lower_bound(ud::decompositions, end, cp,
                         [](const ud::Decomposition& d, char32_t c) { return d.cp < c; });
    if (it == end || it->cp != cp) {
        out.push_back(cp);
        return;
    }
    out.append(ud::decomposition_chars + it->offset, it->length);
}

/// The primary composite of (first, second), or 0.
char32_t compose_pair(char32_t first, char32_t second) {
    if (first >= kLBase && first < kLBase + kLCount && second >= kVBase &&
        second < kVBase + kVCount)
        return kSBase + ((first - kLBase) * kVCount + (second - kVBase)) * kTCount;
    if (first >= kSBase && first < kSBase + kSCount && (first - kSBase) % kTCount == 0 &&
        second > kTBase && second < kTBase + kTCount)
        return first + (second - kTBase);
    const ud::Composition* end = ud::compositions + ud::compositions_size;
    const ud::Composition* it = std::lower_bound(
        ud::compositions, end, std::pair{first, second},
        [](const ud::Composition& c, const std::pair<char32_t, char32_t>& key) {
            return c.first < key.first || (c.first == key.first && c.second < key.second);
        });
    if (it != end && it->first == first && it->second == second)
        return it->composite;
    return 0;
}

} // namespace

std::u32string decode_utf8(std::string_view text) {
    std::u32string out;
    out.reserve(text.size());
    const auto* s = reinterpret_cast<const unsigned char*>(text.data());
    const std::size_t n = text.size();
    std::size_t i = 0;
    while (i < n) {
        const unsigned char b = s[i];
        if (b < 0x80) {
            out.push_back(b);
            ++i;
            continue;
        }
        int len = 0;
        char32_t cp = 0, min = 0;
        if ((b & 0xE0) == 0xC0) {
            len = 2, cp = b & 0x1F, min = 0x80;
        } else if ((b & 0xF0) == 0xE0) {
            len = 3, cp = b & 0x0F, min = 0x800;
        } else if ((b & 0xF8) == 0xF0) {
            len = 4, cp = b & 0x07, min = 0x10000;
        } else { // stray continuation byte or invalid lead byte
            out.push_back(kReplacement);
            ++i;
            continue;
        }
        int k = 1;
        for (; k < len && i + k < n && (s[i + k] & 0xC0) == 0x80; ++k)
            cp = (cp << 6) | (s[i + k] & 0x3F);
        if (k < len || cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
            out.push_back(kReplacement); // the bytes read so far form one bad sequence
            i += k;
            continue;
        }
        out.push_back(cp);
        i += len;
    }
    return out;
}

void append_utf8(std::string& out, char32_t cp) {
    if (cp < 0x80) {
        out.push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
        out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
        out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
        out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
        out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else {
        out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
        out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    }
}

std::string encode_utf8(std::u32string_view text) {
    std::string out;
    out.reserve(text.size());
    for (char32_t cp : text)
        append_utf8(out, cp);
    return out;
}

bool is_letter(char32_t cp) {
    if (cp < 0x80)
        return (cp | 0x20) >= 'a' && (cp | 0x20) <= 'z';
    return in_ranges(ud::letter_ranges, ud::letter_ranges_size, cp);
}

bool is_number(char32_t cp) {
    if (cp < 0x80)
        return cp >= '0' && cp <= '9';
    return in_ranges(ud::number_ranges, ud::number_ranges_size, cp);
}

bool is_space(char32_t cp) {
    return (cp >= 0x09 && cp <= 0x0D) || cp == 0x20 || cp == 0x85 || cp == 0xA0 || cp == 0x1680 ||
           (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 || cp == 0x202F ||
           cp == 0x205F || cp == 0x3000;
}

int combining_class(char32_t cp) {
    if (cp < 0x300)
        return 0;
    const ud::CombiningClass* end = ud::combining_classes + ud::combining_classes_size;
    const ud::CombiningClass* it =
        std::lower_bound(ud::combining_classes, end, cp,
                         [](const ud::CombiningClass& r, char32_t c) { return r.last < c; });
    return it != end && it->first <= cp ? it->ccc : 0;
}

void append_lowercase(std::u32string& out, char32_t cp) {
    if (cp < 0x80) {
        out.push_back(cp >= 'A' && cp <= 'Z' ? cp + 32 : cp);
        return;
    }
    const ud::CodeMap* end = ud::lowercase_map + ud::lowercase_map_size;
    const ud::CodeMap* it = std::lower_bound(
        ud::lowercase_map, end, cp, [](const ud::CodeMap& m, char32_t c) { return m.from < c; });
    if (it != end && it->from == cp) {
        out.push_back(it->to);
        return;
    }
    for (std::size_t i = 0; i < ud::lowercase_multi_size; ++i) {
        const ud::MultiLower& m = ud::lowercase_multi[i];
        if (m.from == cp) {
            for (char32_t c : m.to)
                if (c != 0)
                    out.push_back(c);
            return;
        }
    }
    out.push_back(cp);
}

std::u32string nfc(std::u32string_view text) {
    // ASCII (and anything below U+0300 without a decomposition) is already NFC.
    if (std::all_of(text.begin(), text.end(), [](char32_t c) { return c < 0xC0; }))
        return std::u32string(text);

    // 1. Full canonical decomposition.
    std::u32string d;
    d.reserve(text.size() + 8);
    for (char32_t cp : text)
        decompose_into(d, cp);

    // 2. Canonical ordering: stable sort of every run of non-starters by class.
    for (std::size_t i = 0; i < d.size();) {
        if (combining_class(d[i]) == 0) {
            ++i;
            continue;
        }
        std::size_t j = i;
        while (j < d.size() && combining_class(d[j]) != 0)
            ++j;
        std::stable_sort(d.begin() + i, d.begin() + j, [](char32_t a, char32_t b) {
            return combining_class(a) < combining_class(b);
        });
        i = j;
    }

    // 3. Canonical composition: each character joins the last starter unless
    // a character between them blocks it (class 0, or a class >= its own).
    std::u32string out;
    out.reserve(d.size());
    std::ptrdiff_t starter = -1;
    int last_class = 0; // class of the last character kept after the starter
    for (char32_t cp : d) {
        const int cls = combining_class(cp);
        if (starter >= 0) {
            const bool adjacent = starter == static_cast<std::ptrdiff_t>(out.size()) - 1;
            if (adjacent || (last_class != 0 && last_class < cls)) {
                if (char32_t c = compose_pair(out[starter], cp)) {
                    out[starter] = c;
                    continue;
                }
            }
        }
        if (cls == 0) {
            starter = static_cast<std::ptrdiff_t>(out.size());
            last_class = 0;
        } else {
            last_class = cls;
        }
        out.push_back(cp);
    }
    return out;
}

const char* tables_version() {
    return ud::unicode_version;
}

} // namespace daub::unicode
