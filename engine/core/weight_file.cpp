// open_weight_file: the format of a weights file from its first bytes.
#include "core/weight_file.h"

#include "core/errors.h"
#include "core/safetensors.h"

#include <array>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

namespace daub {

namespace {

std::string file_name(const std::string& path) {
    return std::filesystem::path(path).filename().string();
}

} // namespace

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

    if (!json_at_8 && zip)
        throw UnsupportedModelError(
            file_name(path) + " is a PyTorch zip checkpoint, which this build of Daub does not "
                              "read yet; convert it to .safetensors.");
    if (!json_at_8 && (pickle || tar))
        throw UnsupportedModelError(
            file_name(path) +
            " is in PyTorch's legacy pickle format (saved before PyTorch 1.6), which Daub does "
            "not read: re-save it with a current PyTorch (torch.save(torch.load(path, "
            "weights_only=True), new_path)) or convert it to .safetensors.");
    return std::make_shared<const SafeTensorsFile>(path);
}

} // namespace daub
