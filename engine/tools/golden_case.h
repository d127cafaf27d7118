// The fixtures' pipeline goldens (golden/pipe_*.json + .safetensors), read
// once for every program that checks the engine against the reference:
// daub-bench --check-goldens and the pipeline tests.
#pragma once

#include "pipelines/pipeline.h"

#include <map>
#include <string>
#include <vector>

namespace daub {

/// The pipe_* goldens of `fixtures_dir`/golden/ whose sampler and pipeline
/// Daub implements ("pipe_sd15_txt2img_pndm", ...), sorted.
std::vector<std::string> pipeline_golden_names(const std::string& fixtures_dir);

/// The pipe_* goldens left out, each with what Daub lacks for it ("the
/// sampler lcm", "LoRAs", "inpainting", ...), by name.
std::map<std::string, std::string> pipeline_goldens_left_out(const std::string& fixtures_dir);

struct GoldenCase {
    std::string model;         ///< the fixture model folder it was made with ("tiny-sd15")
    GenerationRequest request; ///< the golden's settings, its noise replayed
};

/// The request golden `name` describes, from `fixtures_dir`/golden/. CLIP
/// skip is converted from diffusers' meaning to A1111's; img2img cases take
/// their size from the init image.
GoldenCase read_golden_case(const std::string& fixtures_dir, const std::string& name);

/// How far an image is from golden `name`'s image_u8 / image.
struct GoldenDiff {
    bool same_size = false;
    int max_u8 = 0;       ///< max |difference| of the u8 channels
    double max_abs = 0;   ///< max |ours/255 - image|
    double rel_l2 = 0;    ///< ||ours/255 - image|| / ||image||
};
GoldenDiff compare_with_golden(const std::string& fixtures_dir, const std::string& name,
                               const Image& image);

} // namespace daub
