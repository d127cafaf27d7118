// The CLIP tokenizer against transformers' CLIPTokenizer: the 32 golden
// prompts on the full vocabularies (read from the fixture folders and built
// from the data compiled into Daub), the built vocabulary against
// vocab.json, the bounded decompression of the built-in data, the tiny
// models' tokenizers against the ids of the text-encoder goldens, error
// messages, and load/encode timings.
#include "golden.h"

#include "core/errors.h"
#include "core/json.h"
#include "core/safetensors.h"
#include "tokenizer/clip_builtin.h"
#include "tokenizer/clip_tokenizer.h"
#include "tokenizer/inflate.h"

#include <QtTest/QtTest>
#include <torch/torch.h>
#include <zlib.h>

#include <ctime>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>

using daub::ClipTokenizer;

namespace {

std::vector<int64_t> ids_of(const nlohmann::json& j) {
    return j.get<std::vector<int64_t>>();
}

/// "i: got 320 (a</w>), expected 321 (b</w>)" for the first differing id.
std::string first_difference(const ClipTokenizer& tok, const std::vector<int64_t>& got,
                             const std::vector<int64_t>& want) {
    const std::size_t n = std::min(got.size(), want.size());
    for (std::size_t i = 0; i < n; ++i)
        if (got[i] != want[i])
            return "index " + std::to_string(i) + ": got " + std::to_string(got[i]) + " (" +
                   tok.token(got[i]) + "), expected " + std::to_string(want[i]) + " (" +
                   tok.token(want[i]) + ")";
    return "lengths differ: got " + std::to_string(got.size()) + ", expected " +
           std::to_string(want.size());
}

std::vector<int64_t> tensor_row(const at::Tensor& t, int64_t row) {
    at::Tensor r = t[row].to(torch::kLong).contiguous();
    return std::vector<int64_t>(r.data_ptr<int64_t>(), r.data_ptr<int64_t>() + r.numel());
}

void write_file(const QString& path, const std::string& text) {
    std::ofstream out(path.toStdString(), std::ios::binary);
    out << text;
}

std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

/// The pad token override of the built-in tokenizer that matches a fixture
/// vocabulary folder: "clip-vocab" pads with <|endoftext|>, "-padbang" with "!".
std::string builtin_pad_for(const std::string& vocab) {
    return vocab == "clip-vocab-padbang" ? "!" : "";
}

/// zlib's compress2 (zlib format) of `data`.
std::string deflate_zlib(const std::string& data) {
    uLongf size = compressBound(static_cast<uLong>(data.size()));
    std::string out(size, '\0');
    if (compress2(reinterpret_cast<Bytef*>(out.data()), &size,
                  reinterpret_cast<const Bytef*>(data.data()), static_cast<uLong>(data.size()),
                  9) != Z_OK)
        return {};
    out.resize(size);
    return out;
}

/// The FormatError message of inflate_limited, or "" when it did not throw one.
std::string inflate_error(std::string_view blob, std::size_t limit) {
    try {
        (void)daub::inflate_limited(blob, limit, "The test blob");
    } catch (const daub::FormatError& e) {
        return e.what();
    }
    return {};
}

} // namespace

class TestTokenizer : public QObject {
    Q_OBJECT

    nlohmann::json cases_;
    std::map<std::string, std::unique_ptr<ClipTokenizer>> full_;    // "clip-vocab" -> tokenizer
    std::map<std::string, std::unique_ptr<ClipTokenizer>> builtin_; // the same, built in

    const ClipTokenizer& full(const std::string& vocab) {
        auto& slot = full_[vocab];
        if (!slot)
            slot = std::make_unique<ClipTokenizer>(
                ClipTokenizer::from_folder(daub::test::fixture(vocab)));
        return *slot;
    }

    /// The built-in tokenizer configured as the fixture folder `vocab`.
    const ClipTokenizer& builtin(const std::string& vocab) {
        auto& slot = builtin_[vocab];
        if (!slot)
            slot = std::make_unique<ClipTokenizer>(ClipTokenizer::builtin(builtin_pad_for(vocab)));
        return *slot;
    }

    /// A folder with a small valid vocabulary: bytes "a", "b", "c" (alone
    /// and with </w>), the merge "a b", and the special tokens.
    static void write_small_tokenizer(const QString& dir) {
        write_file(dir + "/vocab.json",
                   R"({"a": 0, "b": 1, "c": 2, "a</w>": 3, "b</w>": 4, "c</w>": 5, "ab": 6,)"
                   R"( "ab</w>": 7, "<|startoftext|>": 8, "<|endoftext|>": 9})");
        write_file(dir + "/merges.txt", "#version: 0.2\na b\na b</w>\n");
    }

    static void expect_model_error(const QString& dir, const char* file_name) {
        try {
            (void)ClipTokenizer::from_folder(dir.toStdString());
        } catch (const daub::ModelError& e) {
            qInfo("ModelError: %s", e.what());
            QVERIFY2(std::string(e.what()).find(file_name) != std::string::npos, e.what());
            return;
        }
        QFAIL((std::string("no ModelError for a bad ") + file_name).c_str());
    }

private Q_SLOTS:
    void initTestCase() {
        QVERIFY2(daub::test::fixtures_present(), "fixtures folder missing: set DAUB_FIXTURES");
        cases_ = daub::read_json_file(daub::test::fixture("golden/tokenizer_cases.json"));
        QCOMPARE(cases_.at("tokenizer").get<std::string>(), std::string("CLIPTokenizer"));
        QCOMPARE(cases_.at("cases").size(), std::size_t(32));
    }

    void golden_case_data() {
        QTest::addColumn<int>("index");
        const auto& cases = cases_.at("cases");
        for (std::size_t i = 0; i < cases.size(); ++i) {
            // Tag: the first 40 characters, whitespace shown as one space.
            QString prompt = QString::fromStdString(cases[i].at("prompt").get<std::string>());
            prompt = prompt.simplified();
            if (prompt.size() > 40)
                prompt = prompt.left(40) + QStringLiteral("...");
            const std::string name = cases[i].at("vocab").get<std::string>() + " #" +
                                     std::to_string(i) + " \"" + prompt.toStdString() + "\"";
            QTest::newRow(name.c_str()) << static_cast<int>(i);
        }
    }

    void golden_case() {
        QFETCH(int, index);
        const nlohmann::json& c = cases_.at("cases")[index];
        const ClipTokenizer& tok = full(c.at("vocab").get<std::string>());
        const std::string prompt = c.at("prompt").get<std::string>();

        const std::vector<int64_t> untruncated = tok.encode(prompt);
        const std::vector<int64_t> want_untruncated = ids_of(c.at("untruncated_ids"));
        QVERIFY2(
            untruncated == want_untruncated,
            ("untruncated ids, " + first_difference(tok, untruncated, want_untruncated)).c_str());

        const std::vector<int64_t> padded = tok.encode_padded(prompt, 77);
        const std::vector<int64_t> want_padded = ids_of(c.at("input_ids"));
        QCOMPARE(want_padded.size(), std::size_t(77));
        QVERIFY2(padded == want_padded,
                 ("input_ids, " + first_difference(tok, padded, want_padded)).c_str());
    }

    /// The built-in data gives every golden case the ids of the fixture
    /// folder it names (pad <|endoftext|> or "!").
    void builtin_golden_case_data() { golden_case_data(); }

    void builtin_golden_case() {
        QFETCH(int, index);
        const nlohmann::json& c = cases_.at("cases")[index];
        const std::string vocab = c.at("vocab").get<std::string>();
        const ClipTokenizer& tok = builtin(vocab);
        const ClipTokenizer& folder = full(vocab);
        const std::string prompt = c.at("prompt").get<std::string>();

        const std::vector<int64_t> untruncated = tok.encode(prompt);
        QVERIFY2(untruncated == folder.encode(prompt),
                 ("untruncated ids vs the folder, " +
                  first_difference(tok, untruncated, folder.encode(prompt)))
                     .c_str());
        const std::vector<int64_t> want_untruncated = ids_of(c.at("untruncated_ids"));
        QVERIFY2(
            untruncated == want_untruncated,
            ("untruncated ids, " + first_difference(tok, untruncated, want_untruncated)).c_str());

        const std::vector<int64_t> padded = tok.encode_padded(prompt, 77);
        QVERIFY2(padded == folder.encode_padded(prompt, 77),
                 ("input_ids vs the folder, " +
                  first_difference(tok, padded, folder.encode_padded(prompt, 77)))
                     .c_str());
        const std::vector<int64_t> want_padded = ids_of(c.at("input_ids"));
        QVERIFY2(padded == want_padded,
                 ("input_ids, " + first_difference(tok, padded, want_padded)).c_str());
    }

    /// The built-in merge list is the fixture's merges.txt, byte for byte,
    /// and the vocabulary built from it is vocab.json, id for id.
    void builtin_vocabulary_is_vocab_json() {
        const std::string merges_text = daub::clip_builtin_merges_text();
        QCOMPARE(merges_text.size(),
                 read_file(daub::test::fixture("clip-vocab/merges.txt")).size());
        QVERIFY(merges_text == read_file(daub::test::fixture("clip-vocab/merges.txt")));
        const auto merges = daub::parse_clip_merges(merges_text, "built-in");
        QCOMPARE(merges.size(), daub::kClipMergeCount);

        const std::vector<std::string> built = daub::clip_vocabulary(merges);
        QCOMPARE(built.size(), daub::kClipVocabSize);
        for (const char* folder : {"clip-vocab", "clip-vocab-padbang"}) {
            const nlohmann::json vocab_json =
                daub::read_json_file(daub::test::fixture(std::string(folder) + "/vocab.json"));
            QCOMPARE(vocab_json.size(), built.size());
            for (std::size_t id = 0; id < built.size(); ++id) {
                auto it = vocab_json.find(built[id]);
                QVERIFY2(it != vocab_json.end(), ("not in vocab.json: " + built[id]).c_str());
                QVERIFY2(it->get<int64_t>() == static_cast<int64_t>(id),
                         (built[id] + " is " + it->dump() + " in vocab.json, built as " +
                          std::to_string(id))
                             .c_str());
            }
        }

        // The tokenizer built from it knows every token by the same id.
        const ClipTokenizer& tok = builtin("clip-vocab");
        const ClipTokenizer& folder = full("clip-vocab");
        QCOMPARE(tok.vocab_size(), folder.vocab_size());
        for (std::size_t id = 0; id < built.size(); ++id) {
            QCOMPARE(tok.token(static_cast<int64_t>(id)), built[id]);
            QCOMPARE(tok.token_id(built[id]), static_cast<int64_t>(id));
        }
    }

    /// The special tokens and the padding of both kinds, as the folders.
    void builtin_special_tokens() {
        for (const std::string vocab : {"clip-vocab", "clip-vocab-padbang"}) {
            const ClipTokenizer& tok = builtin(vocab);
            const ClipTokenizer& folder = full(vocab);
            QCOMPARE(tok.bos_id(), folder.bos_id());
            QCOMPARE(tok.eos_id(), folder.eos_id());
            QCOMPARE(tok.unk_id(), folder.unk_id());
            QCOMPARE(tok.pad_id(), folder.pad_id());
            QCOMPARE(tok.model_max_length(), folder.model_max_length());
            QCOMPARE(tok.config().pad_token, folder.config().pad_token);
        }
        QCOMPARE(builtin("clip-vocab").pad_id(), int64_t(49407));
        QCOMPARE(builtin("clip-vocab-padbang").pad_id(), int64_t(0));
        // "!" written in a prompt of the "!"-padding tokenizer is its pad token.
        QCOMPARE(builtin("clip-vocab-padbang").encode("!!"),
                 (std::vector<int64_t>{49406, 0, 0, 49407}));
    }

    /// inflate_limited refuses what is oversized, corrupt, cut short or
    /// followed by other bytes, and never holds more than its limit.
    void builtin_decompression_is_bounded() {
        const std::string_view blob = daub::clip_builtin_merges_compressed();
        const std::size_t size = daub::inflate_limited(blob, daub::kClipMergesMaxBytes, "x").size();
        QCOMPARE(size, std::size_t(524619));
        QVERIFY(daub::kClipMergesMaxBytes >= size);
        QCOMPARE(daub::inflate_limited(blob, size, "x").size(), size); // exactly at the limit
        std::string msg = inflate_error(blob, size - 1);
        QVERIFY2(msg.find("more than 524618 bytes") != std::string::npos, msg.c_str());

        // A small zlib stream of 8 MiB of zeros (a "bomb") against a 1 MiB limit.
        const std::string bomb = deflate_zlib(std::string(8 << 20, '\0'));
        QVERIFY(!bomb.empty() && bomb.size() < 20000);
        msg = inflate_error(bomb, 1 << 20);
        QVERIFY2(msg.find("The test blob decompresses to more than 1048576 bytes") !=
                     std::string::npos,
                 msg.c_str());
        QCOMPARE(daub::inflate_limited(bomb, 8 << 20, "x").size(), std::size_t(8 << 20));

        // Corrupt: a flipped byte inside the deflate data, a bad header.
        std::string corrupt(blob);
        corrupt[corrupt.size() / 2] = static_cast<char>(corrupt[corrupt.size() / 2] ^ 0x5a);
        msg = inflate_error(corrupt, daub::kClipMergesMaxBytes);
        QVERIFY2(msg.find("The test blob is corrupt") != std::string::npos, msg.c_str());
        msg = inflate_error("not compressed at all", daub::kClipMergesMaxBytes);
        QVERIFY2(msg.find("The test blob is corrupt") != std::string::npos, msg.c_str());
        // Cut short, and followed by other bytes.
        msg = inflate_error(blob.substr(0, blob.size() / 2), daub::kClipMergesMaxBytes);
        QVERIFY2(msg.find("truncated") != std::string::npos, msg.c_str());
        msg = inflate_error(std::string(blob) + "xyz", daub::kClipMergesMaxBytes);
        QVERIFY2(msg.find("3 bytes after the end") != std::string::npos, msg.c_str());
        QVERIFY(inflate_error("", 100).find("truncated") != std::string::npos);
    }

    /// The licence notice shown in the app is the installed LICENSE-CLIP.
    void builtin_license_notice() {
        const std::string notice = daub::clip_license_notice();
        QVERIFY(notice.find("MIT License") != std::string::npos);
        QVERIFY(notice.find("Copyright (c) 2021 OpenAI") != std::string::npos);
        QVERIFY(notice.find("THE SOFTWARE IS PROVIDED \"AS IS\"") != std::string::npos);
        QCOMPARE(notice, read_file(DAUB_SOURCE_DIR "/engine/tokenizer/data/LICENSE-CLIP"));
    }

    void full_vocabularies() {
        const ClipTokenizer& plain = full("clip-vocab");
        QCOMPARE(plain.vocab_size(), std::size_t(49408));
        QCOMPARE(plain.bos_id(), int64_t(49406));
        QCOMPARE(plain.eos_id(), int64_t(49407));
        QCOMPARE(plain.pad_id(), int64_t(49407));
        QCOMPARE(plain.model_max_length(), 77);
        const ClipTokenizer& bang = full("clip-vocab-padbang");
        QCOMPARE(bang.pad_id(), int64_t(0));
        QCOMPARE(bang.token(bang.pad_id()), std::string("!"));
        // A prompt of exactly 75 tokens is not truncated; 76 loses the last one.
        std::string words;
        for (int i = 0; i < 75; ++i)
            words += "cat ";
        QCOMPARE(plain.encode(words).size(), std::size_t(77));
        const std::vector<int64_t> cut = plain.encode_padded(words + "dog", 77);
        QCOMPARE(cut.size(), std::size_t(77));
        QCOMPARE(cut[75], plain.encode("cat")[1]);
        QCOMPARE(cut[76], plain.eos_id());
        QVERIFY_THROWS_EXCEPTION(daub::RequestError, (void)plain.encode_padded("cat", 1));
    }

    // The tiny models' tokenizers give the ids the text-encoder goldens used.
    void tiny_vocabularies_data() {
        QTest::addColumn<QString>("folder");
        QTest::addColumn<QString>("golden");
        QTest::addColumn<QString>("key");
        QTest::addColumn<qlonglong>("pad");
        QTest::newRow("tiny-sd15/tokenizer")
            << QString("tiny-sd15/tokenizer") << QString("golden/sd15_text_encoder")
            << QString("input_ids") << qlonglong(1001);
        QTest::newRow("tiny-sdxl/tokenizer")
            << QString("tiny-sdxl/tokenizer") << QString("golden/sdxl_text_encoders")
            << QString("input_ids_1") << qlonglong(1001);
        QTest::newRow("tiny-sdxl/tokenizer_2 (pads with !)")
            << QString("tiny-sdxl/tokenizer_2") << QString("golden/sdxl_text_encoders")
            << QString("input_ids_2") << qlonglong(0);
    }

    void tiny_vocabularies() {
        QFETCH(QString, folder);
        QFETCH(QString, golden);
        QFETCH(QString, key);
        QFETCH(qlonglong, pad);
        const ClipTokenizer tok =
            ClipTokenizer::from_folder(daub::test::fixture(folder.toStdString()));
        QCOMPARE(tok.vocab_size(), std::size_t(1002));
        QCOMPARE(tok.bos_id(), int64_t(1000));
        QCOMPARE(tok.eos_id(), int64_t(1001));
        QCOMPARE(tok.pad_id(), int64_t(pad));

        const nlohmann::json info =
            daub::read_json_file(daub::test::fixture(golden.toStdString() + ".json"));
        daub::SafeTensorsFile file(daub::test::fixture(golden.toStdString() + ".safetensors"));
        const at::Tensor ids = file.load(key.toStdString());
        const auto prompts = info.at("prompts").get<std::vector<std::string>>();
        QCOMPARE(ids.size(0), static_cast<int64_t>(prompts.size()));
        for (std::size_t i = 0; i < prompts.size(); ++i) {
            const std::vector<int64_t> got = tok.encode_padded(prompts[i], 77);
            const std::vector<int64_t> want = tensor_row(ids, static_cast<int64_t>(i));
            QVERIFY2(got == want, (prompts[i] + ": " + first_difference(tok, got, want)).c_str());
            QCOMPARE(got.back(), int64_t(pad));
        }
    }

    void errors_name_the_file() {
        QTemporaryDir dir;
        QVERIFY(dir.isValid());
        const QString p = dir.path();

        expect_model_error(p, "vocab.json"); // nothing there
        write_small_tokenizer(p);
        { // the small folder itself loads and merges
            const ClipTokenizer tok = ClipTokenizer::from_folder(p.toStdString());
            QCOMPARE(tok.encode("ab cab"), (std::vector<int64_t>{8, 7, 2, 7, 9}));
            QCOMPARE(tok.encode_padded("ab", 5), (std::vector<int64_t>{8, 7, 9, 9, 9}));
        }

        write_file(p + "/vocab.json", R"({"a": 0, "b": )"); // truncated JSON
        expect_model_error(p, "vocab.json");
        write_file(p + "/vocab.json", R"(["a", "b"])"); // not an object
        expect_model_error(p, "vocab.json");
        write_file(p + "/vocab.json", R"({"a": "zero"})"); // id not an integer
        expect_model_error(p, "vocab.json");
        write_small_tokenizer(p); // ids index a table: a huge one must not size it
        write_file(p + "/vocab.json",
                   R"({"a": 0, "b": 1, "c": 2, "a</w>": 3, "b</w>": 4, "c</w>": 5, "ab": 6,)"
                   R"( "ab</w>": 7, "<|startoftext|>": 8, "<|endoftext|>": 9, "x": 1000000})");
        expect_model_error(p, "vocab.json");
        write_file(p + "/vocab.json", R"({"a": 0, "b": 1, "ab": 2})"); // no special tokens
        write_file(p + "/merges.txt", "#version: 0.2\na b\n");
        expect_model_error(p, "vocab.json");

        write_small_tokenizer(p);
        QVERIFY(QFile::remove(p + "/merges.txt"));
        expect_model_error(p, "merges.txt");
        write_file(p + "/merges.txt", "#version: 0.2\na b\nthis line has three\n");
        expect_model_error(p, "merges.txt");
        write_file(p + "/merges.txt", "#version: 0.2\na z\n"); // "z" not in the vocabulary
        expect_model_error(p, "merges.txt");
        write_file(p + "/merges.txt", "#version: 0.2\n"); // no merges at all
        expect_model_error(p, "merges.txt");

        write_small_tokenizer(p);
        write_file(p + "/tokenizer_config.json", R"({"pad_token": )");
        expect_model_error(p, "tokenizer_config.json");
        write_file(p + "/tokenizer_config.json", R"({"pad_token": "!"})"); // not in the vocabulary
        expect_model_error(p, "vocab.json");
    }

    /// added_tokens_decoder ids index a table of tokens: a hostile id must be
    /// refused, not allocate gigabytes (1e8), fail to allocate (4e9) or
    /// overflow (INT64_MAX). Found by fuzzing.
    void added_token_ids_are_bounded_data() {
        QTest::addColumn<QString>("id");
        QTest::newRow("int64 max") << "9223372036854775807";
        QTest::newRow("4e9") << "4000000000";
        QTest::newRow("1e8") << "100000000";
        QTest::newRow("1e6") << "1000000";
        QTest::newRow("negative") << "-1";
        QTest::newRow("beyond int64") << "99999999999999999999";
        QTest::newRow("trailing text") << "12abc";
        QTest::newRow("empty") << "";
    }

    void added_token_ids_are_bounded() {
        QFETCH(QString, id);
        QTemporaryDir dir;
        QVERIFY(dir.isValid());
        const QString p = dir.path();
        write_small_tokenizer(p);
        write_file(p + "/tokenizer_config.json", R"({"added_tokens_decoder": {")" +
                                                     id.toStdString() +
                                                     R"(": {"content": "<extra>"}}})");
        expect_model_error(p, "tokenizer_config.json");

        // An added token just past the vocabulary (ids 0..9) loads and is used.
        write_file(p + "/tokenizer_config.json",
                   R"({"added_tokens_decoder": {"10": {"content": "<extra>"}}})");
        const ClipTokenizer tok = ClipTokenizer::from_folder(p.toStdString());
        QCOMPARE(tok.encode("ab <extra>"), (std::vector<int64_t>{8, 7, 10, 9}));
        QCOMPARE(tok.token(10), std::string("<extra>"));
    }

    void timings() {
        const std::string dir = daub::test::fixture("clip-vocab");
        // Wall time and this process's CPU time (the machine may be shared).
        QElapsedTimer timer;
        timer.start();
        std::clock_t cpu = std::clock();
        const ClipTokenizer tok = ClipTokenizer::from_folder(dir);
        const double load_ms = timer.nsecsElapsed() / 1e6;
        const double load_cpu_ms = 1e3 * double(std::clock() - cpu) / CLOCKS_PER_SEC;

        std::string prompt = "masterpiece, best quality, ";
        const char* words[] = {"a",        "detailed",  "portrait",   "of",     "an",
                               "old",      "fisherman", "standing",   "on",     "the",
                               "wooden",   "pier",      "at",         "sunset", "cinematic",
                               "lighting", "8k",        "photograph", "bokeh",  "sharp"};
        for (int i = 0; i < 117; ++i)
            prompt += std::string(words[i % 20]) + (i % 7 == 6 ? ", " : " ");
        QCOMPARE(QString::fromStdString(prompt).split(' ', Qt::SkipEmptyParts).size(), 120);

        timer.restart();
        const std::vector<int64_t> first = tok.encode(prompt);
        const double first_us = timer.nsecsElapsed() / 1e3;
        constexpr int kRepeats = 200;
        timer.restart();
        cpu = std::clock();
        for (int i = 0; i < kRepeats; ++i)
            QCOMPARE(tok.encode_padded(prompt, 77).size(), std::size_t(77));
        const double cached_us = timer.nsecsElapsed() / 1e3 / kRepeats;
        const double cached_cpu_us = 1e6 * double(std::clock() - cpu) / CLOCKS_PER_SEC / kRepeats;
        qInfo("load clip-vocab (49,408 tokens, 48,894 merges): %.1f ms wall, %.1f ms CPU", load_ms,
              load_cpu_ms);
        timer.restart();
        cpu = std::clock();
        const ClipTokenizer built = ClipTokenizer::builtin();
        qInfo("build the built-in tokenizer (%zu bytes gzip -> 524,619): %.1f ms wall, %.1f ms CPU",
              daub::clip_builtin_merges_compressed().size(), timer.nsecsElapsed() / 1e6,
              1e3 * double(std::clock() - cpu) / CLOCKS_PER_SEC);
        QCOMPARE(built.vocab_size(), tok.vocab_size());
        qInfo("encode a 120-word prompt (%zu ids): %.1f us cold; with the word cache %.1f us wall, "
              "%.1f us CPU",
              first.size(), first_us, cached_us, cached_cpu_us);
    }
};

QTEST_APPLESS_MAIN(TestTokenizer)
#include "test_tokenizer.moc"
