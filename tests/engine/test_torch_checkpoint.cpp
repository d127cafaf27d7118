// PyTorch zip checkpoints read by Daub's own restricted reader: the
// fixtures' .ckpt / .pth files equal their safetensors twins bit for bit;
// the attack file is refused by name and runs nothing; hand-made hostile
// files (built here, byte by byte) are each refused with a clean
// ModelError; strided and shared storages load right; open_weight_file
// decides by content; every fuzz regression input is replayed.
#include "golden.h"

#include "core/errors.h"
#include "core/runtime.h"
#include "core/safetensors.h"
#include "core/torch_checkpoint.h"
#include "core/torch_pickle.h"
#include "core/weight_file.h"
#include "core/zip_archive.h"

#include <QtTest/QtTest>
#include <torch/torch.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <set>

namespace fs = std::filesystem;

namespace {

// --- building checkpoints byte by byte ----------------------------------------

void put16(std::string& s, uint64_t v) {
    for (int k = 0; k < 2; ++k)
        s.push_back(static_cast<char>((v >> (8 * k)) & 0xff));
}
void put32(std::string& s, uint64_t v) {
    for (int k = 0; k < 4; ++k)
        s.push_back(static_cast<char>((v >> (8 * k)) & 0xff));
}
void put64(std::string& s, uint64_t v) {
    for (int k = 0; k < 8; ++k)
        s.push_back(static_cast<char>((v >> (8 * k)) & 0xff));
}

uint32_t crc_of(const std::string& data) {
    return daub::crc32(
        std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(data.data()), data.size()));
}

struct ZipIn {
    std::string name;
    std::string data;
    uint16_t method = 0;
};

/// A zip archive of stored entries, as torch.save writes them (zip64: the
/// 32-bit sizes and offsets saturated and given in zip64 fields, plus the
/// zip64 end records).
std::string make_zip(const std::vector<ZipIn>& entries, bool zip64 = false) {
    std::string out, central;
    for (const auto& e : entries) {
        const uint64_t offset = out.size();
        const uint32_t crc = crc_of(e.data);
        put32(out, 0x04034b50);
        put16(out, 45);
        put16(out, 0);
        put16(out, e.method);
        put32(out, 0); // time, date
        put32(out, crc);
        put32(out, e.data.size());
        put32(out, e.data.size());
        put16(out, e.name.size());
        put16(out, 0);
        out += e.name + e.data;

        put32(central, 0x02014b50);
        put16(central, 45);
        put16(central, 45);
        put16(central, 0);
        put16(central, e.method);
        put32(central, 0);
        put32(central, crc);
        put32(central, zip64 ? 0xffffffffu : e.data.size());
        put32(central, zip64 ? 0xffffffffu : e.data.size());
        put16(central, e.name.size());
        put16(central, zip64 ? 28 : 0);
        put16(central, 0); // comment
        put16(central, 0); // disk
        put16(central, 0);
        put32(central, 0);
        put32(central, zip64 ? 0xffffffffu : offset);
        central += e.name;
        if (zip64) {
            put16(central, 1);
            put16(central, 24);
            put64(central, e.data.size());
            put64(central, e.data.size());
            put64(central, offset);
        }
    }
    const uint64_t cd_offset = out.size();
    out += central;
    if (zip64) {
        const uint64_t z = out.size();
        put32(out, 0x06064b50);
        put64(out, 44);
        put16(out, 45);
        put16(out, 45);
        put32(out, 0);
        put32(out, 0);
        put64(out, entries.size());
        put64(out, entries.size());
        put64(out, central.size());
        put64(out, cd_offset);
        put32(out, 0x07064b50);
        put32(out, 0);
        put64(out, z);
        put32(out, 1);
    }
    put32(out, 0x06054b50);
    put16(out, 0);
    put16(out, 0);
    put16(out, zip64 ? 0xffff : entries.size());
    put16(out, zip64 ? 0xffff : entries.size());
    put32(out, zip64 ? 0xffffffffu : central.size());
    put32(out, zip64 ? 0xffffffffu : cd_offset);
    put16(out, 0);
    return out;
}

/// Pickle opcodes, protocol 2.
struct Pickle {
    std::string b = std::string("\x80\x02", 2);

    Pickle& raw(const std::string& s) {
        b += s;
        return *this;
    }
    /// A literal with its embedded NULs.
    template <size_t N> Pickle& raw(const char (&s)[N]) {
        b.append(s, N - 1);
        return *this;
    }
    Pickle& op(char c) {
        b.push_back(c);
        return *this;
    }
    Pickle& str(const std::string& s) {
        b.push_back('X');
        put32(b, s.size());
        b += s;
        return *this;
    }
    Pickle& integer(int64_t v) {
        if (v >= 0 && v < 256) {
            b.push_back('K');
            b.push_back(static_cast<char>(v));
        } else if (v >= INT32_MIN && v <= INT32_MAX) {
            b.push_back('J');
            put32(b, static_cast<uint32_t>(v));
        } else {
            b += "\x8a\x08";
            put64(b, static_cast<uint64_t>(v));
        }
        return *this;
    }
    Pickle& global(const std::string& module, const std::string& name) {
        b += "c" + module + "\n" + name + "\n";
        return *this;
    }
    Pickle& ints(const std::vector<int64_t>& v) {
        op('(');
        for (int64_t x : v)
            integer(x);
        return op('t');
    }
    Pickle& ordered_dict() { return global("collections", "OrderedDict").op(')').op('R'); }
    /// _rebuild_tensor_v2(('storage', type, key, 'cpu', numel), offset, shape, stride,
    ///                    False, OrderedDict())
    Pickle& tensor(const std::string& type, const std::string& key, int64_t numel, int64_t offset,
                   const std::vector<int64_t>& shape, const std::vector<int64_t>& stride) {
        global("torch._utils", "_rebuild_tensor_v2").op('(');
        op('(').str("storage").global("torch", type).str(key).str("cpu").integer(numel).op('t');
        op('Q').integer(offset).ints(shape).ints(stride).op('\x89').ordered_dict();
        return op('t').op('R');
    }
    Pickle& stop() { return op('.'); }
};

std::string bytes_of_floats(const std::vector<float>& v) {
    std::string out(v.size() * 4, '\0');
    std::memcpy(out.data(), v.data(), out.size());
    return out;
}

/// archive/data.pkl + archive/data/<key> + archive/version (+ extras).
std::string make_checkpoint(const std::string& pkl,
                            const std::vector<std::pair<std::string, std::string>>& storages,
                            bool zip64 = false, std::vector<ZipIn> extra = {}) {
    std::vector<ZipIn> entries{{"archive/data.pkl", pkl}};
    for (auto& e : extra)
        entries.push_back(std::move(e));
    for (const auto& [key, data] : storages)
        entries.push_back({"archive/data/" + key, data});
    entries.push_back({"archive/version", "3\n"});
    return make_zip(entries, zip64);
}

/// One float32 tensor 'w' [2, 3] on storage '0' of 6 values.
std::string simple_pickle() {
    Pickle p;
    p.ordered_dict().op('(').str("w").tensor("FloatStorage", "0", 6, 0, {2, 3}, {3, 1});
    return p.op('u').stop().b;
}

std::span<const uint8_t> span_of(const std::string& s) {
    return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

/// Runs `fn`, expects exception E (or a subclass); returns its message, or
/// "" when nothing was thrown, or "WRONG EXCEPTION TYPE: ..." otherwise.
template <typename E> std::string error_of(const std::function<void()>& fn) {
    try {
        fn();
    } catch (const E& e) {
        return e.what();
    } catch (const std::exception& e) {
        return std::string("WRONG EXCEPTION TYPE: ") + e.what();
    }
    return "";
}

fs::path scratch_dir(const std::string& name) {
    const fs::path dir = fs::path(DAUB_BINARY_DIR) / "test_torch_checkpoint_scratch" / name;
    fs::remove_all(dir);
    fs::create_directories(dir);
    return dir;
}

fs::path write_file(const fs::path& path, const std::string& bytes) {
    std::ofstream(path, std::ios::binary) << bytes;
    return path;
}

/// Both sources hold the same keys, and every tensor the same dtype, shape
/// and bytes.
void expect_identical(const daub::WeightSource& got, const daub::SafeTensorsFile& want) {
    const auto gk = got.keys(), wk = want.keys();
    QCOMPARE(std::set<std::string>(gk.begin(), gk.end()),
             std::set<std::string>(wk.begin(), wk.end()));
    for (const auto& key : wk) {
        QVERIFY2(got.stored_dtype(key) == want.stored_dtype(key), key.c_str());
        QVERIFY2(got.shape(key) == want.shape(key), key.c_str());
        const at::Tensor a = got.load(key, got.stored_dtype(key), at::kCPU);
        const at::Tensor b = want.load(key);
        QVERIFY(a.is_contiguous());
        QCOMPARE(a.sizes().vec(), b.sizes().vec());
        QVERIFY2(std::memcmp(a.data_ptr(), b.data_ptr(), b.nbytes()) == 0,
                 (key + " differs").c_str());
    }
}

} // namespace

class TestTorchCheckpoint : public QObject {
    Q_OBJECT

    /// read_torch_archive(bytes) throws E whose message holds every needle.
    template <typename E>
    void expect_archive_error(const std::string& bytes, std::initializer_list<const char*> needles,
                              const char* what) {
        const std::string msg =
            error_of<E>([&] { daub::read_torch_archive(span_of(bytes), "x.pth"); });
        qInfo("%s -> %s", what, msg.c_str());
        QVERIFY2(!msg.empty(), (std::string(what) + ": not refused").c_str());
        QVERIFY2(msg.rfind("WRONG", 0) != 0, (std::string(what) + ": " + msg).c_str());
        for (const char* n : needles)
            QVERIFY2(msg.find(n) != std::string::npos,
                     (std::string(what) + ": message lacks '" + n + "': " + msg).c_str());
    }

private Q_SLOTS:
    void initTestCase() {
        QVERIFY2(daub::test::fixtures_present(), "fixtures folder missing: set DAUB_FIXTURES");
        daub::init_runtime();
    }

    void sd15_ckpt_equals_safetensors() {
        const auto t0 = std::chrono::steady_clock::now();
        daub::TorchCheckpointFile ckpt(daub::test::fixture("pickles/tiny-sd15.ckpt"));
        const auto t1 = std::chrono::steady_clock::now();
        QCOMPARE(ckpt.wrapper(), std::string("state_dict"));
        daub::SafeTensorsFile twin(daub::test::fixture("tiny-sd15.safetensors"));
        expect_identical(ckpt, twin);
        const auto t2 = std::chrono::steady_clock::now();
        const auto ms = [](auto a, auto b) {
            return std::chrono::duration<double, std::milli>(b - a).count();
        };
        qInfo("tiny-sd15.ckpt: %zu tensors, open+validate %.1f ms, all read and compared %.1f ms",
              ckpt.keys().size(), ms(t0, t1), ms(t1, t2));
    }

    void rrdbnet_pth_equal_safetensors() {
        for (const char* scale : {"x4", "x2"}) {
            const std::string base = std::string("tiny-rrdbnet-") + scale;
            const auto source =
                daub::open_weight_file(daub::test::fixture("pickles/" + base + ".pth"));
            const auto* ckpt = dynamic_cast<const daub::TorchCheckpointFile*>(source.get());
            QVERIFY(ckpt);
            // x4 is saved as {"params_ema": ...} (basicsr), x2 as a bare state dict.
            QCOMPARE(ckpt->wrapper(), std::string(scale == std::string("x4") ? "params_ema" : ""));
            daub::SafeTensorsFile twin(daub::test::fixture(base + ".safetensors"));
            expect_identical(*source, twin);
            // Converted on the way, as load_module_weights asks for it.
            const auto key = twin.keys().front();
            QVERIFY(source->load(key, at::kDouble, at::kCPU).equal(twin.load(key).to(at::kDouble)));
        }
    }

    void attack_is_refused_and_runs_nothing() {
        const fs::path marker = "/tmp/daub-pickle-attack-ran";
        fs::remove(marker);
        const std::string path = daub::test::fixture("pickles/attack-os-system.pth");
        const std::string expected = "attack-os-system.pth is refused: it asks to call "
                                     "posix.system, which a weights file never needs; nothing "
                                     "from it was run.";
        QCOMPARE(error_of<daub::UnsupportedModelError>([&] { daub::open_weight_file(path); }),
                 expected);
        QCOMPARE(error_of<daub::UnsupportedModelError>([&] { daub::TorchCheckpointFile f(path); }),
                 expected);
        QVERIFY(!fs::exists(marker));
    }

    void open_weight_file_decides_by_content() {
        const fs::path dir = scratch_dir("content");
        // A torch checkpoint named .safetensors, and a safetensors file named .ckpt.
        fs::copy_file(daub::test::fixture("pickles/tiny-rrdbnet-x2.pth"),
                      dir / "renamed.safetensors");
        fs::copy_file(daub::test::fixture("tiny-rrdbnet-x2.safetensors"), dir / "renamed.ckpt");
        const auto a = daub::open_weight_file((dir / "renamed.safetensors").string());
        QVERIFY(dynamic_cast<const daub::TorchCheckpointFile*>(a.get()));
        const auto b = daub::open_weight_file((dir / "renamed.ckpt").string());
        QVERIFY(dynamic_cast<const daub::SafeTensorsFile*>(b.get()));
        QCOMPARE(a->keys(), b->keys());
        // Legacy torch.save (a bare pickle starting with its magic number) and tar.
        const std::string legacy("\x80\x02\x8a\x0al\xfc\x9c\x46\xf9 j\xa8P\x19.\x80\x02M\xe9\x03.",
                                 21);
        std::string tar(1024, '\0');
        tar.replace(0, 7, "storage");
        tar.replace(257, 5, "ustar");
        for (const auto& [name, bytes] :
             {std::pair<std::string, std::string>{"old.pt", legacy}, {"older.pth", tar}}) {
            const std::string msg = error_of<daub::UnsupportedModelError>(
                [&] { daub::open_weight_file(write_file(dir / name, bytes).string()); });
            qInfo("%s -> %s", name.c_str(), msg.c_str());
            QVERIFY2(msg.find(name + " is in PyTorch's legacy format") == 0, msg.c_str());
            QVERIFY2(msg.find("re-save it") != std::string::npos, msg.c_str());
        }
        // Missing file, folder, and something else entirely.
        QVERIFY(!error_of<daub::ModelError>([&] {
                     daub::open_weight_file((dir / "nope").string());
                 }).empty());
        QVERIFY(!error_of<daub::ModelError>([&] { daub::open_weight_file(dir.string()); }).empty());
        const std::string junk = error_of<daub::ModelError>(
            [&] { daub::open_weight_file(write_file(dir / "junk.bin", "hello world!").string()); });
        QVERIFY2(!junk.empty() && junk.rfind("WRONG", 0) != 0, junk.c_str());
    }

    void strided_and_shared_storages() {
        // One storage of 12 floats seen as: a [3, 4]; its transpose [4, 3]
        // strides [1, 4]; a column with an offset; an expanded row (stride 0);
        // a Parameter; and an fp16 storage; nested in a dict and a wrapper.
        std::vector<float> values(12);
        for (int k = 0; k < 12; ++k)
            values[k] = 0.5f * static_cast<float>(k) - 2.0f;
        Pickle p;
        p.op('}').op('(').str("params").op('}').op('(');
        p.str("epoch").integer(7);
        p.str("a").tensor("FloatStorage", "0", 12, 0, {3, 4}, {4, 1});
        p.str("at").tensor("FloatStorage", "0", 12, 0, {4, 3}, {1, 4});
        p.str("col").tensor("FloatStorage", "0", 12, 1, {3}, {4});
        p.str("expanded").tensor("FloatStorage", "0", 12, 4, {2, 4}, {0, 1});
        p.str("sub").op('}').str("half").tensor("HalfStorage", "h", 2, 0, {2}, {1}).op('s');
        p.str("param").global("torch._utils", "_rebuild_parameter").op('(');
        p.tensor("FloatStorage", "0", 12, 11, {}, {}).op('\x88').ordered_dict().op('t').op('R');
        p.op('u').op('u').stop();
        const std::string half("\x00\x3c\x00\xc0", 4); // 1.0, -2.0
        const fs::path path =
            write_file(scratch_dir("strided") / "strided.pth",
                       make_checkpoint(p.b, {{"0", bytes_of_floats(values)}, {"h", half}},
                                       /*zip64=*/true));
        daub::TorchCheckpointFile f(path.string());
        QCOMPARE(f.wrapper(), std::string("params"));
        QCOMPARE(f.keys(),
                 (std::vector<std::string>{"a", "at", "col", "expanded", "param", "sub.half"}));
        const at::Tensor storage = torch::tensor(values);
        const auto check = [&](const std::string& key, const at::Tensor& want) {
            const at::Tensor got = f.load(key);
            QVERIFY2(got.is_contiguous(), key.c_str());
            QCOMPARE(got.sizes().vec(), want.sizes().vec());
            QVERIFY2(got.equal(want.contiguous()), key.c_str());
        };
        check("a", storage.as_strided({3, 4}, {4, 1}, 0));
        check("at", storage.as_strided({4, 3}, {1, 4}, 0));
        check("col", storage.as_strided({3}, {4}, 1));
        check("expanded", storage.as_strided({2, 4}, {0, 1}, 4));
        check("param", storage.as_strided({}, {}, 11));
        QCOMPARE(f.stored_dtype("sub.half"), at::kHalf);
        QVERIFY(f.load("sub.half", at::kFloat, at::kCPU).equal(torch::tensor({1.0f, -2.0f})));
        // Every load is a fresh tensor that owns its memory.
        QVERIFY(f.load("a").data_ptr() != f.load("a").data_ptr());
    }

    void state_dict_metadata_is_accepted() {
        // module.state_dict() carries _metadata, which pickle restores with BUILD.
        Pickle p;
        p.ordered_dict().op('(').str("w").tensor("FloatStorage", "0", 6, 0, {2, 3}, {3, 1});
        p.op('u').op('}').op('(').str("_metadata").op('}').str("").op('}').str("version");
        p.integer(1).op('s').op('s').op('u').op('b').stop();
        const auto a = daub::read_torch_archive(
            span_of(make_checkpoint(p.b, {{"0", bytes_of_floats({1, 2, 3, 4, 5, 6})}})), "m.pth");
        QCOMPARE(a.tensors.size(), size_t{1});
        QCOMPARE(a.tensors.at("w").shape, (std::vector<int64_t>{2, 3}));
    }

    void hostile_zips() {
        const std::string storage = bytes_of_floats({1, 2, 3, 4, 5, 6});
        const std::string good = make_checkpoint(simple_pickle(), {{"0", storage}});
        QCOMPARE(daub::read_torch_archive(span_of(good), "x.pth").tensors.size(), size_t{1});
        QCOMPARE(daub::read_torch_archive(
                     span_of(make_checkpoint(simple_pickle(), {{"0", storage}}, true)), "x.pth")
                     .tensors.size(),
                 size_t{1});

        // Every truncation of a valid file, zip64 or not, is a clean refusal.
        for (bool zip64 : {false, true}) {
            const std::string full = make_checkpoint(simple_pickle(), {{"0", storage}}, zip64);
            int refused = 0;
            for (size_t n = 0; n < full.size(); ++n) {
                const std::string cut = full.substr(0, n);
                const std::string msg = error_of<daub::ModelError>(
                    [&] { daub::read_torch_archive(span_of(cut), "x.pth"); });
                QVERIFY2(!msg.empty() && msg.rfind("WRONG", 0) != 0,
                         ("truncated to " + std::to_string(n) + ": " + msg).c_str());
                ++refused;
            }
            qInfo("zip64=%d: all %d truncations refused", zip64, refused);
        }

        // The central directory's offset of the storage entry points past the end.
        {
            std::string bad = good;
            const size_t cd = bad.rfind(std::string("PK\x01\x02", 4));
            QVERIFY(cd != std::string::npos);
            for (int k = 0; k < 4; ++k)
                bad[cd + 42 + k] = '\x7f';
            expect_archive_error<daub::FormatError>(bad, {"x.pth", "outside the file"},
                                                    "entry offset past EOF");
        }
        // Central directory size beyond the file.
        {
            std::string bad = good;
            const size_t eocd = bad.size() - 22;
            for (int k = 0; k < 4; ++k)
                bad[eocd + 12 + k] = '\x7f';
            expect_archive_error<daub::FormatError>(bad, {"central directory"}, "cd size");
        }
        // Entry count far beyond what the directory can hold.
        {
            std::string bad = good;
            const size_t eocd = bad.size() - 22;
            bad[eocd + 8] = bad[eocd + 10] = '\xfe';
            bad[eocd + 9] = bad[eocd + 11] = '\xff';
            expect_archive_error<daub::FormatError>(bad, {"entries"}, "entry count");
        }
        // Storage data runs past the end: a huge size in its zip64 field.
        {
            std::string z = make_checkpoint(simple_pickle(), {{"0", storage}}, true);
            const std::string name = "archive/data/0";
            const size_t at = z.rfind(name); // in the central directory
            for (int k = 0; k < 8; ++k)
                z[at + name.size() + 4 + k] = k == 7 ? '\x10' : '\x00'; // uncompressed size
            for (int k = 0; k < 8; ++k)
                z[at + name.size() + 12 + k] = k == 7 ? '\x10' : '\x00'; // compressed size
            expect_archive_error<daub::FormatError>(z, {"past the end"}, "huge zip64 size");
        }
        // A compressed (deflate) entry, and an encrypted one.
        expect_archive_error<daub::UnsupportedModelError>(
            make_zip({{"archive/data.pkl", simple_pickle(), 8}, {"archive/data/0", storage}}),
            {"compressed", "uncompressed"}, "deflate");
        {
            std::string enc = good;
            const size_t cd = enc.find(std::string("PK\x01\x02", 4));
            enc[cd + 8] = 1;
            expect_archive_error<daub::UnsupportedModelError>(enc, {"encrypted"}, "encrypted");
        }
        // Duplicate names.
        expect_archive_error<daub::FormatError>(
            make_zip({{"archive/data.pkl", simple_pickle()}, {"archive/data.pkl", "x"}}), {"twice"},
            "duplicate entry");
        // A zip that is not a checkpoint; a TorchScript archive.
        expect_archive_error<daub::FormatError>(make_zip({{"readme.txt", "hi"}}),
                                                {"not a PyTorch checkpoint"}, "plain zip");
        expect_archive_error<daub::UnsupportedModelError>(
            make_zip({{"m/data.pkl", simple_pickle()}, {"m/constants.pkl", "\x80\x02)."}}),
            {"TorchScript"}, "torchscript");
        // Big-endian, and a byteorder record that is neither.
        expect_archive_error<daub::UnsupportedModelError>(
            make_checkpoint(simple_pickle(), {{"0", storage}}, false,
                            {{"archive/byteorder", "big"}}),
            {"big-endian"}, "big-endian");
        expect_archive_error<daub::FormatError>(make_checkpoint(simple_pickle(), {{"0", storage}},
                                                                false,
                                                                {{"archive/byteorder", "middle"}}),
                                                {"byteorder"}, "odd byteorder");
        QCOMPARE(daub::read_torch_archive(
                     span_of(make_checkpoint(simple_pickle(), {{"0", storage}}, false,
                                             {{"archive/byteorder", "little"}})),
                     "x.pth")
                     .tensors.size(),
                 size_t{1});
        // data.pkl whose checksum does not match.
        {
            std::string bad = good;
            const size_t pos = bad.find("FloatStorage");
            bad[pos] = 'G';
            expect_archive_error<daub::FormatError>(bad, {"checksum", "data.pkl"}, "pickle crc");
        }
    }

    void damaged_storage_is_caught_on_load() {
        std::string bytes =
            make_checkpoint(simple_pickle(), {{"0", bytes_of_floats({1, 2, 3, 4, 5, 6})}});
        const size_t pos = bytes.find(bytes_of_floats({1, 2, 3, 4, 5, 6}));
        bytes[pos + 5] ^= 0x40; // one flipped bit in the weights
        const fs::path path = write_file(scratch_dir("crc") / "flipped.pth", bytes);
        daub::TorchCheckpointFile f(path.string()); // the directory is fine
        const std::string msg = error_of<daub::ModelError>([&] { f.load("w"); });
        QVERIFY2(msg.find("checksum") != std::string::npos &&
                     msg.find("flipped.pth") != std::string::npos,
                 msg.c_str());
    }

    void hostile_tensors() {
        const auto one = [](const std::string& type, int64_t numel, int64_t offset,
                            const std::vector<int64_t>& shape, const std::vector<int64_t>& stride) {
            Pickle p;
            p.op('}').str("w").tensor(type, "0", numel, offset, shape, stride).op('s').stop();
            return p.b;
        };
        const std::string six = bytes_of_floats({1, 2, 3, 4, 5, 6});
        // The storage is too small for the shape, for the strides, for the offset.
        expect_archive_error<daub::FormatError>(
            make_checkpoint(one("FloatStorage", 6, 0, {2, 4}, {4, 1}), {{"0", six}}),
            {"tensor 'w'", "reaches element 7", "has 6"}, "shape past storage");
        expect_archive_error<daub::FormatError>(
            make_checkpoint(one("FloatStorage", 6, 0, {2, 3}, {4, 1}), {{"0", six}}),
            {"tensor 'w'", "reaches element"}, "stride past storage");
        expect_archive_error<daub::FormatError>(
            make_checkpoint(one("FloatStorage", 6, 1, {6}, {1}), {{"0", six}}),
            {"reaches element 6"}, "offset past storage");
        // The persistent id claims more elements than the record has.
        expect_archive_error<daub::FormatError>(
            make_checkpoint(one("FloatStorage", 7, 0, {7}, {1}), {{"0", six}}),
            {"storage '0' should hold 7 float32", "24 bytes"}, "record too short");
        expect_archive_error<daub::FormatError>(
            make_checkpoint(one("DoubleStorage", 4, 0, {4}, {1}), {{"0", six}}),
            {"should hold 4 float64"}, "dtype larger than record");
        // A storage with no record.
        expect_archive_error<daub::FormatError>(
            make_checkpoint(one("FloatStorage", 6, 0, {6}, {1}), {{"1", six}}), {"has no record"},
            "missing record");
        // Shape products and stride sums overflowing int64.
        expect_archive_error<daub::FormatError>(
            make_checkpoint(one("FloatStorage", 6, 0, {int64_t{1} << 40, int64_t{1} << 40}, {1, 1}),
                            {{"0", six}}),
            {"absurd shape"}, "shape overflow");
        expect_archive_error<daub::FormatError>(
            make_checkpoint(
                one("FloatStorage", 6, 0, {0, int64_t{1} << 40, int64_t{1} << 40}, {1, 1, 1}),
                {{"0", six}}),
            {"absurd shape"}, "empty tensor with overflowing shape");
        expect_archive_error<daub::FormatError>(
            make_checkpoint(one("FloatStorage", 6, 0, {3, 3}, {int64_t{1} << 62, int64_t{1} << 62}),
                            {{"0", six}}),
            {"overflow"}, "stride overflow");
        expect_archive_error<daub::FormatError>(
            make_checkpoint(one("FloatStorage", 6, INT64_MAX, {2}, {1}), {{"0", six}}),
            {"tensor 'w'"}, "offset overflow");
        // Negative sizes, strides and offsets; mismatched ranks; absurd rank.
        expect_archive_error<daub::FormatError>(
            make_checkpoint(one("FloatStorage", 6, 0, {-1, 3}, {3, 1}), {{"0", six}}), {"shape"},
            "negative dim");
        expect_archive_error<daub::FormatError>(
            make_checkpoint(one("FloatStorage", 6, 0, {2, 3}, {-3, 1}), {{"0", six}}), {"stride"},
            "negative stride");
        expect_archive_error<daub::FormatError>(
            make_checkpoint(one("FloatStorage", 6, -1, {2}, {1}), {{"0", six}}), {"offset"},
            "negative offset");
        expect_archive_error<daub::FormatError>(
            make_checkpoint(one("FloatStorage", 6, 0, {2, 3}, {1}), {{"0", six}}),
            {"2 dimensions but 1 strides"}, "rank mismatch");
        expect_archive_error<daub::FormatError>(
            make_checkpoint(
                one("FloatStorage", 6, 0, std::vector<int64_t>(40, 1), std::vector<int64_t>(40, 1)),
                {{"0", six}}),
            {"40 dimensions"}, "rank 40");
        // Stride 0 lets six stored values claim 4096 × 20480 × 9 of them
        // (the review's few-KB .pth of RRDBNet-sized convolutions, ~3 GB).
        expect_archive_error<daub::FormatError>(
            make_checkpoint(one("FloatStorage", 6, 0, {4096, 20480, 3, 3}, {0, 0, 0, 0}),
                            {{"0", six}}),
            {"far more values than the file stores"}, "stride-0 giant");
        // No tensors at all.
        {
            Pickle p;
            p.op('}').str("epoch").integer(3).op('s').stop();
            expect_archive_error<daub::ModelError>(make_checkpoint(p.b, {}), {"holds no tensors"},
                                                   "no tensors");
        }
    }

    void hostile_pickles() {
        const auto refused = [&](const std::string& pkl, std::initializer_list<const char*> needles,
                                 const char* what) {
            const std::string msg = error_of<daub::UnsupportedModelError>(
                [&] { daub::read_torch_pickle(span_of(pkl), "x.pth"); });
            qInfo("%s -> %s", what, msg.c_str());
            QVERIFY2(!msg.empty() && msg.rfind("WRONG", 0) != 0,
                     (std::string(what) + ": " + msg).c_str());
            QVERIFY2(msg.find("nothing from it was run") != std::string::npos, msg.c_str());
            for (const char* n : needles)
                QVERIFY2(msg.find(n) != std::string::npos,
                         (std::string(what) + ": message lacks '" + n + "': " + msg).c_str());
        };
        const auto damaged = [&](const std::string& pkl, std::initializer_list<const char*> needles,
                                 const char* what) {
            const std::string msg = error_of<daub::FormatError>(
                [&] { daub::read_torch_pickle(span_of(pkl), "x.pth"); });
            qInfo("%s -> %s", what, msg.c_str());
            QVERIFY2(!msg.empty() && msg.rfind("WRONG", 0) != 0,
                     (std::string(what) + ": " + msg).c_str());
            for (const char* n : needles)
                QVERIFY2(msg.find(n) != std::string::npos,
                         (std::string(what) + ": message lacks '" + n + "': " + msg).c_str());
        };

        // Globals outside the allow-list, by GLOBAL and by STACK_GLOBAL, even unused.
        refused(Pickle().global("builtins", "eval").str("1+1").op('\x85').op('R').stop().b,
                {"x.pth is refused: it asks to call builtins.eval"}, "GLOBAL builtins.eval");
        refused(Pickle().str("os").str("system").op('\x93').stop().b, {"os.system"},
                "STACK_GLOBAL os.system");
        refused(Pickle().global("torch.storage", "_load_from_bytes").stop().b,
                {"torch.storage._load_from_bytes"}, "_load_from_bytes");
        refused(Pickle().global("torch._utils", "_rebuild_qtensor").stop().b,
                {"torch._utils._rebuild_qtensor"}, "quantized tensor");
        // REDUCE / NEWOBJ of an allowed name that is not a callable here.
        refused(Pickle().global("torch", "FloatStorage").op(')').op('R').stop().b,
                {"construct torch.FloatStorage"}, "REDUCE of a storage type");
        refused(Pickle().global("torch._utils", "_rebuild_tensor_v2").op(')').op('\x81').stop().b,
                {"create an object of torch._utils._rebuild_tensor_v2"}, "NEWOBJ");
        // REDUCE of things that are not callables at all.
        damaged(Pickle().str("print").op(')').op('R').stop().b, {"calls a string"},
                "REDUCE of a string");
        // Opcodes a weights file never needs: INST, OBJ, EXT1, unknown.
        refused(Pickle().raw("(ios\nsystem\n").stop().b, {"INST (0x69)"}, "INST");
        refused(Pickle().op('(').global("collections", "OrderedDict").op('o').stop().b,
                {"OBJ (0x6f)"}, "OBJ");
        refused(Pickle().raw("\x82\x01").stop().b, {"EXT1"}, "EXT1");
        refused(Pickle().raw("\xff").stop().b, {"an unknown opcode (0xff) at byte 2"}, "0xff");
        refused(Pickle().raw("Pfoo\n").stop().b, {"PERSID"}, "text persid");
        // BUILD on something that is not a dict (only OrderedDict attributes are allowed).
        refused(Pickle().op(']').op('}').op('b').stop().b, {"BUILD"}, "BUILD on a list");

        // Damaged or absurd pickles.
        damaged("", {"ends without a STOP"}, "empty");
        damaged(Pickle().b, {"ends without a STOP"}, "no STOP");
        damaged(Pickle().op('.').b, {"empty stack"}, "STOP on empty stack");
        damaged(Pickle().op('0').stop().b, {"empty stack"}, "POP on empty stack");
        damaged(Pickle().raw("X\xff\xff\xff\x7f").stop().b, {"more than"}, "huge string length");
        damaged(Pickle().raw("X\x10\x00\x00\x00").raw("abc").b, {"ends in the middle"},
                "short string");
        damaged(Pickle().raw("\x8a\x09").raw(std::string(9, '\x01')).stop().b, {"9 bytes"},
                "LONG1 of 9 bytes");
        damaged(Pickle().raw("h\x05").stop().b, {"memo entry 5"}, "BINGET never stored");
        damaged(Pickle().op('t').stop().b, {"mark"}, "TUPLE without MARK");
        damaged(Pickle().op(')').op('K').raw("\x01").op('a').stop().b, {"appends to a tuple"},
                "APPEND to tuple");
        damaged(Pickle().op(']').str("k").integer(1).op('s').stop().b, {"stores a key in a list"},
                "SETITEM on list");
        damaged(Pickle().raw("\x80\x06").stop().b, {"protocol 6"}, "protocol 6");
        damaged(Pickle().raw(std::string(2000, '(')).stop().b, {"nested marks"},
                "2000 nested marks");
        damaged(Pickle().op(']').stop().b, {"holds a list, not a dictionary"}, "list at top");
        damaged(Pickle()
                    .op('(')
                    .str("storage")
                    .str("FloatStorage")
                    .str("0")
                    .str("cpu")
                    .integer(1)
                    .op('t')
                    .op('Q')
                    .stop()
                    .b,
                {"storage whose type"}, "persid with a string type");
        damaged(Pickle()
                    .global("torch._utils", "_rebuild_tensor_v2")
                    .integer(1)
                    .op('\x85')
                    .op('R')
                    .stop()
                    .b,
                {"1 arguments"}, "rebuild_tensor with 1 arg");

        // Nested dicts deeper than the limit, and a dict that contains itself.
        {
            Pickle p;
            p.op('}');
            for (int k = 0; k < 40; ++k)
                p.str("a").op('}');
            p.str("w").tensor("FloatStorage", "0", 1, 0, {1}, {1}).op('s');
            for (int k = 0; k < 40; ++k)
                p.op('s');
            damaged(p.stop().b, {"nest deeper than 16"}, "deep nesting");
            damaged(Pickle().op('}').raw("q\x00").str("a").raw("h\x00").op('s').stop().b,
                    {"nest deeper"}, "self-containing dict");
        }
        // A few shared dicts referenced many times (a "billion laughs").
        {
            Pickle p;
            p.op('}').str("w").tensor("FloatStorage", "0", 1, 0, {1}, {1}).op('s').raw("q\x00");
            for (int level = 1; level <= 5; ++level) {
                p.op('}').op('(');
                for (int k = 0; k < 64; ++k)
                    p.str("k" + std::to_string(k)).raw("h").raw(std::string(1, char(level - 1)));
                p.op('u').raw("q").raw(std::string(1, char(level)));
            }
            const auto t0 = std::chrono::steady_clock::now();
            damaged(p.stop().b, {"far more than a weights file needs"}, "billion laughs");
            const double s =
                std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
            qInfo("billion laughs refused in %.2f s", s);
            QVERIFY(s < 10);
        }
        // A long string stored as a dict key over and over (each store would
        // copy and hash it): long keys are refused at the first store.
        {
            Pickle p;
            p.op('}').str(std::string(64 * 1024, 'k')).raw("q\x00").op('0').raw("q\x01");
            for (int i = 0; i < 1000; ++i)
                p.raw("h\x01").raw("h\x00").op('N').op('s').op('0');
            damaged(p.op('}').stop().b, {"dict key"}, "long dict keys");
        }
    }

    /// Inputs the fuzzer once crashed on (tests/fuzz/regressions): each
    /// goes through the parser again; refusing is fine, crashing is not.
    void fuzz_regressions() {
        const fs::path dir = fs::path(DAUB_SOURCE_DIR) / "tests/fuzz/regressions/torch_pickle";
        QVERIFY2(fs::is_directory(dir), dir.c_str());
        const fs::path corpus = fs::path(DAUB_SOURCE_DIR) / "tests/fuzz/corpus/torch_pickle";
        int replayed = 0, accepted = 0;
        for (const fs::path& folder : {dir, corpus}) {
            for (const auto& entry : fs::directory_iterator(folder)) {
                if (!entry.is_regular_file() || entry.path().filename() == "README.md")
                    continue;
                std::ifstream in(entry.path(), std::ios::binary);
                const std::string bytes((std::istreambuf_iterator<char>(in)), {});
                try {
                    daub::read_torch_archive(span_of(bytes), entry.path().filename().string());
                    ++accepted;
                } catch (const daub::Error&) {
                }
                try {
                    daub::read_torch_pickle(span_of(bytes), entry.path().filename().string());
                } catch (const daub::Error&) {
                }
                ++replayed;
            }
        }
        qInfo("%d fuzz regression and seed inputs replayed, %d accepted as checkpoints", replayed,
              accepted);
        QVERIFY(replayed > 0);
    }
};

QTEST_APPLESS_MAIN(TestTorchCheckpoint)
#include "test_torch_checkpoint.moc"
