#!/usr/bin/python3
"""Writes the tiny image fixtures for tests/encoders/image_test.cpp (run once; outputs committed).

Run with Debian's interpreter from this folder: /usr/bin/python3 make_images.py
Each NAME.expected holds what PIL 9.4 decodes for NAME: a text line "width height channels"
followed by the raw 8-bit pixels (HWC). EXIF-rotated files are expected as
ImageOps.exif_transpose gives them.
"""
import io
import os
import random
import struct
import zlib

from PIL import Image, ImageOps

HERE = os.path.dirname(os.path.abspath(__file__))


def path(name):
    return os.path.join(HERE, name)


def write_expected(name, im):
    channels = {"L": 1, "RGB": 3, "RGBA": 4}[im.mode]
    with open(path(name + ".expected"), "wb") as f:
        f.write(b"%d %d %d\n" % (im.width, im.height, channels))
        f.write(im.tobytes())


def pattern(w, h, mode="RGB"):
    """A small image whose pixels differ by position, so flips and rotations show."""
    im = Image.new("RGB", (w, h))
    im.putdata([(40 * x % 256, 60 * y % 256, (x * 17 + y * 29) % 256) for y in range(h) for x in range(w)])
    return im.convert(mode)


def png_chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def raw_png(width, height, bit_depth, color_type, rows):
    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, color_type, 0, 0, 0)
    idat = zlib.compress(b"".join(b"\x00" + r for r in rows))
    return b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", idat) + png_chunk(b"IEND", b"")


def exif_bytes(orientation):
    exif = Image.Exif()
    exif[0x0112] = orientation
    return exif.tobytes()


def main():
    random.seed(20240601)

    # 1x1 RGB PNG.
    one = Image.new("RGB", (1, 1), (200, 100, 50))
    one.save(path("one_pixel.png"))
    write_expected("one_pixel.png", Image.open(path("one_pixel.png")))

    # A JPEG cut short, random bytes, and random bytes behind a JPEG signature.
    buf = io.BytesIO()
    pattern(64, 48).save(buf, "JPEG", quality=90)
    with open(path("truncated.jpg"), "wb") as f:
        f.write(buf.getvalue()[: len(buf.getvalue()) * 7 // 10])  # cut inside the scan data
    buf = io.BytesIO()
    pattern(16, 16).save(buf, "JPEG", quality=90)
    data = buf.getvalue()
    with open(path("random.bin"), "wb") as f:
        f.write(bytes([0x42]) + bytes(random.randrange(256) for _ in range(63)))
    with open(path("garbage_after_signature.jpg"), "wb") as f:
        f.write(b"\xff\xd8\xff" + bytes(random.randrange(256) for _ in range(61)))

    # Decompression bombs: headers that claim far more pixels than they hold.
    with open(path("bomb.png"), "wb") as f:
        f.write(raw_png(20000, 20000, 8, 2, [b"\x00" * 3]))
    sof = data.index(b"\xff\xc0")
    bomb = bytearray(data)
    bomb[sof + 5 : sof + 9] = struct.pack(">HH", 60000, 60000)  # height, width
    with open(path("bomb.jpg"), "wb") as f:
        f.write(bytes(bomb))
    buf = io.BytesIO()
    pattern(4, 4).save(buf, "WEBP", lossless=True)
    webp = bytearray(buf.getvalue())
    vp8l = webp.index(b"VP8L") + 8  # signature byte 0x2f, then 14-bit width-1 and height-1
    bits = struct.unpack("<I", webp[vp8l + 1 : vp8l + 5])[0]
    bits = (bits & ~((1 << 28) - 1)) | 16383 | (16383 << 14)
    webp[vp8l + 1 : vp8l + 5] = struct.pack("<I", bits)
    with open(path("bomb.webp"), "wb") as f:
        f.write(bytes(webp))

    # CMYK JPEG (PIL writes Adobe inverted CMYK) and grayscale JPEG.
    cmyk = Image.new("CMYK", (8, 6))
    cmyk.putdata([(30 * x % 256, 40 * y % 256, (x * y * 9) % 256, (x + y) * 20 % 256) for y in range(6) for x in range(8)])
    cmyk.save(path("cmyk.jpg"), quality=95)
    write_expected("cmyk.jpg", Image.open(path("cmyk.jpg")).convert("RGB"))
    pattern(7, 5, "L").save(path("gray.jpg"), quality=95)
    write_expected("gray.jpg", Image.open(path("gray.jpg")))

    # Palette PNG with a transparent entry (alpha is dropped by convert("RGB")).
    pal = pattern(6, 5).quantize(colors=8)
    pal.info["transparency"] = 0
    pal.save(path("palette.png"), transparency=0)
    write_expected("palette.png", Image.open(path("palette.png")).convert("RGB"))

    # 16-bit RGB PNG (PIL keeps the high byte) and 16-bit gray (high byte is our choice).
    rows = [b"".join(struct.pack(">HHH", x * 9000 + 7, y * 15000 + 255, (x * y * 3001) % 65536) for x in range(5)) for y in range(4)]
    with open(path("rgb16.png"), "wb") as f:
        f.write(raw_png(5, 4, 16, 2, rows))
    rgb16 = Image.open(path("rgb16.png"))
    assert rgb16.mode == "RGB"
    write_expected("rgb16.png", rgb16)
    values = [[(x * 11000 + y * 3000 + 129) % 65536 for x in range(5)] for y in range(3)]
    with open(path("gray16.png"), "wb") as f:
        f.write(raw_png(5, 3, 16, 0, [b"".join(struct.pack(">H", v) for v in row) for row in values]))
    write_expected("gray16.png", Image.frombytes("L", (5, 3), bytes(v >> 8 for row in values for v in row)))

    # Gray + alpha PNG, expected as RGBA with the gray replicated.
    la = Image.merge("LA", [pattern(5, 4, "L"), Image.linear_gradient("L").resize((5, 4))])
    la.save(path("gray_alpha.png"))
    write_expected("gray_alpha.png", Image.open(path("gray_alpha.png")).convert("RGBA"))

    # WebP: lossless with alpha, and lossy without.
    rgba = pattern(7, 5, "RGBA")
    rgba.putalpha(Image.linear_gradient("L").resize((7, 5)))
    rgba.save(path("alpha_lossless.webp"), lossless=True)
    write_expected("alpha_lossless.webp", Image.open(path("alpha_lossless.webp")))
    pattern(9, 7).save(path("lossy.webp"), quality=80)
    write_expected("lossy.webp", Image.open(path("lossy.webp")))

    # EXIF orientation 2..8 on a 6x4 JPEG, plus PNG (eXIf) and WebP (EXIF chunk) carriers.
    for orientation in range(2, 9):
        name = "orientation_%d.jpg" % orientation
        pattern(6, 4).save(path(name), quality=95, exif=exif_bytes(orientation))
        write_expected(name, ImageOps.exif_transpose(Image.open(path(name))))
    pattern(6, 4).save(path("orientation_6.png"), exif=exif_bytes(6))
    write_expected("orientation_6.png", ImageOps.exif_transpose(Image.open(path("orientation_6.png"))))
    pattern(6, 4).save(path("orientation_8.webp"), lossless=True, exif=exif_bytes(8))
    write_expected("orientation_8.webp", ImageOps.exif_transpose(Image.open(path("orientation_8.webp"))))

    # PIL bicubic resizes of random images: RGBA (premultiplied, alpha 0 and 255 included), RGB
    # and L, downscaled, upscaled, and with only one dimension changing.
    rgba = Image.frombytes("RGBA", (13, 9), bytes(random.randrange(256) for _ in range(13 * 9 * 4)))
    alpha = bytearray(rgba.getchannel("A").tobytes())
    alpha[0:13] = b"\x00" * 13
    alpha[13:26] = b"\xff" * 13
    rgba.putalpha(Image.frombytes("L", (13, 9), bytes(alpha)))
    rgba.save(path("resize_rgba.png"))
    for mode in ("RGBA", "RGB", "L"):
        source = Image.open(path("resize_rgba.png")).convert(mode)
        write_expected("resize_%s_source" % mode.lower(), source)
        for w, h in ((7, 5), (13, 4), (5, 9), (20, 17), (3, 30)):
            write_expected("resize_%s_%dx%d" % (mode.lower(), w, h), source.resize((w, h), Image.BICUBIC))


if __name__ == "__main__":
    main()
