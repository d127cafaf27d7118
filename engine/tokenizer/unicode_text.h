// The Unicode operations of the CLIP tokenizer, answering as Hugging Face
// `tokenizers` does: UTF-8 decoding, NFC, lower case (Rust's
// char::to_lowercase), and the character classes of its regular expressions
// (Oniguruma's \s, \p{L}, \p{N}). Tables: unicode_data.cpp.
#pragma once

#include <string>
#include <string_view>

namespace daub::unicode {

/// Decodes UTF-8; each invalid or truncated sequence becomes U+FFFD, as
/// Python's decode(errors="replace") does for the text it is handed.
std::u32string decode_utf8(std::string_view text);
/// Appends the UTF-8 encoding of `cp` to `out`.
void append_utf8(std::string& out, char32_t cp);
/// The UTF-8 encoding of `text`.
std::string encode_utf8(std::u32string_view text);

/// General_Category L (Lu, Ll, Lt, Lm, Lo): `\p{L}`.
bool is_letter(char32_t cp);
/// General_Category N (Nd, Nl, No): `\p{N}`.
bool is_number(char32_t cp);
/// White_Space, Oniguruma's `\s`: U+0009-000D, 0020, 0085, 00A0, 1680,
/// 2000-200A, 2028, 2029, 202F, 205F, 3000.
bool is_space(char32_t cp);
/// Canonical combining class (0 for starters).
int combining_class(char32_t cp);

/// Appends the full lower case of `cp` (one code point, or several for
/// U+0130), without context, as Rust's char::to_lowercase.
void append_lowercase(std::u32string& out, char32_t cp);
/// Canonical composition (Unicode Normalization Form C).
std::u32string nfc(std::u32string_view text);

/// The Unicode version of the tables.
const char* tables_version();

} // namespace daub::unicode
