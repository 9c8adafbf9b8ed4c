#pragma once

// safetensors: the weight file format of Hugging Face and OpenCLIP checkpoints.
//
//   [8 bytes]  N, the header length, unsigned little-endian
//   [N bytes]  a UTF-8 JSON object: {"name": {"dtype": "F32", "shape": [2, 3],
//              "data_offsets": [begin, end]}, ..., "__metadata__": {"key": "value"}}
//              padded with spaces so that the data starts on an 8-byte boundary
//   [rest]     the tensor data, row-major little-endian; offsets count from the start of
//              this section, and no two tensors share bytes
//
// The reader maps the file and checks every header entry against the data section before
// handing out tensors, so a truncated or hand-edited file fails at open() with a message that
// names the file and the entry, instead of failing later inside a model.

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <torch/types.h>

#include "lookbook/util/file.hpp"
#include "lookbook/util/status.hpp"

namespace lookbook {

// Element types the reader and writer handle, named as in the file ("F32", "BF16", ...).
enum class SafeTensorsDtype { kF64, kF32, kF16, kBF16, kI64, kI32, kI16, kI8, kU8, kBool };

// "F32" for kF32 and so on.
const char* safetensors_dtype_name(SafeTensorsDtype dtype);

// Bytes per element (1 for BOOL).
size_t safetensors_dtype_size(SafeTensorsDtype dtype);

// One header entry. Offsets are relative to the start of the data section.
struct SafeTensorInfo {
    std::string name;
    SafeTensorsDtype dtype = SafeTensorsDtype::kF32;
    std::vector<int64_t> shape;
    uint64_t begin = 0;
    uint64_t end = 0;
};

// A validated, memory-mapped safetensors file. Move-only (it owns the mapping); tensors handed
// out by tensor() are copies and outlive the file.
class SafeTensorsFile {
  public:
    // Maps and validates `path`. Fails with kNotFound when it does not exist, kInvalidData when
    // the layout is wrong (truncated, header length past the end, bad JSON, shapes that do not
    // match the byte ranges, ranges out of bounds or overlapping) and kUnsupported for an
    // element type lookbook does not read. Every message starts with the path.
    static Result<SafeTensorsFile> open(const std::filesystem::path& path);

    const std::filesystem::path& path() const { return path_; }

    // Tensor names, sorted.
    std::vector<std::string> names() const;
    bool contains(const std::string& name) const { return infos_.count(name) > 0; }
    size_t size() const { return infos_.size(); }

    // The header entry for `name`, or nullptr when the file has no such tensor.
    const SafeTensorInfo* info(const std::string& name) const;

    // The "__metadata__" object (empty when the file has none).
    const std::map<std::string, std::string>& metadata() const { return metadata_; }

    // A CPU tensor holding a copy of the data, in the matching torch dtype. kNotFound (naming
    // the tensor and the file) when the file has no such tensor.
    Result<torch::Tensor> tensor(const std::string& name) const;

  private:
    std::filesystem::path path_;
    MappedFile file_;
    uint64_t data_start_ = 0;
    std::map<std::string, SafeTensorInfo> infos_;
    std::map<std::string, std::string> metadata_;
};

// Writes `tensors` (any of the dtypes above, any device, any strides) to `path` in name order,
// with `metadata` as "__metadata__". Fails with kInvalidArgument for a duplicate name, an empty
// name, "__metadata__" as a tensor name or an unsupported dtype, and kIOError when the file
// cannot be written.
Status write_safetensors(const std::filesystem::path& path,
                         const std::vector<std::pair<std::string, torch::Tensor>>& tensors,
                         const std::map<std::string, std::string>& metadata = {});

// "[2, 3]": the shape notation used in messages.
std::string shape_to_string(const std::vector<int64_t>& shape);
std::string shape_to_string(c10::IntArrayRef shape);

}  // namespace lookbook
