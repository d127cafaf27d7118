// Bounded memory for large images: attention in chunks of queries equals the
// whole computation and its chunks fit their budget; the VAE's memory
// estimates bound its measured peaks, and above its budget it decodes and
// encodes in tiles; daub-cli at 1024×1024 stays under 2 GiB resident.
#include "golden.h"

#include "core/cancel.h"
#include "core/errors.h"
#include "core/json.h"
#include "core/runtime.h"
#include "models/attention.h"
#include "models/vae.h"

#include <QtTest/QtTest>
#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <spawn.h>
#include <string>
#include <sys/resource.h>
#include <sys/wait.h>
#include <vector>

extern char** environ;

namespace {

constexpr uint64_t kMiB = uint64_t{1} << 20;

double max_abs_diff(const at::Tensor& a, const at::Tensor& b) {
    return (a.to(at::kDouble) - b.to(at::kDouble)).abs().max().item<double>();
}

/// A "VmHWM" or "VmRSS" line of /proc/self/status, in bytes (0 if absent).
uint64_t status_bytes(const std::string& key) {
    std::ifstream in("/proc/self/status");
    std::string line;
    while (std::getline(in, line))
        if (line.rfind(key + ":", 0) == 0)
            return std::stoull(line.substr(key.size() + 1)) * 1024;
    return 0;
}

/// Resident bytes at the peak while `fn` runs, above those before it (the
/// kernel's high-water mark, reset through /proc/self/clear_refs).
template <typename Fn> uint64_t peak_growth(Fn&& fn) {
    {
        std::ofstream clear("/proc/self/clear_refs");
        clear << "5";
    }
    const uint64_t before = status_bytes("VmRSS");
    fn();
    const uint64_t peak = status_bytes("VmHWM");
    return peak > before ? peak - before : 0;
}

/// Width and height from a PNG's IHDR; {0, 0} when it is not one.
std::pair<uint32_t, uint32_t> png_size(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    unsigned char h[24] = {};
    if (!in.read(reinterpret_cast<char*>(h), sizeof h) || h[1] != 'P' || h[12] != 'I')
        return {0, 0};
    auto be32 = [&](int i) {
        return uint32_t(h[i]) << 24 | uint32_t(h[i + 1]) << 16 | uint32_t(h[i + 2]) << 8 | h[i + 3];
    };
    return {be32(16), be32(20)};
}

} // namespace

class TestMemory : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void initTestCase() {
        QVERIFY2(daub::test::fixtures_present(), "fixtures folder missing: set DAUB_FIXTURES");
        daub::init_runtime();
    }

    /// Chunks of queries give the whole computation (max abs diff <= 1e-5):
    /// UNet self- and cross-attention shapes with heads split from a
    /// [B, N, H·d] projection (non-contiguous), and the VAE's one wide head.
    void chunked_attention_equals_whole_data() {
        QTest::addColumn<int>("batch");
        QTest::addColumn<int>("heads");
        QTest::addColumn<int>("queries");
        QTest::addColumn<int>("keys");
        QTest::addColumn<int>("head_dim");
        QTest::addColumn<int>("chunk");
        QTest::newRow("self, uneven chunks") << 2 << 4 << 333 << 333 << 8 << 7;
        QTest::newRow("self, one query") << 2 << 4 << 64 << 64 << 8 << 1;
        QTest::newRow("cross, 77 keys") << 2 << 8 << 500 << 77 << 40 << 64;
        QTest::newRow("vae head") << 1 << 1 << 1000 << 1000 << 64 << 128;
    }

    void chunked_attention_equals_whole() {
        QFETCH(int, batch);
        QFETCH(int, heads);
        QFETCH(int, queries);
        QFETCH(int, keys);
        QFETCH(int, head_dim);
        QFETCH(int, chunk);
        torch::manual_seed(7);
        const at::Tensor x = torch::randn({batch, queries, heads * head_dim});
        const at::Tensor ctx = torch::randn({batch, keys, heads * head_dim});
        const at::Tensor q = daub::split_heads(x, heads); // [B, H, Nq, d], a strided view
        const at::Tensor k = daub::split_heads(ctx, heads);
        const at::Tensor v = daub::split_heads(ctx.flip(-1), heads);
        QVERIFY(heads == 1 || !q.is_contiguous());

        // The reference, written out: softmax over every key of each query.
        const at::Tensor scores = at::matmul(q, k.transpose(-1, -2)) / std::sqrt(double(head_dim));
        const at::Tensor whole = at::matmul(at::softmax(scores, -1), v); // [B, H, Nq, d]

        const at::Tensor chunked = daub::chunked_attention(q, k, v, chunk);
        QCOMPARE(chunked.sizes().vec(), whole.sizes().vec());
        const double diff = max_abs_diff(chunked, whole);
        qInfo("chunks of %d queries: max abs diff %.2e", chunk, diff);
        QVERIFY2(diff <= 1e-5, qPrintable(QString::number(diff)));
        QVERIFY(max_abs_diff(daub::chunked_attention(q, k, v, queries), whole) <= 1e-5);
        QVERIFY(max_abs_diff(daub::scaled_dot_product_attention(q, k, v), whole) <= 1e-5);
    }

    /// The CPU path runs its pieces on libtorch's worker threads: they see
    /// the caller's inference mode (tensors made in it, written there) and
    /// its cancellation token (a cancelled job stops inside the call).
    void chunked_attention_keeps_the_callers_state() {
        torch::manual_seed(3);
        const at::Tensor q = torch::randn({2, 4, 300, 8}), k = torch::randn({2, 4, 300, 8});
        const at::Tensor v = torch::randn({2, 4, 300, 8});
        const at::Tensor expected = daub::chunked_attention(q, k, v, 300);
        {
            c10::InferenceMode inference;
            const at::Tensor qi = q.clone(), ki = k.clone(), vi = v.clone();
            const at::Tensor got = daub::chunked_attention(qi, ki, vi, 16);
            QVERIFY(got.is_inference());
            QVERIFY(max_abs_diff(got, expected) <= 1e-5);
        }
        daub::CancelToken token;
        token.cancel();
        daub::CancelScope scope(&token);
        QVERIFY_EXCEPTION_THROWN(daub::chunked_attention(q, k, v, 16), daub::CancelledError);
    }

    /// A chunk's scores and softmax (8 bytes per score) fit the budget; at
    /// least one query, at most all; the budget is 8–64 MiB.
    void query_chunk_fits_budget() {
        const at::Tensor q = torch::zeros({2, 8, 16384, 40}), k = torch::zeros({2, 8, 16384, 40});
        const uint64_t per_query = 2 * 8 * 16384 * 8; // B · H · Nk · 8 bytes
        QCOMPARE(daub::attention_query_chunk(q, k, 64 * kMiB), int64_t(64 * kMiB / per_query));
        QCOMPARE(daub::attention_query_chunk(q, k, 10 * per_query + 1), int64_t(10));
        QCOMPARE(daub::attention_query_chunk(q, k, 1), int64_t(1));
        QCOMPARE(daub::attention_query_chunk(q, k, UINT64_MAX), int64_t(16384));
        const uint64_t budget = daub::attention_score_budget(at::kCPU);
        qInfo("attention score budget on the CPU: %llu MiB", (unsigned long long)(budget / kMiB));
        QVERIFY(budget >= 8 * kMiB && budget <= 64 * kMiB);
    }

    /// decode_bytes / encode_bytes bound the measured peak of whole passes:
    /// the tiny VAE at 256² and 512², an SD-sized one (128/256/512/512
    /// channels, random weights) at 128².
    void vae_estimates_bound_peaks() {
        torch::NoGradGuard no_grad;
        daub::AutoencoderKL tiny = daub::load_vae(daub::test::fixture("tiny-sd15/vae"));
        nlohmann::json config =
            daub::read_json_file(daub::test::fixture("tiny-sd15/vae/config.json"));
        config["block_out_channels"] = {128, 256, 512, 512};
        daub::AutoencoderKL sd(daub::VaeConfig::from_json(config));
        for (auto& p : sd->parameters())
            p.normal_(0, 0.02);
        (void)tiny->decode(torch::randn({1, 4, 8, 8})); // first-call set-up out of the way

        struct Case {
            const char* name;
            daub::AutoencoderKL vae;
            int64_t size;
        };
        for (Case c :
             {Case{"tiny", tiny, 256}, Case{"tiny", tiny, 512}, Case{"SD-sized", sd, 128}}) {
            const int64_t h = c.size / 8;
            const at::Tensor z = torch::randn({1, 4, h, h});
            const at::Tensor image = torch::rand({1, 3, c.size, c.size}) * 2 - 1;
            c.vae->set_memory_budget(UINT64_MAX); // whole passes
            QCOMPARE(c.vae->decode_tile_size(1, h, h), int64_t(0));
            const uint64_t decode = peak_growth([&] { (void)c.vae->decode(z); });
            const uint64_t encode = peak_growth([&] { (void)c.vae->encode(image); });
            const uint64_t decode_est = c.vae->decode_bytes(1, h, h);
            const uint64_t encode_est = c.vae->encode_bytes(1, h, h);
            qInfo("%s VAE at %lld²: decode peak %llu MiB (estimate %llu), encode %llu MiB "
                  "(estimate %llu)",
                  c.name, (long long)c.size, (unsigned long long)(decode / kMiB),
                  (unsigned long long)(decode_est / kMiB), (unsigned long long)(encode / kMiB),
                  (unsigned long long)(encode_est / kMiB));
            QVERIFY(decode > 0 && encode > 0);
            QVERIFY(decode <= decode_est);
            QVERIFY(encode <= encode_est);
        }
    }

    /// Above its budget the VAE decodes and encodes in the largest tiles that
    /// fit (overlap a quarter); within it, whole.
    void vae_tiles_above_budget() {
        torch::NoGradGuard no_grad;
        daub::AutoencoderKL vae = daub::load_vae(daub::test::fixture("tiny-sd15/vae"));
        torch::manual_seed(3);
        const at::Tensor z = torch::randn({1, 4, 48, 40});              // 384×320 image
        const at::Tensor image = torch::rand({1, 3, 384, 320}) * 2 - 1; // 48×40 latents

        vae->set_memory_budget(UINT64_MAX);
        const at::Tensor whole = vae->decode(z);
        const at::Tensor whole_mean = vae->encode(image).mean;
        QCOMPARE(vae->decode_tile_size(1, 48, 40), int64_t(0));
        QCOMPARE(vae->encode_tile_size(1, 384, 320), int64_t(0));

        // A budget of a 32×32-latent pass: tiles of 32 latents (256 pixels).
        vae->set_memory_budget(vae->decode_bytes(1, 32, 32));
        QCOMPARE(vae->decode_tile_size(1, 48, 40), int64_t(32));
        const at::Tensor tiled = vae->decode(z);
        QVERIFY(torch::equal(tiled, vae->decode_tiled(z, 32, 8)));
        QVERIFY(!torch::equal(tiled, whole));
        QCOMPARE(tiled.sizes().vec(), whole.sizes().vec());

        vae->set_memory_budget(vae->encode_bytes(1, 32, 32));
        QCOMPARE(vae->encode_tile_size(1, 384, 320), int64_t(256));
        QCOMPARE(vae->encode_tile_size(1, 380, 320), int64_t(0)); // not a multiple of 8: whole
        const at::Tensor tiled_mean = vae->encode(image).mean;
        QVERIFY(torch::equal(tiled_mean, vae->encode_tiled(image, 256, 64).mean));
        QVERIFY(!torch::equal(tiled_mean, whole_mean));

        // Larger budgets, larger tiles; the smallest tile is 32 latents.
        vae->set_memory_budget(vae->decode_bytes(1, 40, 40));
        QCOMPARE(vae->decode_tile_size(1, 48, 40), int64_t(40));
        vae->set_memory_budget(1);
        QCOMPARE(vae->decode_tile_size(1, 48, 40), int64_t(32));
        QCOMPARE(vae->decode_tile_size(1, 32, 24), int64_t(0)); // one tile is the whole
    }

    /// daub-cli generate at 1024×1024 (tiny SD 1.5, one Euler step without
    /// guidance) peaks under 2 GiB resident: before chunked attention, the
    /// top level's attention scores alone took 4.3 GB per call.
    void cli_1024_stays_under_2_gib() {
        const std::string cli = DAUB_BINARY_DIR "/engine/tools/daub-cli";
        const std::string out = QDir::temp().filePath("daub-test-memory-1024.png").toStdString();
        std::remove(out.c_str());
        const std::string model = daub::test::fixture("tiny-sd15");
        std::vector<std::string> args = {
            cli,           "generate", "--model",  model,     "--prompt", "a cat", "--width",
            "1024",        "--height", "1024",     "--steps", "1",        "--cfg", "1",
            "--scheduler", "euler",    "--device", "cpu",     "--out",    out};
        std::vector<char*> argv;
        for (auto& a : args)
            argv.push_back(a.data());
        argv.push_back(nullptr);

        const auto t0 = std::chrono::steady_clock::now();
        pid_t pid = 0;
        QCOMPARE(posix_spawn(&pid, cli.c_str(), nullptr, nullptr, argv.data(), environ), 0);
        int status = 0;
        struct rusage usage {};
        QCOMPARE(wait4(pid, &status, 0, &usage), pid);
        const double seconds =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        const double peak_mib = static_cast<double>(usage.ru_maxrss) / 1024.0; // KiB on Linux
        qInfo("daub-cli 1024×1024: peak resident %.0f MiB, %.1f s (%.1f s CPU)", peak_mib, seconds,
              usage.ru_utime.tv_sec + usage.ru_stime.tv_sec +
                  (usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6);
        QVERIFY2(WIFEXITED(status) && WEXITSTATUS(status) == 0, "daub-cli failed");
        QCOMPARE(png_size(out), (std::pair<uint32_t, uint32_t>{1024, 1024}));
        QVERIFY2(peak_mib < 2048, qPrintable(QString::number(peak_mib)));
        std::remove(out.c_str());
    }
};

QTEST_GUILESS_MAIN(TestMemory)
#include "test_memory.moc"
