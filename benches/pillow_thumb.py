"""The Pillow pipeline a Python user would write: draft (JPEG DCT scaling), resize, save."""
import sys

from PIL import Image

src, width, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
with Image.open(src) as im:
    height = round(im.height * width / im.width)
    if im.format == "JPEG":
        im.draft("RGB", (width, height))
    im = im.convert("RGB").resize((width, height), Image.LANCZOS)
    im.save(out, quality=80)
