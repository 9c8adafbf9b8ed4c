#include "lookbook/encoders/catalog_embed.hpp"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <unordered_map>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "lookbook/encoders/encoder.hpp"
#include "lookbook/encoders/image.hpp"
#include "lookbook/store/id_hint.hpp"
#include "lookbook/util/checksum.hpp"
#include "lookbook/util/file.hpp"
#include "lookbook/util/log.hpp"
#include "lookbook/util/progress.hpp"

namespace lookbook {
namespace {

namespace fs = std::filesystem;

constexpr const char* kTextTemplate = "{name}. {product_type}. {colour}. {description}";
// Cache file: magic, dim, then records of a 32-hex-digit key and dim floats.
constexpr char kCacheMagic[8] = {'L', 'B', 'E', 'M', 'B', 'C', '0', '1'};
constexpr size_t kKeySize = 32;

void append_part(std::string* out, std::string_view part) {
    while (!part.empty() && (part.back() == ' ' || part.back() == '\n')) {
        part.remove_suffix(1);
    }
    if (part.empty()) {
        return;
    }
    if (!out->empty()) {
        out->push_back(' ');
    }
    out->append(part);
    if (part.back() != '.') {
        out->push_back('.');
    }
}

// Image embeddings by content key, loaded from and saved to one file.
class ImageCache {
  public:
    ImageCache(fs::path path, int64_t dim) : path_(std::move(path)), dim_(dim) {}

    // A missing file is an empty cache; a damaged or foreign one is ignored with a warning.
    void load() {
        auto bytes = read_file(path_);
        if (!bytes.is_ok()) {
            return;
        }
        const size_t record = kKeySize + dim_ * sizeof(float);
        const std::string& b = *bytes;
        int64_t dim = 0;
        if (b.size() < 16 || std::memcmp(b.data(), kCacheMagic, 8) != 0) {
            log::warn("{}: not an image embedding cache; ignoring it", path_.string());
            return;
        }
        std::memcpy(&dim, b.data() + 8, sizeof(dim));
        if (dim != dim_ || (b.size() - 16) % record != 0) {
            log::warn("{}: cache of dim {} and {} bytes does not fit dim {}; ignoring it",
                      path_.string(),
                      dim,
                      b.size(),
                      dim_);
            return;
        }
        for (size_t pos = 16; pos < b.size(); pos += record) {
            std::vector<float> row(dim_);
            std::memcpy(row.data(), b.data() + pos + kKeySize, dim_ * sizeof(float));
            rows_.emplace(b.substr(pos, kKeySize), std::move(row));
        }
        log::info("image embedding cache {}: {} entries", path_.string(), rows_.size());
    }

    const std::vector<float>* find(const std::string& key) const {
        auto it = rows_.find(key);
        return it == rows_.end() ? nullptr : &it->second;
    }
    void put(const std::string& key, std::vector<float> row) { rows_[key] = std::move(row); }

    // Rewrites the whole file (small: 4 KB per 1000 images per 1 float dim) and syncs it.
    Status save() const {
        std::error_code ec;
        fs::create_directories(path_.parent_path(), ec);
        std::string out(kCacheMagic, 8);
        out.append(reinterpret_cast<const char*>(&dim_), sizeof(dim_));
        for (const auto& [key, row] : rows_) {
            out += key;
            out.append(reinterpret_cast<const char*>(row.data()), row.size() * sizeof(float));
        }
        const fs::path tmp = path_.string() + ".tmp";
        LOOKBOOK_RETURN_IF_ERROR(write_file_synced(tmp, out));
        fs::rename(tmp, path_, ec);
        if (ec) {
            return Status::io_error(path_.string() + ": cannot replace the cache: " + ec.message() +
                                    "; check the folder's permissions");
        }
        return Status::ok();
    }

  private:
    fs::path path_;
    int64_t dim_;
    std::unordered_map<std::string, std::vector<float>> rows_;
};

// L2-normalised rows of a [B, D] tensor, appended to `out` per row.
std::vector<std::vector<float>> normalized_rows(const torch::Tensor& embeddings) {
    torch::Tensor unit =
        (embeddings / embeddings.norm(2, 1, true).clamp_min(1e-12)).contiguous();  // [B, D]
    std::vector<std::vector<float>> rows;
    for (int64_t row_idx = 0; row_idx < unit.size(0); ++row_idx) {
        const float* p = unit[row_idx].data_ptr<float>();
        rows.emplace_back(p, p + unit.size(1));
    }
    return rows;
}

// A photo waiting for the model: its key and the articles that show it.
struct PendingImage {
    std::string key;
    torch::Tensor pixels;  // [3, S, S]
};

}  // namespace

Result<std::string> model_tag(const fs::path& model_dir) {
    std::vector<fs::path> files;
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(model_dir, ec)) {
        const std::string name = entry.path().filename().string();
        if (entry.path().extension() == ".safetensors" ||
            name.find("config") != std::string::npos) {
            files.push_back(entry.path());
        }
    }
    std::sort(files.begin(), files.end());
    std::string keys;
    for (const fs::path& file : files) {
        LOOKBOOK_ASSIGN_OR_RETURN(MappedFile mapped, MappedFile::open(file));
        keys += file.filename().string() + "=" + content_key(mapped.view()) + ";";
    }
    return content_key(keys).substr(0, 16);
}

std::string content_key(std::string_view bytes) {
    uint64_t fnv = 0xcbf29ce484222325ull;
    for (unsigned char c : bytes) {
        fnv = (fnv ^ c) * 1099511628211ull;
    }
    const uint32_t crc = crc32c(bytes.data(), bytes.size());
    return fmt::format("{:016x}{:08x}{:08x}", fnv, crc, static_cast<uint32_t>(bytes.size()));
}

std::string catalog_text(const ArticleTable& articles, uint32_t article) {
    std::string out;
    if (!articles.has_metadata(article)) {
        return out;
    }
    append_part(&out, articles.name(article));
    append_part(&out, articles.product_type(article));
    append_part(&out, articles.colour(article));
    append_part(&out, articles.description(article));
    return out;
}

Result<CatalogEmbedReport> embed_catalog(const fs::path& store_dir,
                                         const fs::path& model_dir,
                                         const CatalogEmbedOptions& options) {
    if (options.batch_size < 1) {
        return Status::invalid_argument(
            fmt::format("--batch is {}; expected 1 or more", options.batch_size));
    }
    const auto start = std::chrono::steady_clock::now();
    LOOKBOOK_ASSIGN_OR_RETURN(std::unique_ptr<Store> store, Store::open(store_dir));
    LOOKBOOK_ASSIGN_OR_RETURN(std::unique_ptr<Encoder> model, load_encoder(model_dir));
    LOOKBOOK_ASSIGN_OR_RETURN(std::string tag, model_tag(model_dir));
    const ArticleTable& articles = store->articles();
    const int64_t dim = model->dim();
    const uint32_t n = articles.size();

    CatalogEmbedReport report;
    report.articles = n;
    report.dim = dim;
    const fs::path cache_dir =
        options.cache_dir.empty() ? store_dir / "cache" / "image-embeddings" : options.cache_dir;
    report.cache_file = cache_dir / (tag + ".bin");
    ImageCache cache(report.cache_file, dim);
    cache.load();

    std::vector<float> image(static_cast<size_t>(n) * dim, 0.0f);
    std::vector<float> text(static_cast<size_t>(n) * dim, 0.0f);
    std::vector<uint8_t> has_image(n, 0);
    std::vector<uint8_t> has_text(n, 0);

    // Images: read and hash each photo; the model sees each distinct uncached photo once.
    // TODO: photos are read and decoded on the calling thread while the model waits; a decoding
    // thread would overlap the two (about a third of the time of a large catalog's first run).
    std::vector<std::string> article_key(n);
    std::vector<PendingImage> pending;
    std::unordered_map<std::string, bool> queued;
    for (uint32_t article = 0; article < n; ++article) {
        report.images += articles.image_path(article).empty() ? 0 : 1;
    }
    Progress image_progress("embedding images", report.images, "images");
    auto flush = [&]() {
        if (pending.empty()) {
            return;
        }
        std::vector<torch::Tensor> batch;
        for (const PendingImage& p : pending) {
            batch.push_back(p.pixels);
        }
        std::vector<std::vector<float>> rows =
            normalized_rows(model->encode_pixels(torch::stack(batch)));  // [B, D]
        for (size_t i = 0; i < pending.size(); ++i) {
            cache.put(pending[i].key, std::move(rows[i]));
        }
        report.images_encoded += static_cast<uint32_t>(pending.size());
        pending.clear();
    };
    for (uint32_t article = 0; article < n; ++article) {
        const std::string_view path = articles.image_path(article);
        if (path.empty()) {
            continue;
        }
        image_progress.add();
        // Hash before decoding: a cached photo costs a read, not a decode. Only photos that
        // decoded are ever cached, so a broken file is decoded (and counted) on every run.
        auto bytes = read_file(std::string(path));
        std::string key = bytes.is_ok() ? content_key(*bytes) : std::string();
        if (!key.empty() && (cache.find(key) != nullptr || queued.count(key) > 0)) {
            ++report.images_cached;
            article_key[article] = std::move(key);
            continue;
        }
        Result<RgbImage> decoded =
            bytes.is_ok() ? decode_image_bytes(*bytes, std::string(path)) : bytes.status();
        if (!decoded.is_ok()) {
            log::warn("article {}: skipping its photo: {}",
                      articles.id(article),
                      decoded.status().message());
            ++report.image_errors;
            continue;
        }
        auto pixels = model->preprocess_image(*decoded);
        if (!pixels.is_ok()) {
            log::warn("article {}: skipping its photo: {}",
                      articles.id(article),
                      pixels.status().message());
            ++report.image_errors;
            continue;
        }
        queued[key] = true;
        article_key[article] = key;
        pending.push_back({std::move(key), *pixels});
        if (static_cast<int>(pending.size()) >= options.batch_size) {
            flush();
        }
    }
    flush();
    image_progress.finish();
    for (uint32_t article = 0; article < n; ++article) {
        if (const std::vector<float>* row = cache.find(article_key[article]); row != nullptr) {
            std::copy(row->begin(), row->end(), image.begin() + static_cast<size_t>(article) * dim);
            has_image[article] = 1;
        }
    }
    LOOKBOOK_RETURN_IF_ERROR(cache.save());

    // Texts: cheap to encode, so not cached.
    std::vector<uint32_t> text_articles;
    for (uint32_t article = 0; article < n; ++article) {
        if (!catalog_text(articles, article).empty()) {
            text_articles.push_back(article);
        }
    }
    Progress text_progress("embedding texts", text_articles.size(), "texts");
    // A text the tokenizer refuses (ALIGN: invalid UTF-8) fails its batch; the batch is then
    // redone text by text so only that article goes without a text vector.
    auto embed_texts = [&](size_t begin, size_t end) -> Status {
        std::vector<std::string> batch;
        for (size_t i = begin; i < end; ++i) {
            batch.push_back(catalog_text(articles, text_articles[i]));
        }
        LOOKBOOK_ASSIGN_OR_RETURN(torch::Tensor embedded, model->encode_texts(batch));
        std::vector<std::vector<float>> rows = normalized_rows(embedded);  // [B, D]
        for (size_t i = begin; i < end; ++i) {
            const uint32_t article = text_articles[i];
            std::copy(rows[i - begin].begin(),
                      rows[i - begin].end(),
                      text.begin() + static_cast<size_t>(article) * dim);
            has_text[article] = 1;
        }
        return Status::ok();
    };
    for (size_t begin = 0; begin < text_articles.size(); begin += options.batch_size) {
        const size_t end = std::min(text_articles.size(), begin + options.batch_size);
        if (!embed_texts(begin, end).is_ok()) {
            for (size_t i = begin; i < end; ++i) {
                Status one = embed_texts(i, i + 1);
                if (!one.is_ok()) {
                    log::warn("article {}: skipping its text: {}",
                              articles.id(text_articles[i]),
                              one.message());
                    ++report.text_errors;
                }
            }
        }
        text_progress.add(end - begin);
    }
    text_progress.finish();
    report.texts = static_cast<uint32_t>(text_articles.size()) - report.text_errors;

    // Commit: a new generation with the embeddings file, every other file kept.
    ColumnFileWriter writer;
    writer.add("image", image);
    writer.add("text", text);
    writer.add("has_image", has_image);
    writer.add("has_text", has_text);
    nlohmann::json meta;
    // Relative when the model lies inside the store, so a copied or moved store keeps it.
    meta["model"] = path_for_store(store_dir, model_dir);
    meta["model_tag"] = tag;
    meta["model_type"] = model->kind();
    meta["dim"] = dim;
    meta["articles"] = n;
    meta["text_template"] = kTextTemplate;
    meta["images"] = report.images;
    meta["image_errors"] = report.image_errors;
    meta["texts"] = report.texts;
    meta["text_errors"] = report.text_errors;
    writer.set_metadata(meta.dump());
    LOOKBOOK_ASSIGN_OR_RETURN(
        report.generation,
        Store::commit(store_dir, {{"embeddings", &writer}}, true, store->generation()));
    report.seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    log::info("embedded {} articles ({} photos: {} encoded, {} cached, {} errors; {} texts) in {}",
              n,
              report.images,
              report.images_encoded,
              report.images_cached,
              report.image_errors,
              report.texts,
              report.generation);
    return report;
}

Result<std::unique_ptr<CatalogEmbeddings>> load_catalog_embeddings(const Store& store) {
    if (!store.has_file("embeddings")) {
        return Status::not_found(no_embeddings_message(store.dir().string()));
    }
    auto out = std::make_unique<CatalogEmbeddings>();
    LOOKBOOK_ASSIGN_OR_RETURN(out->file, store.open_file("embeddings"));
    LOOKBOOK_ASSIGN_OR_RETURN(out->image, out->file.column<float>("image"));
    LOOKBOOK_ASSIGN_OR_RETURN(out->text, out->file.column<float>("text"));
    LOOKBOOK_ASSIGN_OR_RETURN(out->has_image, out->file.column<uint8_t>("has_image"));
    LOOKBOOK_ASSIGN_OR_RETURN(out->has_text, out->file.column<uint8_t>("has_text"));
    const size_t n = out->has_image.size();
    out->dim = n == 0 ? 0 : static_cast<int64_t>(out->image.size() / n);
    if (n != store.articles().size() || out->has_text.size() != n ||
        out->image.size() != n * out->dim || out->text.size() != n * out->dim) {
        return Status::corruption(
            out->file.path().string() + ": embedding columns do not match the store's " +
            std::to_string(store.articles().size()) + " articles; run `lookbook embed` again");
    }
    return out;
}

}  // namespace lookbook
