"""Watermarks (docs/protocol.md, watermark) through `picops process`: positions for every gravity with dx/dy,
opacity, scaling, tiling and text, checked by sampling pixels with Pillow."""
import base64

import pytest
from PIL import Image, ImageChops, ImageStat

from helpers import IMAGES, process

W, H, MW, MH = 400, 300, 40, 20


def b64(s):
    return base64.urlsafe_b64encode(s.encode()).decode().rstrip("=")


@pytest.fixture
def files(tmp_path):
    base = tmp_path / "base.png"
    Image.new("RGB", (W, H), "white").save(base)
    mark = tmp_path / "mark.png"
    Image.new("RGBA", (MW, MH), (255, 0, 0, 255)).save(mark)
    return base, mark


EXPECTED = {  # top-left corner of the mark for dx=30, dy=40
    "northwest": (30, 40), "north": ((W - MW) // 2 + 30, 40), "northeast": (W - MW - 30, 40),
    "west": (30, (H - MH) // 2 + 40), "center": ((W - MW) // 2 + 30, (H - MH) // 2 + 40),
    "east": (W - MW - 30, (H - MH) // 2 + 40),
    "southwest": (30, H - MH - 40), "south": ((W - MW) // 2 + 30, H - MH - 40), "southeast": (W - MW - 30, H - MH - 40),
}


@pytest.mark.parametrize("gravity", list(EXPECTED))
def test_image_watermark_position(files, tmp_path, gravity):
    base, mark = files
    out = tmp_path / "o.png"
    process(base, f"watermark/1/image/{b64(str(mark))}/gravity/{gravity}/dx/30/dy/40", out)
    im = Image.open(out).convert("RGB")
    x, y = EXPECTED[gravity]
    red, white = (255, 0, 0), (255, 255, 255)
    assert im.getpixel((x, y)) == red and im.getpixel((x + MW - 1, y + MH - 1)) == red
    assert im.getpixel((x - 1, y)) == white and im.getpixel((x, y - 1)) == white
    assert im.getpixel((x + MW, y + MH - 1)) == white and im.getpixel((x, y + MH)) == white
    assert sum(1 for p in im.getdata() if p == red) == MW * MH


def test_default_is_southeast_10px_and_dissolve_blends(files, tmp_path):
    base, mark = files
    out = tmp_path / "o.png"
    process(base, f"watermark/1/image/{b64(str(mark))}/dissolve/50", out)
    im = Image.open(out).convert("RGB")
    r, g, b = im.getpixel((W - 10 - MW, H - 10 - MH))
    assert r == 255 and 120 <= g <= 135 and 120 <= b <= 135


def test_scaling_and_tiling(files, tmp_path):
    base, mark = files
    out = tmp_path / "scaled.png"
    # scatype 1: the mark's width is 250 ‰ of the image's (100 px, so 50 px tall).
    process(base, f"watermark/1/image/{b64(str(mark))}/scatype/1/spcent/250/gravity/northwest/dx/0/dy/0", out)
    im = Image.open(out).convert("RGB")
    assert im.getpixel((99, 49)) == (255, 0, 0) and im.getpixel((101, 20)) == (255, 255, 255)
    out = tmp_path / "tiled.png"
    process(base, f"watermark/1/image/{b64(str(mark))}/batch/1/dx/20/dy/20", out)
    im = Image.open(out).convert("RGB")
    reds = sum(1 for p in im.getdata() if p == (255, 0, 0))
    # Tiles every 60 px across and 40 px down, clipped at the edges.
    assert reds > 0.25 * W * H


def test_text_watermark_is_drawn_where_expected(files, tmp_path):
    base, _ = files
    out = tmp_path / "t.png"
    process(base, f"watermark/2/text/{b64('图片 picops')}/fontsize/36/fill/{b64('#0000FF')}/gravity/northwest/dx/20/dy/20", out)
    im = Image.open(out).convert("RGB")
    diff = ImageChops.difference(im, Image.new("RGB", (W, H), "white"))
    box = diff.getbbox()
    assert box is not None
    x0, y0, x1, y1 = box
    assert 18 <= x0 <= 30 and 18 <= y0 <= 40 and 150 <= x1 - x0 <= 260 and 20 <= y1 - y0 <= 60, box
    blue = sum(1 for p in im.crop(box).getdata() if p[2] > 200 and p[0] < 80)
    assert blue > 300, "text pixels take the fill colour"


def test_watermark_on_animation_and_refusals(files, tmp_path):
    base, mark = files
    out = tmp_path / "a.gif"
    process(IMAGES / "edge" / "animated.gif", f"watermark/1/image/{b64(str(mark))}", out)
    assert Image.open(out).n_frames == Image.open(IMAGES / "edge" / "animated.gif").n_frames
    bad = tmp_path / "bad.png"
    with pytest.raises(AssertionError):
        process(base, f"watermark/1/image/{b64(str(IMAGES / 'edge' / 'animated.gif'))}", bad)
    with pytest.raises(AssertionError):
        process(base, "watermark/3/text/eA", bad)
