#include "metadata/img2img_steps.h"

#include <algorithm>
#include <cmath>

namespace daub {

int img2img_steps(int steps, double strength) {
    const double typed = std::round(strength * 1e6) / 1e6;
    const int kept = static_cast<int>(std::floor(steps * typed));
    return std::clamp(kept, 1, std::max(1, steps));
}

} // namespace daub
