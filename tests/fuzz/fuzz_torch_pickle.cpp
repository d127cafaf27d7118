// libFuzzer target: Daub's torch checkpoint reader (zip directory, restricted
// unpickler, tensor/storage checks) over arbitrary bytes. Every input goes
// through both entry points: as a whole checkpoint file and as a bare
// data.pkl. Refusals (daub::Error) are the expected outcome for most
// inputs; anything else (a crash, a sanitizer report, another exception,
// a leak) is a finding.
//
// Built with -DFUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION, which skips the
// data.pkl checksum check so mutations reach the unpickler inside archives.
#include "core/errors.h"
#include "core/torch_pickle.h"
#include "core/zip_archive.h"
#include "fuzz_support.h"

#include <cstddef>
#include <cstdint>
#include <span>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::span<const uint8_t> bytes(data, size);
    try {
        const daub::TorchArchive archive = daub::read_torch_archive(bytes, "fuzz.pth");
        // What a loader then relies on: every tensor's storage is described.
        for (const auto& [key, t] : archive.tensors)
            DAUB_FUZZ_CHECK(archive.storages.count(t.storage_key));
    } catch (const daub::Error&) {
    }
    try {
        daub::read_torch_pickle(bytes, "fuzz.pkl");
    } catch (const daub::Error&) {
    }
    try {
        daub::ZipArchive zip(bytes, "fuzz.zip");
        for (const auto& entry : zip.entries()) {
            try {
                (void)daub::crc32(zip.stored_data(entry));
            } catch (const daub::Error&) {
            }
        }
    } catch (const daub::Error&) {
    }
    return 0;
}
