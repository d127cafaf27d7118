// Checkpoint: opening a single file, its components as diffusers-keyed
// weight sources, and where its tokenizer files are (see checkpoint.h).
#include "loading/checkpoint.h"

#include "core/errors.h"
#include "core/json.h"
#include "core/weight_file.h"
#include "loading/key_mapping.h"

#include <torch/torch.h>

#include <filesystem>
#include <optional>

namespace daub {

namespace fs = std::filesystem;

const char* to_string(CheckpointLayout layout) {
    switch (layout) {
    case CheckpointLayout::SD15_LDM: return "SD 1.5 (LDM)";
    case CheckpointLayout::SDXL_SGM: return "SDXL (SGM)";
    }
    return "?";
}

namespace {

/// The same WeightSource seen through another owner (unique_ptr handed out
/// while the Checkpoint keeps its shared copy).
class SharedSource final : public WeightSource {
public:
    explicit SharedSource(std::shared_ptr<const WeightSource> inner) : inner_(std::move(inner)) {}
    std::vector<std::string> keys() const override { return inner_->keys(); }
    bool contains(const std::string& key) const override { return inner_->contains(key); }
    std::vector<int64_t> shape(const std::string& key) const override {
        return inner_->shape(key);
    }
    at::ScalarType stored_dtype(const std::string& key) const override {
        return inner_->stored_dtype(key);
    }
    at::Tensor load(const std::string& key, at::ScalarType dtype,
                    at::Device device) const override {
        return inner_->load(key, dtype, device);
    }
    std::string describe() const override { return inner_->describe(); }

private:
    std::shared_ptr<const WeightSource> inner_;
};

bool has_vocab(const fs::path& dir) {
    std::error_code ec;
    return fs::is_regular_file(dir / "vocab.json", ec) && fs::is_regular_file(dir / "merges.txt", ec);
}

} // namespace

Checkpoint::~Checkpoint() = default;

std::unique_ptr<Checkpoint> Checkpoint::open(const std::string& path) {
    std::error_code ec;
    if (fs::is_directory(path, ec))
        throw ModelError(path + " is a folder, not a single-file checkpoint.");
    if (!fs::exists(path, ec))
        throw ModelError(path + " does not exist.");

    std::unique_ptr<Checkpoint> ckpt(new Checkpoint());
    ckpt->path_ = path;
    const std::shared_ptr<const WeightSource> file = open_weight_file(path);
    ckpt->file_ = file;
    ckpt->layout_ = detect_checkpoint_layout(*file);

    const bool sdxl = ckpt->layout_ == CheckpointLayout::SDXL_SGM;
    ckpt->unet_ = std::make_shared<MappedWeightSource>(
        file, map_ldm_unet(*file, "model.diffusion_model."), "UNet");
    ckpt->vae_ = std::make_shared<MappedWeightSource>(
        file, map_ldm_vae(*file, "first_stage_model."), "VAE");
    ckpt->text_encoder_ = std::make_shared<MappedWeightSource>(
        file,
        map_hf_clip_text(*file, sdxl ? "conditioner.embedders.0.transformer."
                                     : "cond_stage_model.transformer."),
        "text encoder");
    if (sdxl)
        ckpt->text_encoder_2_ = std::make_shared<MappedWeightSource>(
            file, map_open_clip_text(*file, "conditioner.embedders.1.model."), "text encoder 2");
    ckpt->inspect();
    return ckpt;
}

std::unique_ptr<WeightSource> Checkpoint::unet() const {
    return std::make_unique<SharedSource>(unet_);
}

std::unique_ptr<WeightSource> Checkpoint::vae() const {
    return std::make_unique<SharedSource>(vae_);
}

std::unique_ptr<WeightSource> Checkpoint::text_encoder() const {
    return std::make_unique<SharedSource>(text_encoder_);
}

std::unique_ptr<WeightSource> Checkpoint::text_encoder_2() const {
    if (!text_encoder_2_)
        throw ModelError(path_ + " is an SD 1.5 checkpoint; it has no second text encoder.");
    return std::make_unique<SharedSource>(text_encoder_2_);
}

CheckpointConfigs Checkpoint::configs(const std::string& config_dir) const {
    std::error_code ec;
    if (!config_dir.empty() && !fs::is_directory(config_dir, ec))
        throw ModelError("The config folder " + config_dir + " does not exist.");
    auto read = [&](const char* relative) -> std::optional<nlohmann::json> {
        if (config_dir.empty())
            return std::nullopt;
        const fs::path p = fs::path(config_dir) / relative;
        if (!fs::is_regular_file(p, ec))
            return std::nullopt;
        return read_json_file(p.string());
    };
    auto pick = [](const std::optional<nlohmann::json>& j) { return j ? &*j : nullptr; };

    const auto unet = read("unet/config.json");
    const auto vae = read("vae/config.json");
    const auto te = read("text_encoder/config.json");
    const auto sched = read("scheduler/scheduler_config.json");
    CheckpointConfigs out;
    out.unet = unet_config(pick(unet));
    out.vae = vae_config(pick(vae));
    out.text_encoder = text_encoder_config(pick(te));
    if (layout_ == CheckpointLayout::SDXL_SGM) {
        const auto te2 = read("text_encoder_2/config.json");
        out.text_encoder_2 = text_encoder_2_config(pick(te2));
    }
    out.scheduler = scheduler_config(pick(sched));
    return out;
}

TokenizerDirs Checkpoint::find_tokenizer(const std::string& user_dir,
                                         const std::string& config_dir) const {
    const bool sdxl = layout_ == CheckpointLayout::SDXL_SGM;
    std::vector<fs::path> candidates; // folders that may hold tokenizer/ (and tokenizer_2/)
    if (!user_dir.empty()) {
        std::error_code ec;
        if (!fs::is_directory(user_dir, ec))
            throw ModelError("The tokenizer folder " + user_dir + " does not exist.");
        if (has_vocab(user_dir)) {
            TokenizerDirs dirs;
            dirs.tokenizer = user_dir;
            if (sdxl) {
                const fs::path second = fs::path(user_dir).parent_path() / "tokenizer_2";
                const bool own = fs::path(user_dir).filename() == "tokenizer" && has_vocab(second);
                dirs.tokenizer_2 = own ? second.string() : user_dir;
                dirs.tokenizer_2_shared = !own;
            }
            return dirs;
        }
        candidates.emplace_back(user_dir);
    }
    candidates.push_back(fs::absolute(path_).parent_path());
    if (!config_dir.empty())
        candidates.emplace_back(config_dir);

    for (const auto& base : candidates) {
        if (!has_vocab(base / "tokenizer"))
            continue;
        TokenizerDirs dirs;
        dirs.tokenizer = (base / "tokenizer").string();
        if (sdxl) {
            const bool own = has_vocab(base / "tokenizer_2");
            dirs.tokenizer_2 = own ? (base / "tokenizer_2").string() : dirs.tokenizer;
            dirs.tokenizer_2_shared = !own;
        }
        return dirs;
    }
    if (!user_dir.empty())
        throw ModelError("The tokenizer folder " + user_dir +
                         " has no vocab.json and merges.txt, nor a tokenizer/ folder with them.");
    return {}; // none: the caller uses the CLIP tokenizer built into Daub
}

} // namespace daub
