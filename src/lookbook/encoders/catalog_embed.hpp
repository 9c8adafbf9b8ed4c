#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>

#include "lookbook/store/column_file.hpp"
#include "lookbook/store/store.hpp"
#include "lookbook/util/status.hpp"

namespace lookbook {

// The text an article is embedded (and trained) with: its non-empty fields among name, product
// type, colour and description, in that order, each ending with ". " unless it already ends with
// a full stop, and the whole trimmed:
//   "Strap top. Vest top. Black. Jersey top with narrow shoulder straps."
// Articles without metadata give "". The tokenizer lowercases and truncates to its context.
std::string catalog_text(const ArticleTable& articles, uint32_t article);

struct CatalogEmbedOptions {
    // Images and texts per forward pass; larger batches are faster until memory runs out.
    int batch_size = 32;
    // Where image embeddings are cached, keyed by image content; empty means
    // STORE/cache/image-embeddings. One file per model: <model tag>.bin.
    std::filesystem::path cache_dir;
};

struct CatalogEmbedReport {
    uint32_t articles = 0;        // rows of the embeddings file (every article of the store)
    uint32_t texts = 0;           // articles with a non-empty text, embedded
    uint32_t text_errors = 0;     // texts the tokenizer refused (logged), not embedded
    uint32_t images = 0;          // articles with a photo path
    uint32_t images_encoded = 0;  // distinct photos run through the model in this call
    uint32_t images_cached = 0;   // photos whose embedding came from the cache (or a twin)
    uint32_t image_errors = 0;    // photos that could not be read or decoded (logged)
    int64_t dim = 0;
    std::filesystem::path cache_file;
    std::string generation;  // the store generation written
    double seconds = 0;
};

// Embeds every article's photo (when it has one) and catalog_text() with the CLIP or ALIGN model
// folder `model_dir` (read by load_encoder), L2-normalises the vectors and commits them to the
// store as the column file "embeddings" (other files kept):
//   image, text   f32 [articles * dim], row-major; zero rows where absent
//   has_image, has_text   u8 [articles]
//   metadata      {"model", "model_tag", "model_type" ("clip" or "align"), "dim", "articles",
//                  "text_template", counts}
// A photo that cannot be decoded is logged as a warning, counted in image_errors and gets no
// image vector; it never stops the run. Image embeddings are cached by the photo's content hash
// (two articles sharing a photo, or a re-run, encode it once). Fails with the loader's errors
// for a bad model folder, the store's errors for a bad store, kInvalidArgument for
// batch_size < 1, and kIOError when the cache or the store cannot be written.
// TODO: one model's vectors per store: embedding with ALIGN replaces CLIP's "embeddings" file.
// Combining both in the similar-items index needs a second file name (e.g. "embeddings.align")
// and a reader that takes it; until then, keep two stores or concatenate outside lookbook.
Result<CatalogEmbedReport> embed_catalog(const std::filesystem::path& store_dir,
                                         const std::filesystem::path& model_dir,
                                         const CatalogEmbedOptions& options = {});

// The "embeddings" file of a store generation, mapped. Spans point into the mapping and live as
// long as this object.
struct CatalogEmbeddings {
    ColumnFile file;
    int64_t dim = 0;
    std::span<const float> image;  // [articles * dim]
    std::span<const float> text;   // [articles * dim]
    std::span<const uint8_t> has_image;
    std::span<const uint8_t> has_text;

    std::span<const float> image_row(uint32_t article) const {
        return image.subspan(static_cast<size_t>(article) * dim, dim);
    }
    std::span<const float> text_row(uint32_t article) const {
        return text.subspan(static_cast<size_t>(article) * dim, dim);
    }
};

// Opens the store's embeddings. kNotFound (telling the user to run `lookbook embed`) when the
// store has none, kCorruption when the columns disagree in size.
Result<std::unique_ptr<CatalogEmbeddings>> load_catalog_embeddings(const Store& store);

// A tag that changes when the model folder's config or weights change (16 hex digits from the
// content keys of its *.safetensors and *config* files): the image cache is keyed by it, and the
// embeddings metadata's "model_tag" says which model made them. Fails when a file cannot be
// read.
Result<std::string> model_tag(const std::filesystem::path& model_dir);

// A 128-bit content key of `bytes` (FNV-1a 64 and CRC-32C plus the length), as 32 hex digits;
// what the image cache is keyed by.
std::string content_key(std::string_view bytes);

}  // namespace lookbook
