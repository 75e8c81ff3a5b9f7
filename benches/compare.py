#!/usr/bin/env python3
"""Times `picops process` beside vipsthumbnail (VIPS_CONCURRENCY=1), ImageMagick `convert`
(one thread) and Pillow (with draft), whole process each, same machine, same run, with
hyperfine; checks SSIM of picops' output against libvips'; writes the table into
benches/README.md between the RESULTS markers.

Run: benches/compare.py  (needs a release build: cargo build --release -p picops)
"""
import json
import os
import pathlib
import platform
import re
import shutil
import subprocess
import sys
import tempfile

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent
from common import write_section  # noqa: E402
from helpers import IMAGES, ssim  # noqa: E402

from PIL import Image  # noqa: E402

TARGET = pathlib.Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
PICOPS = TARGET / "release" / "picops"
PHOTOS = IMAGES / "photos"
CASES = [
    ("safelanding-5120x2880.jpg", 1000, "jpg"),
    ("autumn-2560x1600.jpg", 1000, "jpg"),
    ("path-2560x1600.jpg", 1000, "jpg"),
    ("safelanding-5120x2880.jpg", 400, "webp"),
    ("milkyway-1080x1920.png", 400, "webp"),
    ("safelanding-5120x2880.webp", 1000, "jpg"),
]
# Inputs made at run time from a test photo (tests/images includes no large WebP).
DERIVED = {"safelanding-5120x2880.webp": ("safelanding-5120x2880.jpg", {"quality": 80})}
RUNS = int(os.environ.get("BENCH_RUNS", "10"))


# Every tool is pinned to one core: "one thread each" holds even for libraries that start
# helper threads (libvips' background workers, jpeg-decoder's per-component IDCT threads).
PIN = "taskset -c 0 " if shutil.which("taskset") else ""


def commands(src, width, fmt, out):
    fmt_rule = "" if fmt == "jpg" else f"/format/{fmt}"
    return {
        "picops": f"{PIN}{PICOPS} process {src} --rule 'imageMogr2/thumbnail/{width}x{fmt_rule}/quality/80!' -o {out}/picops.{fmt}",
        "vipsthumbnail": f"VIPS_CONCURRENCY=1 {PIN}vipsthumbnail {src} --size {width}x -o {out}/vips.{fmt}[Q=80]",
        "imagemagick": f"MAGICK_THREAD_LIMIT=1 {PIN}convert {src} -resize {width}x -quality 80 {out}/magick.{fmt}",
        "pillow": f"{PIN}python3 {HERE}/pillow_thumb.py {src} {width} {out}/pillow.{fmt}",
    }


def version(cmd):
    try:
        return subprocess.run(cmd, shell=True, capture_output=True, text=True).stdout.strip().splitlines()[0]
    except Exception:
        return "?"


def main():
    if not PICOPS.exists():
        sys.exit(f"{PICOPS} missing: cargo build --release -p picops")
    rows = []
    with tempfile.TemporaryDirectory() as out:
        for name, width, fmt in CASES:
            src = PHOTOS / name
            if name in DERIVED:
                origin, options = DERIVED[name]
                src = pathlib.Path(out) / name
                if not src.exists():
                    with Image.open(PHOTOS / origin) as im:
                        im.save(src, **options)
            cmds = commands(src, width, fmt, out)
            js = pathlib.Path(out) / "h.json"
            subprocess.run(
                ["hyperfine", "--warmup", "1", "--runs", str(RUNS), "--export-json", str(js), *cmds.values()],
                check=True,
                capture_output=True,
            )
            res = json.loads(js.read_text())["results"]
            times = {tool: r["median"] * 1000 for tool, r in zip(cmds, res)}
            with Image.open(f"{out}/picops.{fmt}") as a, Image.open(f"{out}/vips.{fmt}") as b:
                note = ""
                if a.size != b.size:
                    # libvips rounded a half pixel the other way: resizing either output would
                    # blur the comparison, so picops' lossless output is compared with Pillow's
                    # full-resolution Lanczos resize of the source, at picops' size.
                    note = " ¹"
                    subprocess.run(f"{PICOPS} process {src} --rule 'imageMogr2/thumbnail/{width}x/format/png' "
                                   f"-o {out}/picops.png", shell=True, check=True, capture_output=True)
                    a = Image.open(f"{out}/picops.png")
                    with Image.open(src) as full:
                        b = full.convert("RGB").resize(a.size, Image.LANCZOS)
                s = ssim(a.convert("L"), b.convert("L"))
            rows.append((f"{name} → {width}px {fmt.upper()}", times, s, note))
            print(rows[-1], flush=True)

    cpu = re.sub(r"\s+", " ", next((l.split(":", 1)[1] for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")).strip()
    lines = [
        f"Machine: {cpu}, {os.cpu_count()} cores, {platform.system()} {platform.release()}. "
        f"Median of {RUNS} runs (hyperfine), whole process, each pinned to one core"
        f"{' (taskset -c 0)' if PIN else ''}.",
        f"Versions: {version(f'{PICOPS} --version')}; {version('vips --version')}; "
        f"{version('convert -version')}; Pillow {Image.__version__}.",
        "",
        "| case | picops ms | vipsthumbnail ms | ImageMagick ms | Pillow ms | vips / picops | magick / picops | Pillow / picops | SSIM vs vips |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for case, t, s, note in rows:
        p = t["picops"]
        lines.append(
            f"| {case} | {p:.0f} | {t['vipsthumbnail']:.0f} | {t['imagemagick']:.0f} | {t['pillow']:.0f} | "
            f"{t['vipsthumbnail'] / p:.2f}× | {t['imagemagick'] / p:.2f}× | {t['pillow'] / p:.2f}× | {s:.3f}{note} |"
        )
    if any(note for *_, note in rows):
        lines += ["", "¹ libvips' output is a pixel off in height (a half pixel rounded the other way), so this "
                  "SSIM compares picops' lossless (PNG) output with Pillow's full-resolution Lanczos resize of "
                  "the source at picops' size."]
    lines += ["", "The WebP input is made at run time from the JPEG of the same name (Pillow, quality 80): "
              "the test images (tests/images) include no large WebP."]
    table = "\n".join(lines)
    write_section("RESULTS", table)
    print(table)


if __name__ == "__main__":
    main()
