// The CLIP tokenizer against transformers' CLIPTokenizer: the 32 golden
// prompts on the full vocabularies, the tiny models' tokenizers against the
// ids of the text-encoder goldens, error messages, and load/encode timings.
#include "golden.h"

#include "core/errors.h"
#include "core/json.h"
#include "core/safetensors.h"
#include "tokenizer/clip_tokenizer.h"

#include <QtTest/QtTest>
#include <torch/torch.h>

#include <ctime>
#include <fstream>
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

} // namespace

class TestTokenizer : public QObject {
    Q_OBJECT

    nlohmann::json cases_;
    std::map<std::string, std::unique_ptr<ClipTokenizer>> full_; // "clip-vocab" -> tokenizer

    const ClipTokenizer& full(const std::string& vocab) {
        auto& slot = full_[vocab];
        if (!slot)
            slot = std::make_unique<ClipTokenizer>(
                ClipTokenizer::from_folder(daub::test::fixture(vocab)));
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
        qInfo("encode a 120-word prompt (%zu ids): %.1f us cold; with the word cache %.1f us wall, "
              "%.1f us CPU",
              first.size(), first_us, cached_us, cached_cpu_us);
    }
};

QTEST_APPLESS_MAIN(TestTokenizer)
#include "test_tokenizer.moc"
