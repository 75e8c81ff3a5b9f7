"""Pre-signed URLs made by cos-python-sdk-v5 (`get_presigned_url`) and used with plain
`requests`, as web front ends use them; processing asked for on GET with the parameter
signed (the COS signer covers every parameter it is given, `q-url-param-list`).

The URLs come from `cos_domain` (COS's own host names, so they name the bucket) and go to
picops as an HTTP proxy (`fetch`)."""
import io
import json
import xml.etree.ElementTree as ET

import pytest
from PIL import Image

from cos.cosutil import get_bytes, uid
from helpers import IMAGES

SAMPLE = IMAGES / "edge" / "pil_sample_rgb.jpg"  # a JPEG with EXIF


def code_of(r):
    return ET.fromstring(r.content).findtext("Code")


@pytest.fixture(scope="module")
def image(cos, bucket):
    key = f"img/{uid()}/sample.jpg"
    cos.put_object(Bucket=bucket, Key=key, Body=SAMPLE.read_bytes(), ContentType="image/jpeg")
    return key


def test_presigned_get(cos, cos_domain, fetch, bucket):
    key = f"pre/{uid()}/a b+ü.bin"
    body = b"presigned body" * 50
    cos.put_object(Bucket=bucket, Key=key, Body=body, Metadata={"x-cos-meta-a": "b"})
    url = cos_domain.get_presigned_url(Bucket=bucket, Key=key, Method="GET", Expired=120)
    assert "q-signature=" in url and f"{bucket}.cos." in url
    r = fetch("GET", url)
    assert r.status_code == 200, r.text
    assert r.content == body
    assert r.headers["x-cos-meta-a"] == "b"
    assert not [h for h in r.headers if h.lower().startswith("x-amz-")]
    r = fetch("GET", cos_domain.get_presigned_download_url(Bucket=bucket, Key=key))
    assert (r.status_code, r.content) == (200, body)


def test_presigned_get_with_response_override(cos, cos_domain, fetch, bucket):
    key = f"pre/{uid()}/a.bin"
    cos.put_object(Bucket=bucket, Key=key, Body=b"x")
    url = cos_domain.get_presigned_url(
        Bucket=bucket, Key=key, Method="GET", Params={"response-content-disposition": "attachment; filename=x.bin"}
    )
    r = fetch("GET", url)
    assert r.status_code == 200, r.text
    assert r.headers["Content-Disposition"] == "attachment; filename=x.bin"


def test_presigned_put(cos, cos_domain, fetch, bucket):
    key = f"pre/{uid()}/uploaded.bin"
    body = bytes(range(256)) * 64
    url = cos_domain.get_presigned_url(Bucket=bucket, Key=key, Method="PUT", Expired=120)
    r = fetch("PUT", url, data=body)
    assert r.status_code == 200, r.text
    assert r.headers["ETag"].strip('"')
    assert get_bytes(cos, bucket, key) == body


def test_presigned_url_is_bound_to_its_key_and_method(cos, cos_domain, fetch, bucket):
    key = f"pre/{uid()}/a.bin"
    cos.put_object(Bucket=bucket, Key=key, Body=b"secret")
    url = cos_domain.get_presigned_url(Bucket=bucket, Key=key, Method="GET")
    other = url.replace("/a.bin?", "/b.bin?")
    assert other != url
    r = fetch("GET", other)
    assert r.status_code == 403, r.text
    assert code_of(r) in ("AccessDenied", "SignatureDoesNotMatch")
    r = fetch("PUT", url, data=b"overwrite")
    assert r.status_code == 403, r.text
    assert get_bytes(cos, bucket, key) == b"secret"


def signed_get(cos_domain, fetch, bucket, key, param):
    """GET of `key` with `param` (a flag, or name=value) signed into a pre-signed URL."""
    name, _, value = param.partition("=")
    return fetch("GET", cos_domain.get_presigned_url(Bucket=bucket, Key=key, Method="GET", Params={name: value}))


@pytest.mark.parametrize(
    "param,status,code",
    [
        ("imageSlim", 501, "NotImplemented"),
        ("ci-process=originImage", 501, "NotImplemented"),
        ("ci-process=AIImageCrop", 501, "NotImplemented"),
        ("imageMogr/thumbnail/10x", 501, "NotImplemented"),
        ("foo=bar", 400, "InvalidArgument"),
    ],
)
def test_processing_picops_does_not_do_is_refused(cos_domain, fetch, bucket, image, param, status, code):
    r = signed_get(cos_domain, fetch, bucket, image, param)
    assert r.content != SAMPLE.read_bytes(), f"?{param} answered the original"
    assert (r.status_code, code_of(r)) == (status, code), r.text
    assert r.headers["x-cos-request-id"]


def test_exif_answers_the_fields_not_the_original(cos_domain, fetch, bucket, image):
    # picops implements ?exif (COS's JSON of the EXIF fields).
    r = signed_get(cos_domain, fetch, bucket, image, "exif")
    assert r.status_code == 200, r.text
    assert r.content != SAMPLE.read_bytes()
    fields = json.loads(r.content)
    assert "DateTime" in fields and fields["DateTime"]["type"] == 2


def test_image_view2_format_png(cos_domain, fetch, bucket, image):
    r = signed_get(cos_domain, fetch, bucket, image, "imageView2/format/png")
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"] == "image/png"
    im = Image.open(io.BytesIO(r.content))
    assert (im.format, im.size) == ("PNG", Image.open(SAMPLE).size)


def test_image_mogr2_thumbnail_via_sdk_ci_get_object(cos, bucket, image, tmp_path):
    out = tmp_path / "t.webp"
    cos.ci_get_object(Bucket=bucket, Key=image, DestImagePath=str(out), Rule="imageMogr2/thumbnail/64x/format/webp")
    im = Image.open(out)
    w, h = Image.open(SAMPLE).size
    assert (im.format, im.size[0]) == ("WEBP", 64)
    assert abs(im.size[1] - round(h * 64 / w)) <= 1

