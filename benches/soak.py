"""Soak: a bounded mixed load on one `picops serve` (release, embedded store) for
SOAK_SECONDS (default 600) with picops' RSS sampled every 5 s. The mix, from 8 client
threads: processed uploads (2 rules), passthrough PUT and GET of 64 KiB objects, and bad
requests (an unknown rule parameter, an unsigned PUT, a decompression bomb). Reports requests
by kind and status, RSS at start/end, its peak, and the slope of a line fitted to the samples
of the second half (no growth trend means a slope near zero). Writes the `soak` section of
benches/README.md.

    python3 benches/soak.py            # needs the release build (cargo build --release -p picops)
"""
import json
import os
import random
import threading
import time
import uuid
from collections import Counter

from common import scratch_dir, write_section
from e2e.server import start_server  # noqa: E402
from e2e.sigs import signed  # noqa: E402
from helpers import IMAGES  # noqa: E402

import requests  # noqa: E402

SECONDS = float(os.environ.get("SOAK_SECONDS", 600))
THREADS = 8
PHOTO = (IMAGES / "photos" / "autumn-2560x1600.jpg").read_bytes()
BOMB = (IMAGES / "edge" / "bomb_20000x20000.png").read_bytes()
BLOB = os.urandom(64 * 1024)
GOOD = json.dumps({"rules": [{"fileid": "t.jpg", "rule": "imageMogr2/thumbnail/400x"},
                             {"fileid": "t.webp", "rule": "imageMogr2/thumbnail/200x/format/webp"}]})
BAD = json.dumps({"rules": [{"fileid": "t.jpg", "rule": "imageMogr2/thumbnail/400x/bogus/1"}]})


def rss_mib(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def main():
    srv = start_server(scratch_dir(), ["--rate-limit", "0"])
    bucket = f"soak-{uuid.uuid4().hex[:8]}"
    assert signed("PUT", f"{srv.endpoint}/{bucket}").status_code == 200
    assert signed("PUT", f"{srv.endpoint}/{bucket}/blob", data=BLOB).status_code == 200
    counts = Counter()
    lock = threading.Lock()
    stop = time.time() + SECONDS
    samples = []

    def worker(seed):
        rng = random.Random(seed)
        session = requests.Session()
        while time.time() < stop:
            kind = rng.choices(["process", "put", "get", "bad-rule", "unsigned", "bomb"],
                               weights=[3, 4, 6, 1, 1, 1])[0]
            key = f"s/{uuid.uuid4().hex}"
            if kind == "process":
                r = signed("PUT", f"{srv.endpoint}/{bucket}/{key}/a.jpg", headers={"Pic-Operations": GOOD},
                           data=PHOTO, session=session)
            elif kind == "put":
                r = signed("PUT", f"{srv.endpoint}/{bucket}/{key}", data=BLOB, session=session)
            elif kind == "get":
                r = signed("GET", f"{srv.endpoint}/{bucket}/blob", session=session)
            elif kind == "bad-rule":
                r = signed("PUT", f"{srv.endpoint}/{bucket}/{key}/a.jpg", headers={"Pic-Operations": BAD},
                           data=PHOTO, session=session)
            elif kind == "unsigned":
                r = session.put(f"{srv.endpoint}/{bucket}/{key}", data=b"x", timeout=60)
            else:
                r = signed("PUT", f"{srv.endpoint}/{bucket}/{key}/b.png", headers={"Pic-Operations": GOOD},
                           data=BOMB, session=session)
            with lock:
                counts[(kind, r.status_code)] += 1

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(THREADS)]
    t0 = time.time()
    for t in threads:
        t.start()
    while any(t.is_alive() for t in threads):
        samples.append((time.time() - t0, rss_mib(srv.proc.pid)))
        time.sleep(5)
    for t in threads:
        t.join()
    alive = srv.proc.poll() is None
    srv.proc.terminate()
    srv.proc.wait(timeout=60)

    second_half = [(t, r) for t, r in samples if t >= SECONDS / 2]
    n = len(second_half)
    mean_t = sum(t for t, _ in second_half) / n
    mean_r = sum(r for _, r in second_half) / n
    slope = sum((t - mean_t) * (r - mean_r) for t, r in second_half) / max(1e-9, sum((t - mean_t) ** 2 for t, _ in second_half))
    expected = {"process": 200, "put": 200, "get": 200, "bad-rule": 400, "unsigned": 403, "bomb": 400}
    unexpected = {f"{k} {s}": c for (k, s), c in counts.items() if expected[k] != s}
    total = sum(counts.values())
    lines = [
        f"{SECONDS / 60:.0f} minutes, {THREADS} client threads, release build, embedded store, "
        f"{os.cpu_count()} cores; picops {'still running' if alive else 'DIED'} at the end.",
        "",
        "| request | status | count |",
        "|---|---|---|",
        *[f"| {k} | {s} | {c} |" for (k, s), c in sorted(counts.items())],
        "",
        f"- requests: {total} ({total / SECONDS:.1f}/s); unexpected statuses: {unexpected or 'none'}",
        f"- RSS: start {samples[0][1]:.0f} MiB, end {samples[-1][1]:.0f} MiB, peak {max(r for _, r in samples):.0f} MiB "
        f"({len(samples)} samples)",
        f"- trend over the second half: {slope * 60:+.2f} MiB/min",
    ]
    text = "\n".join(lines)
    print(text)
    write_section("soak", text)


if __name__ == "__main__":
    main()
