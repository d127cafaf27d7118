// A single-file SD 1.5 checkpoint that loads with nothing beside it: no
// config folder, no tokenizer. Written by the tests (the engine's
// test_bare_checkpoint and the app's), never stored.
//
//   daub::test::write_bare_sd15_checkpoint(dir + "/bare-sd15.safetensors");
//   daub::Pipeline::load({.path = dir + "/bare-sd15.safetensors"});
#pragma once

#include <cstdint>
#include <string>

namespace daub::test {

struct BareCheckpointOptions {
    /// Token rows of the text encoder: CLIP's full 49,408 by default, as
    /// every real SD 1.5 file; another count makes a file whose vocabulary
    /// the built-in CLIP tokenizer does not fit.
    int64_t vocab_size = 49408;
    uint64_t seed = 1; ///< of the random text-encoder and cross-attention weights
};

/// Writes `path` in the original LDM layout (model.diffusion_model.*,
/// first_stage_model.*, cond_stage_model.transformer.text_model.*), fp16:
/// the UNet and VAE tensors of the fixture tiny-sd15.safetensors (names and
/// widths unchanged: UNet 32/32/64/64, which SD 1.5's 8 heads divide), a
/// random CLIP text encoder 64 wide (one 64-wide head by the known-family
/// rule; 3 layers, MLP 37, 77 positions, `vocab_size` tokens), and random
/// cross-attention key/value inputs widened to match (attn2.to_k/to_v take
/// 64). Weights are N(0, 0.02²) (layer-norm scales 1 + that), so nothing
/// overflows in fp16. About 14 MB; writes in well under a second. Throws
/// std::runtime_error when the fixture is missing.
void write_bare_sd15_checkpoint(const std::string& path, const BareCheckpointOptions& options = {});

/// SDXL with the built-in tokenizers: writes `path`, the fixture
/// tiny-sdxl.safetensors (SGM layout) with both text encoders' token
/// embeddings replaced by random ones of CLIP's 49,408 rows, and
/// `config_dir`, a diffusers-layout folder of tiny-sdxl's configurations
/// (its widths are below the 64-wide-head rules) with the text encoders'
/// vocab_size 49408, bos/eos ids 49406/49407 and pad ids 49407 and 0 ("!"),
/// and no tokenizer/ or tokenizer_2/ folder. Loaded with that config folder,
/// both encoders use ClipTokenizer::builtin ("!" padding for the second).
void write_clip_vocab_sdxl_checkpoint(const std::string& path, const std::string& config_dir,
                                      uint64_t seed = 1);

} // namespace daub::test
