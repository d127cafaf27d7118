#include "pipelines/prompt_chunks.h"

#include "core/errors.h"
#include "tokenizer/clip_tokenizer.h"

#include <algorithm>
#include <climits>

namespace daub {

namespace {

/// A prompt's token ids without BOS and EOS, untruncated.
std::vector<int64_t> prompt_token_ids(const ClipTokenizer& tokenizer, const std::string& text) {
    std::vector<int64_t> ids = tokenizer.encode(text); // BOS, tokens, EOS
    ids.pop_back();
    ids.erase(ids.begin());
    return ids;
}

/// The 77 ids and weights of a chunk's tokens (at most 75).
PromptChunk make_chunk(const ClipTokenizer& tokenizer, const std::vector<int64_t>& ids,
                       const std::vector<double>& weights) {
    PromptChunk chunk;
    chunk.ids.reserve(kPromptChunkTokens + 2);
    chunk.ids.push_back(tokenizer.bos_id());
    chunk.ids.insert(chunk.ids.end(), ids.begin(), ids.end());
    chunk.ids.push_back(tokenizer.eos_id());
    chunk.ids.resize(kPromptChunkTokens + 2, tokenizer.pad_id());
    chunk.weights.assign(kPromptChunkTokens + 2, 1.0);
    std::copy(weights.begin(), weights.end(), chunk.weights.begin() + 1);
    return chunk;
}

/// A1111's tokenize_line: fills chunks of 75 tokens. `out` null: counts only.
class ChunkBuilder {
public:
    ChunkBuilder(const ClipTokenizer& tokenizer, std::vector<PromptChunk>* out, int max_chunks)
        : tokenizer_(tokenizer), out_(out), max_chunks_(max_chunks),
          comma_id_(tokenizer.token_id(",</w>")) {}

    /// Chunks the pieces; returns the token count.
    int run(const std::vector<PromptWeight>& parsed) {
        for (const auto& [text, weight] : parsed) {
            if (text == "BREAK" && weight == -1.0) {
                next_chunk(false);
                continue;
            }
            for (int64_t token : prompt_token_ids(tokenizer_, text))
                add(token, weight);
        }
        if (!ids_.empty() || chunk_count_ == 0)
            next_chunk(true);
        return static_cast<int>(std::min<int64_t>(token_count_, INT_MAX));
    }

private:
    void add(int64_t token, double weight) {
        const auto full = static_cast<std::size_t>(kPromptChunkTokens);
        if (token == comma_id_) {
            last_comma_ = static_cast<int>(ids_.size());
        } else if (ids_.size() == full && last_comma_ != -1 &&
                   kPromptChunkTokens - last_comma_ <= kCommaBacktrack) {
            // Full, and a comma is near its end: what follows the comma moves on.
            const auto cut = static_cast<std::ptrdiff_t>(last_comma_ + 1);
            std::vector<int64_t> moved_ids(ids_.begin() + cut, ids_.end());
            std::vector<double> moved_weights(weights_.begin() + cut, weights_.end());
            ids_.resize(static_cast<std::size_t>(cut));
            weights_.resize(static_cast<std::size_t>(cut));
            next_chunk(false);
            ids_ = std::move(moved_ids);
            weights_ = std::move(moved_weights);
        }
        if (ids_.size() == full)
            next_chunk(false);
        ids_.push_back(token);
        weights_.push_back(weight);
    }

    /// Closes the current chunk. Only the last one counts its own tokens;
    /// the others count 75.
    void next_chunk(bool is_last) {
        token_count_ += is_last ? static_cast<int64_t>(ids_.size()) : kPromptChunkTokens;
        ++chunk_count_;
        if (out_ != nullptr) {
            if (chunk_count_ > max_chunks_)
                throw RequestError("The prompt is longer than " +
                                   std::to_string(max_chunks_ * kPromptChunkTokens) + " tokens (" +
                                   std::to_string(max_chunks_) +
                                   " chunks of 75), the most Daub encodes; shorten it.");
            out_->push_back(make_chunk(tokenizer_, ids_, weights_));
        }
        ids_.clear();
        weights_.clear();
        last_comma_ = -1;
    }

    const ClipTokenizer& tokenizer_;
    std::vector<PromptChunk>* out_;
    int max_chunks_;
    int64_t comma_id_;
    std::vector<int64_t> ids_;    ///< the current chunk's tokens (at most 75)
    std::vector<double> weights_; ///< their weights
    int last_comma_ = -1;         ///< index of the current chunk's last comma
    int64_t token_count_ = 0;
    int64_t chunk_count_ = 0;
};

} // namespace

bool PromptChunk::weighted() const {
    return std::any_of(weights.begin(), weights.end(), [](double w) { return w != 1.0; });
}

ChunkedPrompt chunk_prompt(const ClipTokenizer& tokenizer, const std::vector<PromptWeight>& parsed,
                           int max_chunks) {
    ChunkedPrompt result;
    result.token_count = ChunkBuilder(tokenizer, &result.chunks, max_chunks).run(parsed);
    return result;
}

ChunkedPrompt chunk_prompt(const ClipTokenizer& tokenizer, std::string_view prompt,
                           int max_chunks) {
    return chunk_prompt(tokenizer, parse_prompt_attention(prompt), max_chunks);
}

int count_prompt_tokens(const ClipTokenizer& tokenizer, std::string_view prompt) {
    return ChunkBuilder(tokenizer, nullptr, 0).run(parse_prompt_attention(prompt));
}

int prompt_token_limit(int token_count) {
    const int64_t tokens = std::max(token_count, 1);
    const int64_t chunks = (tokens + kPromptChunkTokens - 1) / kPromptChunkTokens;
    return static_cast<int>(std::min<int64_t>(chunks * kPromptChunkTokens, INT_MAX));
}

PromptChunk empty_prompt_chunk(const ClipTokenizer& tokenizer) {
    return make_chunk(tokenizer, {}, {});
}

void pad_prompt_chunks(ChunkedPrompt& prompt, std::size_t count, const ClipTokenizer& tokenizer) {
    while (prompt.chunks.size() < count)
        prompt.chunks.push_back(empty_prompt_chunk(tokenizer));
}

} // namespace daub
