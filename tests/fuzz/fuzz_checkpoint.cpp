// libFuzzer target: model files read from their shapes. Single-file
// checkpoint detection and configuration (Checkpoint::open,
// detect_checkpoint_layout, the LDM/SGM key mappings, the shape inspection,
// the derived configs and a config folder's checks) over a fuzzed tensor
// list, then the engine's config parsers on what comes out (UNetConfig,
// VaeConfig, ClipTextConfig, SchedulerConfig); and the same file as a
// super-resolution upscaler (rrdbnet_source's ESRGAN renaming,
// RrdbNetConfig::from_weights with the file's metadata, the network built
// when it is small).
//
// The input is text, so that mutations change key names and shapes rather
// than break offsets:
//
//   model.diffusion_model.input_blocks.0.0.weight F16 32 4 3 3
//   first_stage_model.encoder.conv_in.weight F32 32 3 3 3
//   ...
//   --- unet
//   {"in_channels": 4, ...}         (optional: unet/config.json of a config folder)
//   --- vae | text_encoder | text_encoder_2 | scheduler
//   --- metadata
//   scale 4                         (optional: "KEY VALUE" lines, the file's __metadata__)
//
// Each "KEY DTYPE DIM..." line becomes one entry of a real safetensors
// header (data_offsets laid out one after the other; the data section is
// a hole of zeros), which SafeTensorsFile then reads and checks as any
// file; no tensor data is read. The sections after "--- NAME" are written
// as that config file of a folder passed to Checkpoint::configs.
//
// Refusals (daub::Error) are expected; a crash, a sanitizer report or
// another exception (a JSON type error escaping, say) is a finding.
#include "core/errors.h"
#include "core/safetensors.h"
#include "core/weight_file.h"
#include "fuzz_support.h"
#include "loading/checkpoint.h"
#include "models/unet_config.h"
#include "models/vae_config.h"
#include "schedulers/scheduler.h"
#include "text/clip_text_config.h"
#include "upscale/rrdbnet.h"

#include <nlohmann/json.hpp>

#include <charconv>
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace {

using json = nlohmann::json;

/// The data section's size: every laid-out tensor must end inside it.
constexpr uint64_t kDataBytes = uint64_t{1} << 30;

uint64_t dtype_bytes(std::string_view dtype) {
    if (dtype == "F64" || dtype == "I64")
        return 8;
    if (dtype == "F32" || dtype == "I32")
        return 4;
    if (dtype == "F16" || dtype == "BF16" || dtype == "I16")
        return 2;
    return 1;
}

/// The lines of `text`, each split at spaces (empty words dropped).
template <typename Fn> void for_each_line(std::string_view text, Fn&& visit) {
    for (size_t pos = 0; pos < text.size();) {
        size_t nl = text.find('\n', pos);
        if (nl == std::string_view::npos)
            nl = text.size();
        const std::string_view line = text.substr(pos, nl - pos);
        pos = nl + 1;
        std::vector<std::string_view> words;
        for (size_t w = 0; w < line.size();) {
            const size_t sp = line.find(' ', w);
            const size_t end = sp == std::string_view::npos ? line.size() : sp;
            if (end > w)
                words.push_back(line.substr(w, end - w));
            w = end + 1;
        }
        visit(words);
    }
}

/// The safetensors file of the tensor lines and metadata lines: 8-byte
/// length + JSON header; empty when a shape is not a list of integers.
std::string safetensors_header(std::string_view lines, std::string_view metadata) {
    json header = json::object();
    if (!metadata.empty()) {
        json meta = json::object();
        for_each_line(metadata, [&](const std::vector<std::string_view>& words) {
            if (words.size() >= 2)
                meta[std::string(words[0])] = std::string(words[1]);
        });
        header["__metadata__"] = meta;
    }
    bool malformed = false;
    uint64_t offset = 0;
    for_each_line(lines, [&](const std::vector<std::string_view>& words) {
        if (words.size() < 2 || malformed)
            return;
        json shape = json::array();
        uint64_t bytes = dtype_bytes(words[1]);
        bool fits = true;
        for (size_t i = 2; i < words.size(); ++i) {
            int64_t d = 0;
            const auto [end, ec] =
                std::from_chars(words[i].data(), words[i].data() + words[i].size(), d);
            if (ec != std::errc() || end != words[i].data() + words[i].size()) {
                malformed = true; // not a shape: the line is malformed, so is the input
                return;
            }
            shape.push_back(d);
            fits =
                fits && d >= 0 && !__builtin_mul_overflow(bytes, static_cast<uint64_t>(d), &bytes);
        }
        fits = fits && bytes <= kDataBytes - offset;
        const uint64_t begin = fits ? offset : 0, end = fits ? offset + bytes : 0;
        offset = fits ? end : offset;
        header[std::string(words[0])] = {
            {"dtype", std::string(words[1])}, {"shape", shape}, {"data_offsets", {begin, end}}};
    });
    if (malformed)
        return {};
    const std::string text = header.dump(-1, ' ', false, json::error_handler_t::replace);
    std::string file(8, '\0');
    for (int i = 0; i < 8; ++i)
        file[i] = static_cast<char>((uint64_t(text.size()) >> (8 * i)) & 0xff);
    return file + text;
}

const std::map<std::string_view, std::string> kConfigFiles = {
    {"unet", "unet/config.json"},
    {"vae", "vae/config.json"},
    {"text_encoder", "text_encoder/config.json"},
    {"text_encoder_2", "text_encoder_2/config.json"},
    {"scheduler", "scheduler/scheduler_config.json"},
};

/// The engine's parsers on every config a checkpoint gives, as the
/// single-file loader runs them; they may refuse one (daub::Error).
void parse_configs(const daub::CheckpointConfigs& c, bool sdxl) {
    try {
        (void)daub::UNetConfig::from_json(c.unet);
        (void)daub::VaeConfig::from_json(c.vae);
        (void)daub::ClipTextConfig::from_json(c.text_encoder);
        if (sdxl)
            (void)daub::ClipTextConfig::from_json(c.text_encoder_2);
        (void)daub::SchedulerConfig::from_json(c.scheduler);
    } catch (const daub::Error& e) {
        daub::fuzz::note("a config is refused", e.what());
    }
}

void check_view(const daub::WeightSource& view) {
    for (const std::string& key : view.keys())
        for (const int64_t d : view.shape(key))
            DAUB_FUZZ_CHECK(d >= 0);
}

/// The file as a super-resolution upscaler, as Upscaler::open reads it.
void as_upscaler(const std::string& path) {
    try {
        const auto file = daub::open_weight_file(path);
        const auto* st = dynamic_cast<const daub::SafeTensorsFile*>(file.get());
        DAUB_FUZZ_CHECK(st);
        const auto source = daub::rrdbnet_source(file);
        check_view(*source);
        const daub::RrdbNetConfig c = daub::RrdbNetConfig::from_weights(*source, st->metadata());
        DAUB_FUZZ_CHECK(c.scale == 1 || c.scale == 2 || c.scale == 4);
        DAUB_FUZZ_CHECK(c.num_in_ch > 0 && c.num_out_ch > 0 && c.num_feat > 0 &&
                        c.num_grow_ch > 0 && c.num_block > 0);
        daub::fuzz::note("an upscaler", ("x" + std::to_string(c.scale)).c_str());
        // The network it would build, allocated uninitialised, when small.
        if (c.num_feat <= 64 && c.num_grow_ch <= 32 && c.num_block <= 4 && c.num_in_ch <= 16 &&
            c.num_out_ch <= 16)
            (void)daub::RrdbNet(c);
    } catch (const daub::Error& e) {
        daub::fuzz::note("not an upscaler", e.what());
    }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static daub::fuzz::MemFile file("fuzz-checkpoint");
    static daub::fuzz::TempDir config_dir;

    const std::string_view input(reinterpret_cast<const char*>(data), size);
    std::string_view tensor_lines, metadata;
    std::map<std::string, std::string_view> configs;
    daub::fuzz::for_each_section(input, [&](std::string_view name, std::string_view body) {
        if (name.empty())
            tensor_lines = body;
        else if (name == "metadata")
            metadata = body;
        else if (auto it = kConfigFiles.find(name); it != kConfigFiles.end())
            configs[it->second] = body;
    });
    const std::string tensors = safetensors_header(tensor_lines, metadata);
    if (tensors.empty())
        return 0;
    file.write(tensors.data(), tensors.size(), tensors.size() + kDataBytes);
    for (const auto& [name, relative] : kConfigFiles) {
        if (auto it = configs.find(relative); it != configs.end())
            config_dir.put(relative, it->second);
        else
            config_dir.remove(relative);
    }

    as_upscaler(file.path());

    std::unique_ptr<daub::Checkpoint> ckpt;
    try {
        ckpt = daub::Checkpoint::open(file.path());
    } catch (const daub::Error& e) {
        daub::fuzz::note("refused", e.what());
        return 0;
    }
    daub::fuzz::note("opened", daub::to_string(ckpt->layout()));
    const bool sdxl = ckpt->layout() == daub::CheckpointLayout::SDXL_SGM;
    const daub::CheckpointInspection& in = ckpt->inspection();
    DAUB_FUZZ_CHECK(in.layout == ckpt->layout());
    DAUB_FUZZ_CHECK(!in.block_out_channels.empty());
    DAUB_FUZZ_CHECK(in.down_attention.size() == in.block_out_channels.size());
    DAUB_FUZZ_CHECK(in.up_attention.size() == in.block_out_channels.size());
    DAUB_FUZZ_CHECK(in.transformer_depth.size() == in.block_out_channels.size());
    DAUB_FUZZ_CHECK(!in.vae_block_out_channels.empty());
    DAUB_FUZZ_CHECK(sdxl == (in.text_encoder_2.hidden_size > 0));

    check_view(*ckpt->unet());
    check_view(*ckpt->vae());
    check_view(*ckpt->text_encoder());
    if (sdxl)
        check_view(*ckpt->text_encoder_2());

    try {
        parse_configs(ckpt->configs(), sdxl);
    } catch (const daub::Error& e) {
        daub::fuzz::note("no derived configs", e.what());
    }
    if (!configs.empty()) {
        try {
            parse_configs(ckpt->configs(config_dir.path().string()), sdxl);
        } catch (const daub::Error& e) {
            daub::fuzz::note("the config folder is refused", e.what());
        }
    }
    return 0;
}
