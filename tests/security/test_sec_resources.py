"""Resource exhaustion by anyone who may read a public bucket: outputs larger than the memory
budget, processing that outlives its deadline (and keeps a worker), request headers trickled
past the read-ahead limit, and anonymous processing requests using up a bucket's rate. Each
runs on a dedicated server (started through e2e's start_server, so on the same upstream)."""
import io
import select
import socket
import time
import uuid

import pytest
import requests
from PIL import Image

from e2e.server import PUBLIC_BUCKET
from e2e.sigs import signed
from security.secutil import MARK, dedicated, png, refused, serve_help, stop, uid, vm_mib


def gif(frames=3, size=(4, 4)):
    colours = [(255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 0)]
    imgs = [Image.new("RGB", size, colours[i % 4]) for i in range(frames)]
    buf = io.BytesIO()
    imgs[0].save(buf, "GIF", save_all=True, append_images=imgs[1:], duration=100, loop=0)
    return buf.getvalue()


def put(srv, key, body):
    r = signed("PUT", f"{srv.endpoint}/{PUBLIC_BUCKET}/{key}", data=body)
    assert r.status_code == 200, r.text


# --- 6. output memory ------------------------------------------------------------------------

BUDGET_MIB = 256


def test_output_larger_than_memory_budget(tmp_path):
    """A 4x4, 3-frame GIF asked for at 9999x9999 would need ~1.2 GB of output frames: refused
    400 up front; the server's peak RSS stays near its budget."""
    srv = dedicated(tmp_path, ["--memory-budget", str(BUDGET_MIB << 20)])
    try:
        key = f"anim-{uid()}.gif"
        data = gif()
        assert Image.open(io.BytesIO(data)).n_frames == 3
        put(srv, key, data)
        url = f"{srv.endpoint}/{PUBLIC_BUCKET}/{key}"
        # Control: a small thumbnail of the same, anonymously.
        ok = requests.get(f"{url}?imageMogr2/thumbnail/200x200", timeout=60)
        assert ok.status_code == 200, ok.text
        assert ok.headers["Content-Type"] == "image/gif"
        im = Image.open(io.BytesIO(ok.content))
        assert im.format == "GIF" and max(im.size) <= 200
        t0 = time.time()
        r = requests.get(f"{url}?imageMogr2/thumbnail/9999x9999!/format/gif", timeout=180)
        took = time.time() - t0
        refused(r, 400)
        peak = vm_mib(srv.proc.pid, "VmHWM:")
        print(f"refused in {took:.1f} s; peak RSS {peak} MiB")
        assert peak < BUDGET_MIB + 300, f"peak RSS {peak} MiB with a {BUDGET_MIB} MiB budget"
    finally:
        stop(srv)


def test_fetched_objects_and_watermarks_count_in_the_budget(tmp_path):
    """Processing on GET holds the stored object (and any watermark image) from its first byte:
    many concurrent anonymous requests for a 12 MB picture with a 5 MB mark wait for the budget
    instead of each holding ~17 MB beside it."""
    import concurrent.futures
    import base64
    import random

    budget = 64
    srv = dedicated(tmp_path, ["--memory-budget", str(budget << 20), "--workers", "1"])
    try:
        rnd = random.Random(7)
        noise = lambda side: Image.frombytes("RGB", (side, side), rnd.randbytes(side * side * 3))
        buf = io.BytesIO()
        noise(2000).save(buf, "PNG", compress_level=1)
        big = buf.getvalue()
        buf = io.BytesIO()
        noise(1290).save(buf, "PNG", compress_level=1)
        mark = buf.getvalue()
        assert len(big) > 11_000_000 and len(mark) > 4_500_000
        key, mark_key = f"big-{uid()}.png", f"mark-{uid()}.png"
        put(srv, key, big)
        put(srv, mark_key, mark)
        url = f"http://127.0.0.1:{srv.port}/{PUBLIC_BUCKET}/{mark_key}"
        b64 = base64.urlsafe_b64encode(url.encode()).decode().rstrip("=")
        # The uploads themselves pass through the (in-process, for the embedded store) store.
        base = vm_mib(srv.proc.pid, "VmHWM:")

        def get(i):
            rule = f"imageMogr2/thumbnail/{40 + i}x|watermark/1/image/{b64}"
            return requests.get(f"{srv.endpoint}/{PUBLIC_BUCKET}/{key}?{rule}", timeout=120)

        with concurrent.futures.ThreadPoolExecutor(16) as pool:
            answers = list(pool.map(get, range(16)))
        codes = sorted(r.status_code for r in answers)
        assert set(codes) <= {200, 503}, codes
        assert 200 in codes, codes
        peak = vm_mib(srv.proc.pid, "VmHWM:")
        print(f"answers {codes}; peak RSS {base} MiB before, {peak} MiB after")
        # 16 requests holding their object and mark outside the budget would need ~270 MB.
        assert peak < base + budget + 150, f"peak RSS {peak} MiB with a {budget} MiB budget"
    finally:
        stop(srv)


# --- 7. processing deadline ----------------------------------------------------------------

TIMEOUT = 2


def test_processing_deadline_frees_the_worker(tmp_path):
    """One worker, a 2 s processing deadline: a slow rule answers an error once the deadline
    passes, and the worker is free for the next request at once (the work was stopped, not
    abandoned while it kept running)."""
    srv = dedicated(tmp_path, ["--workers", "1"], config=f"[limits]\nprocessing_timeout_secs = {TIMEOUT}\n")
    try:
        tiny, small = f"tiny-{uid()}.png", f"mark-{uid()}.png"
        put(srv, tiny, png((1, 1)))
        put(srv, small, MARK)
        base = f"{srv.endpoint}/{PUBLIC_BUCKET}"
        stopped = None
        for size in ("9999x9999", "4000x4000"):
            t0 = time.time()
            r = requests.get(f"{base}/{tiny}?imageMogr2/thumbnail/{size}!/blur/50x50", timeout=TIMEOUT + 60)
            took = time.time() - t0
            print(f"{size}: {r.status_code} in {took:.1f} s")
            assert r.status_code != 200, f"{size} was processed within {took:.1f} s: the test needs a slower rule"
            assert took <= TIMEOUT + 5, f"answered after {took:.1f} s with a {TIMEOUT} s deadline"
            refused(r, r.status_code)
            if r.status_code >= 500 or took >= TIMEOUT - 0.5:
                stopped = size
                break
            # Refused up front (e.g. by the memory budget): try a size that fits the budget.
            assert r.status_code == 400, r.text
        assert stopped, "no rule ran into the deadline"
        t0 = time.time()
        r = requests.get(f"{base}/{small}?imageMogr2/thumbnail/8x", timeout=60)
        took = time.time() - t0
        assert r.status_code == 200, r.text
        assert Image.open(io.BytesIO(r.content)).size == (8, 8)
        assert took <= 5, f"the only worker was still busy: the next request took {took:.1f} s"
    finally:
        stop(srv)


# --- 8. header deadline ----------------------------------------------------------------------

HEADER_TIMEOUT = 2


def trickle_until_closed(s, t0, pause):
    """Send a byte every `pause` seconds until the server closes (or the header deadline and
    3 s more have passed): (seconds from `t0` to the close or None, what the server sent)."""
    answer = b""
    while time.time() < t0 + HEADER_TIMEOUT + 3:
        ready, _, _ = select.select([s], [], [], pause)
        if ready:
            try:
                data = s.recv(65536)
            except OSError:
                data = b""
            if not data:
                return time.time() - t0, answer
            answer += data
            continue
        try:
            s.send(b"a")
        except OSError:
            return time.time() - t0, answer
    return None, answer


def test_header_trickled_after_a_large_start_is_cut_off(tmp_path):
    """A request header sent as 70 KB at once (past picops' 64 KiB read-ahead) and then one
    byte a second is still bound by the header deadline: the connection is closed."""
    srv = dedicated(tmp_path, config=f"[limits]\nheader_timeout_secs = {HEADER_TIMEOUT}\n")
    s = socket.create_connection(("127.0.0.1", srv.port), timeout=5)
    try:
        lines = [f"GET /{PUBLIC_BUCKET}/pub.txt HTTP/1.1\r\n", "Host: 127.0.0.1\r\n"]
        lines += [f"X-Pad-{i}: {'a' * 1750}\r\n" for i in range(40)]
        head = "".join(lines).encode()
        assert len(head) > 70_000
        t0 = time.time()
        s.sendall(head)
        closed, answer = trickle_until_closed(s, t0, pause=1.0)
        assert closed is not None, f"still open {time.time() - t0:.1f} s after the header started; got {answer[:200]!r}"
        assert not answer.startswith(b"HTTP/1.1 200"), answer[:300]
        print(f"closed after {closed:.1f} s: {answer[:60]!r}")
    finally:
        s.close()
        stop(srv)


def test_header_trickled_on_a_kept_alive_connection_is_cut_off(tmp_path):
    """After requests answered on a kept-alive connection (the control: each is answered on
    the same connection), the next request's header trickled a byte at a time is still bound
    by the header deadline."""
    srv = dedicated(tmp_path, config=f"[limits]\nheader_timeout_secs = {HEADER_TIMEOUT}\n")
    key = f"ka-{uid()}.txt"
    put(srv, key, b"kept alive")
    s = socket.create_connection(("127.0.0.1", srv.port), timeout=5)
    try:
        req = f"GET /{PUBLIC_BUCKET}/{key} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode()
        for i in range(3):
            s.sendall(req)
            data = b""
            while b"kept alive" not in data:
                chunk = s.recv(65536)
                assert chunk, f"connection closed before answer {i}: {data[:200]!r}"
                data += chunk
            assert data.startswith(b"HTTP/1.1 200"), data[:200]
        s.sendall(b"GET /" + PUBLIC_BUCKET.encode() + b"/x HTTP/1.1\r\nX-a: ")
        t0 = time.time()
        closed, answer = trickle_until_closed(s, t0, pause=0.5)
        assert closed is not None, f"still open {time.time() - t0:.1f} s after the header started"
        assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
    finally:
        s.close()
        stop(srv)


def test_control_large_header_sent_at_once_is_answered(tmp_path):
    srv = dedicated(tmp_path, config=f"[limits]\nheader_timeout_secs = {HEADER_TIMEOUT}\n")
    try:
        put(srv, "pub.txt", b"public text")
        r = requests.get(f"{srv.endpoint}/{PUBLIC_BUCKET}/pub.txt",
                         headers={f"X-Pad-{i}": "a" * 1000 for i in range(20)}, timeout=30)
        assert r.status_code == 200 and r.content == b"public text", r.text
    finally:
        stop(srv)


# --- 9. anonymous processing rate --------------------------------------------------------------

def test_anonymous_requests_do_not_use_up_the_bucket_rate(tmp_path):
    if "--anonymous-rate-limit" not in serve_help():
        pytest.skip("this picops has no --anonymous-rate-limit flag (`picops serve --help`)")
    srv = dedicated(tmp_path, ["--rate-limit", "5", "--anonymous-rate-limit", "3"])
    try:
        key = f"mark-{uid()}.png"
        put(srv, key, MARK)
        statuses = []
        with requests.Session() as session:
            for i in range(30):
                url = f"{srv.endpoint}/{PUBLIC_BUCKET}/missing-{i}-{uuid.uuid4().hex[:6]}.jpg?imageMogr2/thumbnail/10x"
                statuses.append(session.get(url, timeout=30).status_code)
        assert set(statuses) <= {404, 503}, statuses
        r = signed("GET", f"{srv.endpoint}/{PUBLIC_BUCKET}/{key}?imageMogr2/thumbnail/10x")
        assert r.status_code == 200, f"{r.status_code} {r.text} after anonymous {statuses}"
        assert Image.open(io.BytesIO(r.content)).size == (10, 10)
        # The same with anonymous requests that do process (distinct rules: no cached result).
        statuses = []
        with requests.Session() as session:
            for i in range(30):
                url = f"{srv.endpoint}/{PUBLIC_BUCKET}/{key}?imageMogr2/thumbnail/{20 + i}x"
                statuses.append(session.get(url, timeout=30).status_code)
        assert set(statuses) <= {200, 503}, statuses
        assert 503 in statuses, f"30 anonymous processing requests at a 3/s limit: {statuses}"
        r = signed("GET", f"{srv.endpoint}/{PUBLIC_BUCKET}/{key}?imageMogr2/thumbnail/12x")
        assert r.status_code == 200, f"{r.status_code} {r.text} after anonymous {statuses}"
        assert Image.open(io.BytesIO(r.content)).size == (12, 12)
    finally:
        stop(srv)
