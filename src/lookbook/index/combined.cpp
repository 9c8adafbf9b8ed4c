#include "lookbook/index/combined.hpp"

#include <cmath>
#include <set>

namespace lookbook {

Result<std::vector<PartSlice>> layout_parts(std::span<const EmbeddingPart> parts) {
    if (parts.empty() || parts.size() > kMaxParts) {
        return Status::invalid_argument("a combined vector needs 1 to " +
                                        std::to_string(kMaxParts) + " parts; got " +
                                        std::to_string(parts.size()));
    }
    double weight_sum = 0;
    std::set<std::string> names;
    for (const EmbeddingPart& part : parts) {
        if (!(part.weight >= 0) || !std::isfinite(part.weight)) {
            return Status::invalid_argument("the weight of part \"" + part.name + "\" is " +
                                            std::to_string(part.weight) +
                                            "; weights must be numbers >= 0");
        }
        if (!names.insert(part.name).second) {
            return Status::invalid_argument("two parts are named \"" + part.name +
                                            "\"; give each model's parts a distinct prefix");
        }
        weight_sum += part.weight;
    }
    if (weight_sum <= 0) {
        return Status::invalid_argument(
            "every part has weight 0; give at least one part (image or text) a positive weight");
    }
    std::vector<PartSlice> slices;
    size_t offset = 0;
    for (const EmbeddingPart& part : parts) {
        slices.push_back(PartSlice{
            part.name, part.kind, offset, part.dim, static_cast<float>(part.weight / weight_sum)});
        offset += part.dim;
    }
    return slices;
}

Result<CombinedVectors> combine_parts(std::span<const EmbeddingPart> parts) {
    CombinedVectors out;
    LOOKBOOK_ASSIGN_OR_RETURN(out.parts, layout_parts(parts));
    const size_t articles = parts[0].present.size();
    for (const EmbeddingPart& part : parts) {
        if (part.present.size() != articles || part.rows.size() != articles * part.dim) {
            return Status::invalid_argument(
                "part \"" + part.name + "\" covers " + std::to_string(part.present.size()) +
                " articles with " + std::to_string(part.rows.size()) + " floats; expected " +
                std::to_string(articles) + " articles of " + std::to_string(part.dim));
        }
        out.dim += part.dim;
    }
    out.articles = static_cast<uint32_t>(articles);
    out.rows.assign(articles * out.dim, 0.0f);
    out.parts_present.assign(articles, 0);
    for (size_t p = 0; p < parts.size(); ++p) {
        const EmbeddingPart& part = parts[p];
        const PartSlice& slice = out.parts[p];
        const double scale = std::sqrt(static_cast<double>(slice.share));
        for (size_t article = 0; article < articles; ++article) {
            if (part.present[article] == 0 || slice.share == 0) {
                continue;
            }
            const float* in = part.rows.data() + article * part.dim;
            double norm_sq = 0;
            for (size_t i = 0; i < part.dim; ++i) {
                norm_sq += static_cast<double>(in[i]) * in[i];
            }
            // Zero or broken vectors are treated as missing rather than spreading NaN.
            if (!(norm_sq > 0) || !std::isfinite(norm_sq)) {
                continue;
            }
            const double factor = scale / std::sqrt(norm_sq);
            float* dst = out.rows.data() + article * out.dim + slice.offset;
            for (size_t i = 0; i < part.dim; ++i) {
                dst[i] = static_cast<float>(in[i] * factor);
            }
            out.parts_present[article] |= static_cast<uint8_t>(1u << p);
        }
    }
    return out;
}

Result<std::vector<EmbeddingPart>> catalog_embedding_parts(const ColumnFile& file,
                                                           uint32_t articles,
                                                           const CombineWeights& weights,
                                                           const std::string& name_prefix) {
    EmbeddingPart image{name_prefix + "image", PartKind::kImage};
    EmbeddingPart text{name_prefix + "text", PartKind::kText};
    LOOKBOOK_ASSIGN_OR_RETURN(image.rows, file.column<float>("image"));
    LOOKBOOK_ASSIGN_OR_RETURN(text.rows, file.column<float>("text"));
    LOOKBOOK_ASSIGN_OR_RETURN(image.present, file.column<uint8_t>("has_image"));
    LOOKBOOK_ASSIGN_OR_RETURN(text.present, file.column<uint8_t>("has_text"));
    // TODO: embeddings made before an `ingest --append` that added article ids are refused
    // (rows kept, new ones after them, so they still hold): similar items and search stay off
    // until `embed` runs again (the demo store: all 24,717 rows for one new article). Reading
    // the missing rows as absent would keep them serving.
    const size_t dim = articles == 0 ? 0 : image.rows.size() / articles;
    if (image.present.size() != articles || text.present.size() != articles ||
        image.rows.size() != articles * dim || text.rows.size() != articles * dim) {
        return Status::corruption(file.path().string() + ": embedding columns (" +
                                  std::to_string(image.present.size()) +
                                  " rows) do not match the store's " + std::to_string(articles) +
                                  " articles; run `lookbook embed` again");
    }
    image.dim = text.dim = dim;
    image.weight = weights.image;
    text.weight = weights.text;
    return std::vector<EmbeddingPart>{image, text};
}

}  // namespace lookbook
