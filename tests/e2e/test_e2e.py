"""picops serve driven by real clients (boto3, cos-python-sdk-v5, plain HTTP); every stored
result is downloaded and decoded with Pillow."""
import io
import json
import os
import subprocess
import time
import uuid
import xml.etree.ElementTree as ET

import pytest
import requests
from PIL import Image, ImageStat
from qcloud_cos.cos_exception import CosServiceError

from e2e.server import KEY, SECRET
from e2e.sigs import signed
from helpers import IMAGES

PHOTO = IMAGES / "photos" / "autumn-2560x1600.jpg"
EDGE = IMAGES / "edge"
THREE_RULES = [
    {"fileid": "thumbs/t1000.jpg", "rule": "imageMogr2/thumbnail/1000x"},
    {"fileid": "/abs/t400.webp", "rule": "imageMogr2/thumbnail/400x/format/webp"},
    {"fileid": "sq.jpg", "rule": "imageView2/1/w/300/h/300"},
]


def uid():
    return uuid.uuid4().hex[:10]


def listing(s3, bucket):
    out = s3.list_objects_v2(Bucket=bucket)
    return sorted((o["Key"], o["Size"]) for o in out.get("Contents", []))


def fetch_image(s3, bucket, key):
    body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    im = Image.open(io.BytesIO(body))
    im.load()
    return im, body


def as_list(x):
    return x if isinstance(x, list) else [x]


def test_boto3_passthrough_put_get_list_delete(s3, bucket):
    key = f"plain/{uid()} file ü.txt"
    s3.put_object(Bucket=bucket, Key=key, Body=b"hello picops", ContentType="text/plain", Metadata={"a": "b"})
    got = s3.get_object(Bucket=bucket, Key=key)
    assert got["Body"].read() == b"hello picops"
    assert got["ContentType"] == "text/plain"
    assert got["Metadata"] == {"a": "b"}
    assert s3.head_object(Bucket=bucket, Key=key)["ContentLength"] == 12
    assert key in [k for k, _ in listing(s3, bucket)]
    s3.delete_object(Bucket=bucket, Key=key)
    assert key not in [k for k, _ in listing(s3, bucket)]
    with pytest.raises(s3.exceptions.ClientError) as e:
        s3.get_object(Bucket=bucket, Key=key)
    assert e.value.response["Error"]["Code"] == "NoSuchKey"


def test_boto3_put_carrying_pic_operations(s3, bucket):
    base = f"boto/{uid()}"
    header = json.dumps({"rules": [{"fileid": "small.png", "rule": "imageMogr2/thumbnail/200x/format/png"}]})

    def add_header(params, **_):
        params["headers"]["Pic-Operations"] = header

    s3.meta.events.register("before-call.s3.PutObject", add_header)
    try:
        s3.put_object(Bucket=bucket, Key=f"{base}/a.jpg", Body=PHOTO.read_bytes())
    finally:
        s3.meta.events.unregister("before-call.s3.PutObject", add_header)
    original, body = fetch_image(s3, bucket, f"{base}/a.jpg")
    assert body == PHOTO.read_bytes()
    small, _ = fetch_image(s3, bucket, f"{base}/small.png")
    assert (small.format, small.size) == ("PNG", (200, 125))


def check_results(s3, bucket, results, expected):
    """Each ProcessResults/Object against the stored object, decoded by Pillow."""
    objs = as_list(results["Object"])
    assert [o["Key"] for o in objs] == [e[0] for e in expected]
    for o, (key, fmt, size) in zip(objs, expected):
        im, body = fetch_image(s3, bucket, key)
        assert (im.format, im.size) == (fmt, size)
        assert o["Format"] == fmt
        assert (int(o["Width"]), int(o["Height"])) == size
        assert int(o["Size"]) == len(body)
        assert o["ETag"] == s3.head_object(Bucket=bucket, Key=key)["ETag"]
        assert o["Location"].endswith(f"/{key}")


def test_cos_ci_put_object(cos, s3, bucket):
    base = f"cos/{uid()}"
    resp, data = cos.ci_put_object(
        Bucket=bucket,
        Body=PHOTO.read_bytes(),
        Key=f"{base}/a.jpg",
        PicOperations=json.dumps({"is_pic_info": 1, "rules": THREE_RULES}),
    )
    assert resp["x-cos-request-id"]
    orig = data["OriginalInfo"]
    assert orig["Key"] == f"{base}/a.jpg"
    assert orig["Location"] == f"{bucket}.cos.ap-guangzhou.myqcloud.com/{base}/a.jpg"
    with Image.open(PHOTO) as src:
        info = orig["ImageInfo"]
        assert (info["Format"], int(info["Width"]), int(info["Height"])) == ("JPEG", *src.size)
        avg = ImageStat.Stat(src.convert("RGB")).mean
        ave = info["Ave"]
        assert all(abs(int(ave[2 + 2 * i : 4 + 2 * i], 16) - avg[i]) <= 3 for i in range(3)), (ave, avg)
        assert info["Orientation"] == "0" and 70 <= int(info["Quality"]) <= 95
    assert orig["ETag"] == s3.head_object(Bucket=bucket, Key=f"{base}/a.jpg")["ETag"]
    check_results(
        s3,
        bucket,
        data["ProcessResults"],
        [(f"{base}/thumbs/t1000.jpg", "JPEG", (1000, 625)), ("abs/t400.webp", "WEBP", (400, 250)), (f"{base}/sq.jpg", "JPEG", (300, 300))],
    )


def test_cos_ci_image_process(cos, s3, bucket):
    key = f"stored/{uid()}/a.jpg"
    s3.put_object(Bucket=bucket, Key=key, Body=PHOTO.read_bytes())
    before = s3.head_object(Bucket=bucket, Key=key)["ETag"]
    _, data = cos.ci_image_process(
        Bucket=bucket,
        Key=key,
        PicOperations=json.dumps({"rules": [{"fileid": "p.png", "rule": "imageView2/2/w/100/h/100/format/png"}]}),
    )
    assert "ImageInfo" not in data["OriginalInfo"]
    assert data["OriginalInfo"]["ETag"] == before
    assert s3.head_object(Bucket=bucket, Key=key)["ETag"] == before
    check_results(s3, bucket, data["ProcessResults"], [(key.rsplit("/", 1)[0] + "/p.png", "PNG", (100, 63))])


def test_cos_multipart_complete_with_pic_operations(cos, s3, bucket):
    key = f"mp/{uid()}/big.jpg"
    big = (IMAGES / "photos" / "safelanding-5120x2880.jpg").read_bytes()
    upload = cos.create_multipart_upload(Bucket=bucket, Key=key)
    part = cos.upload_part(Bucket=bucket, Key=key, Body=big, PartNumber=1, UploadId=upload["UploadId"])
    data = cos.complete_multipart_upload(
        Bucket=bucket,
        Key=key,
        UploadId=upload["UploadId"],
        MultipartUpload={"Part": [{"ETag": part["ETag"], "PartNumber": 1}]},
        PicOperations=json.dumps({"is_pic_info": 1, "rules": [{"fileid": "thumb.webp", "rule": "imageMogr2/thumbnail/500x/format/webp"}]}),
    )
    assert data["Key"] == key and data["Bucket"] == bucket and data["ETag"]
    assert data["OriginalInfo"]["ImageInfo"]["Width"] == "5120"
    _, body = fetch_image(s3, bucket, key)
    assert body == big
    check_results(s3, bucket, data["ProcessResults"], [(key.rsplit("/", 1)[0] + "/thumb.webp", "WEBP", (500, 281))])


def test_result_replacing_the_original(cos, s3, bucket):
    key = f"replace/{uid()}/a.jpg"
    _, data = cos.ci_put_object(
        Bucket=bucket,
        Body=PHOTO.read_bytes(),
        Key=key,
        PicOperations=json.dumps({"rules": [{"fileid": f"/{key}", "rule": "imageMogr2/thumbnail/100x"}]}),
    )
    im, _ = fetch_image(s3, bucket, key)
    assert im.size == (100, 62) or im.size == (100, 63)
    assert data["OriginalInfo"]["ETag"] == as_list(data["ProcessResults"]["Object"])[0]["ETag"]


def test_rule_writing_to_another_bucket(cos, s3, bucket):
    other = f"picops-other-{uid()}"
    s3.create_bucket(Bucket=other)
    key = f"x/{uid()}.jpg"
    _, data = cos.ci_put_object(
        Bucket=bucket,
        Body=PHOTO.read_bytes(),
        Key=key,
        PicOperations=json.dumps({"rules": [{"bucket": other, "fileid": "/t.jpg", "rule": "imageMogr2/thumbnail/64x"}]}),
    )
    im, _ = fetch_image(s3, other, "t.jpg")
    assert im.size[0] == 64


def test_forward_proxy_form(server, s3, bucket):
    key = f"fwd/{uid()}.txt"
    r = signed(
        "PUT",
        f"http://{bucket}.cos.ap-beijing.myqcloud.com/{key}",
        data=b"via proxy",
        proxies={"http": server.endpoint},
    )
    assert r.status_code == 200, r.text
    assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == b"via proxy"


def put_raw(server, bucket, key, header, body, **kw):
    headers = {} if header is None else {"Pic-Operations": header}
    return signed("PUT", f"{server.endpoint}/{bucket}/{key}", headers=headers, data=body, **kw)


def rules(*pairs):
    return json.dumps({"rules": [{"fileid": f, "rule": r} for f, r in pairs]})


JPEG = PHOTO.read_bytes()
ERRORS = [
    ("bad json", '{"rules": [', JPEG, 400, "InvalidArgument"),
    ("wrong type", '{"rules": "thumbnail"}', JPEG, 400, "InvalidArgument"),
    ("six rules", rules(*[(f"o{i}.jpg", "imageMogr2/thumbnail/10x") for i in range(6)]), JPEG, 400, "InvalidArgument"),
    ("fileid folder", rules(("out/", "imageMogr2/thumbnail/10x")), JPEG, 400, "InvalidArgument"),
    ("fileid dotdot", rules(("../escape.jpg", "imageMogr2/thumbnail/10x")), JPEG, 400, "InvalidArgument"),
    ("unknown processor", rules(("o.jpg", "imageMagick/thumbnail/10x")), JPEG, 400, "InvalidArgument"),
    ("unknown parameter", rules(("o.jpg", "imageMogr2/thumbnail/10x/bogus/1")), JPEG, 400, "InvalidArgument"),
    ("output too large", rules(("o.jpg", "imageMogr2/thumbnail/20000x")), JPEG, 400, "InvalidArgument"),
    ("unknown style", rules(("o.jpg", "style/nope")), JPEG, 404, "NoSuchStyle"),
    ("not an image", rules(("o.jpg", "imageMogr2/thumbnail/10x")), (EDGE / "not_an_image.jpg").read_bytes(), 400, "InvalidImageFormat"),
    ("empty body", rules(("o.jpg", "imageMogr2/thumbnail/10x")), b"", 400, "InvalidImageFormat"),
    ("truncated jpeg", rules(("o.jpg", "imageMogr2/thumbnail/10x")), (EDGE / "truncated_jpeg.jpg").read_bytes(), 400, "InvalidImageFormat"),
    ("png bomb", rules(("o.jpg", "imageMogr2/thumbnail/10x")), (EDGE / "bomb_20000x20000.png").read_bytes(), 400, "ImageTooLarge"),
    ("gif bomb", rules(("o.jpg", "imageMogr2/thumbnail/10x")), (EDGE / "decompression_bomb.gif").read_bytes(), 400, "ImageTooLarge"),
    ("huge header", rules(("o.jpg", "imageMogr2/thumbnail/10x")), (EDGE / "huge_header_65000x65000.jpg").read_bytes(), 400, "ImageTooLarge"),
    ("over the cap", rules(("o.jpg", "imageMogr2/thumbnail/10x")), b"\xff" * (20 * 1024 * 1024 + 1), 413, "EntityTooLarge"),
]


@pytest.mark.parametrize("name,header,body,status,code", ERRORS, ids=[e[0] for e in ERRORS])
def test_errors_leave_nothing_behind(server, s3, bucket, name, header, body, status, code):
    before = listing(s3, bucket)
    r = put_raw(server, bucket, f"err/{uid()}/a.jpg", header, body)
    assert r.status_code == status, r.text
    err = ET.fromstring(r.content)
    assert err.tag == "Error"
    assert err.findtext("Code") == code
    assert err.findtext("Message")
    assert err.findtext("RequestId") == r.headers["x-cos-request-id"]
    assert listing(s3, bucket) == before


def test_body_over_cap_without_length_is_cut_off(server, s3, bucket):
    before = listing(s3, bucket)

    def chunks():
        for _ in range(22):
            yield b"\0" * (1024 * 1024)

    r = put_raw(server, bucket, f"err/{uid()}/chunked.jpg", rules(("o.jpg", "imageMogr2/thumbnail/10x")), chunks())
    assert r.status_code == 413
    assert ET.fromstring(r.content).findtext("Code") == "EntityTooLarge"
    assert listing(s3, bucket) == before


def test_cos_sdk_sees_error_codes(cos, s3, bucket):
    before = listing(s3, bucket)
    with pytest.raises(CosServiceError) as e:
        cos.ci_put_object(Bucket=bucket, Body=JPEG, Key="e/a.jpg", PicOperations=rules(("o.jpg", "imageMogr2/nope/1")))
    assert e.value.get_error_code() == "InvalidArgument"
    assert "nope" in e.value.get_error_msg()
    with pytest.raises(CosServiceError) as e:
        cos.ci_image_process(Bucket=bucket, Key=f"missing/{uid()}.jpg", PicOperations=rules(("o.jpg", "imageMogr2/thumbnail/10x")))
    assert e.value.get_error_code() == "NoSuchKey"
    assert listing(s3, bucket) == before


def test_ignore_error_stores_the_input(cos, s3, bucket):
    key = f"ign/{uid()}/a.jpg"
    _, data = cos.ci_put_object(
        Bucket=bucket, Body=JPEG, Key=key, PicOperations=rules(("o.jpg", "imageMogr2/thumbnail/20000x/ignore-error/1"))
    )
    _, body = fetch_image(s3, bucket, key.rsplit("/", 1)[0] + "/o.jpg")
    assert body == JPEG


def aws(server, *args):
    env = dict(os.environ, AWS_ACCESS_KEY_ID=KEY, AWS_SECRET_ACCESS_KEY=SECRET,
               AWS_DEFAULT_REGION=os.environ.get("PICOPS_E2E_REGION", "us-east-1"))
    p = subprocess.run(["aws", "--endpoint-url", server.endpoint, *args], capture_output=True, text=True, env=env, timeout=120)
    assert p.returncode == 0, p.stderr
    return p.stdout


def test_awscli_cp_ls_rm_and_put_object(server, s3, bucket, tmp_path):
    key = f"cli/{uid()}/a.jpg"
    aws(server, "s3", "cp", str(PHOTO), f"s3://{bucket}/{key}")
    assert key.rsplit("/", 1)[1] in aws(server, "s3", "ls", f"s3://{bucket}/{key.rsplit('/', 1)[0]}/")
    out = tmp_path / "back.jpg"
    aws(server, "s3", "cp", f"s3://{bucket}/{key}", str(out))
    assert out.read_bytes() == PHOTO.read_bytes()
    aws(server, "s3api", "put-object", "--bucket", bucket, "--key", key + ".copy", "--body", str(PHOTO))
    assert s3.head_object(Bucket=bucket, Key=key + ".copy")["ContentLength"] == PHOTO.stat().st_size
    aws(server, "s3", "rm", f"s3://{bucket}/{key}")
    aws(server, "s3", "rm", f"s3://{bucket}/{key}.copy")
    assert not [k for k, _ in listing(s3, bucket) if k.startswith(key)]


def test_memory_budget_answers_slowdown(tmp_path, s3, bucket):
    """A request that would exceed the memory budget waits briefly, then gets 503 SlowDown
    with Retry-After, and leaves nothing behind; once memory frees up, it succeeds."""
    import threading

    from e2e.server import start_server

    # The budget fits one upload of the photo (its processing is estimated at about 26 MiB),
    # and a body of unknown length reserves the largest body allowed: the whole budget.
    srv = start_server(tmp_path, ["--memory-budget", str(40 << 20), "--max-body", str(40 << 20),
                                  "--admission-wait-ms", "300"])
    try:
        if not os.environ.get("PICOPS_E2E_UPSTREAM"):
            signed("PUT", f"{srv.endpoint}/{bucket}")  # the embedded store is per server
        header = rules(("t.jpg", "imageMogr2/thumbnail/50x"))
        release = threading.Event()

        def slow_body():
            yield JPEG[:1024]
            release.wait(30)
            yield JPEG[1024:]

        first = {}
        t = threading.Thread(
            target=lambda: first.setdefault("r", put_raw(srv, bucket, f"budget/{uid()}/a.jpg", header, slow_body()))
        )
        t.start()
        time.sleep(1.0)  # the first upload now holds the whole budget while its body trickles in
        key = f"budget/{uid()}/b.jpg"
        r = put_raw(srv, bucket, key, header, JPEG)
        assert r.status_code == 503, r.text
        assert r.headers["Retry-After"] == "1"
        assert ET.fromstring(r.content).findtext("Code") == "SlowDown"
        assert signed("HEAD", f"{srv.endpoint}/{bucket}/{key}").status_code == 404
        release.set()
        t.join(60)
        assert first["r"].status_code == 200, first["r"].text
        assert put_raw(srv, bucket, key, header, JPEG).status_code == 200
    finally:
        release.set()
        srv.proc.terminate()
        srv.proc.wait(timeout=30)
