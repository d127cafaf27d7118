// Components from a single-file checkpoint: the Checkpoint's per-component
// views with diffusers keys, configurations from the shapes (or a config
// folder), tokenizers found beside the file or given by the user, else the
// CLIP tokenizer built into Daub.
#include "core/errors.h"
#include "core/json.h"
#include "loading/checkpoint.h"
#include "pipelines/model_loader.h"
#include "tokenizer/clip_builtin.h"

#include <torch/torch.h>

#include <filesystem>

namespace daub {

namespace fs = std::filesystem;

void check_single_file(const LoadRequest& request) {
    const auto ckpt = Checkpoint::open(request.path);
    (void)ckpt->configs(request.config_dir);
}

std::shared_ptr<Components> load_single_file(const LoadRequest& request,
                                             const Placement& placement) {
    const auto ckpt = Checkpoint::open(request.path);
    const CheckpointConfigs cfg = ckpt->configs(request.config_dir);
    const bool sdxl = ckpt->layout() == CheckpointLayout::SDXL_SGM;

    auto c = std::make_shared<Components>();
    c->info.family = sdxl ? ModelFamily::SDXL : ModelFamily::SD15;
    c->info.path = request.path;
    c->info.name = fs::path(request.path).stem().string();
    c->device = placement.device;
    c->dtype = placement.dtype;
    c->force_zeros_for_empty_prompt = sdxl;
    if (!request.config_dir.empty()) {
        const fs::path index = fs::path(request.config_dir) / "model_index.json";
        if (fs::exists(index))
            c->force_zeros_for_empty_prompt =
                json_value<bool>(read_json_file(index.string()), "force_zeros_for_empty_prompt", sdxl);
    }

    // A tokenizer folder given or found beside the file wins; else the CLIP
    // tokenizer built into Daub (SD 1.5 and SDXL use the same vocabulary).
    // SDXL's second tokenizer pads with "!" even when it shares the first one's data.
    const TokenizerDirs dirs = ckpt->find_tokenizer(request.tokenizer_dir, request.config_dir);
    if (dirs.tokenizer.empty()) {
        // Its ids index the text encoders' token embeddings: those must be CLIP's.
        const CheckpointInspection& in = ckpt->inspection();
        for (const int64_t rows : {in.text_encoder.vocab_size,
                                   sdxl ? in.text_encoder_2.vocab_size : int64_t(kClipVocabSize)})
            if (rows != static_cast<int64_t>(kClipVocabSize))
                throw ModelError(request.path + ": the text encoder has " + std::to_string(rows) +
                                 " tokens, not the 49,408 of the CLIP tokenizer built into "
                                 "Daub: give the model's tokenizer folder (--tokenizer DIR).");
        c->tokenizer = std::make_shared<const ClipTokenizer>(ClipTokenizer::builtin());
        if (sdxl)
            c->tokenizer_2 = std::make_shared<const ClipTokenizer>(ClipTokenizer::builtin("!"));
    } else {
        c->tokenizer =
            std::make_shared<const ClipTokenizer>(ClipTokenizer::from_folder(dirs.tokenizer));
        if (sdxl)
            c->tokenizer_2 = std::make_shared<const ClipTokenizer>(
                ClipTokenizer::from_folder(dirs.tokenizer_2, dirs.tokenizer_2_shared ? "!" : ""));
    }

    // Every network built, then loaded with progress and cancellation; a
    // separate VAE (request.vae_path) replaces the checkpoint's own.
    NetworkSources s;
    s.text_encoder_config = ClipTextConfig::from_json(cfg.text_encoder);
    s.text_encoder = ckpt->text_encoder();
    if (sdxl) {
        s.text_encoder_2_config = ClipTextConfig::from_json(cfg.text_encoder_2);
        s.text_encoder_2 = ckpt->text_encoder_2();
    }
    s.unet_config = UNetConfig::from_json(cfg.unet);
    s.unet = ckpt->unet();
    s.vae_config = cfg.vae;
    if (request.vae_path.empty())
        s.vae = ckpt->vae();
    const VaeConfig vae_config = load_networks(*c, s, request, placement);

    c->scheduler_config = cfg.scheduler;
    fill_model_info(*c, cfg.unet, vae_config, placement);
    return c;
}

} // namespace daub
