#!/usr/bin/env python3
"""Where `picops serve` spends its CPU under the end-to-end load: `perf record` (cpu-clock
sampling, so it works where hardware counters do not) on the server while load.py's
"PUT + 3 rules" workload runs at concurrency 8, then the samples grouped by component.
Writes the table into benches/README.md between the PROFILE markers.

Run: benches/profile.py  (embedded store), or with PICOPS_E2E_UPSTREAM etc. set (Garage).
Needs `perf` (Debian: linux-perf) and the profiling build (release with symbols):
`cargo build --profile profiling -p picops`.
"""
import os
import pathlib

# The release build is stripped; perf needs the profiling profile's symbols.
os.environ.setdefault(
    "PICOPS_BIN",
    str(
        pathlib.Path(os.environ.get("CARGO_TARGET_DIR", pathlib.Path(__file__).resolve().parents[1] / "target"))
        / "profiling"
        / "picops"
    ),
)
import re
import signal
import subprocess
import uuid

from common import write_section, scratch_dir

import requests  # noqa: E402

from e2e.server import start_server  # noqa: E402
from e2e.sigs import signed  # noqa: E402
from load import HEADER, PHOTO, run  # noqa: E402

SECONDS = float(os.environ.get("LOAD_SECONDS", "15"))
CONCURRENCY = int(os.environ.get("PROFILE_CONCURRENCY", "8"))

# First match wins; the patterns are matched against "dso symbol".
GROUPS = [
    ("JPEG decode (picops' shrink-on-load)", r"jpeg_scaled"),
    ("JPEG decode (zune-jpeg / jpeg-decoder)", r"zune_jpeg|jpeg_decoder"),
    ("resize (fast_image_resize)", r"fast_image_resize"),
    ("JPEG encode (jpeg-encoder)", r"jpeg_encoder"),
    # libwebp's encoder functions are mostly named after what they compute (no prefix).
    ("WebP encode (libwebp)", r"WebP|VP8|webp|Vp8|_SSE2|_SSE41|PickBest|Residual|Quantize|Disto|"
                              r"[FI]Transform|CollectHistogram|ImportYUVA|Intra|TrueMotion"),
    # The client's body is hashed once by picops, and writes to the store are signed with
    # the hash already checked.
    ("SHA-256 / HMAC (body and signature checks)", r"sha2|sha256|Sha256|hmac|compress256"),
    ("memcpy / memset", r"__mem(move|cpy|set)"),
    ("allocator", r"malloc|_int_free|free\b|cfree|_int_malloc|realloc|calloc"),
    ("kernel: page faults", r"\[k\].*(page|fault|folio|clear_page|lru|memcg|pte)"),
    ("kernel: network, scheduling, syscalls", r"\[k\]"),
    ("HTTP, TLS-free I/O, runtime (pingora, hyper, tokio, aws-sdk)", r"pingora|hyper|tokio|h2::|aws_|http|bytes::|mio"),
]


def main():
    srv = start_server(scratch_dir(), ["--workers", str(os.cpu_count())])
    bucket = f"prof-{uuid.uuid4().hex[:8]}"
    session = requests.Session()
    session.mount("http://", requests.adapters.HTTPAdapter(pool_maxsize=64))
    signed("PUT", f"{srv.endpoint}/{bucket}", session=session).raise_for_status()

    def picops_put():
        r = signed("PUT", f"{srv.endpoint}/{bucket}/p/{uuid.uuid4().hex}.jpg", data=PHOTO,
                   headers={"Pic-Operations": HEADER}, session=session)
        if r.status_code != 200:
            raise RuntimeError(r.text)

    data = scratch_dir() / "perf.data"
    perf = subprocess.Popen(["perf", "record", "-e", "cpu-clock", "-F", "999", "-p", str(srv.proc.pid),
                             "-o", str(data)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        rate, p50, p99, errors = run(CONCURRENCY, picops_put)
    finally:
        perf.send_signal(signal.SIGINT)
        perf.wait(timeout=60)
        srv.proc.terminate()
        srv.proc.wait(timeout=30)
    report = subprocess.run(["perf", "report", "-i", str(data), "--no-children", "--sort", "dso,symbol",
                             "--stdio", "--percent-limit", "0"], capture_output=True, text=True).stdout
    totals = {name: 0.0 for name, _ in GROUPS}
    totals["other"] = 0.0
    top, other = [], []
    for line in report.splitlines():
        m = re.match(r"\s*([\d.]+)%\s+(\S+)\s+(\[[.k]\])\s+(.*)", line)
        if not m:
            continue
        share, dso, kind, symbol = float(m.group(1)), m.group(2), m.group(3), m.group(4).strip()
        text = f"{dso} {kind} {symbol}"
        group = next((name for name, pattern in GROUPS if re.search(pattern, text)), "other")
        totals[group] += share
        top.append((share, symbol[:90]))
        if group == "other":
            other.append((share, text[:120]))
    store = ("Garage" if os.environ.get("PICOPS_E2E_UPSTREAM")
             else "the embedded store (Garage, a separate process: its CPU is not in these samples)")
    lines = [f"`perf record -e cpu-clock -F 999` on `picops serve` (release) for {SECONDS:.0f} s of PUT + 3 rules "
             f"at concurrency {CONCURRENCY} against {store}: {rate:.1f} uploads/s, p50 {p50:.0f} ms, "
             f"{errors} errors. Share of picops' own CPU samples:", "",
             "| component | share |", "|---|---:|"]
    for name, share in sorted(totals.items(), key=lambda kv: -kv[1]):
        if share >= 0.05:
            lines.append(f"| {name} | {share:.1f} % |")
    lines += ["", "Hottest symbols:", "", "| share | symbol |", "|---:|---|"]
    for share, symbol in sorted(top, reverse=True)[:10]:
        lines.append(f"| {share:.1f} % | `{symbol}` |")
    table = "\n".join(lines)
    print(table)
    print("\nLargest in 'other':")
    for share, text in sorted(other, reverse=True)[:15]:
        print(f"  {share:5.2f} %  {text}")
    write_section("PROFILE-GARAGE" if os.environ.get("PICOPS_E2E_UPSTREAM") else "PROFILE", table)


if __name__ == "__main__":
    main()
