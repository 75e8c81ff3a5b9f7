#!/usr/bin/env python3
"""How the HEIF/AVIF fixtures beside this script were made (see tests/images/README.md).

Needs Debian 12's libheif-examples 1.15.1 (`heif-enc`), libvips-tools 8.14 (`vips`) and
Pillow. Run from anywhere: `python3 tests/images/heif/make.py`. The encoders are not
bit-for-bit reproducible across versions; the committed files are the reference.
"""

import io
import pathlib
import struct
import subprocess
import tempfile

from PIL import Image

HERE = pathlib.Path(__file__).resolve().parent
IMAGES = HERE.parent


def run(*cmd):
    subprocess.run([str(c) for c in cmd], check=True)


def boxes(data, start, end):
    """(type, start, header size, end) of each box in data[start:end]."""
    out = []
    i = start
    while i + 8 <= end:
        size, kind = struct.unpack(">I4s", data[i : i + 8])
        head = 8
        if size == 1:
            size = struct.unpack(">Q", data[i + 8 : i + 16])[0]
            head = 16
        elif size == 0:
            size = end - i
        out.append((kind.decode("latin-1"), i, head, i + size))
        i += size
    return out


def child(data, parent, kind, full=False):
    _, start, head, end = parent
    skip = 4 if full else 0
    for b in boxes(data, start + head + skip, end):
        if b[0] == kind:
            return b
    raise KeyError(kind)


def add_irot(data, angle):
    """Give the primary item an essential `irot` property (angle × 90° anticlockwise).

    The box grows `meta`, so `mdat` moves: the file offsets of `iloc` (construction
    method 0) move with it."""
    data = bytearray(data)
    top = boxes(data, 0, len(data))
    meta = next(b for b in top if b[0] == "meta")
    pitm = child(data, meta, "pitm", full=True)
    primary = struct.unpack(">H", data[pitm[1] + pitm[2] + 4 : pitm[1] + pitm[2] + 6])[0]
    iprp = child(data, meta, "iprp", full=True)
    ipco = child(data, iprp, "ipco")
    ipma = child(data, iprp, "ipma")
    index = len(boxes(data, ipco[1] + ipco[2], ipco[3])) + 1
    irot = struct.pack(">I4sB", 9, b"irot", angle & 3)

    # ipma: rebuild the primary item's entry with one more association.
    version, flags = data[ipma[1] + 8], int.from_bytes(data[ipma[1] + 9 : ipma[1] + 12], "big")
    wide_id, wide_index = version >= 1, flags & 1
    body = data[ipma[1] + 12 : ipma[3]]
    count = struct.unpack(">I", body[:4])[0]
    i, entries = 4, bytearray(body[:4])
    for _ in range(count):
        n = 4 if wide_id else 2
        item = int.from_bytes(body[i : i + n], "big")
        assoc_count = body[i + n]
        size = 2 if wide_index else 1
        assoc = body[i + n + 1 : i + n + 1 + assoc_count * size]
        i += n + 1 + assoc_count * size
        if item == primary:
            assoc += (0x8000 | index).to_bytes(2, "big") if wide_index else bytes([0x80 | index])
            assoc_count += 1
        entries += item.to_bytes(n, "big") + bytes([assoc_count]) + assoc
    new_ipma = struct.pack(">I4s", 12 + len(entries), b"ipma") + bytes(data[ipma[1] + 8 : ipma[1] + 12]) + entries
    grow = len(irot) + len(new_ipma) - (ipma[3] - ipma[1])

    # iloc: shift absolute offsets into the file past `meta`.
    iloc = child(data, meta, "iloc", full=True)
    p = iloc[1] + iloc[2]
    version = data[p]
    sizes = data[p + 4 : p + 6]
    off_size, len_size, base_size = sizes[0] >> 4, sizes[0] & 15, sizes[1] >> 4
    index_size = sizes[1] & 15 if version in (1, 2) else 0
    p += 6
    if version < 2:
        items = struct.unpack(">H", data[p : p + 2])[0]
        p += 2
    else:
        items = struct.unpack(">I", data[p : p + 4])[0]
        p += 4

    def shift(at, size):
        if size:
            v = int.from_bytes(data[at : at + size], "big")
            data[at : at + size] = (v + grow).to_bytes(size, "big")

    for _ in range(items):
        p += 2 if version < 2 else 4
        method = 0
        if version in (1, 2):
            method = struct.unpack(">H", data[p : p + 2])[0] & 15
            p += 2
        p += 2  # data_reference_index
        base_at = p
        base = int.from_bytes(data[p : p + base_size], "big")
        p += base_size
        extents = struct.unpack(">H", data[p : p + 2])[0]
        p += 2
        if method == 0 and base:
            shift(base_at, base_size)
        for _ in range(extents):
            p += index_size
            if method == 0 and not base:
                shift(p, off_size)
            p += off_size + len_size

    out = data[: ipco[3]] + irot + data[ipco[3] : ipma[1]] + new_ipma + data[ipma[3] :]
    for b in (meta, iprp, ipco):
        at = b[1]
        size = struct.unpack(">I", out[at : at + 4])[0]
        out[at : at + 4] = struct.pack(">I", size + (len(irot) if b is ipco else grow))
    return bytes(out)


def main():
    with tempfile.TemporaryDirectory() as tmp:
        tmp = pathlib.Path(tmp)
        small = tmp / "autumn.png"
        run("vips", "resize", IMAGES / "photos/autumn-2560x1600.jpg", small, 0.1)  # 256×160
        run("heif-enc", "-q", 60, "-o", HERE / "autumn.heic", small)
        run("heif-enc", "-q", 60, "-o", HERE / "autumn.avif", small)

        alpha = tmp / "alpha.png"
        run("vips", "resize", IMAGES / "edge/rgba_gradient_alpha.png", alpha, 0.32)  # 256×160
        run("heif-enc", "-q", 60, "-o", HERE / "autumn_alpha.avif", alpha)

        # EXIF orientation 6 and the `irot` that says the same (90° clockwise), with *Path*'s
        # ICC profile, as a phone writes them: heif-enc 1.15 copies EXIF and ICC from a JPEG
        # but writes no `irot`, which is patched in.
        icc = Image.open(IMAGES / "photos/path-2560x1600.jpg").info["icc_profile"]
        exif = Image.Exif()
        exif[0x0112] = 6
        jpeg = tmp / "oriented.jpg"
        Image.open(small).save(jpeg, quality=95, exif=exif.tobytes(), icc_profile=icc)
        rotated = tmp / "oriented.heic"
        run("heif-enc", "-q", 60, "-o", rotated, jpeg)
        (HERE / "autumn_irot_exif6_icc.heic").write_bytes(add_irot(rotated.read_bytes(), 3))


if __name__ == "__main__":
    main()
