// libFuzzer target: a weights file of any format as open_weight_file reads
// it (a safetensors header and its offsets, or a PyTorch zip checkpoint),
// then every tensor loaded, in its own dtype and as float. The bytes go to
// a file in memory, since the readers map or read a path.
//
// Refusals (daub::Error) are the expected outcome for most inputs; a
// crash, a sanitizer report, another exception, a leak, or a tensor that
// does not match what the reader said of it is a finding.
#include "core/errors.h"
#include "core/safetensors.h"
#include "core/weight_file.h"
#include "fuzz_support.h"

#include <ATen/core/Tensor.h>
#include <c10/core/ScalarType.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace {

int64_t element_count(const std::vector<int64_t>& shape) {
    int64_t n = 1;
    for (const int64_t d : shape) {
        DAUB_FUZZ_CHECK(d >= 0);
        n *= d; // a tensor that loaded fits in memory: no overflow here
    }
    return n;
}

void check_source(const daub::WeightSource& source, const uint8_t* data, size_t size) {
    for (const std::string& key : source.keys()) {
        DAUB_FUZZ_CHECK(source.contains(key));
        const std::vector<int64_t> shape = source.shape(key);
        // The readers check sizes against the file before any allocation:
        // a tensor holds at most as many elements as the file has bytes.
        const int64_t numel = element_count(shape);
        DAUB_FUZZ_CHECK(static_cast<uint64_t>(numel) <= size);
        const at::Tensor stored = source.load(key, source.stored_dtype(key), at::kCPU);
        DAUB_FUZZ_CHECK(stored.sizes().vec() == shape);
        DAUB_FUZZ_CHECK(stored.scalar_type() == source.stored_dtype(key));
        const at::Tensor as_float = source.load(key, at::kFloat, at::kCPU);
        DAUB_FUZZ_CHECK(as_float.sizes().vec() == shape);
        DAUB_FUZZ_CHECK(as_float.scalar_type() == at::kFloat);
    }
    if (const auto* st = dynamic_cast<const daub::SafeTensorsFile*>(&source)) {
        // Every tensor's bytes lie in the data section, after the header.
        uint64_t header = 0;
        for (int i = 7; i >= 0; --i)
            header = (header << 8) | data[i];
        for (const std::string& key : st->keys()) {
            const daub::StTensorEntry& e = st->entry(key);
            DAUB_FUZZ_CHECK(e.begin <= e.end && e.end <= size - 8 - header);
            DAUB_FUZZ_CHECK(e.end - e.begin == static_cast<uint64_t>(element_count(e.shape)) *
                                                   daub::SafeTensorsFile::dtype_size(e.dtype));
        }
    }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static daub::fuzz::MemFile file("fuzz-weights");
    file.write(data, size);
    try {
        const auto source = daub::open_weight_file(file.path());
        daub::fuzz::note("opened", (std::to_string(source->keys().size()) + " tensors").c_str());
        check_source(*source, data, size);
    } catch (const daub::Error& e) {
        daub::fuzz::note("refused", e.what());
    }
    return 0;
}
