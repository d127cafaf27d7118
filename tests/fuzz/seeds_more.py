"""Seeds of the fuzz targets other than torch_pickle (make_seeds.py writes
them). Every file is built here: images by small encoders written for this
(PNG with zlib, baseline and progressive JPEG with their own Huffman
tables, BMP; WebP through the system libwebp, loaded with ctypes), weight
files and checkpoint descriptions from the layouts' key names at tiny
sizes, texts by hand.
"""
import ctypes
import ctypes.util
import json
import math
import struct
import zlib

# ---------------------------------------------------------------------------
# Pixels


def gradient(w, h, alpha=False):
    """RGB(A) rows: a colour gradient with a diagonal, alpha falling off."""
    rows = []
    for y in range(h):
        row = bytearray()
        for x in range(w):
            r = (x * 255) // max(1, w - 1)
            g = (y * 255) // max(1, h - 1)
            b = 255 if x == y else (x * y) & 0xFF
            row += bytes([r, g, b])
            if alpha:
                row.append((255 * (w - x)) // w)
        rows.append(bytes(row))
    return rows


# ---------------------------------------------------------------------------
# PNG

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def paeth(a, b, c):
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    return a if pa <= pb and pa <= pc else (b if pb <= pc else c)


def filtered(rows, bpp, filters):
    """Rows (bytes) filtered with filter types cycling through `filters`."""
    out = bytearray()
    prev = bytes(len(rows[0])) if rows else b""
    for i, row in enumerate(rows):
        f = filters[i % len(filters)]
        line = bytearray()
        for x, v in enumerate(row):
            a = row[x - bpp] if x >= bpp else 0
            b = prev[x]
            c = prev[x - bpp] if x >= bpp else 0
            pred = [0, a, b, (a + b) // 2, paeth(a, b, c)][f]
            line.append((v - pred) & 0xFF)
        out += bytes([f]) + line
        prev = row
    return bytes(out)


def pack_bits(values, depth):
    """One row of samples of `depth` < 8 bits, packed MSB first."""
    out, acc, n = bytearray(), 0, 0
    for v in values:
        acc = (acc << depth) | v
        n += depth
        if n == 8:
            out.append(acc)
            acc, n = 0, 0
    if n:
        out.append(acc << (8 - n))
    return bytes(out)


ADAM7 = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2),
         (0, 1, 1, 2)]


def png(w, h, rows, color_type, depth=8, filters=(0,), interlace=False, before_idat=(),
        after_idat=(), split_idat=1, bpp=None):
    """A PNG of `rows` (bytes, already in the colour type's layout)."""
    channels = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}[color_type]
    bpp = bpp or max(1, channels * depth // 8)
    if interlace:
        raw = b""
        sample_bytes = channels * depth // 8
        for x0, y0, dx, dy in ADAM7:
            sub = [bytes(b for x in range(x0, w, dx)
                         for b in rows[y][x * sample_bytes:(x + 1) * sample_bytes])
                   for y in range(y0, h, dy)]
            sub = [r for r in sub if r]
            if sub:
                raw += filtered(sub, bpp, filters)
    else:
        raw = filtered(rows, bpp, filters)
    data = zlib.compress(raw, 9)
    step = max(1, (len(data) + split_idat - 1) // split_idat)
    idats = b"".join(chunk(b"IDAT", data[i:i + step]) for i in range(0, len(data), step))
    ihdr = struct.pack(">IIBBBBB", w, h, depth, color_type, 0, 0, 1 if interlace else 0)
    return (PNG_SIGNATURE + chunk(b"IHDR", ihdr) + b"".join(before_idat) + idats +
            b"".join(after_idat) + chunk(b"IEND", b""))


PARAMETERS = ("a red fox in the snow, (detailed:1.2)\nNegative prompt: blurry\n"
              "Steps: 20, Sampler: Euler a, CFG scale: 7, Seed: 42, Size: 16x12, Model: sd15, "
              "Version: Daub 0.1.0")


def png_seeds():
    w, h = 16, 12
    rgb = gradient(w, h)
    rgba = gradient(w, h, alpha=True)
    gray = [bytes((x * 16 + y) & 0xFF for x in range(w)) for y in range(h)]
    gray_alpha = [bytes(v for x in range(w) for v in ((x * 16) & 0xFF, (y * 20) & 0xFF))
                  for y in range(h)]
    palette = bytes(v for i in range(16) for v in (i * 16, 255 - i * 16, (i * 37) & 0xFF))
    indices = [pack_bits([(x + y) % 16 for x in range(w)], 4) for y in range(h)]
    bits1 = [pack_bits([(x ^ y) & 1 for x in range(w)], 1) for y in range(h)]
    rgb16 = [bytes(b for x in range(w) for c in rgb[y][x * 3:x * 3 + 3] for b in (c, 255 - c))
             for y in range(h)]
    text = chunk(b"tEXt", b"parameters\0" + PARAMETERS.encode("latin-1"))
    ztxt = chunk(b"zTXt", b"parameters\0\0" + zlib.compress(PARAMETERS.encode("latin-1")))
    itxt = chunk(b"iTXt", b"parameters\0\0\0en\0parameters\0" + ("caf\u00e9 " + PARAMETERS).encode())
    itxt_z = chunk(b"iTXt", b"parameters\0\1\0\0\0" + zlib.compress(PARAMETERS.encode()))
    return {
        "rgb.png": png(w, h, rgb, 2),
        "rgb_filters.png": png(w, h, rgb, 2, filters=(0, 1, 2, 3, 4), split_idat=3),
        "rgba.png": png(w, h, rgba, 6, filters=(4, 3)),
        "gray.png": png(w, h, gray, 0, filters=(2,)),
        "gray_alpha.png": png(w, h, gray_alpha, 4),
        "gray_1bit.png": png(w, h, bits1, 0, depth=1, filters=(1,), bpp=1),
        "palette_4bit_trns.png": png(w, h, indices, 3, depth=4, bpp=1, before_idat=[
            chunk(b"PLTE", palette), chunk(b"tRNS", bytes(range(0, 256, 16)))]),
        "rgb16.png": png(w, h, rgb16, 2, depth=16, filters=(4,)),
        "interlaced.png": png(w, h, rgb, 2, interlace=True, filters=(1, 4)),
        "text.png": png(w, h, rgb, 2, before_idat=[text]),
        "ztxt_after_idat.png": png(w, h, rgba, 6, after_idat=[ztxt]),
        "itxt.png": png(w, h, gray, 0, before_idat=[itxt, chunk(b"gAMA", struct.pack(">I", 45455))]),
        "itxt_compressed.png": png(w, h, rgb, 2, before_idat=[itxt_z]),
        "one_pixel.png": png(1, 1, [b"\x10\x20\x30"], 2),
        "truncated.png": png(w, h, rgb, 2)[:-30],
        "empty_idat.png": png(w, h, rgb, 2, before_idat=[chunk(b"IDAT", b"")]),
    }


# ---------------------------------------------------------------------------
# JPEG: baseline and progressive, 4:4:4 or 4:2:0, with Huffman tables made
# for this (every DC size coded in 4 bits, every AC run/size in 8) rather
# than the standard ones: any valid tables will do.

ZIGZAG = sorted(((x, y) for y in range(8) for x in range(8)),
                key=lambda p: (p[0] + p[1], p[1] if (p[0] + p[1]) % 2 == 0 else p[0]))
ZIGZAG = [y * 8 + x for x, y in ZIGZAG]
DC_SYMBOLS = list(range(12))
AC_SYMBOLS = [0x00, 0xF0] + [(run << 4) | size for run in range(16) for size in range(1, 11)]


def huffman_codes(counts, symbols):
    codes, code, k = {}, 0, 0
    for length in range(1, 17):
        for _ in range(counts[length - 1]):
            codes[symbols[k]] = (code, length)
            code += 1
            k += 1
        code <<= 1
    return codes


DC_COUNTS = [0, 0, 0, 12] + [0] * 12
AC_COUNTS = [0] * 7 + [len(AC_SYMBOLS)] + [0] * 8
DC_CODES = huffman_codes(DC_COUNTS, DC_SYMBOLS)
AC_CODES = huffman_codes(AC_COUNTS, AC_SYMBOLS)
QUANT = [4 + (i % 8) + (i // 8) for i in range(64)]  # natural order


class BitWriter:
    def __init__(self):
        self.out, self.acc, self.n = bytearray(), 0, 0

    def put(self, value, length):
        for i in range(length - 1, -1, -1):
            self.acc = (self.acc << 1) | ((value >> i) & 1)
            self.n += 1
            if self.n == 8:
                self.out.append(self.acc)
                if self.acc == 0xFF:
                    self.out.append(0)
                self.acc, self.n = 0, 0

    def flush(self):
        while self.n:
            self.put(1, 1)
        return bytes(self.out)


def magnitude(v):
    size = abs(v).bit_length()
    return size, (v if v >= 0 else v + (1 << size) - 1)


def fdct(block):
    out = [0] * 64
    for v in range(8):
        for u in range(8):
            s = 0.0
            for y in range(8):
                for x in range(8):
                    s += (block[y * 8 + x] * math.cos((2 * x + 1) * u * math.pi / 16) *
                          math.cos((2 * y + 1) * v * math.pi / 16))
            cu = 1 / math.sqrt(2) if u == 0 else 1
            cv = 1 / math.sqrt(2) if v == 0 else 1
            out[v * 8 + u] = round(0.25 * cu * cv * s / QUANT[v * 8 + u])
    return [out[i] for i in ZIGZAG]


def plane_blocks(plane, bw, bh):
    """8x8 level-shifted blocks of a plane (list of rows), edges repeated."""
    h, w = len(plane), len(plane[0])
    blocks = {}
    for by in range(bh):
        for bx in range(bw):
            blocks[bx, by] = fdct([plane[min(by * 8 + y, h - 1)][min(bx * 8 + x, w - 1)] - 128
                                   for y in range(8) for x in range(8)])
    return blocks


def ycbcr_planes(rows, w, h, gray):
    ys, cbs, crs = [], [], []
    for y in range(h):
        yr, cbr, crr = [], [], []
        for x in range(w):
            r, g, b = rows[y][x * 3:x * 3 + 3]
            yr.append(round(0.299 * r + 0.587 * g + 0.114 * b))
            cbr.append(round(128 - 0.168736 * r - 0.331264 * g + 0.5 * b))
            crr.append(round(128 + 0.5 * r - 0.418688 * g - 0.081312 * b))
        ys.append(yr)
        cbs.append(cbr)
        crs.append(crr)
    return [ys] if gray else [ys, cbs, crs]


def subsample(plane):
    h, w = len(plane), len(plane[0])
    return [[(plane[y][x] + plane[y][min(x + 1, w - 1)] + plane[min(y + 1, h - 1)][x] +
              plane[min(y + 1, h - 1)][min(x + 1, w - 1)] + 2) // 4 for x in range(0, w, 2)]
            for y in range(0, h, 2)]


def segment(marker, data):
    return bytes([0xFF, marker]) + struct.pack(">H", len(data) + 2) + data


def encode_dc(bits, diff):
    size, value = magnitude(diff)
    code, length = DC_CODES[size]
    bits.put(code, length)
    bits.put(value, size)


def encode_ac(bits, coefficients):
    run = 0
    last = max((i for i, c in enumerate(coefficients) if c), default=-1)
    for i, c in enumerate(coefficients):
        if i > last:
            code, length = AC_CODES[0x00]  # EOB
            bits.put(code, length)
            return
        if c == 0:
            run += 1
            continue
        while run > 15:
            code, length = AC_CODES[0xF0]
            bits.put(code, length)
            run -= 16
        size, value = magnitude(c)
        code, length = AC_CODES[(run << 4) | size]
        bits.put(code, length)
        bits.put(value, size)
        run = 0


def exif(orientation, big_endian=False):
    e = ">" if big_endian else "<"
    tiff = (b"MM\0*" if big_endian else b"II*\0") + struct.pack(e + "I", 8)
    tiff += struct.pack(e + "H", 1) + struct.pack(e + "HHI", 0x0112, 3, 1)
    tiff += struct.pack(e + "H", orientation) + b"\0\0" + struct.pack(e + "I", 0)
    return segment(0xE1, b"Exif\0\0" + tiff)


def jpeg(w, h, rows, gray=False, subsampled=False, progressive=False, restart=False,
         app_segments=()):
    planes = ycbcr_planes(rows, w, h, gray)
    hmax = 2 if subsampled and not gray else 1
    mcu = 8 * hmax
    mcux, mcuy = (w + mcu - 1) // mcu, (h + mcu - 1) // mcu
    comps = []  # (id, h, v, blocks)
    for i, plane in enumerate(planes):
        factor = hmax if i == 0 else 1
        if i > 0 and hmax == 2:
            plane = subsample(plane)
        comps.append((i + 1, factor, plane_blocks(plane, mcux * factor, mcuy * factor)))
    out = b"\xff\xd8" + segment(0xE0, b"JFIF\0\x01\x01\0\0\x01\0\x01\0\0")
    out += b"".join(app_segments)
    out += segment(0xDB, b"\x00" + bytes(QUANT[i] for i in ZIGZAG))
    sof = struct.pack(">BHHB", 8, h, w, len(comps))
    sof += b"".join(bytes([cid, (f << 4) | f, 0]) for cid, f, _ in comps)
    out += segment(0xC2 if progressive else 0xC0, sof)
    out += segment(0xC4, bytes([0x00]) + bytes(DC_COUNTS) + bytes(DC_SYMBOLS))
    out += segment(0xC4, bytes([0x10]) + bytes(AC_COUNTS) + bytes(AC_SYMBOLS))
    if restart:
        out += segment(0xDD, struct.pack(">H", mcux))

    def scan(components, ss, se, body):
        header = bytes([len(components)]) + b"".join(bytes([cid, 0x00]) for cid in components)
        return segment(0xDA, header + bytes([ss, se, 0])) + body

    if not progressive:
        bits, pred, chunks = BitWriter(), [0] * len(comps), []
        for my in range(mcuy):
            for mx in range(mcux):
                for k, (cid, f, blocks) in enumerate(comps):
                    for by in range(f):
                        for bx in range(f):
                            block = blocks[mx * f + bx, my * f + by]
                            encode_dc(bits, block[0] - pred[k])
                            pred[k] = block[0]
                            encode_ac(bits, block[1:])
            if restart and my + 1 < mcuy:
                chunks.append(bits.flush() + bytes([0xFF, 0xD0 + my % 8]))
                bits, pred = BitWriter(), [0] * len(comps)
        out += scan([c[0] for c in comps], 0, 63, b"".join(chunks) + bits.flush())
    else:
        bits, pred = BitWriter(), [0] * len(comps)
        for my in range(mcuy):
            for mx in range(mcux):
                for k, (cid, f, blocks) in enumerate(comps):
                    for by in range(f):
                        for bx in range(f):
                            block = blocks[mx * f + bx, my * f + by]
                            encode_dc(bits, block[0] - pred[k])
                            pred[k] = block[0]
        out += scan([c[0] for c in comps], 0, 0, bits.flush())
        for cid, f, blocks in comps:
            for ss, se in ((1, 5), (6, 63)):
                bits = BitWriter()
                for by in range(mcuy * f):
                    for bx in range(mcux * f):
                        encode_ac(bits, blocks[bx, by][ss:se + 1])
                out += scan([cid], ss, se, bits.flush())
    return out + b"\xff\xd9"


def jpeg_seeds():
    w, h = 16, 16
    rgb = gradient(w, h)
    wide = gradient(24, 16)
    return {
        "baseline.jpg": jpeg(w, h, rgb),
        "baseline_420.jpg": jpeg(24, 16, wide, subsampled=True),
        "gray.jpg": jpeg(w, h, rgb, gray=True),
        "progressive.jpg": jpeg(w, h, rgb, progressive=True),
        "restart.jpg": jpeg(w, h, rgb, restart=True),
        "exif_rotate90.jpg": jpeg(24, 16, wide, app_segments=[exif(6)]),
        "exif_mirror_be.jpg": jpeg(w, h, rgb, gray=True, app_segments=[exif(2, big_endian=True)]),
        "truncated.jpg": jpeg(w, h, rgb)[:-40],
    }


# ---------------------------------------------------------------------------
# BMP


def bmp(w, h, rows, bits=24, top_down=False, rle8=False, bitfields=False):
    if bits == 8:
        palette = b"".join(bytes([i, 255 - i, (i * 7) & 0xFF, 0]) for i in range(256))
        pixel_rows = [bytes((x * 16 + y) & 0xFF for x in range(w)) for y in range(h)]
    else:
        palette = b""
        pixel_rows = []
        for row in rows:
            px = b""
            for x in range(w):
                r, g, b = row[x * 3:x * 3 + 3]
                px += bytes([b, g, r]) + (bytes([0x80 + x]) if bits == 32 else b"")
            pixel_rows.append(px)
    order = pixel_rows if top_down else pixel_rows[::-1]
    if rle8:
        data = b""
        for row in order:
            for v in row:
                data += bytes([1, v])
            data += b"\0\0"
        data += b"\0\1"
    else:
        data = b""
        for row in order:
            data += row + bytes((4 - len(row) % 4) % 4)
    masks = struct.pack("<III", 0xFF0000, 0xFF00, 0xFF) if bitfields else b""
    compression = 1 if rle8 else (3 if bitfields else 0)
    header = struct.pack("<IiiHHIIiiII", 40, w, -h if top_down else h, 1, bits, compression,
                         len(data), 2835, 2835, 256 if bits == 8 else 0, 0)
    offset = 14 + len(header) + len(masks) + len(palette)
    return (b"BM" + struct.pack("<IHHI", offset + len(data), 0, 0, offset) + header + masks +
            palette + data)


def bmp_seeds():
    w, h = 7, 5  # odd: rows need padding
    rgb = gradient(w, h)
    return {
        "rgb24.bmp": bmp(w, h, rgb),
        "top_down.bmp": bmp(w, h, rgb, top_down=True),
        "bgra32_bitfields.bmp": bmp(w, h, rgb, bits=32, bitfields=True),
        "palette8.bmp": bmp(w, h, rgb, bits=8),
        "rle8.bmp": bmp(w, h, rgb, bits=8, rle8=True),
    }


# ---------------------------------------------------------------------------
# WebP, through the system libwebp's simple encoding API


def webp_library():
    name = ctypes.util.find_library("webp") or "libwebp.so.7"
    lib = ctypes.CDLL(name)
    for f in ("WebPEncodeRGB", "WebPEncodeRGBA"):
        getattr(lib, f).argtypes = [ctypes.c_char_p, ctypes.c_int, ctypes.c_int, ctypes.c_int,
                                    ctypes.c_float, ctypes.POINTER(ctypes.c_void_p)]
        getattr(lib, f).restype = ctypes.c_size_t
    for f in ("WebPEncodeLosslessRGB", "WebPEncodeLosslessRGBA"):
        getattr(lib, f).argtypes = [ctypes.c_char_p, ctypes.c_int, ctypes.c_int, ctypes.c_int,
                                    ctypes.POINTER(ctypes.c_void_p)]
        getattr(lib, f).restype = ctypes.c_size_t
    lib.WebPFree.argtypes = [ctypes.c_void_p]
    return lib


def webp_encode(lib, w, h, rows, alpha, lossless, quality=50.0):
    pixels = b"".join(rows)
    stride = w * (4 if alpha else 3)
    out = ctypes.c_void_p()
    if lossless:
        f = lib.WebPEncodeLosslessRGBA if alpha else lib.WebPEncodeLosslessRGB
        n = f(pixels, w, h, stride, ctypes.byref(out))
    else:
        f = lib.WebPEncodeRGBA if alpha else lib.WebPEncodeRGB
        n = f(pixels, w, h, stride, quality, ctypes.byref(out))
    if n == 0:
        raise RuntimeError("libwebp could not encode")
    data = ctypes.string_at(out, n)
    lib.WebPFree(out)
    return data


def riff_chunk(kind, data):
    return kind + struct.pack("<I", len(data)) + data + (b"\0" if len(data) % 2 else b"")


def webp_animation(frame_webp, w, h):
    """An animated WebP (VP8X + ANIM + two ANMF) around one frame's bitstream."""
    bitstream = frame_webp[12:]  # the VP8 / VP8L chunk of a simple file
    vp8x = riff_chunk(b"VP8X", bytes([0x02, 0, 0, 0]) + (w - 1).to_bytes(3, "little") +
                      (h - 1).to_bytes(3, "little"))
    anim = riff_chunk(b"ANIM", struct.pack("<IH", 0xFFFFFFFF, 0))
    frames = b""
    for i in range(2):
        frames += riff_chunk(b"ANMF", (0).to_bytes(3, "little") + (0).to_bytes(3, "little") +
                             (w - 1).to_bytes(3, "little") + (h - 1).to_bytes(3, "little") +
                             (100).to_bytes(3, "little") + bytes([i * 2]) + bitstream)
    body = b"WEBP" + vp8x + anim + frames
    return b"RIFF" + struct.pack("<I", len(body)) + body


def webp_seeds():
    w, h = 12, 10
    lib = webp_library()
    rgb, rgba = gradient(w, h), gradient(w, h, alpha=True)
    lossy = webp_encode(lib, w, h, rgb, False, False)
    return {
        "lossy.webp": lossy,
        "lossy_alpha.webp": webp_encode(lib, w, h, rgba, True, False, 80.0),
        "lossless.webp": webp_encode(lib, w, h, rgb, False, True),
        "lossless_alpha.webp": webp_encode(lib, w, h, rgba, True, True),
        "animated.webp": webp_animation(lossy, w, h),
        "truncated.webp": lossy[:len(lossy) // 2],
    }


def image_seeds():
    seeds = {}
    for make in (png_seeds, jpeg_seeds, bmp_seeds, webp_seeds):
        seeds.update(make())
    seeds["gif_header.gif"] = b"GIF89a\x01\x00\x01\x00\x00\x00\x00;"
    seeds["not_an_image.txt"] = b"hello"
    return seeds


def app_image_seeds():
    # The image corpus serves this target too (see run_fuzzers.sh and the
    # replay test); its own seeds are the PNG text chunks it reads.
    rgb = gradient(4, 3)
    long_text = ("x" * 3000 + "\n" + PARAMETERS).encode()
    return {
        "text_only.png": PNG_SIGNATURE + chunk(b"tEXt", b"parameters\0" + PARAMETERS.encode()) +
        chunk(b"IEND", b""),
        "ztxt_long.png": png(4, 3, rgb, 2, before_idat=[
            chunk(b"zTXt", b"parameters\0\0" + zlib.compress(long_text))]),
        "itxt_both.png": png(4, 3, rgb, 2, before_idat=[
            chunk(b"iTXt", b"Comment\0\0\0\0\0other"),
            chunk(b"iTXt", b"parameters\0\1\0de\0Parameter\0" + zlib.compress(long_text))]),
    }


# ---------------------------------------------------------------------------
# Weight files (safetensors)

DTYPE_SIZES = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1,
               "U8": 1, "BOOL": 1}


def safetensors(tensors, metadata=None, pad=0, extra=b""):
    """tensors: [(name, dtype, shape)]; data bytes are a counting pattern."""
    header, data = {}, b""
    if metadata is not None:
        header["__metadata__"] = metadata
    for name, dtype, shape in tensors:
        n = DTYPE_SIZES.get(dtype, 1) * math.prod(shape)
        header[name] = {"dtype": dtype, "shape": shape,
                        "data_offsets": [len(data), len(data) + n]}
        data += bytes((len(data) + i) % 251 for i in range(n))
    text = json.dumps(header).encode() + b" " * pad
    return struct.pack("<Q", len(text)) + text + data + extra


def header_only(header, data):
    text = json.dumps(header).encode()
    return struct.pack("<Q", len(text)) + text + data


def weight_file_seeds():
    every_dtype = [(f"t.{d.lower()}", d, [2, 3]) for d in DTYPE_SIZES]
    return {
        "every_dtype.safetensors": safetensors(every_dtype, {"format": "pt"}),
        "scalar_and_empty.safetensors": safetensors(
            [("scalar", "F32", []), ("empty", "F16", [0, 4]), ("vector", "BF16", [5])], pad=7),
        "rank4.safetensors": safetensors([("conv.weight", "F16", [2, 1, 3, 3]),
                                          ("conv.bias", "F16", [2])],
                                         {"modelspec.architecture": "stable-diffusion-v1"}),
        "metadata_only.safetensors": safetensors([], {"a": "b", "c": "d"}),
        "trailing_bytes.safetensors": safetensors([("x", "I64", [3])], extra=b"\0" * 13),
        "overlap.safetensors": header_only({
            "a": {"dtype": "U8", "shape": [4], "data_offsets": [0, 4]},
            "b": {"dtype": "U8", "shape": [4], "data_offsets": [2, 6]}}, bytes(8)),
        "short.safetensors": safetensors([("x", "F32", [4])])[:-3],
    }


# ---------------------------------------------------------------------------
# Single-file checkpoints, as fuzz_checkpoint reads them: "KEY DTYPE DIMS"
# lines, then optional "--- unet" (etc.) config sections. The key names
# are those of the original LDM / SGM layouts; the sizes are tiny.


class Keys:
    def __init__(self):
        self.lines = []

    def add(self, key, *shape, dtype="F16"):
        self.lines.append(" ".join([key, dtype] + [str(d) for d in shape]))

    def linear(self, key, out_f, in_f, bias=True):
        self.add(key + ".weight", out_f, in_f)
        if bias:
            self.add(key + ".bias", out_f)

    def conv(self, key, out_c, in_c, k=3):
        self.add(key + ".weight", out_c, in_c, k, k)
        self.add(key + ".bias", out_c)

    def norm(self, key, c):
        self.add(key + ".weight", c)
        self.add(key + ".bias", c)

    def text(self):
        return "\n".join(self.lines) + "\n"


def ldm_resblock(k, p, cin, cout, temb):
    k.norm(p + "in_layers.0", cin)
    k.conv(p + "in_layers.2", cout, cin)
    k.linear(p + "emb_layers.1", cout, temb)
    k.norm(p + "out_layers.0", cout)
    k.conv(p + "out_layers.3", cout, cout)
    if cin != cout:
        k.conv(p + "skip_connection", cout, cin, 1)


def ldm_transformer(k, p, c, context, depth, linear):
    k.norm(p + "norm", c)
    if linear:
        k.linear(p + "proj_in", c, c)
        k.linear(p + "proj_out", c, c)
    else:
        k.conv(p + "proj_in", c, c, 1)
        k.conv(p + "proj_out", c, c, 1)
    for d in range(depth):
        b = f"{p}transformer_blocks.{d}."
        for attn, kv in (("attn1", c), ("attn2", context)):
            k.linear(b + attn + ".to_q", c, c, bias=False)
            k.linear(b + attn + ".to_k", c, kv, bias=False)
            k.linear(b + attn + ".to_v", c, kv, bias=False)
            k.linear(b + attn + ".to_out.0", c, c)
        k.linear(b + "ff.net.0.proj", c * 8, c)
        k.linear(b + "ff.net.2", c, c * 4)
        for n in ("norm1", "norm2", "norm3"):
            k.norm(b + n, c)


def ldm_unet(k, p, chs, attn, depth, context, linear, in_ch=4, layers=1, adm_in=0):
    temb = chs[0] * 4
    k.linear(p + "time_embed.0", temb, chs[0])
    k.linear(p + "time_embed.2", temb, temb)
    if adm_in:
        k.linear(p + "label_emb.0.0", temb, adm_in)
        k.linear(p + "label_emb.0.2", temb, temb)
    k.conv(p + "input_blocks.0.0", chs[0], in_ch)
    skips, n, cur = [chs[0]], 1, chs[0]
    for level, c in enumerate(chs):
        for _ in range(layers):
            ldm_resblock(k, f"{p}input_blocks.{n}.0.", cur, c, temb)
            cur = c
            if attn[level]:
                ldm_transformer(k, f"{p}input_blocks.{n}.1.", c, context, depth[level], linear)
            skips.append(c)
            n += 1
        if level + 1 < len(chs):
            k.conv(f"{p}input_blocks.{n}.0.op", c, c)
            skips.append(c)
            n += 1
    ldm_resblock(k, p + "middle_block.0.", cur, cur, temb)
    ldm_transformer(k, p + "middle_block.1.", cur, context, depth[-1], linear)
    ldm_resblock(k, p + "middle_block.2.", cur, cur, temb)
    n = 0
    for level in reversed(range(len(chs))):
        c = chs[level]
        for j in range(layers + 1):
            ldm_resblock(k, f"{p}output_blocks.{n}.0.", cur + skips.pop(), c, temb)
            cur = c
            sub = 1
            if attn[level]:
                ldm_transformer(k, f"{p}output_blocks.{n}.1.", c, context, depth[level], linear)
                sub = 2
            if level > 0 and j == layers:
                k.conv(f"{p}output_blocks.{n}.{sub}.conv", c, c)
            n += 1
    k.norm(p + "out.0", chs[0])
    k.conv(p + "out.2", 4, chs[0])


def ldm_vae_block(k, p, cin, cout):
    k.norm(p + "norm1", cin)
    k.conv(p + "conv1", cout, cin)
    k.norm(p + "norm2", cout)
    k.conv(p + "conv2", cout, cout)
    if cin != cout:
        k.conv(p + "nin_shortcut", cout, cin, 1)


def ldm_vae_mid(k, p, c):
    ldm_vae_block(k, p + "mid.block_1.", c, c)
    k.norm(p + "mid.attn_1.norm", c)
    for name in ("q", "k", "v", "proj_out"):
        k.conv(p + "mid.attn_1." + name, c, c, 1)
    ldm_vae_block(k, p + "mid.block_2.", c, c)


def ldm_vae(k, p, chs, latent=4, layers=1):
    k.conv(p + "encoder.conv_in", chs[0], 3)
    cur = chs[0]
    for i, c in enumerate(chs):
        for j in range(layers):
            ldm_vae_block(k, f"{p}encoder.down.{i}.block.{j}.", cur, c)
            cur = c
        if i + 1 < len(chs):
            k.conv(f"{p}encoder.down.{i}.downsample.conv", c, c)
    ldm_vae_mid(k, p + "encoder.", cur)
    k.norm(p + "encoder.norm_out", cur)
    k.conv(p + "encoder.conv_out", 2 * latent, cur)
    k.conv(p + "quant_conv", 2 * latent, 2 * latent, 1)
    k.conv(p + "post_quant_conv", latent, latent, 1)
    k.conv(p + "decoder.conv_in", chs[-1], latent)
    ldm_vae_mid(k, p + "decoder.", chs[-1])
    cur = chs[-1]
    for i in reversed(range(len(chs))):
        for j in range(layers + 1):
            ldm_vae_block(k, f"{p}decoder.up.{i}.block.{j}.", cur, chs[i])
            cur = chs[i]
        if i > 0:
            k.conv(f"{p}decoder.up.{i}.upsample.conv", chs[i], chs[i])
    k.norm(p + "decoder.norm_out", chs[0])
    k.conv(p + "decoder.conv_out", 3, chs[0])


def hf_clip(k, p, hidden, inter, layers, vocab=1000, projection=0):
    t = p + "text_model."
    k.add(t + "embeddings.token_embedding.weight", vocab, hidden)
    k.add(t + "embeddings.position_embedding.weight", 77, hidden)
    k.add(t + "embeddings.position_ids", 1, 77, dtype="I64")
    for i in range(layers):
        b = f"{t}encoder.layers.{i}."
        for n in ("q_proj", "k_proj", "v_proj", "out_proj"):
            k.linear(b + "self_attn." + n, hidden, hidden)
        k.norm(b + "layer_norm1", hidden)
        k.norm(b + "layer_norm2", hidden)
        k.linear(b + "mlp.fc1", inter, hidden)
        k.linear(b + "mlp.fc2", hidden, inter)
    k.norm(t + "final_layer_norm", hidden)
    if projection:
        k.add(p + "text_projection.weight", projection, hidden)


def open_clip(k, p, hidden, inter, layers, projection, vocab=1000):
    k.add(p + "token_embedding.weight", vocab, hidden)
    k.add(p + "positional_embedding", 77, hidden)
    for i in range(layers):
        b = f"{p}transformer.resblocks.{i}."
        k.norm(b + "ln_1", hidden)
        k.norm(b + "ln_2", hidden)
        k.add(b + "attn.in_proj_weight", 3 * hidden, hidden)
        k.add(b + "attn.in_proj_bias", 3 * hidden)
        k.linear(b + "attn.out_proj", hidden, hidden)
        k.linear(b + "mlp.c_fc", inter, hidden)
        k.linear(b + "mlp.c_proj", hidden, inter)
    k.norm(p + "ln_final", hidden)
    k.add(p + "text_projection", hidden, projection)
    k.add(p + "logit_scale")


def sd15():
    k = Keys()
    ldm_unet(k, "model.diffusion_model.", [32, 64], [True, True], [1, 1], 64, False)
    ldm_vae(k, "first_stage_model.", [32, 64])
    hf_clip(k, "cond_stage_model.transformer.", 64, 128, 2)
    return k.text()


def detection_only(in_ch=4, context=64, extra=None):
    """The few keys layout detection looks at, for the files it refuses."""
    k = Keys()
    k.conv("model.diffusion_model.input_blocks.0.0", 32, in_ch)
    k.linear("model.diffusion_model.input_blocks.1.1.transformer_blocks.0.attn2.to_k", 32,
             context, bias=False)
    k.conv("first_stage_model.encoder.conv_in", 32, 3)
    k.add("cond_stage_model.transformer.text_model.embeddings.token_embedding.weight", 1000, 64)
    if extra:
        extra(k)
    return k.text()


def sdxl():
    k = Keys()
    ldm_unet(k, "model.diffusion_model.", [64, 128], [False, True], [1, 2], 128, True,
             adm_in=64 + 6 * 8)
    ldm_vae(k, "first_stage_model.", [32, 64])
    hf_clip(k, "conditioner.embedders.0.transformer.", 64, 128, 2)
    open_clip(k, "conditioner.embedders.1.model.", 64, 128, 2, 64)
    return k.text()


def sd15_configs():
    unet = {"_class_name": "UNet2DConditionModel", "in_channels": 4, "out_channels": 4,
            "block_out_channels": [32, 64], "layers_per_block": 1,
            "down_block_types": ["CrossAttnDownBlock2D", "CrossAttnDownBlock2D"],
            "up_block_types": ["CrossAttnUpBlock2D", "CrossAttnUpBlock2D"],
            "cross_attention_dim": 64, "attention_head_dim": 8,
            "transformer_layers_per_block": 1}
    vae = {"_class_name": "AutoencoderKL", "block_out_channels": [32, 64], "layers_per_block": 1,
           "latent_channels": 4, "down_block_types": ["DownEncoderBlock2D"] * 2,
           "up_block_types": ["UpDecoderBlock2D"] * 2}
    te = {"hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2,
          "num_attention_heads": 4, "vocab_size": 1000, "max_position_embeddings": 77}
    sched = {"_class_name": "DDIMScheduler", "beta_schedule": "scaled_linear",
             "num_train_timesteps": 1000}
    return "".join(f"--- {name}\n{json.dumps(cfg)}\n" for name, cfg in
                   (("unet", unet), ("vae", vae), ("text_encoder", te), ("scheduler", sched)))


def bad_config_types():
    """Config files whose values have the wrong JSON types."""
    unet = json.loads(sd15_configs().split("\n")[1])
    unet.update({"layers_per_block": "one", "transformer_layers_per_block": [1, "x"],
                 "time_embedding_dim": "wide"})
    return (f"--- unet\n{json.dumps(unet)}\n--- vae\n" +
            json.dumps({"block_out_channels": {"a": 1}, "in_channels": "3"}) +
            "\n--- text_encoder\n[1, 2]\n--- scheduler\n{\"beta_start\": \"x\"}\n")


def rrdbnet(scale=4, nf=8, gc=4, blocks=2, esrgan_names=False, dtype="F32"):
    """A tiny Real-ESRGAN RRDBNet: basicsr's key names, or ESRGAN's original ones."""
    k = Keys()

    def conv(name, out_c, in_c):
        k.add(name + ".weight", out_c, in_c, 3, 3, dtype=dtype)
        k.add(name + ".bias", out_c, dtype=dtype)

    packed = 3 * {4: 1, 2: 4, 1: 16}[scale]
    if esrgan_names:
        conv("model.0", nf, packed)
        for n in range(blocks):
            for r in range(1, 4):
                for m in range(1, 6):
                    conv(f"model.1.sub.{n}.RDB{r}.conv{m}.0", gc if m < 5 else nf,
                         nf + (m - 1) * gc)
        conv(f"model.1.sub.{blocks}", nf, nf)
        for name in ("model.3", "model.6", "model.8"):
            conv(name, nf, nf)
        conv("model.10", 3, nf)
    else:
        conv("conv_first", nf, packed)
        for n in range(blocks):
            for r in range(1, 4):
                for m in range(1, 6):
                    conv(f"body.{n}.rdb{r}.conv{m}", gc if m < 5 else nf, nf + (m - 1) * gc)
        for name in ("conv_body", "conv_up1", "conv_up2", "conv_hr"):
            conv(name, nf, nf)
        conv("conv_last", 3, nf)
    return k.text()


def checkpoint_seeds():
    def lora(k):
        k.add("lora_unet_down_blocks_0_attentions_0_proj_in.lora_down.weight", 4, 32)

    small = Keys()
    small.add("model.diffusion_model.input_blocks.0.0.weight", 32, 4, 3, 3)
    small.add("first_stage_model.encoder.conv_in.weight", 32, 3, 3, 3)
    small.add("cond_stage_model.transformer.text_model.embeddings.token_embedding.weight", 10, 64)
    vae_only = Keys()
    ldm_vae(vae_only, "", [32, 64])
    return {
        "sd15.txt": sd15(),
        "sd15_configs.txt": sd15() + sd15_configs(),
        "sd15_bad_config_types.txt": sd15() + bad_config_types(),
        "sdxl.txt": sdxl(),
        "inpainting.txt": detection_only(in_ch=9),
        "sd2_context.txt": detection_only(context=1024),
        "lora_in_checkpoint.txt": detection_only(extra=lora),
        "fragment.txt": small.text(),
        "vae_only.txt": vae_only.text(),
        "flux.txt": "double_blocks.0.img_attn.qkv.weight BF16 9 3\n",
        "upscaler_x4.txt": rrdbnet(),
        "upscaler_x2_metadata.txt": rrdbnet(scale=2, dtype="F16") +
        "--- metadata\narch RRDBNet\nscale 2\nnum_block 2\nnum_feat 8\nnum_grow_ch 4\n",
        "upscaler_x1.txt": rrdbnet(scale=1, blocks=1),
        "upscaler_esrgan_names.txt": rrdbnet(esrgan_names=True),
        "upscaler_wrong_arch.txt": rrdbnet(blocks=1) + "--- metadata\narch SwinIR\n",
    }


# ---------------------------------------------------------------------------
# Texts


def image_parameters_seeds():
    return {
        "daub.txt": PARAMETERS,
        "a1111_hires.txt": (
            "masterpiece, (best quality:1.2), 1girl\nwith a second line\n"
            "Negative prompt: (worst quality:1.4), lowres\n"
            "Steps: 28, Sampler: DPM++ 2M, Schedule type: Karras, CFG scale: 6.5, "
            "Seed: 3141592653, Size: 512x768, Model hash: 6ce0161689, Model: \"model, v2\", "
            "VAE: vae-ft-mse-840000-ema-pruned.safetensors, Denoising strength: 0.45, "
            "Clip skip: 2, Hires upscale: 2, Hires upscaler: R-ESRGAN 4x+, "
            "Lora hashes: \"a: 0123, b: 4567\", Version: v1.9.4"),
        "img2img_hires.txt": (
            "a cat\nSteps: 20, Sampler: Euler, CFG scale: 7, Seed: -1, Size: 64x64, "
            "Denoising strength: 0.6, Hires upscale: 4, Hires upscaler: RealESRGAN_x4plus, "
            "Hires denoising strength: 0.3"),
        "postprocess.txt": (
            "Steps: 10, Sampler: DDIM, CFG scale: 1e1, Seed: 0, Size: 8x8, "
            "Postprocess upscale by: 2, Postprocess upscaler: \"x\\\"y, z\\\\\""),
        "quoted_newline.txt": (
            "prompt\nNegative prompt: \nNegative prompt: twice\n"
            "Steps: 1, Sampler: \"odd\\nname\", CFG scale: nan, Seed: 1, Size: 1x1, Model: a:b"),
        "not_parameters.txt": "just a caption, with: colons, and: more",
    }


PROMPTS = {
    "plain.txt": "a photo of a cat",
    "weights.txt": "a (red:1.3) fox, ((very detailed)), [blurry], [[faded]] (a:-0.5) (b:.5)",
    "escapes.txt": "\\(literal\\) \\[x\\] \\\\ back\\slash \\ lone (open [unclosed",
    "break.txt": "first chunk BREAK second BREAK\nBREAKfast BREAK",
    "unicode.txt": "Caf\u00e9 \u00c5ngstr\u00f6m \u65e5\u672c\u8a9e\u306e\u30c6\u30ad\u30b9\u30c8 "
                   "\U0001F98A emoji, \u0661\u0662 (x:\u0661.\u0665) \uff21\uff22 "
                   "ﬁ ligature, ǅ title",
    "contractions.txt": "it's we're they've I'm you'll he'd don't  tabs\tand\nlines",
    "specials.txt": "<|startoftext|>hello<|endoftext|> !!! ,,,, 123456 a1b2",
    "long_commas.txt": ", ".join(f"word{i}" for i in range(90)),
    "huge_weight.txt": "(x:1e400) (y:0.0000000000000000000000001) (z:99999999999999999999)",
    "invalid_utf8.txt": "bad \xff\xfe bytes \xc3",
}


def tokenizer_prompt_seeds():
    # prompt_syntax's seeds serve this target too; these are the tokenizer's
    # own corners.
    texts = {
        "specials_glued.txt": "<|startoftext|><|endoftext|><|endoftext|>x<|end",
        "normalization.txt": "\uFB01 \u01C5 A\u030A \u212B \u0130 \u1E9E \u2028\u3000\u00A0 "
                             "\U0001D400\U0001F98A \u0301leading mark",
        "long_word.txt": "a" * 300 + " " + "ab" * 100 + " 1234567890 " * 3,
    }
    return {name: text.encode() for name, text in texts.items()}


def prompt_seeds():
    # invalid_utf8.txt's characters are all below 256: its bytes as they are.
    return {name: text.encode("latin-1" if name == "invalid_utf8.txt" else "utf-8")
            for name, text in PROMPTS.items()}


def tokenizer_files_seeds():
    # Byte symbols for the letters used, their end-of-word forms, a few
    # merges and the special tokens; ids as CLIP orders them.
    letters = "abcdefghijklmnopqrstuvwxyz!,."
    vocab = {}
    for ch in letters:
        vocab[ch] = len(vocab)
    for ch in letters:
        vocab[ch + "</w>"] = len(vocab)
    merges = [("a", "t</w>"), ("c", "at</w>"), ("p", "h"), ("ph", "o"), ("t", "o</w>"),
              ("o", "f</w>"), ("a", "</w>")]
    ok_merges = [m for m in merges if m[1] != "</w>"]
    for left, right in ok_merges:
        vocab[left + right] = len(vocab)
    vocab["<|startoftext|>"] = len(vocab)
    vocab["<|endoftext|>"] = len(vocab)
    merges_txt = "#version: 0.2\n" + "".join(f"{a} {b}\n" for a, b in ok_merges)
    config = {
        "bos_token": {"content": "<|startoftext|>", "normalized": True},
        "eos_token": "<|endoftext|>", "unk_token": "<|endoftext|>", "pad_token": "!",
        "model_max_length": 16,
        "added_tokens_decoder": {
            str(vocab["<|startoftext|>"]): {"content": "<|startoftext|>", "normalized": True},
            "500": {"content": "<special>", "normalized": False},
            "501": {"content": "Norm", "normalized": True}}}
    special = {"pad_token": {"content": "!", "normalized": False}}

    def folder(**files):
        return "".join(f"--- {name}\n{text}\n" for name, text in files.items())

    base = {"vocab.json": json.dumps(vocab), "merges.txt": merges_txt}
    return {
        "minimal.txt": folder(**base),
        "with_configs.txt": folder(**base, **{"tokenizer_config.json": json.dumps(config),
                                               "special_tokens_map.json": json.dumps(special),
                                               "prompt": "a photo of a cat <special> Norm!"}),
        "crlf_merges.txt": folder(**{"vocab.json": json.dumps(vocab),
                                     "merges.txt": merges_txt.replace("\n", "\r\n")}),
        "bad_merge.txt": folder(**{"vocab.json": json.dumps(vocab),
                                   "merges.txt": "#version: 0.2\nq z\n"}),
        "nested_vocab.txt": folder(**{"vocab.json": '{"a": {"b": 1}}', "merges.txt": "a b\n"}),
    }


TARGETS = {
    "weight_file": weight_file_seeds,
    "checkpoint": checkpoint_seeds,
    "image": image_seeds,
    "app_image": app_image_seeds,
    "image_parameters": image_parameters_seeds,
    "prompt_syntax": prompt_seeds,
    "tokenizer_prompt": tokenizer_prompt_seeds,
    "tokenizer_files": tokenizer_files_seeds,
}
