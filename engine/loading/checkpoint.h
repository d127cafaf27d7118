// Single-file checkpoints: one .safetensors file or PyTorch zip checkpoint
// (.ckpt, read without running anything from it: core/torch_pickle.h) in
// the original layout (SD 1.x LDM or SDXL SGM) seen as the components of a
// diffusers folder.
//
//   auto ckpt = daub::Checkpoint::open("models/dreamshaper.safetensors");
//   auto unet_source = ckpt->unet();                 // diffusers UNet keys
//   auto cfg = ckpt->configs(config_dir);            // derived, or the folder's
//   UNet unet(UNetConfig::from_json(cfg.unet));
//   load_module_weights(*unet, *unet_source, "", {at::kHalf, at::kCUDA});
//
// open() refuses, with one sentence naming what the file is, every file
// Daub does not run: pickles that ask for anything a weights file never
// needs, PyTorch's legacy formats, SD 2.x, SD3, Flux, inpainting UNets, SDXL
// refiners, LoRA files, ControlNets, standalone VAEs, and anything it does
// not recognise (UnsupportedModelError). Tensors the engine does not use
// (EMA copies, step counters, training buffers) are ignored; every tensor
// may have its own dtype; key order does not matter.
//
// Configurations: channels, layer counts and context sizes come from the
// tensor shapes. Head counts cannot be seen in shapes: they are the known
// real models' values (SD 1.5 UNet: 8 heads; SDXL UNet: 64-wide heads;
// CLIP text encoders: 64-wide heads, i.e. CLIP-L 12 and OpenCLIP bigG 20),
// or, when a diffusers-layout config folder is given, that folder's
// config.json files, which then win (after a check that their structure
// matches the weights).
#pragma once

#include "core/weights.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace daub {

/// The single-file layouts Daub runs.
enum class CheckpointLayout {
    SD15_LDM, ///< model.diffusion_model.*, first_stage_model.*, cond_stage_model.transformer.*
    SDXL_SGM, ///< ... plus conditioner.embedders.0.transformer.* and .1.model.* (OpenCLIP)
};
const char* to_string(CheckpointLayout layout);

/// Facts about a CLIP text encoder read from its shapes.
struct TextEncoderFacts {
    int64_t hidden_size = 0;       ///< token embedding width
    int64_t intermediate_size = 0; ///< MLP width
    int64_t num_layers = 0;
    int64_t vocab_size = 0;
    int64_t max_positions = 0;     ///< position embedding rows (77)
    int64_t projection_dim = 0;    ///< text_projection output width; 0 = no projection
};

/// What the shapes of a checkpoint say about its architecture.
struct CheckpointInspection {
    CheckpointLayout layout = CheckpointLayout::SD15_LDM;

    // UNet
    int64_t unet_in_channels = 0;
    int64_t unet_out_channels = 0;
    int64_t conv_in_kernel = 3;
    int64_t conv_out_kernel = 3;
    std::vector<int64_t> block_out_channels; ///< per level
    int64_t layers_per_block = 0;            ///< resnets per down level
    std::vector<bool> down_attention;        ///< per down level: has transformers
    std::vector<bool> up_attention;          ///< per up level (diffusers order)
    std::vector<int64_t> transformer_depth;  ///< per down level; 0 where no attention
    int64_t mid_transformer_depth = 0;       ///< 0: mid block without attention
    int64_t cross_attention_dim = 0;         ///< context width (attn2.to_k input)
    bool use_linear_projection = false;      ///< proj_in is a Linear (SDXL), not a 1x1 conv
    int64_t time_embed_dim = 0;              ///< time_embedding.linear_1 output
    int64_t projection_class_embeddings_input_dim = 0; ///< SDXL add_embedding input; 0 = none
    int64_t addition_time_embed_dim = 0;     ///< SDXL: width of each of the 6 time ids

    // VAE
    int64_t vae_in_channels = 0;
    int64_t vae_out_channels = 0;
    int64_t latent_channels = 0;
    std::vector<int64_t> vae_block_out_channels;
    int64_t vae_layers_per_block = 0;
    bool vae_mid_attention = true;
    bool vae_quant_conv = true;
    bool vae_post_quant_conv = true;

    // Text encoders (text_encoder_2 only for SDXL)
    TextEncoderFacts text_encoder;
    TextEncoderFacts text_encoder_2;
};

/// The configurations of every component, diffusers config.json style.
struct CheckpointConfigs {
    nlohmann::json unet;
    nlohmann::json vae;
    nlohmann::json text_encoder;
    nlohmann::json text_encoder_2; ///< null for SD 1.5
    nlohmann::json scheduler;      ///< the model's default scheduler
};

/// Where the tokenizer files of a single file are.
struct TokenizerDirs {
    std::string tokenizer;   ///< folder with vocab.json + merges.txt; empty: none (built in)
    std::string tokenizer_2; ///< SDXL: its second tokenizer folder; empty for SD 1.5
    /// SDXL: true when tokenizer_2 is the same folder as tokenizer (no
    /// tokenizer_2/ was found); the second encoder then still pads with
    /// "!" as SDXL's own tokenizer_2 does.
    bool tokenizer_2_shared = false;
};

class Checkpoint {
public:
    /// Opens, detects the layout, refuses what Daub does not run, and builds
    /// the key mappings of every component (errors name the file and key).
    static std::unique_ptr<Checkpoint> open(const std::string& path);
    ~Checkpoint();

    const std::string& path() const { return path_; }
    CheckpointLayout layout() const { return layout_; }
    const CheckpointInspection& inspection() const { return inspection_; }
    /// The file itself, as open_weight_file opened it (for tools that list
    /// what it holds).
    const WeightSource& file() const { return *file_; }

    /// Each component with diffusers keys, exactly the keys of the folder's
    /// `unet/diffusion_pytorch_model.safetensors`, `vae/...`,
    /// `text_encoder/model.safetensors`, `text_encoder_2/...`. The sources
    /// share the mapped file and may outlive the Checkpoint.
    std::unique_ptr<WeightSource> unet() const;
    std::unique_ptr<WeightSource> vae() const;
    std::unique_ptr<WeightSource> text_encoder() const;
    /// SDXL only (ModelError for SD 1.5).
    std::unique_ptr<WeightSource> text_encoder_2() const;

    /// Component configurations derived from the shapes, or `folder_config`
    /// (a parsed config.json of the same component) when given: it is
    /// checked against the shapes (ModelError naming the first field that
    /// disagrees) and returned as is. Without a folder config, a width whose
    /// head count the known models do not give (not a multiple of 64, as in
    /// test-sized models) is a ModelError asking for a config folder.
    nlohmann::json unet_config(const nlohmann::json* folder_config = nullptr) const;
    nlohmann::json vae_config(const nlohmann::json* folder_config = nullptr) const;
    nlohmann::json text_encoder_config(const nlohmann::json* folder_config = nullptr) const;
    nlohmann::json text_encoder_2_config(const nlohmann::json* folder_config = nullptr) const;
    /// SD 1.5: PNDM; SDXL: Euler (the real models' scheduler_config.json),
    /// or the folder's scheduler_config.json when given.
    nlohmann::json scheduler_config(const nlohmann::json* folder_config = nullptr) const;

    /// Every configuration, from `config_dir` (a diffusers-layout folder:
    /// unet/config.json, vae/config.json, text_encoder/config.json,
    /// text_encoder_2/config.json, scheduler/scheduler_config.json; each
    /// file that exists wins) or derived. Empty `config_dir`: all derived.
    CheckpointConfigs configs(const std::string& config_dir = "") const;

    /// Finds vocab.json + merges.txt for this file: in `user_dir` (itself,
    /// or its tokenizer/ and tokenizer_2/), then in a tokenizer/ folder
    /// beside the file, then in `config_dir`'s tokenizer/. None found: empty
    /// dirs (the caller uses ClipTokenizer::builtin), or a ModelError when
    /// `user_dir` was given.
    TokenizerDirs find_tokenizer(const std::string& user_dir = "",
                                 const std::string& config_dir = "") const;

private:
    Checkpoint() = default;
    void inspect();

    std::string path_;
    std::shared_ptr<const WeightSource> file_;
    CheckpointLayout layout_ = CheckpointLayout::SD15_LDM;
    CheckpointInspection inspection_;
    std::shared_ptr<const WeightSource> unet_, vae_, text_encoder_, text_encoder_2_;
};

/// The vae_* facts of `in` read from the shapes of a diffusers-keyed
/// AutoencoderKL (a single file's VAE view, or a separate VAE file);
/// ModelError naming the tensor when one it needs is missing.
void inspect_vae(const WeightSource& vae, const std::string& path, CheckpointInspection& in);

/// The diffusers AutoencoderKL config of those facts, with the
/// scaling_factor and force_upcast of `layout`'s family (what
/// Checkpoint::vae_config derives without a folder config).
nlohmann::json derived_vae_config(const CheckpointInspection& in, CheckpointLayout layout);

/// Detects the layout of an opened weights file (as open_weight_file gives
/// it), or throws UnsupportedModelError naming what the file is (SD 2.x,
/// SD3, Flux, inpainting, LoRA, ...) or ModelError when a component is
/// missing.
CheckpointLayout detect_checkpoint_layout(const WeightSource& file);

} // namespace daub
