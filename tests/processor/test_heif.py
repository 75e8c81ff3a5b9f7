"""HEIF/HEIC and AVIF inputs (tests/images/heif/), checked against libvips' heifload."""
import shutil
import subprocess

import pytest
from PIL import Image, ImageOps

from helpers import IMAGES, info, picops, process, ssim

HEIF = IMAGES / "heif"

# name: (Format, width, height, Orientation reported)
FIXTURES = {
    "autumn.heic": ("HEIF", 256, 160, 0),
    "autumn.avif": ("AVIF", 256, 160, 0),
    "autumn_alpha.avif": ("AVIF", 256, 160, 0),
    # Coded 256×160; `irot` turns it 90° clockwise, and its EXIF orientation 6 says the same:
    # turned once (by libheif), and reported upright.
    "autumn_irot_exif6_icc.heic": ("HEIF", 160, 256, 1),
}


def vips_reads_heif():
    if not shutil.which("vips"):
        return False
    out = subprocess.run(["vips", "-l"], capture_output=True, text=True).stdout
    return "heifload" in out


needs_vips = pytest.mark.skipif(not vips_reads_heif(), reason="libvips without heifload")


def reference(name, tmp_path):
    """The fixture decoded by libvips (transformations applied), flattened on white."""
    png = tmp_path / (name + ".png")
    subprocess.run(["vips", "copy", str(HEIF / name), str(png)], check=True, capture_output=True)
    with Image.open(png) as im:
        im = im.convert("RGBA")
    white = Image.new("RGBA", im.size, (255, 255, 255, 255))
    return Image.alpha_composite(white, im).convert("RGB")


def test_fixture_table_is_complete():
    assert sorted(p.name for p in HEIF.iterdir() if p.suffix in (".heic", ".avif")) == sorted(FIXTURES)


@pytest.mark.parametrize("name", sorted(FIXTURES))
def test_info(name):
    fmt, w, h, orientation = FIXTURES[name]
    got = info(HEIF / name)
    assert (got["Format"], got["Width"], got["Height"]) == (fmt, w, h)
    assert got["Orientation"] == orientation
    assert got["Frames"] == 1


@needs_vips
@pytest.mark.parametrize("name", sorted(FIXTURES))
@pytest.mark.parametrize("fmt", ["jpg", "png", "webp"])
def test_thumbnail_matches_libvips(name, fmt, tmp_path):
    _, w, h, _ = FIXTURES[name]
    out = tmp_path / f"out.{fmt}"
    facts = process(HEIF / name, f"imageMogr2/thumbnail/100x/format/{fmt}", out)
    want_h = int(100 * h / w + 0.5)  # rounded half up, as picops does
    assert (facts["width"], facts["height"]) == (100, want_h)
    ref = reference(name, tmp_path)
    assert ref.size == (w, h)
    ref = ref.resize((100, want_h), Image.LANCZOS)
    with Image.open(out) as im:
        im = im.convert("RGBA")
        white = Image.new("RGBA", im.size, (255, 255, 255, 255))
        got = Image.alpha_composite(white, im).convert("RGB")
    assert got.size == ref.size
    score = ssim(got.convert("L"), ref.convert("L"))
    assert score >= 0.95, f"{name} → {fmt}: SSIM {score:.3f}"


@needs_vips
def test_orientation_is_applied_once_and_metadata_kept(tmp_path):
    name = "autumn_irot_exif6_icc.heic"
    plain, oriented = tmp_path / "plain.jpg", tmp_path / "oriented.jpg"
    process(HEIF / name, "imageMogr2/format/jpg", plain)
    process(HEIF / name, "imageMogr2/auto-orient/format/jpg", oriented)
    ref = reference(name, tmp_path)
    for path in (plain, oriented):
        with Image.open(path) as im:
            # Upright: EXIF orientation 1 (or none), so a viewer turns nothing again.
            assert im.getexif().get(0x0112, 1) == 1
            assert len(im.info.get("icc_profile", b"")) == 3144
            assert ImageOps.exif_transpose(im).size == (160, 256)
            score = ssim(im.convert("L"), ref.convert("L"))
            assert score >= 0.95, f"{path.name}: SSIM {score:.3f}"
    # The same picture as the unrotated file turned clockwise.
    flat = reference("autumn.heic", tmp_path).transpose(Image.ROTATE_270)
    with Image.open(plain) as im:
        assert ssim(im.convert("L"), flat.convert("L")) >= 0.95


def with_ispe(data, w, h):
    """data with every `ispe` (an image item's coded size) set to w×h."""
    data = bytearray(data)
    i = data.find(b"ispe")
    assert i > 0
    while i > 0:
        data[i + 8 : i + 16] = w.to_bytes(4, "big") + h.to_bytes(4, "big")
        i = data.find(b"ispe", i + 4)
    return bytes(data)


@pytest.mark.parametrize("name", ["autumn.heic", "autumn.avif"])
def test_a_header_declared_bomb_is_refused(name, tmp_path):
    # 20000×20000 = 400 MP, over the 250 MP limit; the coded picture is still 256×160.
    bomb = tmp_path / ("bomb_" + name)
    bomb.write_bytes(with_ispe((HEIF / name).read_bytes(), 20000, 20000))
    for args in (("info", bomb), ("process", bomb, "--rule", "imageMogr2/format/jpg", "-o", tmp_path / "o.jpg")):
        p = picops(*args)
        assert p.returncode != 0
        assert p.stderr.startswith("picops: image too large"), p.stderr
        assert "panicked" not in p.stderr
    assert not (tmp_path / "o.jpg").exists()


@pytest.mark.parametrize(
    "rule,message",
    [
        ("imageMogr2/thumbnail/100x", "HEIF output is not supported"),
        ("imageMogr2/format/src", "HEIF output is not supported"),
        ("imageMogr2/format/heif", "does not write them"),
        ("imageMogr2/format/avif", "does not write them"),
        ("imageView2/2/w/100/format/heic", "does not write them"),
    ],
)
def test_heif_and_avif_outputs_are_refused(rule, message, tmp_path):
    out = tmp_path / "o.bin"
    p = picops("process", HEIF / "autumn.heic", "--rule", rule, "-o", out)
    assert p.returncode != 0 and message in p.stderr, p.stderr
    assert "panicked" not in p.stderr
    assert not out.exists()


def test_truncated_file_is_an_error_not_a_crash(tmp_path):
    cut = tmp_path / "cut.heic"
    data = (HEIF / "autumn.heic").read_bytes()
    cut.write_bytes(data[: len(data) // 2])
    p = picops("process", cut, "--rule", "imageMogr2/format/jpg", "-o", tmp_path / "o.jpg")
    assert p.returncode != 0 and p.stderr.startswith("picops: invalid image"), p.stderr
