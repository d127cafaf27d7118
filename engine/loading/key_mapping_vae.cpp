// LDM AutoencoderKL keys -> diffusers AutoencoderKL keys (see key_mapping.h).
//
//   encoder.down.i.block.j      encoder.down_blocks.i.resnets.j
//   encoder.down.i.downsample   encoder.down_blocks.i.downsamplers.0
//   decoder.up.i.block.j        decoder.up_blocks.(L-1-i).resnets.j  (LDM counts up-blocks
//   decoder.up.i.upsample       decoder.up_blocks.(L-1-i).upsamplers.0   from the bottom)
//   *.mid.block_1 / block_2     *.mid_block.resnets.0 / 1
//   *.mid.attn_1.{norm,q,k,v,proj_out}
//                               *.mid_block.attentions.0.{group_norm,to_q,to_k,to_v,to_out.0},
//                               1x1 convolution weights squeezed to linear weights
//   *.norm_out                  *.conv_norm_out
//   resnet nin_shortcut         conv_shortcut
// `loss.*` (the training discriminator some files carry) is ignored.
#include "loading/key_mapping.h"
#include "loading/key_mapping_util.h"

#include <torch/torch.h>

#include <algorithm>

namespace daub {

using namespace keymap;

namespace {

constexpr const char* kComponent = "Stable Diffusion VAE";

bool rename_vae_resnet(const std::vector<std::string>& parts, size_t from, std::string& out) {
    if (parts.size() != from + 2)
        return false;
    const std::string& name = parts[from];
    if (name == "norm1" || name == "conv1" || name == "norm2" || name == "conv2")
        out = name + "." + parts[from + 1];
    else if (name == "nin_shortcut")
        out = "conv_shortcut." + parts[from + 1];
    else
        return false;
    return true;
}

} // namespace

KeyMap map_ldm_vae(const WeightSource& file, const std::string& prefix) {
    const std::string path = file.describe();
    std::vector<std::string> keys;
    int64_t max_up = -1;
    for (const auto& key : file.keys()) {
        if (!starts_with(key, prefix))
            continue;
        const auto parts = split_dots(std::string_view(key).substr(prefix.size()));
        if (parts[0] == "loss")
            continue;
        keys.push_back(key);
        if (parts.size() > 2 && parts[0] == "decoder" && parts[1] == "up")
            max_up = std::max(max_up, parse_index(parts[2]));
    }
    const int64_t up_levels = max_up + 1;

    KeyMap map;
    for (const auto& key : keys) {
        const auto parts = split_dots(std::string_view(key).substr(prefix.size()));
        const size_t n = parts.size();
        std::string renamed;
        if (n == 2 && (parts[0] == "quant_conv" || parts[0] == "post_quant_conv")) {
            map.emplace(parts[0] + "." + parts[1], TensorRecipe{key});
            continue;
        }
        if (n < 3 || (parts[0] != "encoder" && parts[0] != "decoder"))
            unknown_key(path, key, kComponent);
        const std::string side = parts[0] + ".";
        const std::string& what = parts[1];
        if (n == 3 && (what == "conv_in" || what == "conv_out")) {
            map.emplace(side + what + "." + parts[2], TensorRecipe{key});
        } else if (n == 3 && what == "norm_out") {
            map.emplace(side + "conv_norm_out." + parts[2], TensorRecipe{key});
        } else if (what == "mid" && n >= 4) {
            const std::string& block = parts[2];
            if ((block == "block_1" || block == "block_2") && rename_vae_resnet(parts, 3, renamed)) {
                map.emplace(side + "mid_block.resnets." + (block == "block_1" ? "0." : "1.") +
                                renamed,
                            TensorRecipe{key});
            } else if (block == "attn_1" && n == 5) {
                const std::string& layer = parts[3];
                std::string target;
                if (layer == "norm")
                    target = "group_norm";
                else if (layer == "q" || layer == "k" || layer == "v")
                    target = "to_" + layer;
                else if (layer == "proj_out")
                    target = "to_out.0";
                else
                    unknown_key(path, key, kComponent);
                TensorRecipe recipe{key};
                if (parts[4] == "weight" && layer != "norm" && file.shape(key).size() == 4)
                    recipe.transform = TensorTransform::SqueezeConv1x1;
                map.emplace(side + "mid_block.attentions.0." + target + "." + parts[4], recipe);
            } else {
                unknown_key(path, key, kComponent);
            }
        } else if ((what == "down" && parts[0] == "encoder") ||
                   (what == "up" && parts[0] == "decoder")) {
            const int64_t level = parse_index(parts[2]);
            if (level < 0 || n < 5)
                unknown_key(path, key, kComponent);
            const int64_t target_level = what == "down" ? level : up_levels - 1 - level;
            const std::string block = side + (what == "down" ? "down_blocks." : "up_blocks.") +
                                      std::to_string(target_level) + ".";
            const int64_t j = parse_index(parts[4]);
            if (parts[3] == "block" && j >= 0 && rename_vae_resnet(parts, 5, renamed))
                map.emplace(block + "resnets." + std::to_string(j) + "." + renamed,
                            TensorRecipe{key});
            else if ((parts[3] == "downsample" || parts[3] == "upsample") && n == 6 &&
                     parts[4] == "conv")
                map.emplace(block + (what == "down" ? "downsamplers" : "upsamplers") + ".0.conv." +
                                parts[5],
                            TensorRecipe{key});
            else
                unknown_key(path, key, kComponent);
        } else {
            unknown_key(path, key, kComponent);
        }
    }
    return map;
}

} // namespace daub
