"""picops process / info, checked with independent decoders (Pillow, ImageMagick, libvips)."""
import io
import math
import shutil
import subprocess

import pytest
from PIL import Image, ImageChops, ImageStat

from helpers import IMAGES, info, picops, process, ssim

EDGE = IMAGES / "edge"
PHOTOS = IMAGES / "photos"

# Expected outcome of every file in the edge corpus: "ok", or the start of the error line.
CORPUS = {
    "1_trns.png": "ok",
    "anim_frame1.webp": "ok",
    "animated.gif": "ok",
    "animated.webp": "ok",
    "bomb_20000x20000.png": "image too large",
    "decompression_bomb.gif": "image too large",
    "dispose_bgnd.gif": "ok",
    "empty.jpg": "invalid image",
    "exif_gps.jpg": "ok",
    "exif_imagemagick_orientation.png": "ok",
    "flower.jpg": "ok",
    "flower.webp": "ok",
    "gray16.png": "ok",
    "gray_alpha.png": "ok",
    "hopper.bmp": "ok",
    "hopper.gif": "ok",
    "hopper.jpg": "ok",
    "hopper.png": "ok",
    "hopper.webp": "ok",
    "hopper_16bit_qtables.jpg": "ok",
    "hopper_gray.jpg": "ok",
    "hopper_orientation_2.jpg": "ok",
    "hopper_orientation_3.jpg": "ok",
    "hopper_orientation_4.jpg": "ok",
    "hopper_orientation_5.jpg": "ok",
    "hopper_orientation_6.jpg": "ok",
    "hopper_orientation_6.webp": "ok",
    "hopper_orientation_7.jpg": "ok",
    "hopper_orientation_8.jpg": "ok",
    "huge_header_65000x65000.jpg": "image too large",
    "icc_profile_big.jpg": "ok",
    "iss634.gif": "ok",
    "junk_jpeg_header.jpg": "ok",
    "l_trns.png": "ok",
    "lossy.webp": "ok",
    "multiple_exif.jpg": "ok",
    "not_an_image.jpg": "invalid image",
    "p_trns_single.png": "ok",
    "pil123p.png": "ok",
    "pil123rgba.png": "ok",
    "pil_sample_cmyk.jpg": "ok",
    "pil_sample_rgb.jpg": "ok",
    "progressive.jpg": "ok",
    "rgb_trns.png": "ok",
    "rgba_gradient_alpha.png": "ok",
    "transparent.webp": "ok",
    "truncated_jpeg.jpg": "invalid image",
}


def corpus_files():
    return sorted(p.name for p in EDGE.iterdir() if p.name != "README.md")


def test_corpus_table_is_complete():
    # A file added to the corpus must get a written-down expectation here.
    assert corpus_files() == sorted(CORPUS)


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_corpus_info(name):
    path = EDGE / name
    p = picops("info", path)
    assert "panicked" not in p.stderr
    if CORPUS[name] != "ok":
        assert p.returncode != 0
        assert p.stderr.startswith("picops: " + CORPUS[name]), p.stderr
        assert len(p.stderr.strip().splitlines()) == 1
        return
    assert p.returncode == 0, p.stderr
    got = info(path)
    with Image.open(path) as im:
        assert (got["Width"], got["Height"]) == im.size
        assert got["Format"] == {"JPEG": "JPEG", "PNG": "PNG", "WEBP": "WEBP", "GIF": "GIF", "BMP": "BMP"}[im.format]
        if im.format in ("JPEG", "WEBP", "PNG"):
            assert got["Orientation"] == (im.getexif().get(0x0112) or 0)
    assert got["Ave"].startswith("0x") and len(got["Ave"]) == 8


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_corpus_thumbnail(name, tmp_path):
    out = tmp_path / "t.png"
    p = picops("process", EDGE / name, "--rule", "imageMogr2/thumbnail/64x/format/png", "-o", out)
    assert "panicked" not in p.stderr
    if CORPUS[name] != "ok":
        assert p.returncode != 0 and p.stderr.startswith("picops: " + CORPUS[name]), p.stderr
        assert not out.exists()
        return
    assert p.returncode == 0, p.stderr
    with Image.open(EDGE / name) as src, Image.open(out) as im:
        im.load()
        assert im.format == "PNG"
        assert im.width == 64
        assert im.height == max(1, round(64 * src.height / src.width))


def make_png(tmp_path, w, h, mode="RGB"):
    path = tmp_path / f"in_{w}x{h}_{mode}.png"
    im = Image.new(mode, (w, h))
    # A gradient, so resizes and crops have something to move.
    px = im.load()
    for y in range(0, h, max(1, h // 64)):
        for x in range(0, w, max(1, w // 64)):
            v = (x * 255 // max(1, w - 1), y * 255 // max(1, h - 1), 128)
            px[x, y] = v if mode == "RGB" else v + (255,)
    im.save(path)
    return path


# (rule, input size, expected output size): docs/protocol.md (imageMogr2, imageView2), one row per parameter and mode.
GEOMETRY = [
    ("imageMogr2/thumbnail/!50p", (1000, 500), (500, 250)),
    ("imageMogr2/thumbnail/!50px", (1000, 500), (500, 500)),
    ("imageMogr2/thumbnail/!x50p", (1000, 500), (1000, 250)),
    ("imageMogr2/thumbnail/500x", (1000, 500), (500, 250)),
    ("imageMogr2/thumbnail/x100", (1000, 500), (200, 100)),
    ("imageMogr2/thumbnail/400x400", (1000, 500), (400, 200)),
    ("imageMogr2/thumbnail/!300x300r", (1000, 500), (600, 300)),
    ("imageMogr2/thumbnail/123x45!", (1000, 500), (123, 45)),
    ("imageMogr2/thumbnail/2000x2000>", (1000, 500), (1000, 500)),
    ("imageMogr2/thumbnail/400x400>", (1000, 500), (400, 200)),
    ("imageMogr2/thumbnail/400x400<", (1000, 500), (1000, 500)),
    ("imageMogr2/thumbnail/2000x2000<", (1000, 500), (2000, 1000)),
    ("imageMogr2/thumbnail/20000@", (1000, 500), (200, 100)),
    ("imageMogr2/thumbnail/300x300/pad/1/color/I0ZGMDAwMA", (1000, 500), (300, 300)),
    ("imageMogr2/thumbnail/111x", (333, 777), (111, 259)),
    ("imageMogr2/thumbnail/10x10", (1, 1), (10, 10)),
    ("imageMogr2/crop/300x200", (1000, 500), (300, 200)),
    ("imageMogr2/crop/300x", (1000, 500), (300, 500)),
    ("imageMogr2/crop/x200/gravity/center", (1000, 500), (1000, 200)),
    ("imageMogr2/crop/!300x200a10a20/gravity/southeast", (1000, 500), (300, 200)),
    ("imageMogr2/crop/5000x5000", (1000, 500), (1000, 500)),
    ("imageMogr2/cut/300x200x900x100", (1000, 500), (100, 200)),
    ("imageMogr2/iradius/100", (1000, 500), (200, 200)),
    ("imageMogr2/rradius/50", (1000, 500), (1000, 500)),
    ("imageMogr2/rotate/90", (1000, 500), (500, 1000)),
    ("imageMogr2/rotate/45", (100, 100), (141, 141)),
    ("imageMogr2/flip/vertical", (333, 777), (333, 777)),
    ("imageMogr2/blur/3x2/sharpen/70/bright/10/contrast/-10/grayscale/1", (333, 777), (333, 777)),
    ("imageMogr2/auto-orient/strip", (333, 777), (333, 777)),
    ("imageView2/0/w/400/h/100", (500, 1000), (100, 200)),
    ("imageView2/0/w/400", (500, 1000), (200, 400)),
    ("imageView2/1/w/500/h/400", (1000, 500), (500, 400)),
    ("imageView2/1/w/200", (1000, 500), (200, 200)),
    ("imageView2/2/w/500/h/400", (1000, 500), (500, 250)),
    ("imageView2/2/h/100", (1000, 500), (200, 100)),
    ("imageView2/3/w/500/h/400", (1000, 500), (800, 400)),
    ("imageView2/4/w/500/h/400", (1000, 500), (800, 400)),
    ("imageView2/5/w/500/h/400", (1000, 500), (500, 400)),
    ("imageView2/5/w/500/h/400", (500, 1000), (400, 500)),
    ("imageView2/2/w/5000/h/4000", (1000, 500), (1000, 500)),
    ("imageView2/2/w/100", (1000, 500), (100, 50)),
    ("imageView2/format/png", (333, 777), (333, 777)),
    ("imageMogr2/thumbnail/500x|imageView2/1/w/100/h/100", (1000, 500), (100, 100)),
]


@pytest.mark.parametrize("rule,size,expected", GEOMETRY, ids=[f"{r}@{s[0]}x{s[1]}" for r, s, _ in GEOMETRY])
def test_geometry(rule, size, expected, tmp_path):
    src = make_png(tmp_path, *size)
    out = tmp_path / "o.png"
    facts = process(src, rule, out)
    with Image.open(out) as im:
        assert im.size == expected
        assert (facts["width"], facts["height"]) == expected
        assert facts["size"] == out.stat().st_size


# JPEG inputs take the shrink-on-load path (DCT scaling) when the first step is a resize:
# sizes must come out exactly as from a full decode.
SHRINK = [
    ("autumn-2560x1600.jpg", "imageMogr2/thumbnail/!25p", (640, 400)),
    ("autumn-2560x1600.jpg", "imageMogr2/thumbnail/!10px", (256, 1600)),
    ("autumn-2560x1600.jpg", "imageMogr2/thumbnail/300x", (300, 188)),
    ("autumn-2560x1600.jpg", "imageView2/1/w/200/h/200", (200, 200)),
    ("autumn-2560x1600.jpg", "imageMogr2/thumbnail/300x/crop/100x100/gravity/center", (100, 100)),
    ("autumn-2560x1600.jpg", "imageMogr2/crop/1000x1000/thumbnail/100x", (100, 100)),
    ("safelanding-5120x2880.jpg", "imageMogr2/thumbnail/!300x300r", (533, 300)),
    ("safelanding-5120x2880.jpg", "imageMogr2/thumbnail/640x100!", (640, 100)),
]


@pytest.mark.parametrize("name,rule,expected", SHRINK, ids=[f"{n}:{r}" for n, r, _ in SHRINK])
def test_shrink_on_load_geometry(name, rule, expected, tmp_path):
    out = tmp_path / "o.png"
    process(PHOTOS / name, rule + "/format/png", out)
    with Image.open(out) as im:
        assert im.size == expected


# imageView2 without a mode converts or recompresses at the input's size (COS's own example
# is imageView2/format/png); with a mode, one side is enough. Input: a 400x300 JPEG, quality 95.
VIEW2_NO_MODE = [
    ("imageView2/format/png", "PNG", (400, 300), 100),
    ("imageView2/q/80", "JPEG", (400, 300), 80),
    ("imageView2/2/w/100", "JPEG", (100, 75), None),
]


@pytest.mark.parametrize("rule,fmt,expected,quality", VIEW2_NO_MODE, ids=[r for r, *_ in VIEW2_NO_MODE])
def test_imageview2_mode_is_optional(rule, fmt, expected, quality, tmp_path):
    src = tmp_path / "in.jpg"
    with Image.open(PHOTOS / "autumn-2560x1600.jpg") as im:
        im.resize((400, 300)).save(src, quality=95)
    out = tmp_path / "out"
    facts = process(src, rule, out)
    with Image.open(out) as im:
        im.load()
        assert im.format == fmt and im.size == expected
    assert facts["format"] == fmt and (facts["width"], facts["height"]) == expected
    assert facts["size"] == out.stat().st_size
    if quality is not None:
        assert facts["quality"] == quality
    if fmt == "JPEG" and quality is not None and shutil.which("identify"):
        assert abs(imagemagick_quality(out) - quality) <= 2


def test_auto_orient_then_thumbnail_on_jpeg(tmp_path):
    out = tmp_path / "o.png"
    # 128x128 input is too small to shrink; the rule must still orient and size correctly.
    process(EDGE / "hopper_orientation_6.jpg", "imageMogr2/auto-orient/thumbnail/32x/format/png", out)
    with Image.open(out) as im:
        assert im.size == (32, 32)


@pytest.mark.parametrize("fmt,pil,mode", [("jpg", "JPEG", None), ("png", "PNG", None), ("webp", "WEBP", None), ("gif", "GIF", None), ("bmp", "BMP", None)])
def test_output_formats(fmt, pil, mode, tmp_path):
    out = tmp_path / f"o.{fmt}"
    facts = process(PHOTOS / "autumn-2560x1600.jpg", f"imageMogr2/thumbnail/200x/format/{fmt}", out)
    with Image.open(out) as im:
        im.load()
        assert im.format == pil and im.size == (200, 125)
    assert facts["format"] == pil


def test_progressive_jpeg(tmp_path):
    out = tmp_path / "p.jpg"
    process(PHOTOS / "path-2560x1600.jpg", "imageMogr2/thumbnail/300x/interlace/1", out)
    with Image.open(out) as im:
        assert im.info.get("progressive") or im.info.get("progression")


def test_alpha_flattened_on_white_for_jpeg(tmp_path):
    out = tmp_path / "w.jpg"
    process(EDGE / "transparent.webp", "imageMogr2/format/jpg", out)
    with Image.open(EDGE / "transparent.webp") as src, Image.open(out) as im:
        src = src.convert("RGBA")
        # Find a fully transparent source pixel: it must come out white.
        xs = [(x, y) for x in range(0, src.width, 7) for y in range(0, src.height, 7) if src.getpixel((x, y))[3] == 0]
        assert xs, "test image has no transparent pixel"
        assert all(c > 245 for c in im.convert("RGB").getpixel(xs[0]))


def test_alpha_kept_for_png_and_webp(tmp_path):
    for fmt in ("png", "webp"):
        out = tmp_path / f"a.{fmt}"
        process(EDGE / "rgba_gradient_alpha.png", f"imageMogr2/thumbnail/100x/format/{fmt}", out)
        with Image.open(out) as im, Image.open(EDGE / "rgba_gradient_alpha.png") as src:
            assert im.mode in ("RGBA", "LA")
            # Pillow's Lanczos resize of the same image is the reference for the alpha.
            lo, hi = src.resize(im.size, Image.LANCZOS).getextrema()[-1]
            got_lo, got_hi = im.getextrema()[-1]
            assert got_lo < 255 and abs(got_lo - lo) <= 4 and abs(got_hi - hi) <= 4


def test_auto_orient_turns_upright(tmp_path):
    ref = tmp_path / "ref.png"
    process(EDGE / "hopper.jpg", "imageMogr2/format/png", ref)
    for n in range(2, 9):
        out = tmp_path / f"o{n}.png"
        process(EDGE / f"hopper_orientation_{n}.jpg", "imageMogr2/auto-orient/format/png", out)
        with Image.open(out) as a, Image.open(ref) as b:
            assert ssim(a.convert("L"), b.convert("L")) > 0.9, n


def test_icc_profile_kept_unless_strip(tmp_path):
    src = EDGE / "icc_profile_big.jpg"
    with Image.open(src) as im:
        icc = im.info["icc_profile"]
    for fmt in ("jpg", "png", "webp"):
        kept, stripped = tmp_path / f"k.{fmt}", tmp_path / f"s.{fmt}"
        process(src, f"imageMogr2/thumbnail/100x/format/{fmt}", kept)
        process(src, f"imageMogr2/thumbnail/100x/format/{fmt}/strip", stripped)
        with Image.open(kept) as a, Image.open(stripped) as b:
            assert a.info.get("icc_profile") == icc
            assert not b.info.get("icc_profile")


def vips_icc_bytes(path):
    """The size of the ICC profile libvips finds, 0 without one."""
    out = subprocess.run(["vipsheader", "-a", str(path)], capture_output=True, text=True, check=True).stdout
    line = next((l for l in out.splitlines() if l.startswith("icc-profile-data")), None)
    return int(line.split(":")[1].split()[0]) if line else 0


def test_webp_outputs_carry_the_icc_profile(tmp_path):
    src = EDGE / "icc_profile_big.jpg"
    with Image.open(src) as im:
        icc = im.info["icc_profile"]
    still = tmp_path / "still.webp"
    for rule in ("imageMogr2/thumbnail/100x/format/webp", "imageMogr2/thumbnail/100x/format/webp/quality/100!"):
        process(src, rule, still)
        with Image.open(still) as im:
            assert im.info.get("icc_profile") == icc, rule
            im.load()
        if shutil.which("vipsheader"):
            assert vips_icc_bytes(still) == len(icc)
    # An animated WebP with a profile keeps it, its frames and their durations.
    anim = tmp_path / "anim.webp"
    with Image.open(EDGE / "animated.webp") as im:
        frames = []
        for i in range(im.n_frames):
            im.seek(i)
            frames.append(im.convert("RGBA"))
    delays = [100 + 50 * i for i in range(len(frames))]
    frames[0].save(anim, save_all=True, append_images=frames[1:], duration=delays, icc_profile=icc)
    kept, stripped = tmp_path / "kept.webp", tmp_path / "stripped.webp"
    process(anim, "imageMogr2/thumbnail/50x", kept)
    process(anim, "imageMogr2/thumbnail/50x/strip", stripped)
    with Image.open(kept) as a, Image.open(stripped) as b:
        assert a.n_frames == len(frames)
        assert a.info.get("icc_profile") == icc
        assert not b.info.get("icc_profile")
    if shutil.which("vipsheader"):
        assert vips_icc_bytes(kept) == len(icc) and vips_icc_bytes(stripped) == 0
        assert durations(kept) == delays


@pytest.mark.skipif(not shutil.which("cwebp"), reason="cwebp (Debian package webp) not installed")
@pytest.mark.parametrize("q", [50, 75, 90])
def test_lossy_webp_quality_estimate(q, tmp_path):
    png, webp = tmp_path / "in.png", tmp_path / "in.webp"
    with Image.open(PHOTOS / "autumn-2560x1600.jpg") as im:
        im.resize((640, 400)).save(png)
    subprocess.run(["cwebp", "-quiet", "-q", str(q), str(png), "-o", str(webp)], check=True)
    assert abs(info(webp)["Quality"] - q) <= 2
    # quality/<q> is at most the input's quality, as for JPEG.
    assert process(webp, "imageMogr2/quality/95", tmp_path / "o.webp")["quality"] == info(webp)["Quality"]


def test_gif_animation_kept(tmp_path):
    out = tmp_path / "a.gif"
    process(EDGE / "animated.gif", "imageMogr2/thumbnail/100x", out)
    with Image.open(EDGE / "animated.gif") as src, Image.open(out) as im:
        assert im.n_frames == src.n_frames > 1
        assert im.size == (100, 62) or im.size == (100, 63)


def durations(path):
    """Frame durations in ms, read by libvips (Pillow 13 does not report WebP durations)."""
    out = subprocess.run(["vipsheader", "-f", "delay", str(path)], capture_output=True, text=True, check=True)
    return [int(d) for d in out.stdout.split()]


@pytest.mark.skipif(not shutil.which("vipsheader"), reason="libvips-tools not installed")
@pytest.mark.parametrize("src,rule,fmt", [
    ("animated.webp", "imageMogr2/thumbnail/100x", "WEBP"),
    ("animated.webp", "imageMogr2/crop/60x40/gravity/center/rotate/90", "WEBP"),
    ("animated.gif", "imageMogr2/thumbnail/100x/format/webp", "WEBP"),
    ("animated.webp", "imageMogr2/thumbnail/100x/format/gif", "GIF"),
])
def test_animation_kept_with_durations(tmp_path, src, rule, fmt):
    out = tmp_path / "out"
    process(EDGE / src, rule, out)
    with Image.open(out) as im:
        assert im.format == fmt
        n = im.n_frames
    assert n == Image.open(EDGE / src).n_frames > 1
    # GIF stores centiseconds: compare at that precision.
    assert [d // 10 for d in durations(out)] == [d // 10 for d in durations(EDGE / src)]
    assert all(d > 0 for d in durations(out))


def gif_frames(path):
    """(first pixel, duration in ms) of every frame, read by Pillow."""
    out = []
    with Image.open(path) as im:
        for i in range(im.n_frames):
            im.seek(i)
            out.append((im.convert("RGB").getpixel((0, 0)), im.info["duration"]))
    return out


def numbered_gif(path, n=40):
    """A GIF of n solid frames, frame i grey level 5*i, shown 20, 30, 40, 20, 30, 40… ms."""
    frames = [Image.new("RGB", (24, 16), (5 * i, 5 * i, 5 * i)) for i in range(n)]
    durations = [(20, 30, 40)[i % 3] for i in range(n)]
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=durations, loop=0)
    return durations


def test_cgif_samples_gif_frames_evenly_and_keeps_the_duration(tmp_path):
    # COS: cgif/<n> with n in (1, 100] "compresses the GIF to n frames".
    src = tmp_path / "in.gif"
    delays = numbered_gif(src)
    out = tmp_path / "out.gif"
    process(src, "imageMogr2/cgif/4", out)
    frames = gif_frames(out)
    assert [px[0] // 5 for px, _ in frames] == [0, 10, 20, 30]
    assert [d for _, d in frames] == [sum(delays[k:k + 10]) for k in (0, 10, 20, 30)]
    assert sum(d for _, d in frames) == sum(delays)
    # Also when the output is WebP, and with resizing.
    webp = tmp_path / "out.webp"
    process(src, "imageMogr2/thumbnail/12x/format/webp/cgif/4", webp)
    with Image.open(webp) as im:
        assert im.n_frames == 4 and im.size == (12, 8)
    if shutil.which("vipsheader"):
        assert durations(webp) == [d for _, d in frames]


def test_cgif_1_cuts_a_gif_after_30_frames(tmp_path):
    # COS: cgif/1 "uses the default of 30 frames; longer GIFs are cut".
    src = tmp_path / "in.gif"
    delays = numbered_gif(src)
    out = tmp_path / "out.gif"
    process(src, "imageMogr2/cgif/1", out)
    frames = gif_frames(out)
    assert [px[0] // 5 for px, _ in frames] == list(range(30))
    assert [d for _, d in frames] == delays[:30]


def test_cgif_touches_only_gif_inputs_and_stills_take_the_first(tmp_path):
    out = tmp_path / "two.gif"
    process(EDGE / "animated.gif", "imageMogr2/cgif/2", out)
    assert [d for _, d in gif_frames(out)] == [200, 200]
    # COS: "only for GIF inputs": an animated WebP keeps every frame.
    out = tmp_path / "all.webp"
    process(EDGE / "animated.webp", "imageMogr2/thumbnail/50x/cgif/2", out)
    assert Image.open(out).n_frames == Image.open(EDGE / "animated.webp").n_frames > 2
    assert picops("process", EDGE / "animated.gif", "--rule", "imageMogr2/cgif/101", "-o", tmp_path / "x").returncode != 0
    png = tmp_path / "first.png"
    process(EDGE / "animated.webp", "imageMogr2/thumbnail/50x/format/png", png)
    with Image.open(png) as im, Image.open(EDGE / "animated.webp") as src:
        assert getattr(im, "n_frames", 1) == 1
        src.seek(0)
        ref = src.convert("RGBA").resize(im.size)
        assert ImageStat.Stat(ImageChops.difference(im.convert("RGBA"), ref)).mean[0] < 20


def imagemagick_quality(path):
    return int(subprocess.run(["identify", "-format", "%Q", str(path)], capture_output=True, text=True, check=True).stdout)


@pytest.mark.skipif(not shutil.which("identify"), reason="ImageMagick not installed")
@pytest.mark.parametrize("q", [50, 75, 85, 95])
def test_quality_estimate_matches_imagemagick(q, tmp_path):
    path = tmp_path / f"q{q}.jpg"
    with Image.open(PHOTOS / "autumn-2560x1600.jpg") as im:
        im.resize((640, 400)).save(path, quality=q)
    assert abs(info(path)["Quality"] - imagemagick_quality(path)) <= 2
    assert abs(info(path)["Quality"] - q) <= 2


@pytest.mark.parametrize(
    "rule,expected",
    [("quality/50", 50), ("quality/95", 80), ("quality/95!", 95), ("rquality/50", 40), ("lquality/90", 90), ("lquality/60", 80), ("", 80)],
)
def test_quality_relative_to_input(rule, expected, tmp_path):
    src = tmp_path / "q80.jpg"
    with Image.open(PHOTOS / "autumn-2560x1600.jpg") as im:
        im.resize((640, 400)).save(src, quality=80)
    out = tmp_path / "o.jpg"
    facts = process(src, "imageMogr2/thumbnail/300x" + (f"/{rule}" if rule else ""), out)
    assert facts["quality"] == expected
    if shutil.which("identify"):
        assert abs(imagemagick_quality(out) - expected) <= 2


def test_size_limit(tmp_path):
    out = tmp_path / "s.jpg"
    facts = process(PHOTOS / "autumn-2560x1600.jpg", "imageMogr2/thumbnail/800x/size-limit/30k", out)
    assert out.stat().st_size <= 30 * 1024
    assert facts["quality"] < 80
    Image.open(out).load()


@pytest.mark.skipif(not shutil.which("vipsthumbnail"), reason="libvips not installed")
@pytest.mark.parametrize("name", ["autumn-2560x1600.jpg", "path-2560x1600.jpg", "safelanding-5120x2880.jpg"])
def test_thumbnail_similar_to_libvips(name, tmp_path):
    ours = tmp_path / "ours.png"
    theirs = tmp_path / "vips.png"
    process(PHOTOS / name, "imageMogr2/thumbnail/1000x/format/png", ours)
    subprocess.run(["vipsthumbnail", str(PHOTOS / name), "--size", "1000x", "-o", str(theirs)], check=True)
    with Image.open(ours) as a, Image.open(theirs) as b:
        assert a.size == b.size
        assert ssim(a.convert("L"), b.convert("L")) >= 0.98


@pytest.mark.parametrize(
    "rule,message",
    [
        ("imageMogr2/bogus/1", "unknown parameter at 'bogus'"),
        ("imageMogr3/thumbnail/1x", "unknown processor at 'imageMogr3'"),
        ("imageMogr2/thumbnail/abc", "expected <W>x<H> at 'abc'"),
        ("imageMogr2/rotate/400", "expected degrees"),
        ("imageView2/9/w/1", "mode must be 0-5"),
        ("imageView2/w/100", "w and h need a mode before them (imageView2/<mode>/w/<W>/h/<H>) at 'w'"),
        ("imageView2/2", "a mode needs at least one of w and h at '2'"),
        ("imageMogr2/thumbnail/20000x", "exceeds 9999"),
        ("imageMogr2/format/tiff", "unsupported output format"),
    ],
)
def test_bad_rules_are_one_clear_line(rule, message, tmp_path):
    out = tmp_path / "x"
    p = picops("process", EDGE / "hopper.jpg", "--rule", rule, "-o", out)
    assert p.returncode != 0
    assert message in p.stderr and len(p.stderr.strip().splitlines()) == 1 and "panicked" not in p.stderr
    assert not out.exists()


def test_ignore_error_returns_input(tmp_path):
    out = tmp_path / "same.jpg"
    facts = process(EDGE / "hopper.jpg", "imageMogr2/thumbnail/20000x/ignore-error/1", out)
    assert out.read_bytes() == (EDGE / "hopper.jpg").read_bytes()
    assert (facts["width"], facts["height"]) == (128, 128)
