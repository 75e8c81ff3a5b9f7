"""Operations: /metrics moves by the right amounts, /healthz and /readyz tell the truth,
logs carry the request id, and SIGTERM lets an in-flight upload finish while refusing new
connections."""
import json
import os
import re
import signal
import socket
import threading
import time
import uuid

import boto3
import pytest
import requests
from botocore.config import Config

from e2e.server import KEY, SECRET, free_port, start_server
from e2e.sigs import signed
from helpers import IMAGES

JPEG = (IMAGES / "photos" / "autumn-2560x1600.jpg").read_bytes()
BIG = (IMAGES / "photos" / "safelanding-5120x2880.jpg").read_bytes()
RULES = json.dumps({"rules": [
    {"fileid": "a.jpg", "rule": "imageMogr2/thumbnail/200x"},
    {"fileid": "b.webp", "rule": "imageMogr2/thumbnail/100x/format/webp"},
    {"fileid": "c.jpg", "rule": "imageView2/1/w/50/h/50"},
]})


def scrape(srv):
    text = requests.get(f"{srv.ops}/metrics", timeout=10).text
    values = {}
    for line in text.splitlines():
        if line.startswith("#") or not line.strip():
            continue
        name, value = line.rsplit(" ", 1)
        values[name] = float(value)
    return values


def delta(before, after, name):
    return after.get(name, 0.0) - before.get(name, 0.0)


def client(srv):
    return boto3.client("s3", endpoint_url=srv.endpoint, aws_access_key_id=KEY, aws_secret_access_key=SECRET,
                        region_name="us-east-1",
                        config=Config(s3={"addressing_style": "path"}, signature_version="s3v4",
                                      retries={"max_attempts": 1}))


@pytest.fixture
def own_server(tmp_path):
    srv = start_server(tmp_path)
    yield srv
    if srv.proc.poll() is None:
        srv.proc.terminate()
        srv.proc.wait(timeout=30)


def test_metrics_count_a_known_sequence(own_server, bucket):
    srv = own_server
    s3 = client(srv)
    if not os.environ.get("PICOPS_E2E_UPSTREAM"):
        s3.create_bucket(Bucket=bucket)
    before = scrape(srv)
    key = f"m/{uuid.uuid4().hex[:8]}/src.jpg"
    r = signed("PUT", f"{srv.endpoint}/{bucket}/{key}", headers={"Pic-Operations": RULES}, data=JPEG)
    assert r.status_code == 200, r.text
    got = [s3.get_object(Bucket=bucket, Key=key)["Body"].read() for _ in range(2)]
    with pytest.raises(Exception):
        s3.get_object(Bucket=bucket, Key=key + ".missing")
    assert requests.put(f"{srv.endpoint}/{bucket}/{key}.anon", data=b"x", timeout=10).status_code == 403
    after = scrape(srv)

    req = 'picops_requests_total{{operation="{}",status="{}"}}'
    assert delta(before, after, req.format("PicPutObject", 200)) == 1
    assert delta(before, after, req.format("GetObject", 200)) == 2
    assert delta(before, after, req.format("GetObject", 404)) == 1
    assert delta(before, after, req.format("PutObject", 403)) == 1
    hist = 'picops_processing_seconds_count{{processor="{}"}}'
    assert delta(before, after, hist.format("decode")) == 1
    assert delta(before, after, hist.format("imageMogr2")) == 2
    assert delta(before, after, hist.format("imageView2")) == 1
    assert delta(before, after, "picops_bytes_in_total") >= len(JPEG)
    assert delta(before, after, "picops_bytes_out_total") >= sum(len(g) for g in got)
    # Gauges: a request leaves them when its context is dropped, just after its answer is
    # written, so give the last one a moment.
    for _ in range(50):
        gauges = scrape(srv)
        if gauges["picops_requests_in_flight"] == 0:
            break
        time.sleep(0.02)
    assert gauges["picops_buffered_body_bytes"] == 0
    assert gauges["picops_requests_in_flight"] == 0
    assert delta(before, after, 'picops_upstream_errors_total{kind="unreachable"}') == 0


def test_health_and_readiness(own_server, tmp_path):
    assert requests.get(f"{own_server.ops}/healthz", timeout=10).status_code == 200
    r = requests.get(f"{own_server.ops}/readyz", timeout=10)
    assert r.status_code == 200, r.text
    # An upstream nobody listens on: alive, not ready.
    dead = start_server(tmp_path / "dead", ["--upstream", f"http://127.0.0.1:{free_port()}",
                                            "--upstream-access-key", "x", "--upstream-secret-key", "y"])
    try:
        assert requests.get(f"{dead.ops}/healthz", timeout=10).status_code == 200
        r = requests.get(f"{dead.ops}/readyz", timeout=10)
        assert r.status_code == 503 and "not reachable" in r.text
        # A passthrough to it: 502 with COS XML, counted as an upstream error.
        before = scrape(dead)
        r = signed("GET", f"{dead.endpoint}/some-bucket/k")
        assert r.status_code == 502 and "<Code>BadGateway</Code>" in r.text
        assert delta(before, scrape(dead), 'picops_upstream_errors_total{kind="unreachable"}') == 1
    finally:
        dead.proc.terminate()
        dead.proc.wait(timeout=30)


def test_json_logs_carry_the_request_id(tmp_path, bucket):
    srv = start_server(tmp_path, ["--log-format", "json"])
    try:
        s3 = client(srv)
        if not os.environ.get("PICOPS_E2E_UPSTREAM"):
            s3.create_bucket(Bucket=bucket)
        r = signed("PUT", f"{srv.endpoint}/{bucket}/j/{uuid.uuid4().hex[:8]}/a.jpg",
                   headers={"Pic-Operations": json.dumps({"rules": [{"fileid": "x.jpg", "rule": "imageMogr2/bogus/1"}]})},
                   data=JPEG)
        assert r.status_code == 400
        rid = r.headers["x-cos-request-id"]
        time.sleep(0.3)
    finally:
        srv.proc.terminate()
        srv.proc.wait(timeout=30)
    lines = [json.loads(line) for line in srv.log.read_text().splitlines() if line.startswith("{")]
    mine = [line for line in lines if rid in json.dumps(line)]
    assert len(mine) >= 2, lines[-5:]  # the error answer and the request line
    assert all({"timestamp", "level", "fields"} <= set(line) for line in mine)


def test_sigterm_finishes_the_upload_in_flight_and_refuses_new_connections(tmp_path, bucket):
    srv = start_server(tmp_path)
    s3 = client(srv)
    if not os.environ.get("PICOPS_E2E_UPSTREAM"):
        s3.create_bucket(Bucket=bucket)
    key = f"term/{uuid.uuid4().hex[:8]}/big.jpg"
    started = threading.Event()

    def trickle():
        step = 256 * 1024
        for i in range(0, len(BIG), step):
            yield BIG[i:i + step]
            started.set()
            time.sleep(0.15)  # ~2.5 s for the 4.2 MB body

    result = {}
    t = threading.Thread(target=lambda: result.setdefault(
        "r", signed("PUT", f"{srv.endpoint}/{bucket}/{key}", headers={"Pic-Operations": RULES},
                    data=trickle())))
    t.start()
    assert started.wait(10)
    time.sleep(0.3)
    srv.proc.send_signal(signal.SIGTERM)
    time.sleep(0.5)
    with pytest.raises(OSError):  # the listener is closed: connection refused
        socket.create_connection(("127.0.0.1", srv.port), timeout=2).close()
    t.join(60)
    assert result["r"].status_code == 200, result["r"].text
    assert srv.proc.wait(timeout=30) == 0
    log = srv.log.read_text()
    assert re.search(r"SIGTERM: waiting for requests in flight", log)

    # What the upload wrote is all there (a new server on the same store).
    again = start_server(tmp_path / "again") if os.environ.get("PICOPS_E2E_UPSTREAM") else start_server(tmp_path)
    try:
        s3 = client(again)
        names = sorted(o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix=key.rsplit("/", 1)[0])["Contents"])
        prefix = key.rsplit("/", 1)[0]
        assert names == [f"{prefix}/{n}" for n in ("a.jpg", "b.webp", "big.jpg", "c.jpg")]
        assert s3.head_object(Bucket=bucket, Key=key)["ContentLength"] == len(BIG)
    finally:
        again.proc.terminate()
        again.proc.wait(timeout=30)
