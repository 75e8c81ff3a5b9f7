"""Shared paths and helpers for the Python suites (independent decoders: Pillow, libvips)."""
import json
import os
import pathlib
import subprocess

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[1]
IMAGES = pathlib.Path(os.environ.get("PICOPS_IMAGES", ROOT / "tests" / "images"))
TARGET = pathlib.Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
BIN = pathlib.Path(os.environ.get("PICOPS_BIN", TARGET / "debug" / "picops"))


def picops(*args, check=False):
    """Run the picops binary; returns CompletedProcess with text output."""
    p = subprocess.run([str(BIN), *map(str, args)], capture_output=True, text=True, timeout=300)
    if check and p.returncode != 0:
        raise AssertionError(f"picops {args} failed: {p.stderr}")
    return p


def info(path):
    return json.loads(picops("info", path, check=True).stdout)


def process(path, rule, out):
    return json.loads(picops("process", path, "--rule", rule, "-o", out, check=True).stdout)


def ssim(a, b):
    """Mean SSIM of two equally sized 8-bit grey images (7x7 uniform windows)."""
    from numpy.lib.stride_tricks import sliding_window_view

    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2

    def filt(x):
        return sliding_window_view(x, (7, 7)).mean(axis=(-1, -2))

    ma, mb = filt(a), filt(b)
    saa = filt(a * a) - ma**2
    sbb = filt(b * b) - mb**2
    sab = filt(a * b) - ma * mb
    s = ((2 * ma * mb + c1) * (2 * sab + c2)) / ((ma**2 + mb**2 + c1) * (saa + sbb + c2))
    return float(s.mean())


