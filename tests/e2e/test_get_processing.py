"""Processing on GET: `GET /<key>?<rule>` through cos-python-sdk-v5 (`ci_get_object`,
`ci_get_image_info`, `ci_get_image_ave_info`) and plain signed HTTP; results decoded with
Pillow; the result cache is revalidated against the original and counted in /metrics."""
import io
import json
import uuid

from PIL import Image

from e2e.sigs import signed
from helpers import IMAGES

PHOTO = IMAGES / "photos" / "autumn-2560x1600.jpg"


def scrape(server, name):
    import requests
    for line in requests.get(f"{server.ops}/metrics", timeout=10).text.splitlines():
        if line.startswith(name + " "):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def put_photo(s3, bucket):
    key = f"rt/{uuid.uuid4().hex[:8]}/a.jpg"
    s3.put_object(Bucket=bucket, Key=key, Body=PHOTO.read_bytes())
    return key


def test_cos_sdk_ci_get_object(cos, s3, bucket, tmp_path):
    key = put_photo(s3, bucket)
    out = tmp_path / "t.png"
    cos.ci_get_object(Bucket=bucket, Key=key, DestImagePath=str(out), Rule="imageView2/1/w/160/h/90/format/png")
    im = Image.open(out)
    assert (im.format, im.size) == ("PNG", (160, 90))
    _, info = cos.ci_get_image_info(Bucket=bucket, Key=key)
    info = info if isinstance(info, dict) else json.loads(info)
    assert (info["format"], info["width"], info["height"]) == ("jpg", "2560", "1600")
    assert info["size"] == str(PHOTO.stat().st_size)
    _, ave = cos.ci_get_image_ave_info(Bucket=bucket, Key=key)
    ave = ave if isinstance(ave, dict) else json.loads(ave)
    rgb = int(ave["RGB"], 16)
    small = Image.open(PHOTO).convert("RGB").resize((1, 1), Image.BOX).getpixel((0, 0))
    assert all(abs(((rgb >> s) & 255) - c) <= 8 for s, c in zip((16, 8, 0), small)), (ave, small)


def test_plain_http_pipeline_cache_and_revalidation(server, s3, bucket):
    key = put_photo(s3, bucket)
    url = f"{server.endpoint}/{bucket}/{key}?imageMogr2/thumbnail/400x%7CimageView2/1/w/100/h/100/format/webp"
    hits, misses = scrape(server, 'picops_result_cache_total{result="hit"}'), scrape(server, 'picops_result_cache_total{result="miss"}')
    r1 = signed("GET", url)
    assert r1.status_code == 200, r1.text
    assert r1.headers["Content-Type"] == "image/webp"
    assert "max-age" in r1.headers["Cache-Control"]
    im = Image.open(io.BytesIO(r1.content))
    assert (im.format, im.size) == ("WEBP", (100, 100))
    r2 = signed("GET", url)
    assert r2.content == r1.content and r2.headers["ETag"] == r1.headers["ETag"]
    assert scrape(server, 'picops_result_cache_total{result="hit"}') == hits + 1
    assert scrape(server, 'picops_result_cache_total{result="miss"}') == misses + 1
    # A client holding the result gets 304.
    r3 = signed("GET", url, headers={"If-None-Match": r1.headers["ETag"]})
    assert r3.status_code == 304 and r3.content == b""
    # The original changes: the cached result is not served again.
    other = (IMAGES / "photos" / "path-2560x1600.jpg").read_bytes()
    s3.put_object(Bucket=bucket, Key=key, Body=other)
    r4 = signed("GET", url)
    assert r4.status_code == 200 and r4.headers["ETag"] != r1.headers["ETag"] and r4.content != r1.content
    # The stored original is untouched by GET processing.
    assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == other


def test_style_on_get_and_errors(cos, server, s3, bucket):
    key = put_photo(s3, bucket)
    name = f"g{uuid.uuid4().hex[:6]}"
    cos.ci_put_image_style(Bucket=bucket, Request={"StyleName": name, "StyleBody": "imageMogr2/thumbnail/x80/format/png"})
    r = signed("GET", f"{server.endpoint}/{bucket}/{key}?style/{name}")
    assert r.status_code == 200, r.text
    assert Image.open(io.BytesIO(r.content)).size == (128, 80)
    bad = signed("GET", f"{server.endpoint}/{bucket}/{key}?imageMogr2/bogus/1")
    assert bad.status_code == 400 and "<Code>InvalidArgument</Code>" in bad.text
    missing = signed("GET", f"{server.endpoint}/{bucket}/nope-{uuid.uuid4().hex}.jpg?imageMogr2/thumbnail/10x")
    assert missing.status_code == 404 and "<Code>NoSuchKey</Code>" in missing.text
    nostyle = signed("GET", f"{server.endpoint}/{bucket}/{key}?style/undefined-style")
    assert nostyle.status_code == 404 and "<Code>NoSuchStyle</Code>" in nostyle.text
    # Plain GETs are still passthrough.
    plain = signed("GET", f"{server.endpoint}/{bucket}/{key}")
    assert plain.content == PHOTO.read_bytes()


def test_get_processing_counts_against_the_rate_limit(tmp_path, s3, bucket):
    import os

    from e2e.server import start_server
    srv = start_server(tmp_path, ["--rate-limit", "1"])
    try:
        if not os.environ.get("PICOPS_E2E_UPSTREAM"):
            assert signed("PUT", f"{srv.endpoint}/{bucket}").status_code == 200
        key = f"rt/{uuid.uuid4().hex[:8]}/a.jpg"
        assert signed("PUT", f"{srv.endpoint}/{bucket}/{key}", data=PHOTO.read_bytes()).status_code == 200
        url = f"{srv.endpoint}/{bucket}/{key}?imageMogr2/thumbnail/10x"
        first, second = signed("GET", url), signed("GET", url)
        assert first.status_code == 200, first.text
        assert second.status_code == 503 and second.headers["Retry-After"] == "1", second.text
        assert signed("GET", f"{srv.endpoint}/{bucket}/{key}").status_code == 200  # plain GETs are not limited
    finally:
        srv.proc.terminate()
        srv.proc.wait(timeout=30)


def test_exif_unknown_processing_and_view2_without_mode(server, s3, bucket):
    key = f"rt/{uuid.uuid4().hex[:8]}/exif.jpg"
    sample = IMAGES / "edge" / "pil_sample_rgb.jpg"
    s3.put_object(Bucket=bucket, Key=key, Body=sample.read_bytes())
    base = f"{server.endpoint}/{bucket}/{key}"
    # ?exif answers the fields of the primary image, as Pillow reads them.
    r = signed("GET", f"{base}?exif")
    assert r.status_code == 200, r.text
    fields = r.json()
    from PIL import ExifTags
    exif = Image.open(sample).getexif()
    pointers = {"ExifOffset", "GPSInfo"}  # where the sub-IFDs are, not fields
    assert {ExifTags.TAGS[t] for t in exif} - pointers <= set(fields), fields
    assert fields["DateTime"] == {"val": exif[ExifTags.Base.DateTime], "type": 2}
    assert fields["Orientation"]["type"] == 3
    plain = key.replace("exif.jpg", "plain.png")
    buf = io.BytesIO()
    Image.new("RGB", (8, 8)).save(buf, "PNG")
    s3.put_object(Bucket=bucket, Key=plain, Body=buf.getvalue())
    assert signed("GET", f"{server.endpoint}/{bucket}/{plain}?exif").json() == {"error": "no exif data"}
    # Processing picops does not do, and parameters it does not know, are refused: never the
    # original with 200.
    for query, status, code in [
        ("imageSlim", 501, "NotImplemented"),
        ("ci-process=originImage", 501, "NotImplemented"),
        ("imageMogr/thumbnail/10x", 501, "NotImplemented"),
        ("foo=bar", 400, "InvalidArgument"),
    ]:
        r = signed("GET", f"{base}?{query}")
        assert (r.status_code, f"<Code>{code}</Code>" in r.text) == (status, True), (query, r.text)
    # COS's own example: imageView2 without a mode converts and keeps the size.
    r = signed("GET", f"{base}?imageView2/format/png")
    assert r.status_code == 200, r.text
    im = Image.open(io.BytesIO(r.content))
    assert (im.format, im.size) == ("PNG", Image.open(sample).size)


def test_cos_append_is_refused_and_writes_nothing(server, s3, bucket):
    key = f"rt/{uuid.uuid4().hex[:8]}/log.txt"
    r = signed("POST", f"{server.endpoint}/{bucket}/{key}?append&position=0", data=b"line 1\n")
    assert r.status_code == 501 and "<Code>NotImplemented</Code>" in r.text, r.text
    assert signed("HEAD", f"{server.endpoint}/{bucket}/{key}").status_code == 404
