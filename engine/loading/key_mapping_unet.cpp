// LDM UNet keys -> diffusers UNet2DConditionModel keys (see key_mapping.h).
//
// The LDM numbering, for L levels of N resnets each:
//   input_blocks.0.0            conv_in
//   input_blocks.k, k >= 1      level l = (k-1) / (N+1), slot j = (k-1) % (N+1):
//     j <  N: .0 resnet -> down_blocks.l.resnets.j, .1 transformer -> down_blocks.l.attentions.j
//     j == N: .0.op     -> down_blocks.l.downsamplers.0.conv (every level but the last)
//   middle_block.0 / .1 / .2   mid_block.resnets.0 / attentions.0 / resnets.1
//   output_blocks.k             level l = k / (N+1), slot j = k % (N+1) (N+1 resnets per level):
//     .0 resnet -> up_blocks.l.resnets.j, .1 transformer -> up_blocks.l.attentions.j,
//     .1.conv or .2.conv (last slot) -> up_blocks.l.upsamplers.0.conv
// N comes from where the first down-sampler sits (input_blocks.(N+1).0.op),
// L from the number of input blocks; nothing about the sizes is assumed.
#include "loading/key_mapping.h"
#include "loading/key_mapping_util.h"

#include <torch/torch.h>

#include <algorithm>
#include <set>

namespace daub {

using namespace keymap;

namespace {

constexpr const char* kComponent = "Stable Diffusion UNet";

/// ResBlock sub-keys: LDM name -> diffusers name.
bool rename_resnet(const std::vector<std::string>& parts, size_t from, std::string& out) {
    if (parts.size() < from + 2)
        return false;
    const std::string& a = parts[from];
    const std::string& b = parts[from + 1];
    std::string name;
    size_t rest = from + 2;
    if (a == "in_layers" && b == "0")
        name = "norm1";
    else if (a == "in_layers" && b == "2")
        name = "conv1";
    else if (a == "emb_layers" && b == "1")
        name = "time_emb_proj";
    else if (a == "out_layers" && b == "0")
        name = "norm2";
    else if (a == "out_layers" && b == "3")
        name = "conv2";
    else if (a == "skip_connection") {
        name = "conv_shortcut";
        rest = from + 1;
    } else
        return false;
    if (rest >= parts.size())
        return false;
    out = name + "." + join_from(parts, rest);
    return true;
}

} // namespace

KeyMap map_ldm_unet(const WeightSource& file, const std::string& prefix) {
    const std::string path = file.describe();
    std::vector<std::string> keys;
    for (const auto& key : file.keys())
        if (starts_with(key, prefix))
            keys.push_back(key);

    // Work out the numbering: N resnets per level, L levels.
    int64_t max_input = -1, first_op = -1, max_output = -1;
    for (const auto& key : keys) {
        const auto parts = split_dots(std::string_view(key).substr(prefix.size()));
        if (parts.size() < 3)
            continue;
        const int64_t k = parse_index(parts[1]);
        if (parts[0] == "input_blocks" && k >= 0) {
            max_input = std::max(max_input, k);
            if (parts.size() >= 4 && parts[2] == "0" && parts[3] == "op" &&
                (first_op < 0 || k < first_op))
                first_op = k;
        } else if (parts[0] == "output_blocks" && k >= 0) {
            max_output = std::max(max_output, k);
        }
    }
    if (max_input < 1)
        throw ModelError(path + ": the UNet (" + prefix + "*) has no input_blocks.");
    const int64_t per_level = first_op > 0 ? first_op - 1 : max_input; // N
    if (per_level < 1)
        throw ModelError(path + ": the UNet's first down-sampler sits at input_blocks." +
                         std::to_string(first_op) + ", before any resnet.");
    const int64_t levels = max_input / (per_level + 1) + 1; // L
    if (max_input != levels * (per_level + 1) - 1)
        throw ModelError(path + ": the UNet has " + std::to_string(max_input + 1) +
                         " input_blocks, which is not " + std::to_string(levels) +
                         " levels of " + std::to_string(per_level) + " resnets.");
    if (max_output != levels * (per_level + 1) - 1)
        throw ModelError(path + ": the UNet has " + std::to_string(max_output + 1) +
                         " output_blocks, expected " + std::to_string(levels * (per_level + 1)) +
                         " for " + std::to_string(levels) + " levels of " +
                         std::to_string(per_level) + " resnets.");

    KeyMap map;
    auto put = [&](const std::string& diffusers_key, const std::string& source) {
        auto [it, inserted] = map.emplace(diffusers_key, TensorRecipe{source});
        if (!inserted)
            throw ModelError(path + ": tensors '" + it->second.source_key + "' and '" + source +
                             "' both map to '" + diffusers_key + "'.");
    };

    for (const auto& key : keys) {
        const auto parts = split_dots(std::string_view(key).substr(prefix.size()));
        const std::string& head = parts[0];
        std::string renamed;
        if (head == "time_embed" && parts.size() == 3 && (parts[1] == "0" || parts[1] == "2")) {
            put(std::string("time_embedding.linear_") + (parts[1] == "0" ? "1." : "2.") + parts[2],
                key);
        } else if (head == "label_emb" && parts.size() == 4 && parts[1] == "0" &&
                   (parts[2] == "0" || parts[2] == "2")) {
            put(std::string("add_embedding.linear_") + (parts[2] == "0" ? "1." : "2.") + parts[3],
                key);
        } else if (head == "out" && parts.size() == 3 && (parts[1] == "0" || parts[1] == "2")) {
            put(std::string(parts[1] == "0" ? "conv_norm_out." : "conv_out.") + parts[2], key);
        } else if (head == "input_blocks" && parts.size() >= 4) {
            const int64_t k = parse_index(parts[1]);
            const int64_t m = parse_index(parts[2]);
            if (k == 0 && m == 0 && parts.size() == 4) {
                put("conv_in." + parts[3], key);
                continue;
            }
            if (k < 1 || m < 0)
                unknown_key(path, key, kComponent);
            const int64_t level = (k - 1) / (per_level + 1);
            const int64_t slot = (k - 1) % (per_level + 1);
            const std::string block = "down_blocks." + std::to_string(level) + ".";
            if (slot == per_level) {
                if (m == 0 && parts[3] == "op" && parts.size() == 5 && level < levels - 1)
                    put(block + "downsamplers.0.conv." + parts[4], key);
                else
                    unknown_key(path, key, kComponent);
            } else if (m == 0 && rename_resnet(parts, 3, renamed)) {
                put(block + "resnets." + std::to_string(slot) + "." + renamed, key);
            } else if (m == 1) {
                put(block + "attentions." + std::to_string(slot) + "." + join_from(parts, 3), key);
            } else {
                unknown_key(path, key, kComponent);
            }
        } else if (head == "middle_block" && parts.size() >= 4) {
            const std::string& m = parts[1];
            if ((m == "0" || m == "2") && rename_resnet(parts, 2, renamed))
                put(std::string("mid_block.resnets.") + (m == "0" ? "0." : "1.") + renamed, key);
            else if (m == "1")
                put("mid_block.attentions.0." + join_from(parts, 2), key);
            else
                unknown_key(path, key, kComponent);
        } else if (head == "output_blocks" && parts.size() >= 4) {
            const int64_t k = parse_index(parts[1]);
            const int64_t m = parse_index(parts[2]);
            if (k < 0 || m < 0)
                unknown_key(path, key, kComponent);
            const int64_t level = k / (per_level + 1);
            const int64_t slot = k % (per_level + 1);
            const std::string block = "up_blocks." + std::to_string(level) + ".";
            if (m >= 1 && parts[3] == "conv" && parts.size() == 5 && slot == per_level &&
                level < levels - 1)
                put(block + "upsamplers.0.conv." + parts[4], key);
            else if (m == 0 && rename_resnet(parts, 3, renamed))
                put(block + "resnets." + std::to_string(slot) + "." + renamed, key);
            else if (m == 1)
                put(block + "attentions." + std::to_string(slot) + "." + join_from(parts, 3), key);
            else
                unknown_key(path, key, kComponent);
        } else {
            unknown_key(path, key, kComponent);
        }
    }
    return map;
}

} // namespace daub
