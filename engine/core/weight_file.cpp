// open_weight_file: the format of a weights file from its first bytes.
#include "core/weight_file.h"

#include "core/errors.h"
#include "core/safetensors.h"
#include "core/torch_checkpoint.h"

#include <array>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

namespace daub {

std::shared_ptr<const WeightSource> open_weight_file(const std::string& path) {
    std::error_code ec;
    if (std::filesystem::is_directory(path, ec))
        throw ModelError(path + " is a folder, not a weights file.");
    std::ifstream in(path, std::ios::binary);
    if (!in)
        throw ModelError(path + ": cannot open the file (" + std::strerror(errno) + ").");
    std::array<unsigned char, 262> head{};
    in.read(reinterpret_cast<char*>(head.data()), head.size());
    const auto got = static_cast<size_t>(in.gcount());
    in.close();

    // safetensors: the JSON header's '{' follows the 8-byte length.
    const bool json_at_8 = got > 8 && head[8] == '{';
    const bool zip = got >= 4 && head[0] == 'P' && head[1] == 'K' &&
                     ((head[2] == 3 && head[3] == 4) || (head[2] == 5 && head[3] == 6));
    // A bare pickle stream starts with PROTO (0x80) and a protocol number.
    const bool pickle = got >= 2 && head[0] == 0x80 && head[1] >= 2 && head[1] <= 5;
    // PyTorch before 0.4 wrote a tar archive ("ustar" at byte 257).
    const bool tar = got >= 262 && std::memcmp(head.data() + 257, "ustar", 5) == 0;

    // read_torch_archive refuses the legacy formats with their own sentence.
    if (!json_at_8 && (zip || pickle || tar))
        return std::make_shared<const TorchCheckpointFile>(path);
    return std::make_shared<const SafeTensorsFile>(path);
}

} // namespace daub
