#include "lookbook/encoders/image.hpp"

#include <algorithm>
#include <cmath>
#include <csetjmp>
#include <cstdio>
#include <cstring>
#include <memory>

#include <jerror.h>
#include <jpeglib.h>
#include <png.h>
#include <webp/decode.h>

#include "lookbook/util/file.hpp"
#include "lookbook/util/log.hpp"

namespace lookbook {
namespace {

// 8 bits of result, 2 bits of headroom for the filter's negative lobes, as Pillow's Resample.c.
constexpr int kPrecisionBits = 32 - 8 - 2;
constexpr double kBicubicSupport = 2.0;
constexpr double kBilinearSupport = 1.0;

enum class ImageFormat { kJpeg, kPng, kWebp, kUnknown };

ImageFormat sniff_format(std::string_view b) {
    auto byte = [&](size_t i) { return static_cast<unsigned char>(b[i]); };
    if (b.size() >= 3 && byte(0) == 0xFF && byte(1) == 0xD8 && byte(2) == 0xFF) {
        return ImageFormat::kJpeg;
    }
    if (b.size() >= 8 && b.substr(0, 8) == std::string_view("\x89PNG\r\n\x1a\n", 8)) {
        return ImageFormat::kPng;
    }
    if (b.size() >= 12 && b.substr(0, 4) == "RIFF" && b.substr(8, 4) == "WEBP") {
        return ImageFormat::kWebp;
    }
    return ImageFormat::kUnknown;
}

std::string hex_prefix(std::string_view bytes) {
    std::string out;
    char buf[4];
    for (size_t i = 0; i < bytes.size() && i < 8; ++i) {
        std::snprintf(buf, sizeof(buf), "%02x", static_cast<unsigned char>(bytes[i]));
        if (i > 0) {
            out.push_back(' ');
        }
        out += buf;
    }
    return out;
}

// The decompression-bomb check, done on the header's size before any pixel memory exists.
Status check_size(const std::string& name,
                  uint64_t width,
                  uint64_t height,
                  const ImageLimits& limits) {
    if (width == 0 || height == 0) {
        return Status::invalid_data(name + ": image is " + std::to_string(width) + "x" +
                                    std::to_string(height) +
                                    " pixels; the file is corrupt (an image needs at least 1x1)");
    }
    uint64_t pixels = width * height;
    if (pixels > limits.max_pixels) {
        return Status::resource_exhausted(
            name + ": image is " + std::to_string(width) + "x" + std::to_string(height) + " = " +
            std::to_string(pixels) + " pixels, above the limit of " +
            std::to_string(limits.max_pixels) +
            " (possible decompression bomb); skip the file, or raise ImageLimits::max_pixels if "
            "it is trusted");
    }
    return Status::ok();
}

uint8_t muldiv255(unsigned a, unsigned b) {
    unsigned tmp = a * b + 128;
    return static_cast<uint8_t>(((tmp >> 8) + tmp) >> 8);
}

uint8_t clip8(int v) { return static_cast<uint8_t>(v < 0 ? 0 : v > 255 ? 255 : v); }

// ---------------------------------------------------------------------------------------------
// EXIF orientation: a TIFF header ("II*\0" or "MM\0*"), IFD0 offset, then 12-byte entries.

int orientation_from_tiff(std::string_view tiff) {
    if (tiff.size() < 8) {
        return 1;
    }
    const auto* d = reinterpret_cast<const uint8_t*>(tiff.data());
    bool little = d[0] == 'I' && d[1] == 'I';
    if (!little && !(d[0] == 'M' && d[1] == 'M')) {
        return 1;
    }
    auto u16 = [&](size_t at) {
        return little ? static_cast<uint32_t>(d[at] | (d[at + 1] << 8))
                      : static_cast<uint32_t>((d[at] << 8) | d[at + 1]);
    };
    auto u32 = [&](size_t at) {
        return little ? (u16(at) | (u16(at + 2) << 16)) : ((u16(at) << 16) | u16(at + 2));
    };
    if (u16(2) != 42) {
        return 1;
    }
    uint64_t ifd = u32(4);
    if (ifd + 2 > tiff.size()) {
        return 1;
    }
    uint32_t count = u16(ifd);
    for (uint32_t entry = 0; entry < count; ++entry) {
        uint64_t at = ifd + 2 + 12ull * entry;
        if (at + 12 > tiff.size()) {
            return 1;
        }
        // Tag 0x0112, type SHORT (3), one value stored in the entry itself.
        if (u16(at) == 0x0112 && u16(at + 2) == 3 && u32(at + 4) >= 1) {
            uint32_t value = u16(at + 8);
            return value >= 1 && value <= 8 ? static_cast<int>(value) : 1;
        }
    }
    return 1;
}

// ---------------------------------------------------------------------------------------------
// JPEG through libjpeg-turbo. libjpeg reports fatal errors by calling error_exit, which must not
// return: it longjmps back to the setjmp in the function that called into libjpeg. Those
// functions hold no C++ objects, so the jump skips no destructor; results go through `job`.

// Plain C data only, so that libjpeg's `err` pointer can be cast back to it.
struct JpegErrorManager {
    jpeg_error_mgr pub;
    std::jmp_buf jump;
    char message[JMSG_LENGTH_MAX];
    bool truncated;
};

struct JpegJob {
    jpeg_decompress_struct cinfo{};
    JpegErrorManager err{};
    bool created = false;

    ~JpegJob() {
        if (created) {
            jpeg_destroy_decompress(&cinfo);
        }
    }
};

JpegErrorManager* error_manager(j_common_ptr cinfo) {
    return reinterpret_cast<JpegErrorManager*>(cinfo->err);
}

[[noreturn]] void jpeg_fail(j_common_ptr cinfo) {
    JpegErrorManager* err = error_manager(cinfo);
    (*cinfo->err->format_message)(cinfo, err->message);
    std::longjmp(err->jump, 1);
}

// Warnings (level -1) do not stop libjpeg; a premature end of data is remembered so that a
// truncated file is an error, as PIL raises "image file is truncated".
void jpeg_message(j_common_ptr cinfo, int level) {
    if (level < 0 && cinfo->err->msg_code == JWRN_JPEG_EOF) {
        error_manager(cinfo)->truncated = true;
    }
}

bool jpeg_read_header_guarded(JpegJob* job, const uint8_t* data, size_t size) {
    job->cinfo.err = jpeg_std_error(&job->err.pub);
    job->err.pub.error_exit = jpeg_fail;
    job->err.pub.emit_message = jpeg_message;
    if (setjmp(job->err.jump) != 0) {
        return false;
    }
    jpeg_create_decompress(&job->cinfo);
    job->created = true;
    jpeg_mem_src(&job->cinfo, data, static_cast<unsigned long>(size));
    jpeg_save_markers(&job->cinfo, JPEG_APP0 + 1, 0xFFFF);
    jpeg_read_header(&job->cinfo, TRUE);
    return true;
}

bool jpeg_decompress_guarded(JpegJob* job, uint8_t* out, size_t row_bytes) {
    if (setjmp(job->err.jump) != 0) {
        return false;
    }
    jpeg_start_decompress(&job->cinfo);
    while (job->cinfo.output_scanline < job->cinfo.output_height) {
        JSAMPROW row = out + job->cinfo.output_scanline * row_bytes;
        jpeg_read_scanlines(&job->cinfo, &row, 1);
    }
    jpeg_finish_decompress(&job->cinfo);
    return true;
}

// PIL reads 4-component JPEGs as Adobe's inverted CMYK ("CMYK;I") and converts to RGB with
// R = K' - K' * C' / 255 where C' and K' are the stored (inverted) values.
void cmyk_to_rgb(const std::vector<uint8_t>& cmyk, RgbImage* image) {
    size_t n = static_cast<size_t>(image->width) * image->height;
    image->pixels.resize(n * 3);
    for (size_t i = 0; i < n; ++i) {
        unsigned nk = cmyk[i * 4 + 3];
        for (int c = 0; c < 3; ++c) {
            unsigned ink = 255 - cmyk[i * 4 + c];
            image->pixels[i * 3 + c] = clip8(static_cast<int>(nk) - muldiv255(ink, nk));
        }
    }
    image->channels = 3;
}

Result<RgbImage> decode_jpeg(std::string_view bytes,
                             const std::string& name,
                             const ImageLimits& limits,
                             int* orientation) {
    auto job = std::make_unique<JpegJob>();
    const auto* data = reinterpret_cast<const uint8_t*>(bytes.data());
    if (!jpeg_read_header_guarded(job.get(), data, bytes.size())) {
        return Status::invalid_data(name + ": JPEG header is unreadable (libjpeg: " +
                                    job->err.message + "); the file is corrupt or not a JPEG");
    }
    jpeg_decompress_struct& cinfo = job->cinfo;
    LOOKBOOK_RETURN_IF_ERROR(check_size(name, cinfo.image_width, cinfo.image_height, limits));

    // The first APP1 "Exif\0\0" marker carries the orientation, as PIL reads it.
    for (jpeg_saved_marker_ptr m = cinfo.marker_list; m != nullptr; m = m->next) {
        if (m->marker == JPEG_APP0 + 1 && m->data_length >= 6 &&
            std::memcmp(m->data, "Exif\0\0", 6) == 0) {
            *orientation = exif_orientation(
                std::string_view(reinterpret_cast<const char*>(m->data), m->data_length));
            break;
        }
    }

    int components = 3;
    if (cinfo.jpeg_color_space == JCS_GRAYSCALE) {
        cinfo.out_color_space = JCS_GRAYSCALE;
        components = 1;
    } else if (cinfo.jpeg_color_space == JCS_CMYK || cinfo.jpeg_color_space == JCS_YCCK) {
        cinfo.out_color_space = JCS_CMYK;  // libjpeg turns YCCK into CMYK
        components = 4;
    } else {
        cinfo.out_color_space = JCS_RGB;
    }
    RgbImage image;
    image.width = static_cast<int>(cinfo.image_width);
    image.height = static_cast<int>(cinfo.image_height);
    image.channels = components;
    size_t row_bytes = static_cast<size_t>(image.width) * components;
    std::vector<uint8_t> decoded(row_bytes * image.height);
    if (!jpeg_decompress_guarded(job.get(), decoded.data(), row_bytes)) {
        return Status::invalid_data(name + ": JPEG data is corrupt (libjpeg: " + job->err.message +
                                    "); re-export or download the image again");
    }
    if (job->err.truncated) {
        return Status::invalid_data(name +
                                    ": JPEG data ends early (the file is truncated); download or "
                                    "copy the image again");
    }
    if (components == 4) {
        cmyk_to_rgb(decoded, &image);
    } else {
        image.pixels = std::move(decoded);
    }
    return image;
}

// ---------------------------------------------------------------------------------------------
// PNG through libpng, with the same setjmp discipline as JPEG.

struct PngJob {
    png_structp png = nullptr;
    png_infop info = nullptr;
    std::string_view bytes;
    size_t pos = 0;
    char message[256] = {};

    ~PngJob() {
        if (png != nullptr) {
            png_destroy_read_struct(&png, info != nullptr ? &info : nullptr, nullptr);
        }
    }
};

[[noreturn]] void png_fail(png_structp png, png_const_charp msg) {
    auto* job = static_cast<PngJob*>(png_get_error_ptr(png));
    std::snprintf(job->message, sizeof(job->message), "%s", msg);
    std::longjmp(png_jmpbuf(png), 1);
}

void png_warn(png_structp, png_const_charp) {}

void png_read_bytes(png_structp png, png_bytep out, png_size_t length) {
    auto* job = static_cast<PngJob*>(png_get_io_ptr(png));
    if (job->bytes.size() - job->pos < length) {
        png_error(png, "file is truncated");
    }
    std::memcpy(out, job->bytes.data() + job->pos, length);
    job->pos += length;
}

bool png_read_info_guarded(PngJob* job) {
    if (setjmp(png_jmpbuf(job->png)) != 0) {
        return false;
    }
    png_set_read_fn(job->png, job, png_read_bytes);
    png_read_info(job->png, job->info);
    return true;
}

// Sets the transforms to 8-bit L, GA->RGB(A) or RGB(A) and reads all rows (interlaced too).
bool png_read_rows_guarded(PngJob* job, png_bytepp rows) {
    if (setjmp(png_jmpbuf(job->png)) != 0) {
        return false;
    }
    png_read_image(job->png, rows);
    return true;
}

// Trailing chunks may hold eXIf; a damaged tail after complete pixels is not worth failing on.
bool png_read_end_guarded(PngJob* job) {
    if (setjmp(png_jmpbuf(job->png)) != 0) {
        return false;
    }
    png_read_end(job->png, job->info);
    return true;
}

int png_orientation(const PngJob& job) {
    png_uint_32 size = 0;
    png_bytep exif = nullptr;
    if (png_get_eXIf_1(job.png, job.info, &size, &exif) != 0 && exif != nullptr) {
        return exif_orientation(std::string_view(reinterpret_cast<const char*>(exif), size));
    }
    return 1;
}

Result<RgbImage> decode_png(std::string_view bytes,
                            const std::string& name,
                            const ImageLimits& limits,
                            int* orientation) {
    auto job = std::make_unique<PngJob>();
    job->bytes = bytes;
    job->png = png_create_read_struct(PNG_LIBPNG_VER_STRING, job.get(), png_fail, png_warn);
    if (job->png != nullptr) {
        job->info = png_create_info_struct(job->png);
    }
    if (job->png == nullptr || job->info == nullptr) {
        return Status::internal(name + ": libpng could not allocate its decoder");
    }
    if (!png_read_info_guarded(job.get())) {
        return Status::invalid_data(name + ": PNG header is unreadable (libpng: " + job->message +
                                    "); the file is corrupt or truncated");
    }
    png_uint_32 width = png_get_image_width(job->png, job->info);
    png_uint_32 height = png_get_image_height(job->png, job->info);
    LOOKBOOK_RETURN_IF_ERROR(check_size(name, width, height, limits));

    int color_type = png_get_color_type(job->png, job->info);
    int bit_depth = png_get_bit_depth(job->png, job->info);
    // PIL keeps the high byte of 16-bit samples ("RGB;16B"); strip_16 does the same.
    if (bit_depth == 16) {
        png_set_strip_16(job->png);
    }
    if (color_type == PNG_COLOR_TYPE_PALETTE) {
        png_set_palette_to_rgb(job->png);
    } else if (color_type == PNG_COLOR_TYPE_GRAY && bit_depth < 8) {
        png_set_expand_gray_1_2_4_to_8(job->png);
    } else if (color_type == PNG_COLOR_TYPE_GRAY_ALPHA) {
        png_set_gray_to_rgb(job->png);
    }
    png_set_interlace_handling(job->png);
    png_read_update_info(job->png, job->info);

    RgbImage image;
    image.width = static_cast<int>(width);
    image.height = static_cast<int>(height);
    image.channels = png_get_channels(job->png, job->info);
    size_t row_bytes = png_get_rowbytes(job->png, job->info);
    if (row_bytes != static_cast<size_t>(image.width) * image.channels) {
        return Status::unsupported(name + ": PNG layout (color type " + std::to_string(color_type) +
                                   ", " + std::to_string(bit_depth) +
                                   " bits) is not supported; convert the image to 8-bit RGB");
    }
    image.pixels.resize(row_bytes * image.height);
    std::vector<png_bytep> rows(image.height);
    for (int y = 0; y < image.height; ++y) {
        rows[y] = image.pixels.data() + y * row_bytes;
    }
    if (!png_read_rows_guarded(job.get(), rows.data())) {
        return Status::invalid_data(name + ": PNG data is corrupt (libpng: " + job->message +
                                    "); re-export or download the image again");
    }
    *orientation = png_orientation(*job);
    if (*orientation == 1 && png_read_end_guarded(job.get())) {
        *orientation = png_orientation(*job);
    }

    // A palette with transparency expands to RGBA; PIL's convert("RGB") drops that alpha.
    if (color_type == PNG_COLOR_TYPE_PALETTE && image.channels == 4) {
        size_t n = static_cast<size_t>(image.width) * image.height;
        for (size_t i = 0; i < n; ++i) {
            std::memmove(&image.pixels[i * 3], &image.pixels[i * 4], 3);
        }
        image.pixels.resize(n * 3);
        image.channels = 3;
    }
    return image;
}

// ---------------------------------------------------------------------------------------------
// WebP through libwebp; the EXIF chunk is found by walking the RIFF chunks.

int webp_orientation(std::string_view bytes) {
    size_t pos = 12;
    while (pos + 8 <= bytes.size()) {
        std::string_view fourcc = bytes.substr(pos, 4);
        const auto* s = reinterpret_cast<const uint8_t*>(bytes.data() + pos + 4);
        uint64_t size = s[0] | (s[1] << 8) | (s[2] << 16) | (static_cast<uint64_t>(s[3]) << 24);
        if (pos + 8 + size > bytes.size()) {
            return 1;
        }
        if (fourcc == "EXIF") {
            return exif_orientation(bytes.substr(pos + 8, size));
        }
        pos += 8 + size + (size & 1);
    }
    return 1;
}

const char* webp_status_text(VP8StatusCode status) {
    constexpr const char* kTexts[] = {"ok",
                                      "out of memory",
                                      "invalid parameter",
                                      "bitstream error",
                                      "unsupported feature",
                                      "suspended",
                                      "aborted",
                                      "not enough data, the file is truncated"};
    auto index = static_cast<size_t>(status);
    return index < std::size(kTexts) ? kTexts[index] : "unknown error";
}

Result<RgbImage> decode_webp(std::string_view bytes,
                             const std::string& name,
                             const ImageLimits& limits,
                             int* orientation) {
    const auto* data = reinterpret_cast<const uint8_t*>(bytes.data());
    WebPBitstreamFeatures features;
    VP8StatusCode status = WebPGetFeatures(data, bytes.size(), &features);
    if (status != VP8_STATUS_OK) {
        return Status::invalid_data(name + ": WebP header is unreadable (libwebp: " +
                                    webp_status_text(status) + "); the file is corrupt");
    }
    LOOKBOOK_RETURN_IF_ERROR(check_size(name,
                                        static_cast<uint64_t>(features.width),
                                        static_cast<uint64_t>(features.height),
                                        limits));
    if (features.has_animation) {
        return Status::unsupported(name +
                                   ": animated WebP is not supported; export one frame as a "
                                   "still image");
    }
    RgbImage image;
    image.width = features.width;
    image.height = features.height;
    image.channels = features.has_alpha ? 4 : 3;
    int stride = image.width * image.channels;
    image.pixels.resize(static_cast<size_t>(stride) * image.height);
    uint8_t* ok = features.has_alpha
                      ? WebPDecodeRGBAInto(
                            data, bytes.size(), image.pixels.data(), image.pixels.size(), stride)
                      : WebPDecodeRGBInto(
                            data, bytes.size(), image.pixels.data(), image.pixels.size(), stride);
    if (ok == nullptr) {
        return Status::invalid_data(name +
                                    ": WebP data is corrupt or truncated; re-export or download "
                                    "the image again");
    }
    *orientation = webp_orientation(bytes);
    return image;
}

// ---------------------------------------------------------------------------------------------
// PIL's convolution resample (Resample.c): bicubic for CLIP, bilinear (triangle) for ALIGN.

double bicubic_filter(double x) {
    constexpr double a = -0.5;
    x = std::fabs(x);
    if (x < 1.0) {
        return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
    }
    if (x < 2.0) {
        return (((x - 5) * x + 8) * x - 4) * a;
    }
    return 0.0;
}

double bilinear_filter(double x) {
    x = std::fabs(x);
    return x < 1.0 ? 1.0 - x : 0.0;
}

// Per output pixel: the first input index, the number of taps, and `ksize` fixed-point weights.
struct Coefficients {
    int ksize = 0;
    std::vector<int> first;
    std::vector<int> count;
    std::vector<int32_t> weights;
};

// Pillow's precompute_coeffs + normalize_coeffs_8bpc for a whole input range (box 0..in_size):
// weights are normalised to sum 1 in double, then rounded away from zero to 22-bit fixed point.
Coefficients precompute_coefficients(int in_size, int out_size, ResampleFilter filter) {
    const bool bicubic = filter == ResampleFilter::kBicubic;
    double (*kernel)(double) = bicubic ? bicubic_filter : bilinear_filter;
    double scale = static_cast<double>(static_cast<float>(in_size)) / out_size;
    double filterscale = scale < 1.0 ? 1.0 : scale;
    double support = (bicubic ? kBicubicSupport : kBilinearSupport) * filterscale;
    Coefficients c;
    c.ksize = static_cast<int>(std::ceil(support)) * 2 + 1;
    c.first.resize(out_size);
    c.count.resize(out_size);
    c.weights.assign(static_cast<size_t>(out_size) * c.ksize, 0);
    std::vector<double> k(c.ksize);
    for (int xx = 0; xx < out_size; ++xx) {
        double center = (xx + 0.5) * scale;
        double ss = 1.0 / filterscale;
        int xmin = static_cast<int>(center - support + 0.5);
        xmin = xmin < 0 ? 0 : xmin;
        int xmax = static_cast<int>(center + support + 0.5);
        xmax = (xmax > in_size ? in_size : xmax) - xmin;
        double ww = 0.0;
        for (int x = 0; x < xmax; ++x) {
            k[x] = kernel((x + xmin - center + 0.5) * ss);
            ww += k[x];
        }
        for (int x = 0; x < xmax; ++x) {
            double w = ww != 0.0 ? k[x] / ww : k[x];
            c.weights[static_cast<size_t>(xx) * c.ksize + x] = static_cast<int32_t>(
                w < 0 ? -0.5 + w * (1 << kPrecisionBits) : 0.5 + w * (1 << kPrecisionBits));
        }
        c.first[xx] = xmin;
        c.count[xx] = xmax;
    }
    return c;
}

// Rounds a fixed-point sum to 8 bits: the sum starts at one half, so the shift rounds.
uint8_t fixed_to_u8(int32_t sum) { return clip8(sum >> kPrecisionBits); }

// Horizontal pass over input rows [row_begin, row_begin + out.height); the channel count is a
// template parameter so the per-band sums stay in registers.
template <int kChannels>
void resample_horizontal_bands(const RgbImage& in,
                               int row_begin,
                               const Coefficients& c,
                               RgbImage* out) {
    for (int y = 0; y < out->height; ++y) {
        const uint8_t* src = &in.pixels[static_cast<size_t>(y + row_begin) * in.width * kChannels];
        uint8_t* dst = &out->pixels[static_cast<size_t>(y) * out->width * kChannels];
        for (int x = 0; x < out->width; ++x) {
            const int32_t* k = &c.weights[static_cast<size_t>(x) * c.ksize];
            const uint8_t* taps = src + static_cast<size_t>(c.first[x]) * kChannels;
            int32_t sum[kChannels];
            for (int band = 0; band < kChannels; ++band) {
                sum[band] = 1 << (kPrecisionBits - 1);
            }
            for (int t = 0; t < c.count[x]; ++t) {
                for (int band = 0; band < kChannels; ++band) {
                    sum[band] += taps[t * kChannels + band] * k[t];
                }
            }
            for (int band = 0; band < kChannels; ++band) {
                dst[x * kChannels + band] = fixed_to_u8(sum[band]);
            }
        }
    }
}

void resample_horizontal(const RgbImage& in, int row_begin, const Coefficients& c, RgbImage* out) {
    switch (in.channels) {
        case 1:
            resample_horizontal_bands<1>(in, row_begin, c, out);
            break;
        case 3:
            resample_horizontal_bands<3>(in, row_begin, c, out);
            break;
        default:
            resample_horizontal_bands<4>(in, row_begin, c, out);
            break;
    }
}

// Vertical pass; `row_offset` is subtracted from each first row (input rows skipped before).
// Whole rows are accumulated tap by tap, which vectorises; integer sums do not depend on order.
void resample_vertical(const RgbImage& in, int row_offset, const Coefficients& c, RgbImage* out) {
    const size_t row_bytes = static_cast<size_t>(in.width) * in.channels;
    std::vector<int32_t> sums(row_bytes);
    for (int y = 0; y < out->height; ++y) {
        const int32_t* k = &c.weights[static_cast<size_t>(y) * c.ksize];
        const uint8_t* src = &in.pixels[(c.first[y] - row_offset) * row_bytes];
        std::fill(sums.begin(), sums.end(), 1 << (kPrecisionBits - 1));
        for (int t = 0; t < c.count[y]; ++t) {
            const uint8_t* row = src + t * row_bytes;
            const int32_t weight = k[t];
            for (size_t i = 0; i < row_bytes; ++i) {
                sums[i] += row[i] * weight;
            }
        }
        uint8_t* dst = &out->pixels[y * row_bytes];
        for (size_t i = 0; i < row_bytes; ++i) {
            dst[i] = fixed_to_u8(sums[i]);
        }
    }
}

// PIL's RGBA -> RGBa: colour times alpha / 255, rounded.
void premultiply(RgbImage* image) {
    for (size_t i = 0; i + 3 < image->pixels.size(); i += 4) {
        unsigned alpha = image->pixels[i + 3];
        for (int c = 0; c < 3; ++c) {
            image->pixels[i + c] = muldiv255(image->pixels[i + c], alpha);
        }
    }
}

// PIL's RGBa -> RGBA: colour * 255 / alpha truncated and clipped; alpha 0 and 255 unchanged.
void unpremultiply(RgbImage* image) {
    for (size_t i = 0; i + 3 < image->pixels.size(); i += 4) {
        int alpha = image->pixels[i + 3];
        if (alpha == 0 || alpha == 255) {
            continue;
        }
        for (int c = 0; c < 3; ++c) {
            image->pixels[i + c] = clip8(255 * image->pixels[i + c] / alpha);
        }
    }
}

Status validate_image(const RgbImage& image, const char* what) {
    bool channels_ok = image.channels == 1 || image.channels == 3 || image.channels == 4;
    size_t expected = static_cast<size_t>(std::max(image.width, 0)) * std::max(image.height, 0) *
                      std::max(image.channels, 0);
    if (image.width < 1 || image.height < 1 || !channels_ok || image.pixels.size() != expected) {
        return Status::invalid_argument(
            std::string(what) + ": image is " + std::to_string(image.width) + "x" +
            std::to_string(image.height) + " with " + std::to_string(image.channels) +
            " channels and " + std::to_string(image.pixels.size()) +
            " bytes; expected at least 1x1, 1, 3 or 4 channels and width*height*channels bytes");
    }
    return Status::ok();
}

}  // namespace

int exif_orientation(std::string_view exif) {
    if (exif.substr(0, 6) == std::string_view("Exif\0\0", 6)) {
        exif.remove_prefix(6);
    }
    return orientation_from_tiff(exif);
}

RgbImage apply_exif_orientation(const RgbImage& image, int orientation) {
    if (orientation < 2 || orientation > 8) {
        return image;
    }
    // Per orientation 2..8, PIL's transpose method as (swap axes, mirror x, mirror y) applied to
    // find the source of each output pixel: FLIP_LEFT_RIGHT, ROTATE_180, FLIP_TOP_BOTTOM,
    // TRANSPOSE, ROTATE_270 (clockwise), TRANSVERSE, ROTATE_90 (counter-clockwise).
    struct Transform {
        bool swap;
        bool mirror_x;
        bool mirror_y;
    };
    constexpr Transform kTransforms[] = {{false, true, false},
                                         {false, true, true},
                                         {false, false, true},
                                         {true, false, false},
                                         {true, false, true},
                                         {true, true, true},
                                         {true, true, false}};
    const Transform t = kTransforms[orientation - 2];
    const int w = image.width;
    const int h = image.height;
    const int ch = image.channels;
    RgbImage out{t.swap ? h : w, t.swap ? w : h, ch, std::vector<uint8_t>(image.pixels.size())};
    for (int y = 0; y < out.height; ++y) {
        for (int x = 0; x < out.width; ++x) {
            int u = t.swap ? y : x;
            int v = t.swap ? x : y;
            int sx = t.mirror_x ? w - 1 - u : u;
            int sy = t.mirror_y ? h - 1 - v : v;
            std::memcpy(&out.pixels[(static_cast<size_t>(y) * out.width + x) * ch],
                        &image.pixels[(static_cast<size_t>(sy) * w + sx) * ch],
                        ch);
        }
    }
    return out;
}

Result<RgbImage> decode_image_bytes(std::string_view bytes,
                                    const std::string& name_for_errors,
                                    const ImageLimits& limits) {
    const std::string& name = name_for_errors;
    if (bytes.empty()) {
        return Status::invalid_data(name + ": file is empty; expected a JPEG, PNG or WebP image");
    }
    int orientation = 1;
    Result<RgbImage> decoded = Status::internal("unreachable");
    switch (sniff_format(bytes)) {
        case ImageFormat::kJpeg:
            decoded = decode_jpeg(bytes, name, limits, &orientation);
            break;
        case ImageFormat::kPng:
            decoded = decode_png(bytes, name, limits, &orientation);
            break;
        case ImageFormat::kWebp:
            decoded = decode_webp(bytes, name, limits, &orientation);
            break;
        case ImageFormat::kUnknown:
            return Status::invalid_data(name + ": not a JPEG, PNG or WebP image (first bytes " +
                                        hex_prefix(bytes) +
                                        "); convert it to one of these formats");
    }
    if (!decoded.is_ok() || orientation == 1) {
        return decoded;
    }
    return apply_exif_orientation(*decoded, orientation);
}

Result<RgbImage> decode_image_file(const std::filesystem::path& path, const ImageLimits& limits) {
    LOOKBOOK_ASSIGN_OR_RETURN(MappedFile file, MappedFile::open(path));
    return decode_image_bytes(file.view(), path.string(), limits);
}

Result<RgbImage> resize_bicubic(const RgbImage& image, int width, int height) {
    return resize_image(image, width, height, ResampleFilter::kBicubic);
}

Result<RgbImage> resize_image(const RgbImage& image, int width, int height, ResampleFilter filter) {
    const char* what =
        filter == ResampleFilter::kBicubic ? "resize_bicubic" : "resize_image(bilinear)";
    LOOKBOOK_RETURN_IF_ERROR(validate_image(image, what));
    if (width < 1 || height < 1) {
        return Status::invalid_argument(std::string(what) + ": target size is " +
                                        std::to_string(width) + "x" + std::to_string(height) +
                                        "; expected at least 1x1");
    }
    bool need_horizontal = width != image.width;
    bool need_vertical = height != image.height;
    if (!need_horizontal && !need_vertical) {
        return image;
    }
    // The input is copied only when it must be premultiplied.
    bool alpha = image.channels == 4;
    RgbImage premultiplied;
    if (alpha) {
        premultiplied = image;
        premultiply(&premultiplied);
    }
    const RgbImage* stage = alpha ? &premultiplied : &image;
    Coefficients horizontal = precompute_coefficients(image.width, width, filter);
    Coefficients vertical = precompute_coefficients(image.height, height, filter);
    int row_offset = 0;
    RgbImage widened;
    if (need_horizontal) {
        // Only the input rows the vertical pass reads are resampled horizontally.
        int first_row = need_vertical ? vertical.first.front() : 0;
        int last_row = need_vertical ? vertical.first.back() + vertical.count.back() : image.height;
        widened = RgbImage{width, last_row - first_row, image.channels, {}};
        widened.pixels.resize(static_cast<size_t>(width) * widened.height * image.channels);
        resample_horizontal(*stage, first_row, horizontal, &widened);
        stage = &widened;
        row_offset = first_row;
    }
    RgbImage result;
    if (need_vertical) {
        result = RgbImage{stage->width, height, image.channels, {}};
        result.pixels.resize(static_cast<size_t>(stage->width) * height * image.channels);
        resample_vertical(*stage, row_offset, vertical, &result);
    } else {
        result = std::move(widened);
    }
    if (alpha) {
        unpremultiply(&result);
    }
    return result;
}

Result<RgbImage> resize_and_crop(const RgbImage& image, int size) {
    LOOKBOOK_RETURN_IF_ERROR(validate_image(image, "resize_and_crop"));
    if (size < 1) {
        return Status::invalid_argument("resize_and_crop: size is " + std::to_string(size) +
                                        "; expected at least 1");
    }
    // torchvision's Resize(size): the short side becomes `size`, the long side is truncated.
    bool portrait = image.width <= image.height;
    int short_side = portrait ? image.width : image.height;
    int long_side = portrait ? image.height : image.width;
    auto new_long = static_cast<int>(static_cast<double>(size) * long_side / short_side);
    int new_w = portrait ? size : new_long;
    int new_h = portrait ? new_long : size;
    LOOKBOOK_ASSIGN_OR_RETURN(RgbImage resized, resize_bicubic(image, new_w, new_h));

    // CenterCrop: Python's round() is half-to-even, which nearbyint does in the default mode.
    int top = static_cast<int>(std::nearbyint((resized.height - size) / 2.0));
    int left = static_cast<int>(std::nearbyint((resized.width - size) / 2.0));
    RgbImage out{size, size, 3, std::vector<uint8_t>(static_cast<size_t>(size) * size * 3)};
    const int ch = resized.channels;
    for (int y = 0; y < size; ++y) {
        for (int x = 0; x < size; ++x) {
            const uint8_t* src =
                &resized.pixels[(static_cast<size_t>(y + top) * resized.width + x + left) * ch];
            uint8_t* dst = &out.pixels[(static_cast<size_t>(y) * size + x) * 3];
            // convert("RGB"): L is replicated, alpha is dropped without compositing.
            dst[0] = src[0];
            dst[1] = ch == 1 ? src[0] : src[1];
            dst[2] = ch == 1 ? src[0] : src[2];
        }
    }
    return out;
}

Result<torch::Tensor> preprocess_clip(const RgbImage& image, const ClipPreprocess& options) {
    LOOKBOOK_ASSIGN_OR_RETURN(RgbImage rgb, resize_and_crop(image, options.size));
    const int size = options.size;
    torch::Tensor pixels = torch::empty({3, size, size}, torch::kFloat32);  // [3, size, size]
    float* out = pixels.data_ptr<float>();
    const size_t plane = static_cast<size_t>(size) * size;
    for (int c = 0; c < 3; ++c) {
        // Two float32 operations, in torchvision's order, so the result is bit-identical.
        const float mean = options.mean[c];
        const float std = options.std[c];
        for (size_t i = 0; i < plane; ++i) {
            float x = static_cast<float>(rgb.pixels[i * 3 + c]) / 255.0f;
            out[c * plane + i] = (x - mean) / std;
        }
    }
    return pixels;
}

}  // namespace lookbook
