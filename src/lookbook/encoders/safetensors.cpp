#include "lookbook/encoders/safetensors.hpp"

#include <algorithm>
#include <array>
#include <bit>
#include <cstring>
#include <limits>

#include <nlohmann/json.hpp>

namespace lookbook {
namespace {

using nlohmann::json;

// Tensor bytes are copied as they are: safetensors data is little-endian, like the host.
static_assert(std::endian::native == std::endian::little, "safetensors I/O assumes little-endian");

// safetensors itself refuses headers above 100 MB; a larger length means a damaged file.
constexpr uint64_t kMaxHeaderBytes = 100ull << 20;

struct DtypeEntry {
    SafeTensorsDtype dtype;
    const char* name;
    size_t size;
    torch::ScalarType scalar_type;
};

constexpr std::array<DtypeEntry, 10> kDtypes{{
    {SafeTensorsDtype::kF64, "F64", 8, torch::kFloat64},
    {SafeTensorsDtype::kF32, "F32", 4, torch::kFloat32},
    {SafeTensorsDtype::kF16, "F16", 2, torch::kFloat16},
    {SafeTensorsDtype::kBF16, "BF16", 2, torch::kBFloat16},
    {SafeTensorsDtype::kI64, "I64", 8, torch::kInt64},
    {SafeTensorsDtype::kI32, "I32", 4, torch::kInt32},
    {SafeTensorsDtype::kI16, "I16", 2, torch::kInt16},
    {SafeTensorsDtype::kI8, "I8", 1, torch::kInt8},
    {SafeTensorsDtype::kU8, "U8", 1, torch::kUInt8},
    {SafeTensorsDtype::kBool, "BOOL", 1, torch::kBool},
}};

const DtypeEntry& entry_for(SafeTensorsDtype dtype) {
    for (const DtypeEntry& entry : kDtypes) {
        if (entry.dtype == dtype) {
            return entry;
        }
    }
    return kDtypes[1];
}

const DtypeEntry* entry_for_name(const std::string& name) {
    for (const DtypeEntry& entry : kDtypes) {
        if (name == entry.name) {
            return &entry;
        }
    }
    return nullptr;
}

const DtypeEntry* entry_for_scalar_type(torch::ScalarType type) {
    for (const DtypeEntry& entry : kDtypes) {
        if (entry.scalar_type == type) {
            return &entry;
        }
    }
    return nullptr;
}

std::string known_dtype_list() {
    std::string out;
    for (size_t i = 0; i < kDtypes.size(); ++i) {
        out += i == 0 ? "" : (i + 1 == kDtypes.size() ? " and " : ", ");
        out += kDtypes[i].name;
    }
    return out;
}

std::string offsets_to_string(uint64_t begin, uint64_t end) {
    std::string out = "[";
    out += std::to_string(begin);
    out += ", ";
    out += std::to_string(end);
    out += "]";
    return out;
}

// Reads one header entry; `where` is "<path>: tensor \"<name>\"" for messages.
Result<SafeTensorInfo> parse_entry(const std::string& name,
                                   const json& value,
                                   const std::string& where) {
    if (!value.is_object()) {
        return Status::invalid_data(where + ": entry is not a JSON object");
    }
    auto dtype_it = value.find("dtype");
    if (dtype_it == value.end() || !dtype_it->is_string()) {
        return Status::invalid_data(where + ": \"dtype\" is missing or not a string");
    }
    const DtypeEntry* dtype = entry_for_name(dtype_it->get<std::string>());
    if (dtype == nullptr) {
        return Status::unsupported(where + ": unknown dtype \"" + dtype_it->get<std::string>() +
                                   "\"; lookbook reads " + known_dtype_list() +
                                   ". Convert the file to one of those.");
    }

    // Shape: non-negative integers; the element count must not overflow 64 bits.
    SafeTensorInfo info;
    info.name = name;
    info.dtype = dtype->dtype;
    auto shape_it = value.find("shape");
    if (shape_it == value.end() || !shape_it->is_array()) {
        return Status::invalid_data(where + ": \"shape\" is missing or not an array");
    }
    uint64_t bytes = dtype->size;
    bool overflow = false;
    for (const json& dim : *shape_it) {
        if (!dim.is_number_unsigned()) {
            return Status::invalid_data(where + ": \"shape\" is " + shape_it->dump() +
                                        "; expected non-negative integers");
        }
        uint64_t d = dim.get<uint64_t>();
        if (d > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
            overflow = true;
            d = 0;
        }
        overflow = overflow || (d != 0 && bytes > std::numeric_limits<uint64_t>::max() / d);
        bytes = overflow ? 0 : bytes * d;
        info.shape.push_back(static_cast<int64_t>(d));
    }

    // Offsets: [begin, end] with begin <= end, covering exactly the bytes the shape needs.
    auto offsets_it = value.find("data_offsets");
    if (offsets_it == value.end() || !offsets_it->is_array() || offsets_it->size() != 2 ||
        !(*offsets_it)[0].is_number_unsigned() || !(*offsets_it)[1].is_number_unsigned()) {
        return Status::invalid_data(where + ": \"data_offsets\" must be two non-negative integers");
    }
    info.begin = (*offsets_it)[0].get<uint64_t>();
    info.end = (*offsets_it)[1].get<uint64_t>();
    if (info.begin > info.end) {
        return Status::invalid_data(where + ": data_offsets " +
                                    offsets_to_string(info.begin, info.end) +
                                    " end before they begin");
    }
    if (overflow || info.end - info.begin != bytes) {
        return Status::invalid_data(
            where + ": shape " + shape_to_string(info.shape) + " of " + dtype->name + " needs " +
            (overflow ? std::string("more than 2^64") : std::to_string(bytes)) +
            " bytes, but data_offsets " + offsets_to_string(info.begin, info.end) + " cover " +
            std::to_string(info.end - info.begin));
    }
    return info;
}

}  // namespace

const char* safetensors_dtype_name(SafeTensorsDtype dtype) { return entry_for(dtype).name; }

size_t safetensors_dtype_size(SafeTensorsDtype dtype) { return entry_for(dtype).size; }

std::string shape_to_string(const std::vector<int64_t>& shape) {
    return shape_to_string(c10::IntArrayRef(shape));
}

std::string shape_to_string(c10::IntArrayRef shape) {
    std::string out = "[";
    for (size_t i = 0; i < shape.size(); ++i) {
        out += (i == 0 ? "" : ", ") + std::to_string(shape[i]);
    }
    return out + "]";
}

Result<SafeTensorsFile> SafeTensorsFile::open(const std::filesystem::path& path) {
    SafeTensorsFile out;
    out.path_ = path;
    LOOKBOOK_ASSIGN_OR_RETURN(out.file_, MappedFile::open(path));
    const std::string p = path.string();
    const std::string remedy =
        "; the file is truncated or is not a safetensors file. Download or export it again.";

    // The 8-byte header length, checked against what the file really holds.
    const uint64_t file_size = out.file_.size();
    if (file_size < 8) {
        return Status::invalid_data(p + ": file is " + std::to_string(file_size) +
                                    " bytes, shorter than the 8-byte header length" + remedy);
    }
    uint64_t header_len = 0;
    for (int byte_idx = 7; byte_idx >= 0; --byte_idx) {
        header_len = (header_len << 8) | out.file_.data()[byte_idx];
    }
    if (header_len > file_size - 8) {
        return Status::invalid_data(p + ": header length " + std::to_string(header_len) +
                                    " bytes runs past the end of the file (" +
                                    std::to_string(file_size) + " bytes)" + remedy);
    }
    if (header_len > kMaxHeaderBytes) {
        return Status::invalid_data(p + ": header length " + std::to_string(header_len) +
                                    " bytes is above the 100 MB limit" + remedy);
    }

    // The JSON header.
    json header;
    try {
        header = json::parse(out.file_.view().substr(8, header_len));
    } catch (const json::parse_error& e) {
        return Status::invalid_data(p + ": header is not valid JSON (" + e.what() + ")" + remedy);
    }
    if (!header.is_object()) {
        return Status::invalid_data(p + ": header is a JSON " + std::string(header.type_name()) +
                                    "; expected an object of tensor entries" + remedy);
    }
    out.data_start_ = 8 + header_len;
    const uint64_t data_size = file_size - out.data_start_;
    for (auto it = header.begin(); it != header.end(); ++it) {
        if (it.key() == "__metadata__") {
            if (!it.value().is_object()) {
                return Status::invalid_data(p + ": \"__metadata__\" is not a JSON object");
            }
            for (auto meta = it.value().begin(); meta != it.value().end(); ++meta) {
                if (!meta.value().is_string()) {
                    return Status::invalid_data(p + ": \"__metadata__\" value \"" + meta.key() +
                                                "\" is not a string");
                }
                out.metadata_[meta.key()] = meta.value().get<std::string>();
            }
            continue;
        }
        const std::string where = p + ": tensor \"" + it.key() + "\"";
        LOOKBOOK_ASSIGN_OR_RETURN(SafeTensorInfo info, parse_entry(it.key(), it.value(), where));
        if (info.end > data_size) {
            return Status::invalid_data(where + ": data_offsets " +
                                        offsets_to_string(info.begin, info.end) +
                                        " run past the end of the data section (" +
                                        std::to_string(data_size) + " bytes)" + remedy);
        }
        out.infos_.emplace(it.key(), std::move(info));
    }

    // No two tensors may share bytes: sort by start and compare neighbours.
    std::vector<const SafeTensorInfo*> by_offset;
    for (const auto& [name, info] : out.infos_) {
        by_offset.push_back(&info);
    }
    std::sort(by_offset.begin(), by_offset.end(), [](const auto* a, const auto* b) {
        return std::tie(a->begin, a->end) < std::tie(b->begin, b->end);
    });
    for (size_t i = 1; i < by_offset.size(); ++i) {
        const SafeTensorInfo& prev = *by_offset[i - 1];
        const SafeTensorInfo& cur = *by_offset[i];
        // Empty tensors occupy no bytes and cannot collide.
        if (cur.begin < prev.end && cur.begin != cur.end) {
            return Status::invalid_data(p + ": tensors \"" + prev.name + "\" " +
                                        offsets_to_string(prev.begin, prev.end) + " and \"" +
                                        cur.name + "\" " + offsets_to_string(cur.begin, cur.end) +
                                        " overlap; the header is corrupt. Export the file again.");
        }
    }
    return out;
}

std::vector<std::string> SafeTensorsFile::names() const {
    std::vector<std::string> out;
    out.reserve(infos_.size());
    for (const auto& [name, info] : infos_) {
        out.push_back(name);
    }
    return out;
}

const SafeTensorInfo* SafeTensorsFile::info(const std::string& name) const {
    auto it = infos_.find(name);
    return it == infos_.end() ? nullptr : &it->second;
}

Result<torch::Tensor> SafeTensorsFile::tensor(const std::string& name) const {
    const SafeTensorInfo* found = info(name);
    if (found == nullptr) {
        return Status::not_found(path_.string() + ": no tensor named \"" + name + "\"");
    }
    // A copy, so the tensor does not depend on the mapping staying alive. The data is
    // little-endian, as is every host lookbook builds for.
    torch::Tensor out = torch::empty(
        found->shape, torch::TensorOptions().dtype(entry_for(found->dtype).scalar_type));
    if (found->end > found->begin) {
        std::memcpy(
            out.data_ptr(), file_.data() + data_start_ + found->begin, found->end - found->begin);
    }
    return out;
}

Status write_safetensors(const std::filesystem::path& path,
                         const std::vector<std::pair<std::string, torch::Tensor>>& tensors,
                         const std::map<std::string, std::string>& metadata) {
    // Name order, as the reference writer does; duplicates would make the header ambiguous.
    std::vector<const std::pair<std::string, torch::Tensor>*> sorted;
    for (const auto& item : tensors) {
        sorted.push_back(&item);
    }
    std::sort(sorted.begin(), sorted.end(), [](const auto* a, const auto* b) {
        return a->first < b->first;
    });
    const std::string p = path.string();
    for (size_t i = 0; i < sorted.size(); ++i) {
        const std::string& name = sorted[i]->first;
        if (name.empty() || name == "__metadata__") {
            return Status::invalid_argument(p + ": tensor name \"" + name +
                                            "\" is not allowed; choose another name");
        }
        if (i > 0 && sorted[i - 1]->first == name) {
            return Status::invalid_argument(p + ": tensor name \"" + name +
                                            "\" appears twice; names must be unique");
        }
    }

    // Header: one entry per tensor, offsets in name order, no gaps.
    json header = json::object();
    if (!metadata.empty()) {
        header["__metadata__"] = metadata;
    }
    std::vector<torch::Tensor> contiguous;
    uint64_t offset = 0;
    for (const auto* item : sorted) {
        const DtypeEntry* dtype = entry_for_scalar_type(item->second.scalar_type());
        if (dtype == nullptr) {
            return Status::invalid_argument(p + ": tensor \"" + item->first + "\" has dtype " +
                                            std::string(c10::toString(item->second.scalar_type())) +
                                            "; safetensors output supports " + known_dtype_list());
        }
        torch::Tensor t = item->second.to(torch::kCPU).contiguous();
        uint64_t bytes = static_cast<uint64_t>(t.numel()) * dtype->size;
        header[item->first] = {{"dtype", dtype->name},
                               {"shape", t.sizes().vec()},
                               {"data_offsets", {offset, offset + bytes}}};
        offset += bytes;
        contiguous.push_back(std::move(t));
    }

    // Pad the JSON with spaces so the data section starts on an 8-byte boundary.
    std::string header_text = header.dump();
    header_text.append((8 - header_text.size() % 8) % 8, ' ');
    std::string bytes;
    bytes.reserve(8 + header_text.size() + offset);
    uint64_t header_len = header_text.size();
    for (int byte_idx = 0; byte_idx < 8; ++byte_idx) {
        bytes.push_back(static_cast<char>((header_len >> (8 * byte_idx)) & 0xff));
    }
    bytes += header_text;
    for (const torch::Tensor& t : contiguous) {
        bytes.append(static_cast<const char*>(t.data_ptr()), t.numel() * t.element_size());
    }
    return write_file_synced(path, bytes);
}

}  // namespace lookbook
