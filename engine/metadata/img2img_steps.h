// How many denoising steps an img2img job runs: one definition for the
// engine (Img2Img) and the app (the strength slider's "runs 6 of 10
// steps", the prompt's details), so the two can never disagree.
#pragma once

namespace daub {

/// diffusers' int(steps × strength) on the strength as typed (rounded to
/// 6 decimals first, so a float 0.57 is Python's 0.57: 100 steps run 56),
/// at least 1 so a strength of 0.01 stays "nearly the same image", at most
/// `steps`. `strength` is not range-checked here (Img2Img does that).
int img2img_steps(int steps, double strength);

} // namespace daub
