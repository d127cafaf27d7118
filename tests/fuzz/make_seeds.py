#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets (corpus/<target>/): small
hand-made inputs, valid and invalid, written here byte by byte (no model,
image or fixture file is copied).

- torch_pickle: PyTorch-style checkpoints and pickles. No torch needed: the
  pickle bytes are written opcode by opcode, the zips with zipfile (stored,
  as torch.save writes them; one with zip64 records forced).
- the other targets: see seeds_more.py.

    python3 tests/fuzz/make_seeds.py            # every target
    python3 tests/fuzz/make_seeds.py image ...  # some
"""
import io
import os
import struct
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))


def uni(s):
    b = s.encode()
    return b"X" + struct.pack("<I", len(b)) + b


def i(v):
    if 0 <= v < 256:
        return b"K" + bytes([v])
    if 0 <= v < 65536:
        return b"M" + struct.pack("<H", v)
    if -2**31 <= v < 2**31:
        return b"J" + struct.pack("<i", v)
    n = (v.bit_length() + 8) // 8
    return b"\x8a" + bytes([n]) + v.to_bytes(n, "little", signed=True)


def glob(module, name):
    return b"c" + module.encode() + b"\n" + name.encode() + b"\n"


def tup(items):
    return b"(" + b"".join(items) + b"t"


def tensor(storage_type, key, numel, offset, shape, stride, param=False):
    body = (glob("torch._utils", "_rebuild_tensor_v2") +
            b"(" + tup([uni("storage"), glob("torch", storage_type), uni(key), uni("cpu"), i(numel)]) +
            b"Q" + i(offset) + tup([i(d) for d in shape]) + tup([i(s) for s in stride]) +
            b"\x89" + glob("collections", "OrderedDict") + b")R" + b"tR")
    if param:
        body = glob("torch._utils", "_rebuild_parameter") + b"(" + body + b"\x88" + \
            glob("collections", "OrderedDict") + b")R" + b"tR"
    return body


def state_dict(entries, wrapper=None, extra=b""):
    d = glob("collections", "OrderedDict") + b")Rq\x00(" + \
        b"".join(uni(k) + v for k, v in entries) + b"u"
    if wrapper:
        d = b"}(" + uni(wrapper) + d + uni("epoch") + i(3) + uni("global_step") + i(70000) + b"u"
    return b"\x80\x02" + d + extra + b"."


def archive(pkl, storages, zip64=False, byteorder=None, root="archive"):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as z:
        def put(name, data):
            info = zipfile.ZipInfo(root + "/" + name, date_time=(2024, 1, 1, 0, 0, 0))
            with z.open(info, "w", force_zip64=zip64) as f:
                f.write(data)
        put("data.pkl", pkl)
        if byteorder:
            put("byteorder", byteorder)
        for key, data in storages.items():
            put("data/" + key, data)
        put("version", b"3\n")
    return buf.getvalue()


def floats(n, start=0.0):
    return b"".join(struct.pack("<f", start + k) for k in range(n))


def torch_pickle_seeds():
    seeds = {}
    w = tensor("FloatStorage", "0", 6, 0, [2, 3], [3, 1])
    b = tensor("HalfStorage", "1", 4, 1, [3], [1])
    t = tensor("FloatStorage", "0", 6, 0, [3, 2], [1, 3])  # a transposed view, shared storage
    p = tensor("LongStorage", "2", 1, 0, [], [], param=True)
    storages = {"0": floats(6), "1": b"\x00\x3c" * 4, "2": struct.pack("<q", 7)}
    seeds["bare.pth"] = archive(state_dict([("conv.weight", w), ("conv.bias", b)]),
                                {k: storages[k] for k in ("0", "1")})
    seeds["wrapped.ckpt"] = archive(
        state_dict([("model.w", w), ("model.t", t), ("model.p", p)], wrapper="state_dict"),
        storages, byteorder=b"little")
    seeds["params_ema.pth"] = archive(
        state_dict([("w", w)], wrapper="params_ema"), {"0": storages["0"]}, zip64=True)
    # _metadata set on the OrderedDict with BUILD, as module.state_dict() saves it.
    seeds["metadata.pth"] = archive(
        b"\x80\x02" + glob("collections", "OrderedDict") + b")R(" + uni("w") + w + b"u" +
        b"}(" + uni("_metadata") + b"}" + uni("") + b"}" + uni("version") + i(1) + b"ssub.",
        {"0": storages["0"]})
    seeds["big_endian.pth"] = archive(state_dict([("w", w)]), {"0": storages["0"]},
                                      byteorder=b"big")
    seeds["short_storage.pth"] = archive(state_dict([("w", w)]), {"0": floats(5)})
    seeds["attack.pth"] = archive(
        b"\x80\x02}" + uni("params_ema") + glob("os", "system") + uni("true") + b"\x85Rs.", {})
    seeds["nested.pth"] = archive(
        b"\x80\x02}(" + uni("unet") + b"}(" + uni("w") + w + b"u" + uni("step") + i(5) + b"u.",
        {"0": storages["0"]})
    # Bare pickles (the second entry point of the target).
    seeds["pickle_dict.pkl"] = state_dict([("w", w), ("b", b)])
    seeds["pickle_protocol4.pkl"] = (b"\x80\x04\x95" + struct.pack("<Q", 20) + b"}\x94(\x8c\x01a" +
                                     b"\x94]\x94(K\x01K\x02e\x8c\x01b\x94G" +
                                     struct.pack(">d", 1.5) + b"u.")
    seeds["pickle_memo.pkl"] = b"\x80\x02}q\x00X\x01\x00\x00\x00ah\x00s."
    seeds["legacy.pt"] = (b"\x80\x02\x8a\x0al\xfc\x9cF\xf9 j\xa8P\x19.\x80\x02M\xe9\x03.")
    return seeds


def write(target, seeds):
    out = os.path.join(HERE, "corpus", target)
    os.makedirs(out, exist_ok=True)
    for name, data in seeds.items():
        if isinstance(data, str):
            data = data.encode()
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)
    print(f"{len(seeds)} seeds in {out}")


def main():
    import sys
    import seeds_more
    targets = {"torch_pickle": torch_pickle_seeds, **seeds_more.TARGETS}
    for name in sys.argv[1:] or targets:
        write(name, targets[name]())


if __name__ == "__main__":
    main()
