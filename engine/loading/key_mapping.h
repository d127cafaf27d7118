// Renaming the tensors of an original-layout single-file checkpoint (the
// LDM / SGM key names that model sites ship) to the diffusers /
// transformers state-dict keys of the engine's modules, and a WeightSource
// that reads a component through that renaming.
//
//   std::shared_ptr<const WeightSource> file = open_weight_file(path);
//   MappedWeightSource unet(file, map_ldm_unet(*file, "model.diffusion_model."), "UNet");
//   load_module_weights(*unet_module, unet, "", {at::kHalf, at::kCUDA});
//
// A map is built from the keys present, so any key order works and tensors
// outside the component's prefix (EMA copies, training buffers, other
// components) are never touched. Inside a component's prefix, a key that
// has no place in the diffusers model is a ModelError naming it: it means
// an architecture Daub does not know, and silently dropping it would give
// wrong images.
//
// The renaming follows the layouts that diffusers'
// `scripts/convert_original_stable_diffusion_to_diffusers.py`,
// `src/diffusers/loaders/single_file_utils.py` and stable-diffusion.cpp's
// `name_conversion` read; the numbering of the UNet blocks is worked out
// from the keys present, not from a fixed table.
#pragma once

#include "core/weights.h"

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace daub {

/// How one diffusers tensor is made from one tensor of the file.
enum class TensorTransform {
    Copy,           ///< as stored
    SqueezeConv1x1, ///< a 1x1 convolution [out, in, 1, 1] used as a linear weight [out, in]
    Transpose,      ///< [a, b] -> [b, a] (OpenCLIP's text_projection is stored as x @ W)
    Chunk,          ///< part `chunk` of `chunks` equal parts along dim 0 (fused q/k/v)
};

/// Where a diffusers key's tensor comes from.
struct TensorRecipe {
    std::string source_key; ///< key in the single file
    TensorTransform transform = TensorTransform::Copy;
    int chunk = 0;  ///< Chunk: which part, 0-based
    int chunks = 1; ///< Chunk: how many equal parts
};

/// diffusers key -> recipe.
using KeyMap = std::map<std::string, TensorRecipe>;

/// The shape a recipe produces from a source tensor of `source_shape`;
/// ModelError (naming `file` and the key) when the transform does not fit.
std::vector<int64_t> transformed_shape(const TensorRecipe& recipe,
                                       const std::vector<int64_t>& source_shape,
                                       const std::string& file);

/// LDM UNet (`input_blocks` / `middle_block` / `output_blocks`, both SD 1.x
/// and SDXL's SGM variant with `label_emb`) under `prefix` -> diffusers
/// UNet2DConditionModel keys (`down_blocks` / `mid_block` / `up_blocks`).
KeyMap map_ldm_unet(const WeightSource& file, const std::string& prefix);

/// LDM AutoencoderKL (`encoder.down.*`, `decoder.up.*`, `mid.attn_1` as 1x1
/// convolutions) under `prefix` -> diffusers AutoencoderKL keys.
KeyMap map_ldm_vae(const WeightSource& file, const std::string& prefix);

/// A transformers CLIPTextModel stored under `prefix` (`...transformer.`):
/// `text_model.*` keys as they are (files written by old transformers
/// without the `text_model.` level are accepted too); `position_ids`
/// buffers are dropped (the engine computes them).
KeyMap map_hf_clip_text(const WeightSource& file, const std::string& prefix);

/// An OpenCLIP text tower under `prefix` (`...model.`) -> transformers
/// CLIPTextModelWithProjection keys: fused `attn.in_proj_weight/bias` split
/// into q/k/v, `text_projection` transposed, `ln_final`,
/// `positional_embedding`, `token_embedding`, `resblocks` -> `layers`.
KeyMap map_open_clip_text(const WeightSource& file, const std::string& prefix);

/// A component of a single file seen with diffusers keys: keys(), shape()
/// and stored_dtype() answer in diffusers terms; load() reads the source
/// tensor from the mapped file once, applies the transform and converts to
/// the requested dtype and device once.
class MappedWeightSource final : public WeightSource {
public:
    /// `component` names the part in messages ("UNet", "VAE", ...). Every
    /// recipe's source key must be in `file` (checked here).
    MappedWeightSource(std::shared_ptr<const WeightSource> file, KeyMap map,
                       std::string component);

    std::vector<std::string> keys() const override;
    bool contains(const std::string& key) const override;
    std::vector<int64_t> shape(const std::string& key) const override;
    at::ScalarType stored_dtype(const std::string& key) const override;
    at::Tensor load(const std::string& key, at::ScalarType dtype,
                    at::Device device) const override;
    /// "<file> (UNet)".
    std::string describe() const override;

    const KeyMap& key_map() const { return map_; }

private:
    const TensorRecipe& recipe(const std::string& key) const;
    /// The source of a Chunk recipe, read once and kept until its last
    /// part has been served.
    at::Tensor fused_source(const TensorRecipe& recipe) const;

    std::shared_ptr<const WeightSource> file_;
    KeyMap map_;
    std::map<std::string, std::vector<int64_t>> shapes_; ///< diffusers key -> shape
    std::string component_;

    mutable std::mutex fused_mutex_;
    mutable std::string fused_key_;
    mutable at::Tensor fused_;
    mutable int fused_parts_left_ = 0;
};

} // namespace daub
