// The safetensors reader and writer, and load_module_weights: the fixtures'
// real files, write/read round trips, and hand-made corrupt files, each of
// which must fail with its own FormatError sentence naming the file.
#include "golden.h"

#include "core/errors.h"
#include "core/safetensors.h"
#include "core/weights.h"

#include <QtCore/QTemporaryDir>
#include <QtTest/QtTest>
#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include <fstream>

namespace {

using daub::FormatError;
using daub::ModelError;
using daub::SafeTensorsFile;

std::vector<uint8_t> read_bytes(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_bytes(const std::string& path, const std::vector<uint8_t>& bytes) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(bytes.data()),
              static_cast<std::streamsize>(bytes.size()));
}

/// A safetensors file byte by byte: the 8-byte little-endian length (the
/// header's real length unless `claimed_length` is given), the header text,
/// then `data_bytes` bytes of data.
std::vector<uint8_t> make_file(const std::string& header, size_t data_bytes,
                               std::optional<uint64_t> claimed_length = std::nullopt) {
    const uint64_t n = claimed_length.value_or(header.size());
    std::vector<uint8_t> out;
    for (int i = 0; i < 8; ++i)
        out.push_back(static_cast<uint8_t>((n >> (8 * i)) & 0xff));
    out.insert(out.end(), header.begin(), header.end());
    for (size_t i = 0; i < data_bytes; ++i)
        out.push_back(static_cast<uint8_t>(i * 13));
    return out;
}

/// The header of one tensor `t` (dtype, shape as JSON, offsets).
std::string one_tensor(const std::string& dtype, const std::string& shape, uint64_t begin,
                       uint64_t end) {
    return R"({"t":{"dtype":")" + dtype + R"(","shape":)" + shape + R"(,"data_offsets":[)" +
           std::to_string(begin) + "," + std::to_string(end) + "]}}";
}

/// Opening `path` must throw FormatError whose message names the file and
/// contains `needle`.
bool format_error(const std::string& path, const std::string& needle) {
    try {
        SafeTensorsFile f(path);
    } catch (const FormatError& e) {
        const std::string what = e.what();
        qInfo("FormatError: %s", e.what());
        if (what.rfind(path + ": ", 0) != 0) {
            qWarning("the message does not start with the file name");
            return false;
        }
        if (what.find(needle) == std::string::npos) {
            qWarning("expected \"%s\" in the message", needle.c_str());
            return false;
        }
        return true;
    } catch (const std::exception& e) {
        qWarning("another exception: %s", e.what());
        return false;
    }
    qWarning("%s opened without an error", path.c_str());
    return false;
}

/// `f` must throw ModelError containing every one of `needles`.
template <typename F> bool model_error(F&& f, std::initializer_list<std::string> needles) {
    try {
        f();
    } catch (const ModelError& e) {
        qInfo("ModelError: %s", e.what());
        for (const auto& n : needles)
            if (std::string(e.what()).find(n) == std::string::npos)
                return false;
        return true;
    }
    return false;
}

} // namespace

class TestSafetensors : public QObject {
    Q_OBJECT

    QTemporaryDir tmp_;
    std::string path(const std::string& name) const {
        return tmp_.filePath(QString::fromStdString(name)).toStdString();
    }
    /// Writes `bytes` as a file in the temp dir and returns its path.
    std::string file(const std::string& name, const std::vector<uint8_t>& bytes) const {
        write_bytes(path(name), bytes);
        return path(name);
    }

private Q_SLOTS:
    void initTestCase() {
        QVERIFY2(daub::test::fixtures_present(), "fixtures folder missing: set DAUB_FIXTURES");
        QVERIFY(tmp_.isValid());
    }

    // ---- the fixtures' files --------------------------------------------

    void reads_rrdbnet_file_with_metadata() {
        const std::string p = daub::test::fixture("tiny-rrdbnet-x4.safetensors");
        SafeTensorsFile f(p);
        QCOMPARE(f.path(), p);
        QCOMPARE(f.describe(), p);
        // The header, parsed independently, names the same tensors.
        const std::vector<uint8_t> bytes = read_bytes(p);
        QVERIFY(bytes.size() > 8);
        uint64_t n = 0;
        for (int i = 7; i >= 0; --i)
            n = (n << 8) | bytes[i];
        const auto header = nlohmann::json::parse(bytes.begin() + 8, bytes.begin() + 8 + n);
        const std::vector<std::string> keys = f.keys();
        QCOMPARE(keys.size(), header.size() - 1); // minus __metadata__
        QCOMPARE(keys.size(), size_t(72));
        QVERIFY(std::is_sorted(keys.begin(), keys.end()));

        const auto& meta = f.metadata();
        QCOMPARE(meta.size(), size_t(5));
        QCOMPARE(meta.at("arch"), std::string("RRDBNet"));
        QCOMPARE(meta.at("scale"), std::string("4"));
        QCOMPARE(meta.at("num_feat"), std::string("8"));
        QCOMPARE(meta.at("num_block"), std::string("2"));
        QCOMPARE(meta.at("num_grow_ch"), std::string("4"));

        const std::string key = "body.0.rdb1.conv1.weight";
        QVERIFY(f.contains(key));
        QVERIFY(!f.contains("body.0.rdb1.conv1.weight.missing"));
        QCOMPARE(f.shape(key), (std::vector<int64_t>{4, 8, 3, 3}));
        QCOMPARE(f.stored_dtype(key), at::kFloat);
        QVERIFY(f.entry(key).dtype == daub::StDtype::F32);
        QCOMPARE(f.shape("conv_first.weight"), (std::vector<int64_t>{8, 3, 3, 3}));

        // Every tensor holds exactly its bytes of the file.
        for (const std::string& k : f.keys()) {
            const at::Tensor t = f.load(k);
            const auto& h = header.at(k);
            QCOMPARE(t.sizes().vec(), h.at("shape").get<std::vector<int64_t>>());
            QCOMPARE(t.scalar_type(), at::kFloat);
            const size_t begin = h.at("data_offsets")[0].get<size_t>();
            const size_t end = h.at("data_offsets")[1].get<size_t>();
            QCOMPARE(size_t(t.numel() * 4), end - begin);
            QVERIFY(std::memcmp(t.data_ptr(), bytes.data() + 8 + n + begin, end - begin) == 0);
        }
        QVERIFY(model_error([&] { f.load("no.such.tensor"); }, {p, "'no.such.tensor'", "missing"}));
        QVERIFY(model_error([&] { f.shape("no.such.tensor"); }, {"'no.such.tensor'"}));
    }

    void reads_fp16_file_and_converts() {
        const std::string p =
            daub::test::fixture("tiny-sd15/vae/diffusion_pytorch_model.safetensors");
        SafeTensorsFile f(p);
        QCOMPARE(f.metadata().at("format"), std::string("pt"));
        const std::string key = "decoder.conv_in.weight";
        QCOMPARE(f.shape(key), (std::vector<int64_t>{64, 4, 3, 3}));
        QCOMPARE(f.stored_dtype(key), at::kHalf);
        QVERIFY(f.entry(key).dtype == daub::StDtype::F16);
        for (const std::string& k : f.keys())
            QCOMPARE(f.stored_dtype(k), at::kHalf);

        const at::Tensor h = f.load(key);
        QCOMPARE(h.scalar_type(), at::kHalf);
        QVERIFY(h.isfinite().all().item<bool>());
        QVERIFY(h.abs().max().item<float>() > 0);
        const at::Tensor f32 = f.load(key, at::kFloat, at::kCPU);
        QCOMPARE(f32.scalar_type(), at::kFloat);
        QVERIFY(torch::equal(f32, h.to(at::kFloat))); // fp16 -> fp32 is exact
        const at::Tensor bf = f.load(key, at::kBFloat16, at::kCPU);
        QCOMPARE(bf.scalar_type(), at::kBFloat16);
        QVERIFY(torch::equal(bf, h.to(at::kBFloat16)));
        QCOMPARE(f.load(key, at::kDouble, at::kCPU).scalar_type(), at::kDouble);
        // A fresh tensor each time, never a view of the mapping.
        at::Tensor a = f.load(key);
        a.fill_(0);
        QVERIFY(!torch::equal(a, f.load(key)));

        // A golden: fp32 input of the super-resolution case, in [0, 1].
        SafeTensorsFile g(daub::test::fixture("golden/rrdbnet_x4.safetensors"));
        QCOMPARE(g.shape("input"), (std::vector<int64_t>{1, 3, 8, 12}));
        QCOMPARE(g.shape("out"), (std::vector<int64_t>{1, 3, 32, 48}));
        const at::Tensor in = g.load("input");
        QVERIFY(in.min().item<float>() >= 0 && in.max().item<float>() <= 1);
    }

    // ---- writing ----------------------------------------------------------

    void write_round_trip_all_dtypes() {
        torch::manual_seed(0);
        std::map<std::string, at::Tensor> tensors = {
            {"f32", torch::randn({3, 5})},
            {"f16", torch::randn({2, 3, 4}).to(at::kHalf)},
            {"bf16", torch::randn({7}).to(at::kBFloat16)},
            {"f64", torch::randn({2, 2}, at::kDouble)},
            {"i64", torch::tensor({-(int64_t(1) << 40), int64_t(0), int64_t(1) << 62})},
            {"i32", torch::randint(-1000, 1000, {4, 1}, at::kInt)},
            {"i16", torch::tensor({-300, 300}, at::kShort)},
            {"i8", torch::tensor({-128, 127}, at::kChar)},
            {"u8", torch::arange(0, 256, at::kLong).to(at::kByte).reshape({16, 16})},
            {"bool", torch::tensor({true, false, true})},
            {"scalar", torch::tensor(3.5f)},
            {"empty", torch::zeros({0, 3})},
            {"transposed", torch::arange(6, at::kFloat).reshape({2, 3}).t()}, // not contiguous
        };
        const std::string p = path("round.safetensors");
        daub::write_safetensors(p, tensors, {{"format", "pt"}, {"note", "ü ✓"}});

        // The data section starts 8-byte aligned.
        const std::vector<uint8_t> bytes = read_bytes(p);
        uint64_t n = 0;
        for (int i = 7; i >= 0; --i)
            n = (n << 8) | bytes[i];
        QCOMPARE((8 + n) % 8, uint64_t(0));

        SafeTensorsFile f(p);
        QCOMPARE(f.keys().size(), tensors.size());
        QCOMPARE(f.metadata().at("format"), std::string("pt"));
        QCOMPARE(f.metadata().at("note"), std::string("ü ✓"));
        for (const auto& [k, t] : tensors) {
            const at::Tensor back = f.load(k);
            QVERIFY2(back.scalar_type() == t.scalar_type(), k.c_str());
            QVERIFY2(back.sizes() == t.sizes(), k.c_str());
            QVERIFY2(torch::equal(back, t), k.c_str());
        }
        const std::pair<const char*, daub::StDtype> stored[] = {
            {"f32", daub::StDtype::F32},   {"f16", daub::StDtype::F16},
            {"bf16", daub::StDtype::BF16}, {"f64", daub::StDtype::F64},
            {"i64", daub::StDtype::I64},   {"i32", daub::StDtype::I32},
            {"i16", daub::StDtype::I16},   {"i8", daub::StDtype::I8},
            {"u8", daub::StDtype::U8},     {"bool", daub::StDtype::BOOL}};
        for (const auto& [k, dt] : stored)
            QVERIFY2(f.entry(k).dtype == dt, k);
        QCOMPARE(f.shape("scalar"), std::vector<int64_t>{});
        QCOMPARE(f.shape("transposed"), (std::vector<int64_t>{3, 2}));

        // Conversion on load to a requested dtype.
        QVERIFY(torch::equal(f.load("f32", at::kHalf, at::kCPU), tensors["f32"].to(at::kHalf)));
        QVERIFY(torch::equal(f.load("bf16", at::kFloat, at::kCPU), tensors["bf16"].to(at::kFloat)));
        QVERIFY(torch::equal(f.load("f16", at::kFloat, at::kCPU), tensors["f16"].to(at::kFloat)));
        QVERIFY(torch::equal(f.load("u8", at::kFloat, at::kCPU), tensors["u8"].to(at::kFloat)));
        QVERIFY(torch::equal(f.load("i32", at::kLong, at::kCPU), tensors["i32"].to(at::kLong)));

        // Rewriting replaces the file.
        daub::write_safetensors(p, {{"only", torch::ones({2})}});
        SafeTensorsFile again(p);
        QCOMPARE(again.keys(), std::vector<std::string>{"only"});
        QVERIFY(again.metadata().empty());

        QVERIFY_THROWS_EXCEPTION(daub::Error,
                                 daub::write_safetensors(path("no/dir/x.safetensors"), tensors));
        QVERIFY_THROWS_EXCEPTION(
            daub::Error, daub::write_safetensors(path("c.safetensors"),
                                                 {{"c", torch::zeros({2}, at::kComplexFloat)}}));
    }

    // ---- corrupt files ----------------------------------------------------

    void missing_and_odd_files() {
        const std::string missing = path("missing.safetensors");
        QVERIFY(model_error([&] { SafeTensorsFile f(missing); }, {missing, "cannot open"}));
        QVERIFY(model_error([&] { SafeTensorsFile f(tmp_.path().toStdString()); },
                            {"not a regular file"}));
    }

    void truncated_files() {
        QVERIFY(format_error(file("empty.safetensors", {}), "file is too short to be safetensors"));
        QVERIFY(format_error(file("seven.safetensors", {16, 0, 0, 0, 0, 0, 0}),
                             "file is too short to be safetensors (7 bytes"));
        // A real file with its data cut off.
        std::vector<uint8_t> good = read_bytes(daub::test::fixture("tiny-rrdbnet-x4.safetensors"));
        good.resize(good.size() - 100);
        QVERIFY(format_error(file("cut.safetensors", good),
                             "has data_offsets past the end of the file"));
        // Cut inside the header.
        good.resize(200);
        QVERIFY(
            format_error(file("cut_header.safetensors", good), "runs past the end of the file"));
    }

    void header_length_errors() {
        const std::string h = one_tensor("F32", "[2]", 0, 8);
        QVERIFY(format_error(file("past_end.safetensors", make_file(h, 8, 1000)),
                             "header length 1000 runs past the end of the file"));
        QVERIFY(format_error(file("huge_header.safetensors", make_file(h, 8, 200ull << 20)),
                             "is over the 100 MB limit"));
        QVERIFY(format_error(file("max_header.safetensors", make_file(h, 8, ~uint64_t(0))),
                             "is over the 100 MB limit"));
        // Sanity: the same bytes with the right length open.
        SafeTensorsFile ok(file("ok.safetensors", make_file(h, 8)));
        QCOMPARE(ok.shape("t"), std::vector<int64_t>{2});
    }

    void header_json_errors() {
        QVERIFY(format_error(file("json.safetensors", make_file(R"({"t": {"dtype": "F32",)", 8)),
                             "header is not valid JSON"));
        QVERIFY(format_error(
            file("binary.safetensors", make_file(std::string("\xff\xfe\x00\x01", 4), 0)),
            "header is not valid JSON"));
        QVERIFY(format_error(file("array.safetensors", make_file("[1, 2, 3]", 0)),
                             "header is not a JSON object"));
        QVERIFY(format_error(file("meta.safetensors", make_file(R"({"__metadata__": [1]})", 0)),
                             "__metadata__ is not an object"));
        QVERIFY(format_error(file("desc.safetensors", make_file(R"({"t": 5})", 0)),
                             "tensor 't' has no description object"));
        QVERIFY(
            format_error(file("noshape.safetensors",
                              make_file(R"({"t": {"dtype": "F32", "data_offsets": [0, 4]}})", 4)),
                         "tensor 't' has no shape"));
        QVERIFY(format_error(
            file("nooffsets.safetensors", make_file(R"({"t": {"dtype": "F32", "shape": [1]}})", 4)),
            "tensor 't' has invalid data_offsets"));
        QVERIFY(format_error(
            file("negoffsets.safetensors",
                 make_file(R"({"t": {"dtype": "F32", "shape": [1], "data_offsets": [-4, 0]}})", 4)),
            "tensor 't' has invalid data_offsets"));
        // Empty header object: a valid file with no tensors.
        SafeTensorsFile none(file("none.safetensors", make_file("{}", 0)));
        QVERIFY(none.keys().empty());
    }

    void dtype_errors() {
        QVERIFY(
            format_error(file("f8.safetensors", make_file(one_tensor("F8_E4M3", "[4]", 0, 4), 4)),
                         R"(tensor 't' has an unknown dtype "F8_E4M3")"));
        QVERIFY(
            format_error(file("lower.safetensors", make_file(one_tensor("f32", "[1]", 0, 4), 4)),
                         "has an unknown dtype"));
        QVERIFY(format_error(file("nodtype.safetensors",
                                  make_file(R"({"t": {"shape": [1], "data_offsets": [0, 4]}})", 4)),
                             "has an unknown dtype (none)"));
        // Byte size not matching dtype × shape: F32 [3] needs 12, gets 8;
        // F16 [4] needs 8, gets 16.
        QVERIFY(format_error(file("size.safetensors", make_file(one_tensor("F32", "[3]", 0, 8), 8)),
                             "tensor 't' has 8 bytes but its dtype and shape need 12"));
        QVERIFY(
            format_error(file("size16.safetensors", make_file(one_tensor("F16", "[4]", 0, 16), 16)),
                         "has 16 bytes but its dtype and shape need 8"));
    }

    void absurd_shapes() {
        QVERIFY(format_error(
            file("huge.safetensors", make_file(one_tensor("F32", "[1000000, 1000000]", 0, 16), 16)),
            "tensor 't' has an absurd shape [1000000,1000000]"));
        QVERIFY(format_error(
            file("huge3.safetensors",
                 make_file(one_tensor("U8", "[4294967296, 4294967296, 4294967296]", 0, 16), 16)),
            "has an absurd shape"));
        // 2^62 F32 elements are 2^64 bytes: wraps to 0 in 64 bits, must not
        // pass as a tensor of zero bytes.
        QVERIFY(format_error(file("wrap.safetensors",
                                  make_file(one_tensor("F32", "[4611686018427387904]", 0, 0), 0)),
                             "has an absurd shape"));
        QVERIFY(
            format_error(file("wrap2.safetensors",
                              make_file(one_tensor("I64", "[2147483648, 2147483648]", 0, 0), 0)),
                         "has an absurd shape"));
        QVERIFY(format_error(
            file("neg.safetensors", make_file(one_tensor("F32", "[-1, 4]", 0, 16), 16)),
            "tensor 't' has an invalid dimension -1"));
        QVERIFY(
            format_error(file("big_uint.safetensors",
                              make_file(one_tensor("F32", "[18446744073709551615]", 0, 16), 16)),
                         "has an invalid dimension"));
        QVERIFY(format_error(
            file("float_dim.safetensors", make_file(one_tensor("F32", "[2.5]", 0, 16), 16)),
            "has an invalid dimension 2.5"));
        QVERIFY(format_error(
            file("str_dim.safetensors", make_file(one_tensor("F32", R"(["4"])", 0, 16), 16)),
            "has an invalid dimension"));
        QVERIFY(format_error(
            file("rank.safetensors", make_file(one_tensor("F32", "[1,1,1,1,1,1,1,1,1]", 0, 4), 4)),
            "has an absurd rank 9"));
        QVERIFY(
            format_error(file("shape_obj.safetensors", make_file(one_tensor("F32", "{}", 0, 4), 4)),
                         "has no shape"));
        // Zero-sized dimensions are fine, with zero bytes.
        SafeTensorsFile zero(
            file("zero.safetensors", make_file(one_tensor("F32", "[5, 0]", 0, 0), 0)));
        QCOMPARE(zero.load("t").sizes().vec(), (std::vector<int64_t>{5, 0}));
    }

    void offset_errors() {
        QVERIFY(format_error(
            file("past.safetensors", make_file(one_tensor("F32", "[4]", 0, 16), 12)),
            "tensor 't' has data_offsets past the end of the file (16 > 12 data bytes"));
        QVERIFY(format_error(
            file("far.safetensors", make_file(one_tensor("U8", "[4]", 1000000, 1000004), 16)),
            "has data_offsets past the end of the file"));
        QVERIFY(
            format_error(file("reversed.safetensors", make_file(one_tensor("F32", "[1]", 8, 4), 8)),
                         "has data_offsets that end before they begin"));
        const std::string overlap = R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},)"
                                    R"("b":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}})";
        QVERIFY(format_error(file("overlap.safetensors", make_file(overlap, 16)),
                             "tensors 'a' and 'b' overlap in the file"));
        const std::string same = R"({"x":{"dtype":"U8","shape":[4],"data_offsets":[4,8]},)"
                                 R"("y":{"dtype":"U8","shape":[4],"data_offsets":[4,8]}})";
        QVERIFY(format_error(file("same.safetensors", make_file(same, 8)), "overlap in the file"));
        // Adjacent is not overlapping; the data follows the header exactly.
        const std::string adjacent = R"({"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]},)"
                                     R"("b":{"dtype":"U8","shape":[3],"data_offsets":[2,5]}})";
        SafeTensorsFile f(file("adjacent.safetensors", make_file(adjacent, 5)));
        QCOMPARE(f.load("b")[0].item<int>(), 2 * 13);
    }

    // ---- load_module_weights ------------------------------------------------

    void load_module_weights_copies_and_names_bad_keys() {
        torch::manual_seed(1);
        torch::nn::Linear source(torch::nn::LinearOptions(3, 2));
        const std::string p = path("linear.safetensors");
        daub::write_safetensors(p, {{"fc.weight", source->weight.to(at::kHalf)},
                                    {"fc.bias", source->bias.to(at::kHalf)},
                                    {"other.weight", torch::zeros({1})}});
        SafeTensorsFile f(p);
        torch::nn::Linear target(torch::nn::LinearOptions(3, 2));
        QCOMPARE(daub::load_module_weights(*target, f, "fc.", {at::kFloat, at::kCPU}), size_t(2));
        QCOMPARE(target->weight.scalar_type(), at::kFloat);
        QVERIFY(torch::equal(target->weight, source->weight.to(at::kHalf).to(at::kFloat)));
        QVERIFY(torch::equal(target->bias, source->bias.to(at::kHalf).to(at::kFloat)));
        QVERIFY(target->weight.requires_grad()); // still a parameter

        // Buffers too; integer buffers keep their dtype.
        torch::nn::BatchNorm1d norm(2);
        daub::write_safetensors(p, {{"bn.weight", torch::tensor({1.5f, 2.f})},
                                    {"bn.bias", torch::tensor({0.f, 1.f})},
                                    {"bn.running_mean", torch::tensor({3.f, 4.f})},
                                    {"bn.running_var", torch::tensor({5.f, 6.f})},
                                    {"bn.num_batches_tracked", torch::tensor(int64_t(7))}});
        SafeTensorsFile bn(p);
        QCOMPARE(daub::load_module_weights(*norm, bn, "bn.", {at::kDouble, at::kCPU}), size_t(5));
        QCOMPARE(norm->running_mean.scalar_type(), at::kDouble);
        QCOMPARE(norm->running_mean[1].item<double>(), 4.0);
        QCOMPARE(norm->num_batches_tracked.scalar_type(), at::kLong);
        QCOMPARE(norm->num_batches_tracked.item<int64_t>(), int64_t(7));

        // A missing key.
        const std::string missing = path("missing_bias.safetensors");
        daub::write_safetensors(missing, {{"fc.weight", torch::zeros({2, 3})}});
        SafeTensorsFile m(missing);
        QVERIFY(model_error([&] { daub::load_module_weights(*target, m, "fc.", {}); },
                            {missing, "tensor 'fc.bias' is missing"}));
        // A shape mismatch names the key and both shapes.
        const std::string wrong = path("wrong_shape.safetensors");
        daub::write_safetensors(
            wrong, {{"fc.weight", torch::zeros({3, 2})}, {"fc.bias", torch::zeros({2})}});
        SafeTensorsFile w(wrong);
        QVERIFY(model_error([&] { daub::load_module_weights(*target, w, "fc.", {}); },
                            {wrong, "tensor 'fc.weight' has shape [3, 2], expected [2, 3]"}));
        // The wrong prefix: every key is missing, the first one is named.
        QVERIFY(model_error([&] { daub::load_module_weights(*target, f, "model.fc.", {}); },
                            {"'model.fc."}));
    }
};

QTEST_APPLESS_MAIN(TestSafetensors)
#include "test_safetensors.moc"
