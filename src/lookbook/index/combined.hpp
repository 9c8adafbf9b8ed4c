#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "lookbook/store/column_file.hpp"
#include "lookbook/util/status.hpp"

namespace lookbook {

// What a part of a combined vector was made from; hits report image and text scores apart.
enum class PartKind { kImage, kText };

// One source of per-article vectors, e.g. the image rows of a CLIP model's embeddings file.
// The spans are borrowed (usually from a mapped column file).
struct EmbeddingPart {
    std::string name;  // unique: "image", "text", or "<model>.image" when several models are used
    PartKind kind = PartKind::kImage;
    size_t dim = 0;
    std::span<const float> rows;       // [articles * dim], row-major
    std::span<const uint8_t> present;  // [articles]; 0 where the article has no such vector
    float weight = 1;                  // relative weight, >= 0
};

// Where a part lives inside the combined vector.
struct PartSlice {
    std::string name;
    PartKind kind = PartKind::kImage;
    size_t offset = 0;
    size_t dim = 0;
    // The part's share of the combined score: its weight divided by the sum of the weights.
    float share = 0;
};

// Most parts a combination may have (the per-article part mask is one byte).
constexpr size_t kMaxParts = 8;

// Per article, the concatenation of every part's L2-normalised vector scaled by sqrt(share):
//   combined(a) . combined(b) = sum over parts present in both of share_p * cos_p(a, b)
// so the combined score is a weighted mean of the parts' cosines (in [-1, 1]) and each part's
// own cosine is its slice's dot product divided by share_p. An article missing a part has
// zeros there: it still matches on the parts it has, with a lower score.
struct CombinedVectors {
    size_t dim = 0;
    uint32_t articles = 0;
    std::vector<PartSlice> parts;
    std::vector<float> rows;             // [articles * dim]
    std::vector<uint8_t> parts_present;  // [articles]; bit p set when part p was present

    std::span<const float> row(uint32_t article) const {
        return std::span<const float>(rows).subspan(static_cast<size_t>(article) * dim, dim);
    }
};

// Combines `parts` (1..kMaxParts, all covering the same number of articles). A present vector
// that is all zeros or not finite counts as absent. kInvalidArgument for no parts, too many,
// repeated names, negative weights or weights summing to 0, and parts of different lengths.
Result<CombinedVectors> combine_parts(std::span<const EmbeddingPart> parts);

// Slices laid out for `parts` as combine_parts does (for reading a saved combination back).
Result<std::vector<PartSlice>> layout_parts(std::span<const EmbeddingPart> parts);

// How image and text are weighted in the combined vector (relative; only the ratio matters).
struct CombineWeights {
    float image = 0.5f;
    float text = 0.5f;
};

// The image and text parts of an embeddings column file as `lookbook embed` writes it
// (columns image, text, has_image, has_text; metadata "dim"). The parts borrow from `file`.
// kCorruption names the file when its columns disagree with each other or with `articles`.
Result<std::vector<EmbeddingPart>> catalog_embedding_parts(const ColumnFile& file,
                                                           uint32_t articles,
                                                           const CombineWeights& weights,
                                                           const std::string& name_prefix = "");

}  // namespace lookbook
