"""The Node.js SDKs (cos-nodejs-sdk-v5, @aws-sdk/client-s3) against picops; what they store
is decoded with Pillow. Needs NODE_PATH pointing at the modules of tests/node (scripts/test
installs them)."""
import io
import json
import os
import subprocess
import uuid
from pathlib import Path

import pytest
from PIL import Image

from e2e.server import KEY, SECRET
from helpers import IMAGES

PHOTO = IMAGES / "photos" / "autumn-2560x1600.jpg"
SCRIPT = Path(__file__).resolve().parents[1] / "node" / "compat.cjs"

pytestmark = pytest.mark.skipif(
    not os.environ.get("NODE_PATH") and not os.environ.get("CI"),
    reason="NODE_PATH not set (scripts/test installs the Node.js SDKs and sets it)",
)


def run(which, server, bucket, prefix):
    env = dict(os.environ, PICOPS_ENDPOINT=server.endpoint, PICOPS_KEY=KEY, PICOPS_SECRET=SECRET,
               PICOPS_BUCKET=bucket, PICOPS_IMAGE=str(PHOTO), PICOPS_PREFIX=prefix)
    p = subprocess.run(["node", str(SCRIPT), which], capture_output=True, text=True, env=env, timeout=300)
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)


def image(s3, bucket, key):
    body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    im = Image.open(io.BytesIO(body))
    im.load()
    return im


def test_cos_nodejs_sdk(server, s3, bucket):
    prefix = f"node-cos/{uuid.uuid4().hex[:8]}"
    out = run("cos", server, bucket, prefix)
    assert out["put"]["status"] == 200
    objs = out["put"]["upload"]["ProcessResults"]["Object"]
    assert [o["Key"] for o in objs] == [f"{prefix}/t1000.jpg", f"{prefix}/t.webp"]
    assert out["put"]["upload"]["OriginalInfo"]["ImageInfo"]["Width"] == "2560"
    assert image(s3, bucket, f"{prefix}/t1000.jpg").size == (1000, 625)
    webp = image(s3, bucket, f"{prefix}/t.webp")
    assert (webp.format, webp.size) == ("WEBP", (400, 250))
    assert out["image_process"]["status"] == 200
    png = image(s3, bucket, f"{prefix}/p300.png")
    assert (png.format, png.size) == ("PNG", (300, 300))
    assert out["multipart"]["status"] == 200
    assert image(s3, bucket, f"{prefix}/m200.jpg").size == (200, 125)
    assert out["get"] == {"status": 200, "length": PHOTO.stat().st_size, "etag": out["get"]["etag"]}
    assert out["get"]["etag"].strip('"') == s3.head_object(Bucket=bucket, Key=f"{prefix}/a.jpg")["ETag"].strip('"')
    assert f"{prefix}/a.jpg" in out["list"] and f"{prefix}/t.webp" in out["list"]
    assert out["presigned_get"] == {"status": 200, "length": PHOTO.stat().st_size}
    assert out["presigned_put"]["status"] == 200
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix=prefix + "/").get("Contents", [])]
    assert out["deleted"] not in keys


def test_aws_sdk_js_v3(server, s3, bucket):
    prefix = f"node-aws/{uuid.uuid4().hex[:8]}"
    out = run("aws", server, bucket, prefix)
    assert out["put"]["status"] == 200
    assert out["put"]["etag"] == s3.head_object(Bucket=bucket, Key=f"{prefix}/a.jpg")["ETag"]
    assert image(s3, bucket, f"{prefix}/t1000.jpg").size == (1000, 625)
    assert image(s3, bucket, f"{prefix}/sq.jpg").size == (300, 300)
    assert out["multipart"]["status"] == 200
    assert image(s3, bucket, f"{prefix}/m200.jpg").size == (200, 125)
    assert out["get"]["status"] == 200 and out["get"]["length"] == PHOTO.stat().st_size
    assert sorted(out["list"]) == sorted([f"{prefix}/a.jpg", f"{prefix}/t1000.jpg", f"{prefix}/sq.jpg",
                                          f"{prefix}/multi.jpg", f"{prefix}/m200.jpg"])
    assert out["presigned_get"] == {"status": 200, "length": PHOTO.stat().st_size}
    assert out["presigned_put"]["status"] == 200 and out["presigned_put"]["length"] == len(b"node aws presigned")
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix=prefix + "/").get("Contents", [])]
    assert out["deleted"] not in keys


def test_cos_nodejs_sdk_application_calls(server, bucket):
    """cos-nodejs-sdk-v5 doing what COS applications do besides images: metadata comes back in
    COS's headers, a copy keeps the bytes and metadata, a file uploads in 1 MB parts, errors
    carry their codes, the bucket reports its region."""
    prefix = f"node-app/{uuid.uuid4().hex[:8]}"
    out = run("cos-app", server, bucket, prefix)
    assert out["head"] == {"meta": "node", "cacheControl": "max-age=60", "amz": []}
    assert out["copy"] == {"body": "hello node", "meta": "node"}
    assert out["slice"] == {"length": 3 * 1024 * 1024 + 123, "same": True}
    assert out["missing"]["status"] == 404
    assert (out["missingGet"]["status"], out["missingGet"]["code"]) == (404, "NoSuchKey")
    assert out["missingGet"]["requestId"]
    assert out["location"] == "ap-guangzhou"
    assert [o["key"] for o in out["list"]] == [f"{prefix}/big.bin", f"{prefix}/copy.txt", f"{prefix}/meta.txt"]
    assert all(o["etag"].strip('"') for o in out["list"])
