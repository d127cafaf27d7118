// The AUTOMATIC1111 prompt syntax: the parser against A1111's doctests and
// more cases (pairs computed by A1111's parse_prompt_attention), daub-cli
// prompt --parse, chunks of 75 tokens (comma backtrack, BREAK, padding), the
// chunked and weighted text encoding on the tiny SD 1.5 and SDXL models, the
// token counter, and whole generations with long weighted prompts.
#include "golden.h"

#include "core/errors.h"
#include "core/runtime.h"
#include "core/safetensors.h"
#include "metadata/prompt_syntax.h"
#include "pipelines/prompt_chunks.h"
#include "pipelines/prompt_encoder.h"
#include "pipelines/stable_diffusion.h"

#include <QtTest/QtTest>
#include <torch/torch.h>

#include <atomic>
#include <chrono>
#include <thread>

using namespace daub;

Q_DECLARE_METATYPE(std::vector<daub::PromptWeight>)

namespace {

using Pairs = std::vector<PromptWeight>;

std::shared_ptr<StableDiffusion> load_model(const std::string& model) {
    LoadRequest r;
    r.path = test::fixture(model);
    r.device = "cpu";
    return std::shared_ptr<StableDiffusion>(
        static_cast<StableDiffusion*>(Pipeline::load(r).release()));
}

/// "[[\"a\", 1.1], ...]" with every digit of the weights, for failure messages.
std::string show(const Pairs& pairs) {
    std::string out = "[";
    for (const auto& [text, weight] : pairs) {
        char w[40];
        std::snprintf(w, sizeof w, "%.17g", weight);
        out += "[\"" + text + "\", " + w + "] ";
    }
    return out + "]";
}

/// Exact comparison: texts equal and weights equal as doubles.
void verify_pairs(const Pairs& got, const Pairs& want) {
    QVERIFY2(got == want, ("got " + show(got) + ", want " + show(want)).c_str());
}

/// "w w w ... w" (n words).
std::string repeat_word(const std::string& word, int n) {
    std::string s;
    for (int i = 0; i < n; ++i)
        s += (i ? " " : "") + word;
    return s;
}

std::vector<int64_t> ids_of(const ClipTokenizer& tok, const std::string& word) {
    std::vector<int64_t> ids = tok.encode(word);
    return std::vector<int64_t>(ids.begin() + 1, ids.end() - 1);
}

/// The old, diffusers-only encoding of a prompt of up to 75 tokens: the 77
/// padded ids through the encoder(s), as encode_prompt did before chunks.
std::pair<at::Tensor, at::Tensor> direct_encoding(const Components& c, const std::string& text,
                                                  int clip_skip) {
    torch::InferenceMode guard;
    auto ids = [&](const ClipTokenizer& tok) {
        return torch::tensor(tok.encode_padded(text, 77), torch::kLong).unsqueeze(0);
    };
    if (c.info.family == ModelFamily::SD15) {
        ClipTextModel te = c.text_encoder;
        if (clip_skip == 1)
            return {te->forward(ids(*c.tokenizer)).last_hidden_state, {}};
        ClipTextOutput out = te->forward(ids(*c.tokenizer));
        return {te->apply_final_layer_norm(out.hidden_state(-clip_skip)), {}};
    }
    ClipTextModel te1 = c.text_encoder, te2 = c.text_encoder_2;
    ClipTextOutput out1 = te1->forward(ids(*c.tokenizer));
    ClipTextOutput out2 = te2->forward(ids(*c.tokenizer_2));
    const int64_t index = -(clip_skip + 1);
    return {torch::cat({out1.hidden_state(index), out2.hidden_state(index)}, -1), out2.text_embeds};
}

/// Equal up to float rounding (a chunk encoded in a batch of several, or alone).
bool close(const at::Tensor& a, const at::Tensor& b, double tol = 1e-5) {
    return a.sizes() == b.sizes() && (a - b).abs().max().item<double>() <= tol;
}

} // namespace

class TestPromptSyntax : public QObject {
    Q_OBJECT

    std::shared_ptr<StableDiffusion> sd15_, sdxl_;
    const Components* c15_ = nullptr;
    const Components* cxl_ = nullptr;

private Q_SLOTS:
    void initTestCase() {
        QVERIFY2(test::fixtures_present(), "fixtures folder missing: set DAUB_FIXTURES");
        init_runtime();
        sd15_ = load_model("tiny-sd15");
        sdxl_ = load_model("tiny-sdxl");
        c15_ = &sd15_->txt2img().components();
        cxl_ = &sdxl_->txt2img().components();
    }

    // ------------------------------------------------------------- parser

    /// Every doctest of A1111's parse_prompt_attention, verbatim.
    void a1111_doctests_data() {
        QTest::addColumn<QString>("prompt");
        QTest::addColumn<Pairs>("expected");
        QTest::newRow("normal text") << "normal text" << Pairs{{"normal text", 1.0}};
        QTest::newRow("an (important) word")
            << "an (important) word" << Pairs{{"an ", 1.0}, {"important", 1.1}, {" word", 1.0}};
        QTest::newRow("(unbalanced") << "(unbalanced" << Pairs{{"unbalanced", 1.1}};
        QTest::newRow("\\(literal\\]") << "\\(literal\\]" << Pairs{{"(literal]", 1.0}};
        QTest::newRow("(unnecessary)(parens)")
            << "(unnecessary)(parens)" << Pairs{{"unnecessaryparens", 1.1}};
        QTest::newRow("house on a hill") << "a (((house:1.3)) [on] a (hill:0.5), sun, (((sky)))."
                                         << Pairs{{"a ", 1.0},      {"house", 1.5730000000000004},
                                                  {" ", 1.1},       {"on", 1.0},
                                                  {" a ", 1.1},     {"hill", 0.55},
                                                  {", sun, ", 1.1}, {"sky", 1.4641000000000006},
                                                  {".", 1.1}};
    }
    void a1111_doctests() {
        QFETCH(QString, prompt);
        QFETCH(Pairs, expected);
        verify_pairs(parse_prompt_attention(prompt.toStdString()), expected);
    }

    /// Weights, escapes, unbalanced brackets, BREAK and merging; the pairs
    /// are what A1111's parser returns for the same text.
    void syntax_data() {
        QTest::addColumn<QString>("prompt");
        QTest::addColumn<Pairs>("expected");
        QTest::newRow("empty") << "" << Pairs{{"", 1.0}};
        QTest::newRow("((text))") << "((text))" << Pairs{{"text", 1.2100000000000002}};
        QTest::newRow("(text:1.3)") << "(text:1.3)" << Pairs{{"text", 1.3}};
        QTest::newRow("[text]") << "[text]" << Pairs{{"text", 0.9090909090909091}};
        QTest::newRow("[[text]]") << "[[text]]" << Pairs{{"text", 0.8264462809917354}};
        QTest::newRow("((a)") << "((a)" << Pairs{{"a", 1.2100000000000002}};
        QTest::newRow("[(a)]") << "[(a)]" << Pairs{{"a", 1.0}};
        QTest::newRow("(a[b]c)") << "(a[b]c)" << Pairs{{"a", 1.1}, {"b", 1.0}, {"c", 1.1}};
        QTest::newRow("(a)(b:1.1) merge") << "(a)(b:1.1)" << Pairs{{"ab", 1.1}};
        QTest::newRow("spaces in weight") << "(a: 0.5 )" << Pairs{{"a", 0.5}};
        QTest::newRow("negative weight") << "(a:-1)" << Pairs{{"a", -1.0}};
        QTest::newRow("plus weight") << "(a:+.5)" << Pairs{{"a", 0.5}};
        QTest::newRow("other-script digits") << "(a:\u0661.\u0665)" << Pairs{{"a", 1.5}};
        QTest::newRow("weight never closed") << "(text:1.3" << Pairs{{"text:1.3", 1.1}};
        QTest::newRow("weight in square") << "[a:1.5]" << Pairs{{"a:1.5", 0.9090909090909091}};
        QTest::newRow("weight, nothing open") << "a:1.5) b" << Pairs{{"a:1.5) b", 1.0}};
        QTest::newRow("lone closers") << ")a]" << Pairs{{")a]", 1.0}};
        QTest::newRow("colon") << "a:b" << Pairs{{"a:b", 1.0}};
        QTest::newRow("escaped backslash") << "\\\\" << Pairs{{"\\", 1.0}};
        QTest::newRow("lone backslash") << "a\\b" << Pairs{{"ab", 1.0}};
        QTest::newRow("escapes") << "a \\( b \\) c \\[ d \\]" << Pairs{{"a ( b ) c [ d ]", 1.0}};
        QTest::newRow("BREAK") << "a cat BREAK a dog"
                               << Pairs{{"a cat", 1.0}, {"BREAK", -1.0}, {"a dog", 1.0}};
        QTest::newRow("BREAK alone") << "BREAK" << Pairs{{"", 1.0}, {"BREAK", -1.0}, {"", 1.0}};
        QTest::newRow("BREAK at the end")
            << "a BREAK" << Pairs{{"a", 1.0}, {"BREAK", -1.0}, {"", 1.0}};
        QTest::newRow("two BREAKs")
            << "BREAK\tBREAK"
            << Pairs{{"", 1.0}, {"BREAK", -1.0}, {"", 1.0}, {"BREAK", -1.0}, {"", 1.0}};
        QTest::newRow("BREAK in a word") << "xBREAK y" << Pairs{{"xBREAK y", 1.0}};
        QTest::newRow("BREAK before a letter") << "BREAKy" << Pairs{{"BREAKy", 1.0}};
        QTest::newRow("BREAK after a non-ASCII letter")
            << "\u00e9BREAK x" << Pairs{{"\u00e9BREAK x", 1.0}};
        QTest::newRow("BREAK between ideographic spaces")
            << "a\u3000BREAK\u3000b" << Pairs{{"a", 1.0}, {"BREAK", -1.0}, {"b", 1.0}};
        QTest::newRow("BREAK in brackets is weighted text")
            << "(a BREAK b)" << Pairs{{"a", 1.1}, {"BREAK", -1.1}, {"b", 1.1}};
    }
    void syntax() {
        QFETCH(QString, prompt);
        QFETCH(Pairs, expected);
        verify_pairs(parse_prompt_attention(prompt.toStdString()), expected);
    }

    void invalid_weight_is_refused() {
        for (const char* bad : {"(a:1.2.3)", "(a:.)", "x (a:..5) y"}) {
            try {
                parse_prompt_attention(bad);
                QFAIL(("accepted " + std::string(bad)).c_str());
            } catch (const RequestError& e) {
                QVERIFY2(std::string(e.what()).find("not a number") != std::string::npos, e.what());
            }
        }
        // Not a weight where no round bracket is open: text, as A1111.
        verify_pairs(parse_prompt_attention("a:1.2.3)"), Pairs{{"a:1.2.3)", 1.0}});
        // Out of the double range: inf and 0, as Python's float().
        const Pairs huge = parse_prompt_attention("(a:" + std::string(400, '9') + ")");
        QVERIFY(std::isinf(huge.at(0).second));
        const Pairs tiny = parse_prompt_attention("(a:0." + std::string(400, '0') + "1)");
        QCOMPARE(tiny.at(0).second, 0.0);
    }

    void hostile_text_is_bounded() {
        QCOMPARE(parse_prompt_attention(std::string(256, '(') + "a").at(0).first, std::string("a"));
        QVERIFY_THROWS_EXCEPTION(RequestError, parse_prompt_attention(std::string(257, '(')));
        QVERIFY_THROWS_EXCEPTION(RequestError,
                                 parse_prompt_attention(std::string((1 << 20) + 1, 'a')));
        // The worst case left (pieces × open brackets) stays quick: 255
        // brackets left open over 2^18 pieces (each lone backslash is one).
        QElapsedTimer t;
        t.start();
        const Pairs p = parse_prompt_attention(std::string(255, '(') + std::string(1 << 18, '\\'));
        QCOMPARE(p.size(), std::size_t{1});
        double w = 1.0;
        for (int i = 0; i < 255; ++i)
            w *= 1.1; // one bracket after the other, as A1111 multiplies
        QCOMPARE(p[0].second, w);
        QVERIFY2(t.elapsed() < 2000, "open brackets over many pieces took over 2 s");
    }

    void json_output() {
        QCOMPARE(prompt_weights_json(parse_prompt_attention("an (important) word")),
                 std::string("[[\"an \",1.0],[\"important\",1.1],[\" word\",1.0]]"));
        QCOMPARE(prompt_weights_json(parse_prompt_attention("a cat BREAK a dog")),
                 std::string("[[\"a cat\",1.0],[\"BREAK\",-1.0],[\"a dog\",1.0]]"));
        // Python's repr of each float; json.dumps' words for the others.
        const Pairs floats = {{"q\"\\\n", 1.5730000000000004},
                              {"", 1e16},
                              {"", 1e-05},
                              {"", 0.0001},
                              {"", 100.0},
                              {"", -0.0},
                              {"", 1.2345678901234568e+17},
                              {"", 0.55},
                              {"", INFINITY},
                              {"", -INFINITY},
                              {"", NAN}};
        QCOMPARE(prompt_weights_json(floats),
                 std::string("[[\"q\\\"\\\\\\u000a\",1.5730000000000004],[\"\",1e+16],[\"\",1e-05],"
                             "[\"\",0.0001],[\"\",100.0],[\"\",-0.0],[\"\",1.2345678901234568e+17],"
                             "[\"\",0.55],[\"\",Infinity],[\"\",-Infinity],[\"\",NaN]]"));
        // Bytes that are not UTF-8 become U+FFFD, so the line stays JSON.
        QCOMPARE(prompt_weights_json({{"a\xff", 1.0}}), std::string("[[\"a\xEF\xBF\xBD\",1.0]]"));
    }

    /// daub-cli prompt --parse, the two examples of the issue verbatim.
    void cli_parse_data() {
        QTest::addColumn<QString>("prompt");
        QTest::addColumn<QString>("line");
        QTest::newRow("weight") << "an (important) word"
                                << "[[\"an \",1.0],[\"important\",1.1],[\" word\",1.0]]";
        QTest::newRow("BREAK") << "a cat BREAK a dog"
                               << "[[\"a cat\",1.0],[\"BREAK\",-1.0],[\"a dog\",1.0]]";
    }
    void cli_parse() {
        QFETCH(QString, prompt);
        QFETCH(QString, line);
        QProcess p;
        p.start(QStringLiteral(DAUB_BINARY_DIR "/engine/tools/daub-cli"),
                {"prompt", "--parse", prompt});
        QVERIFY(p.waitForFinished(30000));
        QVERIFY2(p.exitCode() == 0, p.readAllStandardError().constData());
        QCOMPARE(QString::fromUtf8(p.readAllStandardOutput()), line + "\n");
    }
    void cli_parse_refusals() {
        const QString cli = QStringLiteral(DAUB_BINARY_DIR "/engine/tools/daub-cli");
        QProcess usage;
        usage.start(cli, {"prompt", "an (important) word"});
        QVERIFY(usage.waitForFinished(30000));
        QCOMPARE(usage.exitCode(), 2);
        QVERIFY(usage.readAllStandardError().contains("daub-cli prompt --parse TEXT"));
        QProcess bad;
        bad.start(cli, {"prompt", "--parse", "(a:1.2.3)"});
        QVERIFY(bad.waitForFinished(30000));
        QCOMPARE(bad.exitCode(), 1);
        QVERIFY(bad.readAllStandardError().contains("not a number"));
    }

    // ------------------------------------------------------------ chunks

    /// Up to 75 tokens without markup: the ids of encode_padded, both tokenizers.
    void short_prompt_is_encode_padded() {
        for (const ClipTokenizer* tok : {c15_->tokenizer.get(), cxl_->tokenizer_2.get()}) {
            for (const std::string prompt :
                 std::vector<std::string>{"a photo of a red fox in the snow", "blurry, low quality",
                                          "", "  ", repeat_word("a", 75)}) {
                const ChunkedPrompt cp = chunk_prompt(*tok, prompt);
                QCOMPARE(cp.chunks.size(), std::size_t{1});
                QVERIFY(cp.chunks[0].ids == tok->encode_padded(prompt, 77));
                QVERIFY(!cp.chunks[0].weighted());
                QCOMPARE(cp.token_count, static_cast<int>(tok->encode(prompt).size()) - 2);
            }
        }
    }

    /// 120 words: two chunks, each BOS + 75 + EOS.
    void long_prompt_two_chunks() {
        const ClipTokenizer& tok = *c15_->tokenizer;
        const int64_t a = ids_of(tok, "a").at(0);
        const ChunkedPrompt cp = chunk_prompt(tok, repeat_word("a", 120));
        QCOMPARE(cp.chunks.size(), std::size_t{2});
        QCOMPARE(cp.token_count, 120);
        for (const PromptChunk& chunk : cp.chunks) {
            QCOMPARE(chunk.ids.size(), std::size_t{77});
            QCOMPARE(chunk.weights.size(), std::size_t{77});
            QCOMPARE(chunk.ids[0], tok.bos_id());
        }
        const auto& c1 = cp.chunks[0].ids;
        const auto& c2 = cp.chunks[1].ids;
        QVERIFY(std::all_of(c1.begin() + 1, c1.begin() + 76, [&](int64_t id) { return id == a; }));
        QCOMPARE(c1[76], tok.eos_id());
        QVERIFY(std::all_of(c2.begin() + 1, c2.begin() + 46, [&](int64_t id) { return id == a; }));
        QCOMPARE(c2[46], tok.eos_id());
        QVERIFY(
            std::all_of(c2.begin() + 47, c2.end(), [&](int64_t id) { return id == tok.pad_id(); }));

        // A real 120+ word prompt: every token lands in order, 75 to a chunk.
        std::string words;
        for (int i = 0; i < 16; ++i)
            words += "a photo of a red fox in the snow ";
        const std::vector<int64_t> all = ids_of(tok, words);
        QVERIFY(all.size() > 150 && all.size() <= 225);
        const ChunkedPrompt real = chunk_prompt(tok, words);
        QCOMPARE(real.chunks.size(), std::size_t{3});
        std::vector<int64_t> joined;
        for (const PromptChunk& chunk : real.chunks) {
            QCOMPARE(chunk.ids[0], tok.bos_id());
            auto eos = std::find(chunk.ids.begin() + 1, chunk.ids.end(), tok.eos_id());
            QVERIFY(eos != chunk.ids.end());
            joined.insert(joined.end(), chunk.ids.begin() + 1, eos);
        }
        QVERIFY(joined == all);
    }

    /// A full chunk whose last comma is within its last 20 tokens moves what
    /// follows the comma to the next chunk; weights move with the tokens.
    void comma_backtrack() {
        for (const ClipTokenizer* tok : {c15_->tokenizer.get(), cxl_->tokenizer_2.get()}) {
            const int64_t a = ids_of(*tok, "a").at(0), comma = tok->token_id(",</w>");
            QVERIFY(comma >= 0);
            const std::string prompt = repeat_word("a", 70) + ", (a a a a a:1.5) a a a a a";
            const ChunkedPrompt cp = chunk_prompt(*tok, prompt);
            QCOMPARE(cp.chunks.size(), std::size_t{2});
            const PromptChunk& c1 = cp.chunks[0];
            const PromptChunk& c2 = cp.chunks[1];
            QCOMPARE(c1.ids[70], a);
            QCOMPARE(c1.ids[71], comma);
            QCOMPARE(c1.ids[72], tok->eos_id());
            for (int i = 73; i < 77; ++i)
                QCOMPARE(c1.ids[i], tok->pad_id());
            QVERIFY(!c1.weighted());
            for (int i = 1; i <= 10; ++i) {
                QCOMPARE(c2.ids[i], a);
                QCOMPARE(c2.weights[i], i <= 5 ? 1.5 : 1.0);
            }
            QCOMPARE(c2.ids[11], tok->eos_id());
            QCOMPARE(c2.weights[0], 1.0);
            QCOMPARE(cp.token_count, 75 + 10);
        }
    }

    /// 20 tokens back is the limit: a comma at index 55 moves the rest, at 54 not.
    void comma_backtrack_limit() {
        const ClipTokenizer& tok = *c15_->tokenizer;
        const int64_t comma = tok.token_id(",</w>");
        const ChunkedPrompt near =
            chunk_prompt(tok, repeat_word("a", 55) + ", " + repeat_word("a", 30));
        QCOMPARE(near.chunks[0].ids[56], comma);
        QCOMPARE(near.chunks[0].ids[57], tok.eos_id());
        QCOMPARE(near.token_count, 75 + 30);
        const ChunkedPrompt far =
            chunk_prompt(tok, repeat_word("a", 54) + ", " + repeat_word("a", 30));
        QCOMPARE(far.chunks[0].ids[55], comma);
        QCOMPARE(far.chunks[0].ids[76], tok.eos_id());
        QCOMPARE(far.chunks[0].ids[75], ids_of(tok, "a").at(0));
        QCOMPARE(far.token_count, 75 + 10);
        // A comma arriving when the chunk is full starts the next one.
        const ChunkedPrompt full = chunk_prompt(tok, repeat_word("a", 75) + ", a");
        QCOMPARE(full.chunks[1].ids[1], comma);
        QCOMPARE(full.token_count, 77);
    }

    void break_starts_a_chunk() {
        const ClipTokenizer& tok = *c15_->tokenizer;
        const int64_t a = ids_of(tok, "a").at(0);
        const ChunkedPrompt cp = chunk_prompt(tok, "a BREAK (a:1.2)");
        QCOMPARE(cp.chunks.size(), std::size_t{2});
        QCOMPARE(cp.token_count, 76);
        QCOMPARE(prompt_token_limit(cp.token_count), 150);
        QCOMPARE(cp.chunks[0].ids[1], a);
        QCOMPARE(cp.chunks[0].ids[2], tok.eos_id());
        QCOMPARE(cp.chunks[1].ids[1], a);
        QCOMPARE(cp.chunks[1].weights[1], 1.2);
        // A BREAK at the very end makes no empty last chunk; BREAK alone is one chunk.
        QCOMPARE(chunk_prompt(tok, "a BREAK").chunks.size(), std::size_t{1});
        QCOMPARE(chunk_prompt(tok, "a BREAK").token_count, 75);
        QCOMPARE(chunk_prompt(tok, "BREAK").chunks.size(), std::size_t{1});
        // Weighted BREAK is text, as A1111.
        QCOMPARE(chunk_prompt(tok, "(a BREAK a)").chunks.size(), std::size_t{1});
    }

    void empty_prompt_and_padding() {
        for (const ClipTokenizer* tok : {c15_->tokenizer.get(), cxl_->tokenizer_2.get()}) {
            const ChunkedPrompt empty = chunk_prompt(*tok, "");
            QCOMPARE(empty.token_count, 0);
            QCOMPARE(empty.chunks.size(), std::size_t{1});
            QVERIFY(empty.chunks[0].ids == empty_prompt_chunk(*tok).ids);
            QCOMPARE(empty.chunks[0].ids[0], tok->bos_id());
            QCOMPARE(empty.chunks[0].ids[1], tok->eos_id());
            QCOMPARE(empty.chunks[0].ids[2], tok->pad_id());
            // The negative prompt padded to the prompt's chunk count.
            ChunkedPrompt neg = chunk_prompt(*tok, "blurry");
            pad_prompt_chunks(neg, 3, *tok);
            QCOMPARE(neg.chunks.size(), std::size_t{3});
            QVERIFY(neg.chunks[0].ids == tok->encode_padded("blurry", 77));
            QVERIFY(neg.chunks[2].ids == empty.chunks[0].ids);
            QVERIFY(!neg.chunks[2].weighted());
        }
        QCOMPARE(cxl_->tokenizer_2->pad_id(), cxl_->tokenizer_2->token_id("!"));
    }

    void token_count_and_limit() {
        const ClipTokenizer& tok = *c15_->tokenizer;
        for (const auto& [tokens, limit] : std::vector<std::pair<int, int>>{{0, 75},
                                                                            {1, 75},
                                                                            {42, 75},
                                                                            {75, 75},
                                                                            {76, 150},
                                                                            {90, 150},
                                                                            {150, 150},
                                                                            {151, 225}})
            QCOMPARE(prompt_token_limit(tokens), limit);
        QCOMPARE(count_prompt_tokens(tok, repeat_word("a", 42)), 42);
        QCOMPARE(count_prompt_tokens(tok, repeat_word("(a:1.3)", 90)), 90);
        QCOMPARE(count_prompt_tokens(tok, "a BREAK b"), 76);
        // Counting has no chunk limit; encoding has.
        const std::string huge = repeat_word("a", 75 * kMaxPromptChunks + 1);
        QCOMPARE(count_prompt_tokens(tok, huge), 75 * kMaxPromptChunks + 1);
        QVERIFY_THROWS_EXCEPTION(RequestError, chunk_prompt(tok, huge));
        QCOMPARE(chunk_prompt(tok, repeat_word("a", 75 * kMaxPromptChunks)).chunks.size(),
                 std::size_t(kMaxPromptChunks));
        QVERIFY_THROWS_EXCEPTION(RequestError, count_prompt_tokens(tok, "(a:1..2)"));
    }

    // ----------------------------------------------------------- encoder

    /// The text-encoder goldens through encode_prompt (batch of one).
    void encoder_goldens() {
        const std::vector<std::string> prompts = {"a red fox in the snow", "blurry, low quality"};
        SafeTensorsFile g15(test::fixture("golden/sd15_text_encoder.safetensors"));
        SafeTensorsFile gxl(test::fixture("golden/sdxl_text_encoders.safetensors"));
        for (int64_t i = 0; i < 2; ++i) {
            const auto& p = prompts[static_cast<std::size_t>(i)];
            DAUB_VERIFY_GOLDEN("sd15 last_hidden_state",
                               encode_prompt(*c15_, p, std::nullopt, false, 1).embeds[0],
                               g15.load("last_hidden_state")[i]);
            DAUB_VERIFY_GOLDEN("sd15 clip skip 2",
                               encode_prompt(*c15_, p, std::nullopt, false, 2).embeds[0],
                               g15.load("penultimate_after_final_ln")[i]);
            const TextConditioning xl = encode_prompt(*cxl_, p, std::nullopt, false, 1);
            DAUB_VERIFY_GOLDEN("sdxl prompt_embeds", xl.embeds[0], gxl.load("prompt_embeds")[i]);
            DAUB_VERIFY_GOLDEN("sdxl pooled", xl.pooled[0], gxl.load("pooled_text_embeds")[i]);
        }
    }

    /// A plain prompt of up to 75 tokens gives bit for bit the embeddings of
    /// the padded 77 ids (the encoding before chunks and weights).
    void plain_prompt_encodes_as_before() {
        // (The tiny SDXL encoders have 3 layers: CLIP skip 1 only.)
        for (const Components* c : {c15_, cxl_}) {
            for (int skip : c == c15_ ? std::vector<int>{1, 2} : std::vector<int>{1}) {
                const std::string p = "a photo of a red fox in the snow";
                const TextConditioning t = encode_prompt(*c, p, "blurry", true, skip);
                const auto [pos, pos_pooled] = direct_encoding(*c, p, skip);
                const auto [neg, neg_pooled] = direct_encoding(*c, "blurry", 1);
                QVERIFY(torch::equal(t.embeds, torch::cat({neg, pos}, 0)));
                if (c == cxl_)
                    QVERIFY(torch::equal(t.pooled, torch::cat({neg_pooled, pos_pooled}, 0)));
            }
        }
    }

    /// 120 words: [B, 154, C]; the negative prompt padded to 154; the second
    /// chunk is that chunk's own encoding; SDXL's pooled is the first chunk's.
    void long_prompt_shapes() {
        const std::string p = repeat_word("a", 120);
        const TextConditioning s = encode_prompt(*c15_, p, "blurry", true, 1);
        QCOMPARE(s.embeds.sizes(), (at::IntArrayRef{2, 154, 32}));
        QVERIFY(!s.pooled.defined());
        QCOMPARE(encode_prompt(*c15_, p, std::nullopt, false, 2).embeds.sizes(),
                 (at::IntArrayRef{1, 154, 32}));
        // The negative's second chunk is the empty prompt's encoding.
        const at::Tensor empty = encode_prompt(*c15_, "", std::nullopt, false, 1).embeds[0];
        QVERIFY(close(s.embeds[0].slice(0, 77, 154), empty));
        // The prompt's second chunk: its 45 tokens encoded alone.
        const at::Tensor rest =
            encode_prompt(*c15_, repeat_word("a", 45), std::nullopt, false, 1).embeds[0];
        QVERIFY(close(s.embeds[1].slice(0, 77, 154), rest));
        const at::Tensor first =
            encode_prompt(*c15_, repeat_word("a", 75), std::nullopt, false, 1).embeds[0];
        QVERIFY(close(s.embeds[1].slice(0, 0, 77), first));

        const TextConditioning x = encode_prompt(*cxl_, p, "blurry", true, 1);
        QCOMPARE(x.embeds.sizes(), (at::IntArrayRef{2, 154, 80}));
        QCOMPARE(x.pooled.sizes(), (at::IntArrayRef{2, 40}));
        const TextConditioning x_first =
            encode_prompt(*cxl_, repeat_word("a", 75), std::nullopt, false, 1);
        QVERIFY(close(x.pooled[1], x_first.pooled[0]));
        QVERIFY(close(x.embeds[1].slice(0, 0, 77), x_first.embeds[0]));
        // force_zeros_for_empty_prompt: no negative prompt → zeros of the same length.
        QVERIFY(cxl_->force_zeros_for_empty_prompt);
        const TextConditioning z = encode_prompt(*cxl_, p, std::nullopt, true, 1);
        QCOMPARE(z.embeds.sizes(), (at::IntArrayRef{2, 154, 80}));
        QCOMPARE(z.embeds[0].abs().max().item<float>(), 0.0f);
        QCOMPARE(z.pooled[0].abs().max().item<float>(), 0.0f);
        QVERIFY(torch::equal(z.embeds[1], x.embeds[1]));
        // A long negative prompt pads the short prompt instead.
        const TextConditioning n = encode_prompt(*cxl_, "a", repeat_word("a", 160), true, 1);
        QCOMPARE(n.embeds.sizes(), (at::IntArrayRef{2, 231, 80}));
        QCOMPARE(x.embeds.scalar_type(), at::kFloat);
    }

    /// (b:1.5) scales b's row by 1.5 and every row by a common factor so the
    /// chunk's mean stays the plain prompt's (per encoder for SDXL).
    void weighted_prompt_keeps_mean() {
        for (const Components* c : {c15_, cxl_}) {
            const at::Tensor plain = encode_prompt(*c, "a b c", std::nullopt, false, 1).embeds[0];
            const at::Tensor weighted =
                encode_prompt(*c, "a (b:1.5) c", std::nullopt, false, 1).embeds[0];
            QVERIFY(!torch::equal(plain, weighted));
            const int64_t width = plain.size(-1);
            std::vector<std::pair<int64_t, int64_t>> parts = {{0, width}};
            if (c == cxl_)
                parts = {{0, 32}, {32, 80}}; // each encoder's own mean
            for (const auto& [from, to] : parts) {
                const at::Tensor p = plain.slice(-1, from, to).to(at::kDouble);
                const at::Tensor w = weighted.slice(-1, from, to).to(at::kDouble);
                const double mean_p = p.mean().item<double>(), mean_w = w.mean().item<double>();
                QVERIFY2(std::abs(mean_w - mean_p) <= 1e-5 * std::max(1.0, std::abs(mean_p)),
                         qPrintable(QString("mean %1 vs %2").arg(mean_w).arg(mean_p)));
                const at::Tensor scale = w.index({0, 0}) / p.index({0, 0}); // BOS: weight 1
                const double s = scale.item<double>();
                QVERIFY(s != 1.0);
                for (int64_t row : {0, 1, 3, 4, 76})
                    QVERIFY(close(w[row], p[row] * s, 1e-5));
                QVERIFY(close(w[2], p[2] * 1.5 * s, 1e-5));
            }
        }
    }

    /// (word:1.0) is the plain word: nothing is rescaled.
    void weight_one_is_plain() {
        for (const Components* c : {c15_, cxl_}) {
            const int skip = c == c15_ ? 2 : 1;
            const TextConditioning a =
                encode_prompt(*c, "a red (fox:1.0)", "(blurry:1)", true, skip);
            const TextConditioning b = encode_prompt(*c, "a red fox", "blurry", true, skip);
            QVERIFY(torch::equal(a.embeds, b.embeds));
        }
    }

    // ------------------------------------------------- pipeline and generate

    /// Pipeline::count_tokens as A1111's counter, while another thread generates.
    void count_tokens() {
        Pipeline& pipe = *sdxl_;
        QCOMPARE(pipe.count_tokens("").tokens, 0);
        QCOMPARE(pipe.count_tokens("").limit, 75);
        QCOMPARE(pipe.count_tokens(repeat_word("a", 42)).tokens, 42);
        QCOMPARE(pipe.count_tokens(repeat_word("a", 42)).limit, 75);
        QCOMPARE(pipe.count_tokens(repeat_word("(a)", 90)).tokens, 90);
        QCOMPARE(pipe.count_tokens(repeat_word("(a)", 90)).limit, 150);
        QCOMPARE(sd15_->count_tokens("a cat BREAK a dog").limit, 150);

        GenerationRequest req;
        req.prompt = repeat_word("a", 100);
        req.width = req.height = 64;
        req.steps = 1;
        req.seed = 5;
        const std::string text = repeat_word("fox, (snow:1.2)", 30);
        const PromptTokenCount expected = pipe.count_tokens(text);
        QCOMPARE(expected.tokens, count_prompt_tokens(*cxl_->tokenizer, text));
        QCOMPARE(expected.limit, prompt_token_limit(expected.tokens));
        QVERIFY(expected.tokens > 75);
        QElapsedTimer timer;
        timer.start();
        for (int i = 0; i < 100; ++i)
            pipe.count_tokens(text);
        qInfo("count_tokens of %d tokens: %.3f ms", expected.tokens, timer.nsecsElapsed() / 1e8);
        std::atomic<bool> done{false};
        std::atomic<int> counted{0}, wrong{0};
        std::thread counter([&] {
            while (!done) {
                const PromptTokenCount n = pipe.count_tokens(text);
                wrong += n.tokens != expected.tokens || n.limit != expected.limit;
                ++counted;
                // Leave the cores to libtorch's threads (as a UI counter would).
                std::this_thread::sleep_for(std::chrono::milliseconds(2));
            }
        });
        const GenerationResult r = pipe.generate(req, {}, nullptr);
        done = true;
        counter.join();
        QCOMPARE(r.image.width, 64);
        QVERIFY(counted > 0);
        QCOMPARE(wrong.load(), 0);

        // token_counter() outlives the pipeline (it holds the tokenizer only).
        PromptTokenCounter kept;
        {
            LoadRequest request;
            request.path = test::fixture("tiny-sd15");
            auto pipeline = Pipeline::load(request);
            kept = pipeline->token_counter();
        }
        QCOMPARE(kept(text).tokens, sd15_->count_tokens(text).tokens);
        QCOMPARE(kept(text).limit, sd15_->count_tokens(text).limit);
    }

    /// Long, weighted, BREAK-ed prompts generate images on both families.
    void generate_long_weighted_data() {
        QTest::addColumn<QString>("model");
        QTest::addColumn<bool>("negative");
        QTest::newRow("sd15") << "sd15" << true;
        QTest::newRow("sdxl") << "sdxl" << true;
        QTest::newRow("sdxl zero negative") << "sdxl" << false;
    }
    void generate_long_weighted() {
        QFETCH(QString, model);
        QFETCH(bool, negative);
        Pipeline& pipe = model == "sd15" ? static_cast<Pipeline&>(*sd15_) : *sdxl_;
        GenerationRequest req;
        req.prompt = "a (red:1.3) fox in the [snow], ((sharp focus)) BREAK " +
                     repeat_word("a photo of a fox", 20);
        if (negative)
            req.negative_prompt = "(blurry:1.4), " + repeat_word("low quality", 30);
        req.width = 64;
        req.height = 48;
        req.steps = 1;
        req.seed = 7;
        req.clip_skip = model == "sd15" ? 2 : 1;
        QVERIFY(pipe.count_tokens(req.prompt).limit >= 150); // two chunks and more
        QVERIFY(!negative || pipe.count_tokens(*req.negative_prompt).limit >= 150);
        const GenerationResult r = pipe.generate(req, {}, nullptr);
        QCOMPARE(r.image.width, 64);
        QCOMPARE(r.image.height, 48);
        QCOMPARE(r.image.rgb.size(), std::size_t{64 * 48 * 3});
        QVERIFY(std::any_of(r.image.rgb.begin(), r.image.rgb.end(),
                            [&](uint8_t v) { return v != r.image.rgb[0]; }));
        // A prompt encode refuses before anything runs.
        req.prompt = "(a:1.2.3)";
        QVERIFY_THROWS_EXCEPTION(RequestError, pipe.generate(req, {}, nullptr));
    }
};

QTEST_GUILESS_MAIN(TestPromptSyntax)
#include "test_prompt_syntax.moc"
