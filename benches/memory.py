#!/usr/bin/env python3
"""Memory under pressure: 64 concurrent PUTs of a ~20 MB JPEG with Pic-Operations against
`picops serve` (release, embedded store, default 768 MiB budget). Reports picops' peak RSS
(VmHWM) and how many uploads were answered 200 and 503 SlowDown. Writes the result into
benches/README.md between the MEMORY markers.
"""
import io
import json
import os
import uuid
from concurrent.futures import ThreadPoolExecutor

from common import write_section, scratch_dir

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from e2e.server import start_server  # noqa: E402
from e2e.sigs import signed  # noqa: E402

UPLOADS = int(os.environ.get("MEM_UPLOADS", "64"))


def big_jpeg():
    # Noise compresses badly: ~20 MB at quality 95 for 6000x4000.
    rng = np.random.default_rng(7)
    arr = rng.integers(0, 256, (4000, 6000, 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, "JPEG", quality=92)
    return buf.getvalue()


def vmhwm(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmHWM"):
            return int(line.split()[1]) * 1024
    return 0


def main():
    body = big_jpeg()
    srv = start_server(scratch_dir(), ["--max-body", str(32 << 20)])
    try:
        bucket = f"mem-{uuid.uuid4().hex[:8]}"
        signed("PUT", f"{srv.endpoint}/{bucket}")
        header = json.dumps({"rules": [{"fileid": "t.jpg", "rule": "imageMogr2/thumbnail/1000x"},
                                       {"fileid": "w.webp", "rule": "imageMogr2/thumbnail/400x/format/webp"}]})

        def one(i):
            r = signed("PUT", f"{srv.endpoint}/{bucket}/m/{i}.jpg", data=body, headers={"Pic-Operations": header}, timeout=300)
            return r.status_code

        with ThreadPoolExecutor(UPLOADS) as pool:
            codes = list(pool.map(one, range(UPLOADS)))
        peak = vmhwm(srv.proc.pid)
        alive = srv.proc.poll() is None
    finally:
        srv.proc.terminate()
        srv.proc.wait(timeout=60)
    counts = {c: codes.count(c) for c in sorted(set(codes))}
    text = (f"{UPLOADS} concurrent PUTs of a {len(body) / 1e6:.1f} MB 6000×4000 JPEG with 2 rules, default 768 MiB "
            f"budget, 2 s admission wait: picops peak RSS {peak / 2**20:.0f} MiB; answers {counts}; "
            f"server {'still running' if alive else 'DIED'}.")
    print(text)
    write_section("MEMORY", text)


if __name__ == "__main__":
    main()
