#include "tokenizer/clip_tokenizer.h"

#include "core/errors.h"
#include "core/json.h"
#include "tokenizer/clip_builtin.h"
#include "tokenizer/unicode_text.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <charconv>
#include <filesystem>
#include <fstream>
#include <queue>
#include <sstream>

namespace daub {

namespace {

constexpr const char* kEndOfWord = "</w>";
constexpr std::size_t kCacheCapacity = 10000; // words; as `tokenizers`' BPE cache
/// The largest token id a tokenizer file may use (vocab.json and
/// added_tokens_decoder): ids index a table of tokens, so a hostile id must not
/// size it. CLIP has 49,408 tokens; the largest vocabularies have a few 100,000.
constexpr int64_t kMaxTokenId = 999'999;

/// GPT-2's reversible byte -> character table: printable bytes map to
/// themselves, the others to U+0100 onwards.
std::array<char32_t, 256> byte_to_char() {
    std::array<char32_t, 256> table{};
    char32_t next = 256;
    for (int b = 0; b < 256; ++b) {
        const bool printable =
            (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
        table[b] = printable ? static_cast<char32_t>(b) : next++;
    }
    return table;
}

bool starts_with_at(const std::u32string& text, std::size_t pos, std::u32string_view what) {
    return text.size() - pos >= what.size() &&
           std::u32string_view(text).substr(pos, what.size()) == what;
}

/// Length of a contraction ('s 't 're 've 'm 'll 'd) at `pos`, or 0.
std::size_t contraction_at(const std::u32string& text, std::size_t pos) {
    if (text[pos] != U'\'' || pos + 1 >= text.size())
        return 0;
    const char32_t a = text[pos + 1];
    if (a == U's' || a == U't' || a == U'm' || a == U'd')
        return 2;
    if (pos + 2 < text.size()) {
        const char32_t b = text[pos + 2];
        if ((a == U'r' && b == U'e') || (a == U'v' && b == U'e') || (a == U'l' && b == U'l'))
            return 3;
    }
    return 0;
}

bool is_other(char32_t c) {
    return !unicode::is_space(c) && !unicode::is_letter(c) && !unicode::is_number(c);
}

/// The words of `text` by CLIP's split pattern (`clip`):
///   <\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+
/// or by GPT-2's, which the byte-level step applies to each of them again:
///   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
/// (only ever given text without whitespace, where it reduces to the
/// contractions and runs of letters, of digits and of other characters).
/// Whitespace between words is dropped.
template <typename Fn> void split_words(const std::u32string& text, bool clip, Fn&& emit) {
    static constexpr std::u32string_view kStart = U"<|startoftext|>";
    static constexpr std::u32string_view kEnd = U"<|endoftext|>";
    const std::size_t n = text.size();
    std::size_t i = 0;
    while (i < n) {
        const char32_t c = text[i];
        std::size_t len = 0;
        if (clip && c == U'<' && starts_with_at(text, i, kStart)) {
            len = kStart.size();
        } else if (clip && c == U'<' && starts_with_at(text, i, kEnd)) {
            len = kEnd.size();
        } else if ((len = contraction_at(text, i)) != 0) {
        } else if (unicode::is_letter(c)) {
            for (len = 1; i + len < n && unicode::is_letter(text[i + len]);)
                ++len;
        } else if (unicode::is_number(c)) {
            for (len = 1; !clip && i + len < n && unicode::is_number(text[i + len]);)
                ++len;
        } else if (unicode::is_space(c)) {
            ++i;
            continue;
        } else {
            for (len = 1; i + len < n && is_other(text[i + len]);)
                ++len;
        }
        emit(i, len);
        i += len;
    }
}

/// The normaliser: NFC, every run of whitespace to one space, lower case.
std::u32string normalize(std::u32string_view text) {
    const std::u32string composed = unicode::nfc(text);
    std::u32string out;
    out.reserve(composed.size());
    for (std::size_t i = 0; i < composed.size();) {
        if (unicode::is_space(composed[i])) {
            out.push_back(U' ');
            while (i < composed.size() && unicode::is_space(composed[i]))
                ++i;
            continue;
        }
        unicode::append_lowercase(out, composed[i]);
        ++i;
    }
    return out;
}

std::string read_text_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in)
        throw ModelError(path + ": file is missing or unreadable.");
    std::ostringstream buffer;
    buffer << in.rdbuf();
    return buffer.str();
}

/// A special token of tokenizer_config.json: a string, or an AddedToken
/// object {"content": ..., "normalized": ...}.
void read_token_field(const nlohmann::json& config, const char* key, std::string& content,
                      std::unordered_map<std::string, bool>& normalized, const std::string& path) {
    auto it = config.find(key);
    if (it == config.end() || it->is_null())
        return;
    if (it->is_string()) {
        content = it->get<std::string>();
    } else if (it->is_object() && it->contains("content") && (*it)["content"].is_string()) {
        content = (*it)["content"].get<std::string>();
        if (it->contains("normalized") && (*it)["normalized"].is_boolean())
            normalized[content] = (*it)["normalized"].get<bool>();
    } else {
        throw ModelError(path + ": \"" + key +
                         "\" must be a string or an object with \"content\".");
    }
}

/// SAX reader of vocab.json: one flat object of token -> non-negative id.
class VocabReader : public nlohmann::json_sax<nlohmann::json> {
public:
    explicit VocabReader(std::unordered_map<std::string, int64_t>& vocab) : vocab_(vocab) {}
    std::string problem; ///< set when the file parses but is not a vocabulary

    bool start_object(std::size_t) override { return depth_++ == 0 || fail("nested objects"); }
    bool end_object() override { return --depth_, true; }
    bool key(string_t& k) override { return key_ = std::move(k), true; }
    bool number_integer(number_integer_t v) override { return add(v); }
    bool number_unsigned(number_unsigned_t v) override {
        return add(v > kMaxId ? -1 : static_cast<int64_t>(v));
    }
    bool null() override { return bad_value(); }
    bool boolean(bool) override { return bad_value(); }
    bool number_float(number_float_t, const string_t&) override { return bad_value(); }
    bool string(string_t&) override { return depth_ == 0 ? fail("a string") : bad_value(); }
    bool binary(binary_t&) override { return bad_value(); }
    bool start_array(std::size_t) override { return depth_ == 0 ? fail("an array") : bad_value(); }
    bool end_array() override { return true; }
    bool parse_error(std::size_t, const std::string&,
                     const nlohmann::detail::exception& e) override {
        problem = std::string("invalid JSON (") + e.what() + ")";
        return false;
    }

private:
    static constexpr int64_t kMaxId = kMaxTokenId;
    bool add(int64_t id) {
        if (depth_ != 1)
            return fail("a bare number");
        if (id < 0 || id > kMaxId)
            return bad_value();
        vocab_.insert_or_assign(std::move(key_), id);
        return true;
    }
    bool bad_value() {
        return fail("the id of \"" + key_ + "\" not being an integer between 0 and " +
                    std::to_string(kMaxId));
    }
    bool fail(const std::string& what) {
        if (problem.empty())
            problem = "expected one JSON object of token -> id, found " + what;
        return false;
    }

    std::unordered_map<std::string, int64_t>& vocab_;
    std::string key_;
    int depth_ = 0;
};

std::unordered_map<std::string, int64_t> read_vocab(const std::string& path) {
    const std::string text = read_text_file(path);
    std::unordered_map<std::string, int64_t> vocab;
    vocab.reserve(65536);
    VocabReader reader(vocab);
    const bool ok = nlohmann::json::sax_parse(text, &reader);
    if (!ok || !reader.problem.empty())
        throw ModelError(path + ": " +
                         (reader.problem.empty() ? std::string("invalid JSON") : reader.problem) +
                         ".");
    if (vocab.empty())
        throw ModelError(path + ": holds no tokens.");
    return vocab;
}

} // namespace

std::vector<std::pair<std::string, std::string>> parse_clip_merges(std::string_view text,
                                                                   const std::string& source) {
    std::vector<std::pair<std::string, std::string>> merges;
    merges.reserve(50000);
    std::size_t line_no = 0;
    for (std::size_t pos = 0; pos < text.size();) {
        std::size_t end = text.find('\n', pos);
        if (end == std::string_view::npos)
            end = text.size();
        std::string_view line = text.substr(pos, end - pos);
        pos = end + 1;
        ++line_no;
        if (!line.empty() && line.back() == '\r')
            line.remove_suffix(1);
        if (line.empty() || (line_no == 1 && line.rfind("#version", 0) == 0))
            continue;
        const std::size_t space = line.find(' ');
        if (space == std::string_view::npos || space == 0 || space + 1 == line.size() ||
            line.find(' ', space + 1) != std::string_view::npos)
            throw ModelError(source + ": line " + std::to_string(line_no) +
                             " is not a merge of two tokens separated by one space.");
        merges.emplace_back(std::string(line.substr(0, space)),
                            std::string(line.substr(space + 1)));
    }
    if (merges.empty())
        throw ModelError(source + ": holds no merges.");
    return merges;
}

std::vector<std::string>
clip_vocabulary(const std::vector<std::pair<std::string, std::string>>& merges) {
    // bytes_to_unicode's order: the printable bytes (which stand for
    // themselves) ascending, then the others ascending (U+0100 onwards).
    const auto table = byte_to_char();
    std::vector<std::string> bytes;
    bytes.reserve(256);
    for (const bool printable : {true, false})
        for (int b = 0; b < 256; ++b)
            if ((table[b] == static_cast<char32_t>(b)) == printable) {
                std::string ch;
                unicode::append_utf8(ch, table[b]);
                bytes.push_back(std::move(ch));
            }
    std::vector<std::string> vocab;
    vocab.reserve(2 * bytes.size() + merges.size() + 2);
    vocab.insert(vocab.end(), bytes.begin(), bytes.end());
    for (const std::string& ch : bytes)
        vocab.push_back(ch + kEndOfWord);
    for (const auto& [left, right] : merges)
        vocab.push_back(left + right);
    vocab.emplace_back("<|startoftext|>");
    vocab.emplace_back("<|endoftext|>");
    return vocab;
}

// ---------------------------------------------------------------------------
// Loading

ClipTokenizer ClipTokenizer::from_folder(const std::string& dir,
                                         const std::string& pad_token_override) {
    namespace fs = std::filesystem;
    const std::string vocab_path = (fs::path(dir) / "vocab.json").string();
    const std::string merges_path = (fs::path(dir) / "merges.txt").string();
    const std::string config_path = (fs::path(dir) / "tokenizer_config.json").string();
    const std::string special_path = (fs::path(dir) / "special_tokens_map.json").string();

    // vocab.json: {"token": id, ...}, read without building a JSON tree.
    std::unordered_map<std::string, int64_t> vocab = read_vocab(vocab_path);

    // merges.txt: "#version: 0.2", then one "left right" pair per line in rank order.
    const std::vector<std::pair<std::string, std::string>> merges =
        parse_clip_merges(read_text_file(merges_path), merges_path);

    // tokenizer_config.json (optional), with special_tokens_map.json below it.
    Config config;
    std::unordered_map<std::string, bool> normalized;
    std::vector<ClipAddedToken> added;
    for (const std::string& path : {special_path, config_path}) {
        if (!fs::exists(path))
            continue;
        const nlohmann::json j = read_json_file(path);
        if (!j.is_object())
            throw ModelError(path + ": expected a JSON object.");
        read_token_field(j, "bos_token", config.bos_token, normalized, path);
        read_token_field(j, "eos_token", config.eos_token, normalized, path);
        read_token_field(j, "unk_token", config.unk_token, normalized, path);
        read_token_field(j, "pad_token", config.pad_token, normalized, path);
        if (auto it = j.find("model_max_length"); it != j.end() && it->is_number_integer()) {
            const int64_t n = it->get<int64_t>();
            if (n >= 2 && n <= 1000000) // transformers writes 1e30 for "no limit"
                config.model_max_length = static_cast<int>(n);
        }
        if (auto it = j.find("added_tokens_decoder"); it != j.end() && it->is_object()) {
            for (const auto& [key, entry] : it->items()) {
                ClipAddedToken t;
                const auto [end, error] =
                    std::from_chars(key.data(), key.data() + key.size(), t.id);
                if (error != std::errc() || end != key.data() + key.size() || key.empty() ||
                    t.id < 0 || t.id > kMaxTokenId)
                    throw ModelError(path + ": added_tokens_decoder id \"" + key +
                                     "\" is not an integer between 0 and " +
                                     std::to_string(kMaxTokenId) + ".");
                try {
                    t.content = entry.at("content").get<std::string>();
                    t.normalized = json_value(entry, "normalized", false);
                } catch (const std::exception&) {
                    throw ModelError(path + ": added_tokens_decoder entry \"" + key +
                                     "\" needs a \"content\" string.");
                }
                normalized[t.content] = t.normalized;
                added.push_back(std::move(t));
            }
        }
    }
    if (!pad_token_override.empty())
        config.pad_token = pad_token_override;
    for (ClipAddedToken& t : added)
        t.normalized = normalized[t.content];
    // Flags given on bos_token etc. without an added_tokens_decoder entry.
    for (const auto& [content, flag] : normalized) {
        if (std::none_of(added.begin(), added.end(), [&name = content](const ClipAddedToken& t) {
                return t.content == name;
            })) {
            if (auto it = vocab.find(content); it != vocab.end())
                added.push_back({content, it->second, flag});
        }
    }
    return ClipTokenizer(std::move(vocab), merges, std::move(config), std::move(added), dir);
}

ClipTokenizer ClipTokenizer::builtin(const std::string& pad_token_override) {
    const std::string source = "the CLIP tokenizer compiled into Daub";
    const std::vector<std::pair<std::string, std::string>> merges =
        parse_clip_merges(clip_builtin_merges_text(), source);
    if (merges.size() != kClipMergeCount)
        throw ModelError(source + " holds " + std::to_string(merges.size()) + " merges, not " +
                         std::to_string(kClipMergeCount) + ".");
    const std::vector<std::string> tokens = clip_vocabulary(merges);
    std::unordered_map<std::string, int64_t> vocab;
    vocab.reserve(tokens.size());
    for (std::size_t id = 0; id < tokens.size(); ++id)
        if (!vocab.emplace(tokens[id], static_cast<int64_t>(id)).second)
            throw ModelError(source + " builds the token \"" + tokens[id] + "\" twice.");
    // As the tokenizer folders of SD 1.5 and SDXL (clip-vit-large-patch14).
    Config config;
    if (!pad_token_override.empty())
        config.pad_token = pad_token_override;
    return ClipTokenizer(std::move(vocab), merges, std::move(config), {}, source);
}

ClipTokenizer::ClipTokenizer(std::unordered_map<std::string, int64_t> vocab,
                             const std::vector<std::pair<std::string, std::string>>& merges,
                             Config config, std::vector<ClipAddedToken> extra_added_tokens,
                             const std::string& source)
    : config_(std::move(config)), vocab_(std::move(vocab)),
      cache_mutex_(std::make_unique<std::mutex>()) {
    int64_t max_id = -1;
    for (const auto& [token, id] : vocab_)
        max_id = std::max(max_id, id);
    for (const ClipAddedToken& t : extra_added_tokens)
        max_id = std::max(max_id, t.id);
    id_to_token_.resize(static_cast<std::size_t>(max_id + 1));
    for (const auto& [token, id] : vocab_)
        id_to_token_[id] = token;

    // Byte symbols: each byte's character alone and with the end-of-word mark.
    const auto table = byte_to_char();
    for (int b = 0; b < 256; ++b) {
        std::string ch;
        unicode::append_utf8(ch, table[b]);
        byte_id_[b] = token_id(ch);
        byte_eow_id_[b] = token_id(ch + kEndOfWord);
    }

    merges_.reserve(merges.size() * 2);
    for (std::size_t rank = 0; rank < merges.size(); ++rank) {
        const auto& [left, right] = merges[rank];
        const int64_t a = token_id(left), b = token_id(right), m = token_id(left + right);
        if (a < 0 || b < 0 || m < 0)
            throw ModelError(source + "/merges.txt: merge " + std::to_string(rank + 1) + " (\"" +
                             left + "\" \"" + right +
                             "\") uses a token that is not in vocab.json.");
        merges_.insert_or_assign((static_cast<uint64_t>(a) << 32) | static_cast<uint64_t>(b),
                                 Merge{static_cast<int32_t>(rank), static_cast<int32_t>(m)});
    }

    // Special tokens: ids from the vocabulary (or added_tokens_decoder); all
    // of them are matched literally in prompts.
    auto add = [&](const ClipAddedToken& t) {
        auto& list = t.normalized ? normalized_added_ : raw_added_;
        for (const ClipAddedToken& have : raw_added_)
            if (have.content == t.content)
                return;
        for (const ClipAddedToken& have : normalized_added_)
            if (have.content == t.content)
                return;
        list.push_back(t);
    };
    for (const ClipAddedToken& t : extra_added_tokens) {
        if (t.content.empty())
            continue;
        if (static_cast<std::size_t>(t.id) < id_to_token_.size() && id_to_token_[t.id].empty())
            id_to_token_[t.id] = t.content;
        add(t);
    }
    bos_id_ = lookup_special(config_.bos_token, "bos_token", source);
    eos_id_ = lookup_special(config_.eos_token, "eos_token", source);
    unk_id_ = lookup_special(config_.unk_token, "unk_token", source);
    pad_id_ = lookup_special(config_.pad_token, "pad_token", source);
    for (const auto& [content, id] :
         {std::pair{config_.bos_token, bos_id_}, std::pair{config_.eos_token, eos_id_},
          std::pair{config_.unk_token, unk_id_}, std::pair{config_.pad_token, pad_id_}})
        add({content, id, false});
    for (const ClipAddedToken& t : normalized_added_)
        normalized_added_text_.push_back(normalize(unicode::decode_utf8(t.content)));
}

int64_t ClipTokenizer::lookup_special(const std::string& content, const std::string& what,
                                      const std::string& source) const {
    if (content.empty())
        throw ModelError(source + "/tokenizer_config.json: " + what + " is empty.");
    const int64_t id = token_id(content);
    if (id < 0)
        throw ModelError(source + "/vocab.json: the " + what + " \"" + content +
                         "\" is not in the vocabulary.");
    return id;
}

ClipTokenizer::ClipTokenizer(ClipTokenizer&&) noexcept = default;
ClipTokenizer& ClipTokenizer::operator=(ClipTokenizer&&) noexcept = default;
ClipTokenizer::~ClipTokenizer() = default;

std::string ClipTokenizer::token(int64_t id) const {
    if (id < 0 || static_cast<std::size_t>(id) >= id_to_token_.size())
        return {};
    return id_to_token_[id];
}

int64_t ClipTokenizer::token_id(const std::string& token) const {
    auto it = vocab_.find(token);
    if (it != vocab_.end())
        return it->second;
    for (const auto* list : {&raw_added_, &normalized_added_})
        for (const ClipAddedToken& t : *list)
            if (t.content == token)
                return t.id;
    return -1;
}

// ---------------------------------------------------------------------------
// Encoding

std::vector<int64_t> ClipTokenizer::encode(const std::string& text) const {
    std::vector<int64_t> ids;
    ids.reserve(text.size() / 3 + 8);
    ids.push_back(bos_id_);
    encode_text(text, ids);
    ids.push_back(eos_id_);
    return ids;
}

std::vector<int64_t> ClipTokenizer::encode_padded(const std::string& text, int max_length) const {
    if (max_length < 2)
        throw RequestError("The token length " + std::to_string(max_length) +
                           " is too short: it must hold at least the start and end tokens.");
    std::vector<int64_t> ids = encode(text);
    if (ids.size() > static_cast<std::size_t>(max_length)) {
        ids.resize(max_length);
        ids.back() = eos_id_; // truncation keeps the end token last
    }
    ids.resize(max_length, pad_id_);
    return ids;
}

std::vector<std::string> ClipTokenizer::tokenize(const std::string& text) const {
    std::vector<int64_t> ids;
    encode_text(text, ids);
    std::vector<std::string> tokens;
    tokens.reserve(ids.size());
    for (int64_t id : ids)
        tokens.push_back(token(id));
    return tokens;
}

void ClipTokenizer::encode_text(std::string_view text, std::vector<int64_t>& out) const {
    // 1. Cut out the special tokens written in the raw text (leftmost, then
    //    longest match); normalise and encode the text between them.
    std::size_t piece_start = 0;
    auto flush = [&](std::size_t end) {
        if (end > piece_start)
            encode_normalized(
                normalize(unicode::decode_utf8(text.substr(piece_start, end - piece_start))), out);
    };
    for (std::size_t i = 0; i < text.size();) {
        const ClipAddedToken* best = nullptr;
        for (const ClipAddedToken& t : raw_added_)
            if (text.compare(i, t.content.size(), t.content) == 0 &&
                (best == nullptr || t.content.size() > best->content.size()))
                best = &t;
        if (best == nullptr) {
            ++i;
            continue;
        }
        flush(i);
        out.push_back(best->id);
        i += best->content.size();
        piece_start = i;
    }
    flush(text.size());
}

void ClipTokenizer::encode_normalized(const std::u32string& text, std::vector<int64_t>& out) const {
    // 2. Special tokens that match the normalised text (normalized: true).
    std::size_t piece_start = 0;
    auto flush = [&](std::size_t end) {
        if (end <= piece_start)
            return;
        const std::u32string piece = text.substr(piece_start, end - piece_start);
        // 3. CLIP's split, then the byte-level step's GPT-2 split of each word.
        split_words(piece, true, [&](std::size_t pos, std::size_t len) {
            const std::u32string word = piece.substr(pos, len);
            split_words(word, false, [&](std::size_t p, std::size_t l) {
                encode_word(unicode::encode_utf8(std::u32string_view(word).substr(p, l)), out);
            });
        });
    };
    for (std::size_t i = 0; i < text.size() && !normalized_added_.empty();) {
        std::size_t best = normalized_added_.size(), best_len = 0;
        for (std::size_t k = 0; k < normalized_added_.size(); ++k) {
            const std::u32string& t = normalized_added_text_[k];
            if (!t.empty() && t.size() > best_len && starts_with_at(text, i, t))
                best = k, best_len = t.size();
        }
        if (best == normalized_added_.size()) {
            ++i;
            continue;
        }
        flush(i);
        out.push_back(normalized_added_[best].id);
        i += best_len;
        piece_start = i;
    }
    flush(text.size());
}

void ClipTokenizer::encode_word(std::string_view word, std::vector<int64_t>& out) const {
    const std::string key(word);
    {
        std::lock_guard lock(*cache_mutex_);
        if (auto it = cache_.find(key); it != cache_.end()) {
            out.insert(out.end(), it->second.begin(), it->second.end());
            return;
        }
    }
    std::vector<int64_t> ids = bpe(word);
    out.insert(out.end(), ids.begin(), ids.end());
    std::lock_guard lock(*cache_mutex_);
    if (cache_.size() < kCacheCapacity)
        cache_.emplace(key, std::move(ids));
}

std::vector<int64_t> ClipTokenizer::bpe(std::string_view word) const {
    // 4. One symbol per byte, the last one with "</w>"; then apply merges,
    //    lowest rank first and, for equal ranks, leftmost first (as
    //    `tokenizers`' Word::merge_all).
    struct Symbol {
        int64_t id;
        int32_t prev, next; // neighbours in the list; -1 at the ends
        bool alive;
    };
    std::vector<Symbol> sym;
    sym.reserve(word.size());
    for (std::size_t i = 0; i < word.size(); ++i) {
        const auto b = static_cast<unsigned char>(word[i]);
        int64_t id = i + 1 == word.size() ? byte_eow_id_[b] : byte_id_[b];
        if (id < 0)
            id = unk_id_;
        sym.push_back({id, static_cast<int32_t>(i) - 1, static_cast<int32_t>(i) + 1, true});
    }
    if (!sym.empty())
        sym.back().next = -1;

    struct Candidate {
        int32_t rank, pos;
        int64_t new_id;
        bool operator>(const Candidate& o) const {
            return rank != o.rank ? rank > o.rank : pos > o.pos;
        }
    };
    std::priority_queue<Candidate, std::vector<Candidate>, std::greater<>> queue;
    auto find_merge = [&](int64_t a, int64_t b) -> const Merge* {
        auto it = merges_.find((static_cast<uint64_t>(a) << 32) | static_cast<uint64_t>(b));
        return it == merges_.end() ? nullptr : &it->second;
    };
    auto push = [&](int32_t pos) {
        if (pos < 0 || sym[pos].next < 0)
            return;
        if (const Merge* m = find_merge(sym[pos].id, sym[sym[pos].next].id))
            queue.push({m->rank, pos, m->id});
    };
    for (int32_t i = 0; i + 1 < static_cast<int32_t>(sym.size()); ++i)
        push(i);

    while (!queue.empty()) {
        const Candidate top = queue.top();
        queue.pop();
        Symbol& left = sym[top.pos];
        if (!left.alive || left.next < 0)
            continue;
        const Merge* m = find_merge(left.id, sym[left.next].id);
        if (m == nullptr || m->id != top.new_id)
            continue; // stale: one side has changed since it was queued
        Symbol& right = sym[left.next];
        left.id = top.new_id;
        right.alive = false;
        left.next = right.next;
        if (right.next >= 0)
            sym[right.next].prev = top.pos;
        push(left.prev);
        push(top.pos);
    }

    std::vector<int64_t> ids;
    for (int32_t i = sym.empty() ? -1 : 0; i >= 0; i = sym[i].next)
        if (sym[i].id >= 0)
            ids.push_back(sym[i].id);
    return ids;
}

} // namespace daub
