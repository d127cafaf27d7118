// libFuzzer target: the A1111 `parameters` text of images
// (metadata/image_parameters.h parse_parameters_text), as the app reads it
// from a PNG someone dropped. Whatever it parses must survive a round
// trip: the text format_parameters_text writes for it parses again, to the
// same texts, integers and sampler, and after one such round the text no
// longer changes (A1111's format rounds numbers once).
//
// A crash, a sanitizer report, an exception (the parser throws none) or a
// broken round trip is a finding.
#include "fuzz_support.h"
#include "metadata/image_parameters.h"

#include <cstddef>
#include <cstdint>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string text(reinterpret_cast<const char*>(data), size);
    const auto parsed = daub::parse_parameters_text(text);
    if (!parsed) {
        daub::fuzz::note("not a parameters text");
        return 0;
    }
    daub::fuzz::note("parsed", parsed->scheduler.c_str());
    const daub::ImageParameters& p = *parsed;
    (void)daub::sampler_label(p.scheduler);

    const std::string written = daub::format_parameters_text(p);
    const auto again = daub::parse_parameters_text(written);
    DAUB_FUZZ_CHECK(again.has_value());
    const daub::ImageParameters& q = *again;
    DAUB_FUZZ_CHECK(q.steps == p.steps);
    DAUB_FUZZ_CHECK(q.seed == p.seed);
    DAUB_FUZZ_CHECK(q.width == p.width && q.height == p.height);
    DAUB_FUZZ_CHECK(q.scheduler == p.scheduler);
    DAUB_FUZZ_CHECK(q.clip_skip == (p.clip_skip > 1 ? p.clip_skip : 1));
    DAUB_FUZZ_CHECK(q.denoising_strength.has_value() == p.denoising_strength.has_value());
    DAUB_FUZZ_CHECK(q.refine_strength.has_value() ==
                    (p.upscale > 0 && p.refine_strength.has_value()));
    DAUB_FUZZ_CHECK((q.upscale > 0) == (p.upscale > 0));
    // Texts are written so that they read back as they were.
    DAUB_FUZZ_CHECK(q.prompt == p.prompt && q.negative_prompt == p.negative_prompt);
    DAUB_FUZZ_CHECK(q.model == p.model && q.vae == p.vae);
    DAUB_FUZZ_CHECK(p.upscale <= 0 || q.upscaler == p.upscaler);
    // Numbers are written with 6 (CFG scale) or 4 significant digits, as
    // A1111 does, so one round may change them; from then on the text is a
    // fixed point.
    const std::string settled = daub::format_parameters_text(q);
    const auto third = daub::parse_parameters_text(settled);
    DAUB_FUZZ_CHECK(third.has_value());
    DAUB_FUZZ_CHECK(daub::format_parameters_text(*third) == settled);
    return 0;
}
