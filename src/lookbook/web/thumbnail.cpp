#include "lookbook/web/thumbnail.hpp"

#include <atomic>
#include <csetjmp>
#include <cstdio>
#include <vector>

#include <fmt/format.h>
#include <jpeglib.h>
#include <unistd.h>

#include "lookbook/util/file.hpp"

namespace lookbook::web {

namespace fs = std::filesystem;

namespace {

uint32_t big_endian32(const unsigned char* p) {
    return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
}

// libjpeg reports fatal errors through a callback that must not return: jump back out.
struct JpegError {
    jpeg_error_mgr manager;
    std::jmp_buf jump;
    char message[JMSG_LENGTH_MAX];
};

void on_jpeg_error(j_common_ptr info) {
    auto* error = reinterpret_cast<JpegError*>(info->err);
    (*info->err->format_message)(info, error->message);
    std::longjmp(error->jump, 1);
}

void ignore_jpeg_message(j_common_ptr, int) {}

// Decodes at the smallest DCT scale that is still at least `max_side` on its longer side.
// Plain data out of the setjmp scope so no destructor is skipped by longjmp.
bool decode_scaled(std::string_view bytes,
                   int max_side,
                   uint64_t max_pixels,
                   std::vector<uint8_t>* pixels,
                   int* width,
                   int* height,
                   std::string* error_text,
                   bool* too_large) {
    jpeg_decompress_struct info;
    JpegError error;
    info.err = jpeg_std_error(&error.manager);
    error.manager.error_exit = on_jpeg_error;
    error.manager.emit_message = ignore_jpeg_message;
    if (setjmp(error.jump)) {
        *error_text = error.message;
        jpeg_destroy_decompress(&info);
        return false;
    }
    jpeg_create_decompress(&info);
    jpeg_mem_src(&info,
                 reinterpret_cast<const unsigned char*>(bytes.data()),
                 static_cast<unsigned long>(bytes.size()));
    jpeg_read_header(&info, TRUE);
    if (uint64_t{info.image_width} * info.image_height > max_pixels) {
        *too_large = true;
        jpeg_destroy_decompress(&info);
        return false;
    }
    info.out_color_space = JCS_RGB;
    unsigned longer = std::max(info.image_width, info.image_height);
    info.scale_num = 1;
    info.scale_denom = 1;
    for (unsigned denom : {8u, 4u, 2u}) {
        if (longer / denom >= static_cast<unsigned>(max_side)) {
            info.scale_denom = denom;
            break;
        }
    }
    jpeg_start_decompress(&info);
    *width = static_cast<int>(info.output_width);
    *height = static_cast<int>(info.output_height);
    pixels->resize(static_cast<size_t>(*width) * *height * 3);
    while (info.output_scanline < info.output_height) {
        JSAMPROW row = pixels->data() + static_cast<size_t>(info.output_scanline) * *width * 3;
        jpeg_read_scanlines(&info, &row, 1);
    }
    jpeg_finish_decompress(&info);
    jpeg_destroy_decompress(&info);
    return true;
}

// Averages the source pixels each output pixel covers (a box filter; fine for shrinking).
std::vector<uint8_t> shrink(const std::vector<uint8_t>& src, int sw, int sh, int dw, int dh) {
    std::vector<uint8_t> dst(static_cast<size_t>(dw) * dh * 3);
    for (int y = 0; y < dh; ++y) {
        int y0 = y * sh / dh;
        int y1 = std::max(y0 + 1, (y + 1) * sh / dh);
        for (int x = 0; x < dw; ++x) {
            int x0 = x * sw / dw;
            int x1 = std::max(x0 + 1, (x + 1) * sw / dw);
            uint32_t sum[3] = {0, 0, 0};
            for (int sy = y0; sy < y1; ++sy) {
                const uint8_t* row = src.data() + (static_cast<size_t>(sy) * sw + x0) * 3;
                for (int sx = x0; sx < x1; ++sx, row += 3) {
                    sum[0] += row[0];
                    sum[1] += row[1];
                    sum[2] += row[2];
                }
            }
            uint32_t n = static_cast<uint32_t>((y1 - y0) * (x1 - x0));
            uint8_t* out = dst.data() + (static_cast<size_t>(y) * dw + x) * 3;
            for (int c = 0; c < 3; ++c) {
                out[c] = static_cast<uint8_t>((sum[c] + n / 2) / n);
            }
        }
    }
    return dst;
}

std::string encode_jpeg(const std::vector<uint8_t>& pixels, int width, int height) {
    jpeg_compress_struct info;
    jpeg_error_mgr error;
    info.err = jpeg_std_error(&error);
    jpeg_create_compress(&info);
    unsigned char* buffer = nullptr;
    unsigned long size = 0;
    jpeg_mem_dest(&info, &buffer, &size);
    info.image_width = static_cast<JDIMENSION>(width);
    info.image_height = static_cast<JDIMENSION>(height);
    info.input_components = 3;
    info.in_color_space = JCS_RGB;
    jpeg_set_defaults(&info);
    jpeg_set_quality(&info, 82, TRUE);
    jpeg_start_compress(&info, TRUE);
    while (info.next_scanline < info.image_height) {
        auto row = const_cast<JSAMPROW>(pixels.data() +
                                        static_cast<size_t>(info.next_scanline) * width * 3);
        jpeg_write_scanlines(&info, &row, 1);
    }
    jpeg_finish_compress(&info);
    jpeg_destroy_compress(&info);
    std::string out(reinterpret_cast<const char*>(buffer), size);
    free(buffer);
    return out;
}

}  // namespace

Result<ImageSize> probe_image(std::string_view bytes) {
    const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
    if (bytes.size() >= 24 && bytes.substr(0, 8) == std::string_view("\x89PNG\r\n\x1a\n", 8)) {
        return ImageSize{big_endian32(p + 16), big_endian32(p + 20), "image/png"};
    }
    if (bytes.size() >= 4 && p[0] == 0xFF && p[1] == 0xD8) {
        // Walk the markers up to the first start-of-frame, which holds the size.
        size_t pos = 2;
        while (pos + 9 < bytes.size()) {
            if (p[pos] != 0xFF) {
                break;
            }
            unsigned marker = p[pos + 1];
            size_t length = (size_t{p[pos + 2]} << 8) | p[pos + 3];
            bool frame = marker >= 0xC0 && marker <= 0xCF && marker != 0xC4 && marker != 0xC8 &&
                         marker != 0xCC;
            if (frame) {
                return ImageSize{(uint32_t{p[pos + 7]} << 8) | p[pos + 8],
                                 (uint32_t{p[pos + 5]} << 8) | p[pos + 6],
                                 "image/jpeg"};
            }
            pos += 2 + length;
        }
        return Status::invalid_argument("the JPEG photo is truncated or damaged (no frame header)");
    }
    return Status::invalid_argument(
        "the upload is not a JPEG or PNG photo; send a .jpg or .png file");
}

Result<std::string> make_jpeg_thumbnail(std::string_view bytes, int max_side, uint64_t max_pixels) {
    std::vector<uint8_t> pixels;
    int width = 0;
    int height = 0;
    std::string error_text;
    bool too_large = false;
    if (!decode_scaled(
            bytes, max_side, max_pixels, &pixels, &width, &height, &error_text, &too_large)) {
        if (too_large) {
            return Status::resource_exhausted(
                fmt::format("the photo has more than {} pixels; send a smaller photo", max_pixels));
        }
        return Status::invalid_argument(
            fmt::format("the photo is not a readable JPEG: {}", error_text));
    }
    if (width > max_side || height > max_side) {
        int longer = std::max(width, height);
        int dw = std::max(1, width * max_side / longer);
        int dh = std::max(1, height * max_side / longer);
        pixels = shrink(pixels, width, height, dw, dh);
        width = dw;
        height = dh;
    }
    return encode_jpeg(pixels, width, height);
}

Result<std::string> ThumbnailCache::get(const std::string& key,
                                        const fs::path& source,
                                        int max_side) {
    fs::path cached = dir_ / fmt::format("{}-{}.jpg", key, max_side);
    std::error_code ec;
    if (fs::exists(cached, ec)) {
        auto bytes = read_file(cached);
        if (bytes.is_ok()) {
            return bytes;
        }
    }
    LOOKBOOK_ASSIGN_OR_RETURN(std::string original, read_file(source));
    auto size = probe_image(original);
    if (!size.is_ok() || size->mime != "image/jpeg") {
        // TODO: PNG and WebP photos are served at full size — a thumbnail needs a decoder here
        // without libtorch's image code; costs bandwidth on catalogs that are not JPEG.
        return original;
    }
    LOOKBOOK_ASSIGN_OR_RETURN(std::string thumbnail, make_jpeg_thumbnail(original, max_side));
    // Written to a temporary name unique to this call and renamed, so concurrent first requests
    // (or two servers) never expose a half-written file.
    fs::create_directories(dir_, ec);
    static std::atomic<uint64_t> next_tmp{0};
    fs::path tmp = cached;
    tmp += fmt::format(".{}.{}.tmp", getpid(), next_tmp.fetch_add(1));
    if (write_file_synced(tmp, thumbnail).is_ok()) {
        fs::rename(tmp, cached, ec);
    }
    return thumbnail;
}

}  // namespace lookbook::web
