#!/usr/bin/env python3
"""End-to-end load: PUT of the 4.2 MB safelanding-5120x2880.jpg with 3 rules through
`picops serve` (release build) at several concurrencies, beside
  - the upload-only ceiling: the same four PUTs (original + the three results' bytes) with no
    processing, straight to the same store through picops' passthrough, and
  - the pipeline a Python user would write: boto3 upload of the original, Pillow (draft) for the
    three outputs, three boto3 uploads, in as many processes as cores.
Same machine, same run. Writes the table into benches/README.md between the LOAD markers.

Run: benches/load.py  (embedded store), or with PICOPS_E2E_UPSTREAM etc. set (e.g. Garage).
"""
import io
import json
import os
import time
import uuid
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

from common import client, write_section, scratch_dir, cpu_seconds

import requests  # noqa: E402
from PIL import Image  # noqa: E402

from e2e.server import start_server  # noqa: E402
from e2e.sigs import signed  # noqa: E402
from helpers import IMAGES  # noqa: E402

PHOTO = (IMAGES / "photos" / "safelanding-5120x2880.jpg").read_bytes()
RULES = [
    {"fileid": "t1000.jpg", "rule": "imageMogr2/thumbnail/1000x"},
    {"fileid": "t400.webp", "rule": "imageMogr2/thumbnail/400x/format/webp"},
    {"fileid": "sq300.jpg", "rule": "imageView2/1/w/300/h/300"},
]
HEADER = json.dumps({"rules": RULES})
CONCURRENCY = [int(c) for c in os.environ.get("LOAD_CONCURRENCY", "1,8,32").split(",")]
SECONDS = float(os.environ.get("LOAD_SECONDS", "15"))
ROUNDS = int(os.environ.get("LOAD_ROUNDS", "3"))


def run(concurrency, one):
    """Call `one()` from `concurrency` threads for SECONDS; returns (uploads/s, p50 ms, p99 ms, errors)."""
    lat, errors, elapsed = run_raw(concurrency, one, SECONDS)
    return summary(lat, errors, elapsed)


def summary(lat, errors, elapsed):
    """(calls/s, p50 ms, p99 ms, errors) from the latencies (s) of the calls that succeeded."""
    lat = sorted(lat)
    q = lambda p: lat[min(len(lat) - 1, int(p * len(lat)))] * 1000 if lat else float("nan")  # noqa: E731
    return len(lat) / elapsed, q(0.5), q(0.99), errors


def run_raw(concurrency, one, seconds):
    """Call `one()` from `concurrency` threads for `seconds`; returns (latencies in s, errors,
    elapsed s)."""
    lat, errors = [], 0
    stop = time.time() + seconds

    def worker():
        nonlocal errors
        out = []
        while time.time() < stop:
            t0 = time.perf_counter()
            try:
                one()
                out.append(time.perf_counter() - t0)
            except Exception:
                errors += 1
        return out

    t0 = time.time()
    with ThreadPoolExecutor(concurrency) as pool:
        for r in [pool.submit(worker) for _ in range(concurrency)]:
            lat += r.result()
    return lat, errors, time.time() - t0


def pillow_outputs(data):
    outs = []
    for width, fmt in ((1000, "JPEG"), (400, "WEBP"), (300, "JPEG")):
        with Image.open(io.BytesIO(data)) as im:
            im.draft("RGB", (width, width))
            im = im.convert("RGB")
            if width == 300:  # imageView2/1: cover 300x300 then centre-crop
                s = max(300 / im.width, 300 / im.height)
                im = im.resize((round(im.width * s), round(im.height * s)), Image.LANCZOS)
                x, y = (im.width - 300) // 2, (im.height - 300) // 2
                im = im.crop((x, y, x + 300, y + 300))
            else:
                im = im.resize((width, round(im.height * width / im.width)), Image.LANCZOS)
            buf = io.BytesIO()
            im.save(buf, fmt, quality=80)
            outs.append(buf.getvalue())
    return outs


def python_pipeline(args):
    endpoint, bucket = args
    s3 = client(endpoint)
    base = f"py/{uuid.uuid4().hex}"
    t0 = time.perf_counter()
    s3.put_object(Bucket=bucket, Key=f"{base}/a.jpg", Body=PHOTO)
    for i, body in enumerate(pillow_outputs(PHOTO)):
        s3.put_object(Bucket=bucket, Key=f"{base}/o{i}", Body=body)
    return time.perf_counter() - t0


def main():
    srv = start_server(scratch_dir(), ["--workers", str(os.cpu_count())])
    bucket = f"bench-{uuid.uuid4().hex[:8]}"
    s3 = client(srv.endpoint)
    s3.create_bucket(Bucket=bucket)
    session = requests.Session()
    adapter = requests.adapters.HTTPAdapter(pool_maxsize=64)
    session.mount("http://", adapter)
    small = pillow_outputs(PHOTO)
    pid = srv.proc.pid

    def picops_put():
        r = signed("PUT", f"{srv.endpoint}/{bucket}/p/{uuid.uuid4().hex}.jpg", data=PHOTO,
                   headers={"Pic-Operations": HEADER}, session=session)
        if r.status_code != 200:
            raise RuntimeError(r.text)

    def upload_only():
        base = f"u/{uuid.uuid4().hex}"
        for i, body in enumerate([PHOTO, *small]):
            r = signed("PUT", f"{srv.endpoint}/{bucket}/{base}/{i}", data=body, session=session)
            if r.status_code != 200:
                raise RuntimeError(r.text)

    # The Python pipeline, in as many processes as cores, each doing uploads back to back.
    n = os.cpu_count()
    pipeline_name = f"boto3 + Pillow pipeline ({n} processes)"

    def pipeline_turn(pool, seconds):
        lat, t0 = [], time.time()
        while time.time() - t0 < seconds:
            lat += list(pool.map(python_pipeline, [(srv.endpoint, bucket)] * n))
        return lat, 0, time.time() - t0

    # Every row runs in ROUNDS turns, the rows taking turns, so that a change in the shared
    # machine's load during the run falls on all of them alike (ratios are the figures).
    rows = {}

    def turn(key, measure):
        before = cpu_seconds(pid)
        lat, errors, elapsed = measure()
        t_lat, t_err, t_elapsed, t_cpu = rows.get(key, ([], 0, 0.0, 0.0))
        rows[key] = (t_lat + lat, t_err + errors, t_elapsed + elapsed, t_cpu + cpu_seconds(pid) - before)

    try:
        with ProcessPoolExecutor(n) as pool:
            for _ in range(ROUNDS):
                for c in CONCURRENCY:
                    turn(("picops PUT + 3 rules", c), lambda: run_raw(c, picops_put, SECONDS / ROUNDS))
                    turn(("upload-only ceiling (4 PUTs)", c), lambda: run_raw(c, upload_only, SECONDS / ROUNDS))
                turn((pipeline_name, n), lambda: pipeline_turn(pool, SECONDS / ROUNDS))
    finally:
        srv.proc.terminate()
        srv.proc.wait(timeout=30)

    store = os.environ.get("PICOPS_E2E_UPSTREAM") and "Garage" or "embedded store"
    lines = [f"Store: {store}; {SECONDS:.0f} s per row in {ROUNDS} turns, the rows taking turns; client and "
             f"server on the same {os.cpu_count()}-core machine.", "",
             "| workload | concurrency | uploads/s | p50 ms | p99 ms | errors | picops CPU ms / upload |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for (name, c), (lat, errors, elapsed, cpu) in rows.items():
        rate, p50, p99, err = summary(lat, errors, elapsed)
        lines.append(f"| {name} | {c} | {rate:.1f} | {p50:.0f} | {p99:.0f} | {err} | "
                     f"{cpu * 1000 / max(1, len(lat)):.0f} |")
    pipeline_rate = summary(*rows[(pipeline_name, n)][:3])[0]
    lines.append("")
    for c in CONCURRENCY:
        rate = summary(*rows[("picops PUT + 3 rules", c)][:3])[0]
        lines.append(f"- concurrency {c}: picops / pipeline {rate / pipeline_rate:.2f}×")
    table = "\n".join(lines)
    print(table)
    marker = "LOAD-GARAGE" if os.environ.get("PICOPS_E2E_UPSTREAM") else "LOAD"
    write_section(marker, table)


if __name__ == "__main__":
    main()
