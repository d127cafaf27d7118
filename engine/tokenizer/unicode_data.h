// Unicode tables of the tokenizer, generated into unicode_data.cpp by
// gen_unicode_data.py. Internal to engine/tokenizer: use unicode_text.h.
#pragma once

#include <cstddef>
#include <cstdint>

namespace daub::unicode_data {

/// An inclusive run of code points [first, last].
struct CodeRange {
    char32_t first;
    char32_t last;
};

/// A one-to-one mapping, e.g. an upper-case letter to its lower case.
struct CodeMap {
    char32_t from;
    char32_t to;
};

/// A code point whose lower case is several code points (U+0130 -> "i\u0307").
struct MultiLower {
    char32_t from;
    char32_t to[3]; ///< zero-terminated when shorter than 3
};

/// A run of code points sharing one non-zero canonical combining class.
struct CombiningClass {
    char32_t first;
    char32_t last;
    std::uint8_t ccc;
};

/// Full canonical decomposition of `cp`: decomposition_chars[offset, offset + length).
struct Decomposition {
    char32_t cp;
    std::uint16_t offset;
    std::uint8_t length;
};

/// A primary composite: `first` followed by `second` composes to `composite`.
struct Composition {
    char32_t first;
    char32_t second;
    char32_t composite;
};

extern const char* const unicode_version;
extern const CodeRange letter_ranges[]; ///< General_Category L*, sorted
extern const std::size_t letter_ranges_size;
extern const CodeRange number_ranges[]; ///< General_Category N*, sorted
extern const std::size_t number_ranges_size;
extern const CodeMap lowercase_map[]; ///< sorted by `from`
extern const std::size_t lowercase_map_size;
extern const MultiLower lowercase_multi[]; ///< sorted by `from`
extern const std::size_t lowercase_multi_size;
extern const CombiningClass combining_classes[]; ///< sorted, non-zero classes only
extern const std::size_t combining_classes_size;
extern const char32_t decomposition_chars[];
extern const Decomposition decompositions[]; ///< sorted by `cp`, Hangul excluded
extern const std::size_t decompositions_size;
extern const Composition compositions[]; ///< sorted by (first, second), Hangul excluded
extern const std::size_t compositions_size;

} // namespace daub::unicode_data
