"""Browser form uploads (POST Object): SigV4 forms from boto3's generate_presigned_post, COS
forms signed by hand (cos-python-sdk-v5 has no form helper), sent with requests' multipart
encoder; what each answers and what ends up in the bucket."""
import base64
import datetime
import hashlib
import hmac
import io
import json
import time
import uuid
import xml.etree.ElementTree as ET

import boto3
import pytest
import requests
from botocore.config import Config
from PIL import Image

from e2e.server import KEY, LIMITED_BUCKET, LIMITED_KEY, LIMITED_SECRET, SECRET
from helpers import IMAGES

PHOTO = IMAGES / "photos" / "autumn-2560x1600.jpg"


def uid():
    return uuid.uuid4().hex[:10]


def boto(server, key=KEY, secret=SECRET):
    return boto3.client(
        "s3", endpoint_url=server.endpoint, aws_access_key_id=key, aws_secret_access_key=secret,
        region_name="us-east-1",
        config=Config(s3={"addressing_style": "path"}, signature_version="s3v4", retries={"max_attempts": 1}),
    )


def keys(s3, bucket):
    out = s3.list_objects_v2(Bucket=bucket)
    return sorted(o["Key"] for o in out.get("Contents", []))


def post(post_form, data=b"hello form", filename="hello.txt", **changes):
    fields = dict(post_form["fields"])
    fields.update(changes)
    return requests.post(post_form["url"], data=fields, files={"file": (filename, data, "text/plain")})


def error_code(r):
    return ET.fromstring(r.content).findtext("Code")


def refused(r, status, code):
    assert r.status_code == status, r.text
    assert error_code(r) == code, r.text


def cos_form(bucket, key_prefix, extra_fields=None, extra_conditions=(), secret=SECRET,
             expires_in=600, ak=KEY):
    """A COS POST Object form: policy conditions, q-* fields, signature over SHA1(policy)."""
    now = int(time.time())
    key_time = f"{now - 60};{now + expires_in}"
    expiration = (datetime.datetime.now(datetime.timezone.utc)
                  + datetime.timedelta(seconds=expires_in)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    extra_fields = dict(extra_fields or {})
    conditions = [
        {"q-sign-algorithm": "sha1"}, {"q-ak": ak}, {"q-sign-time": key_time},
        {"bucket": bucket}, ["starts-with", "$key", key_prefix],
        *[{k: v} for k, v in extra_fields.items()], *extra_conditions,
    ]
    policy = json.dumps({"expiration": expiration, "conditions": conditions})
    sign_key = hmac.new(secret.encode(), key_time.encode(), hashlib.sha1).hexdigest()
    string_to_sign = hashlib.sha1(policy.encode()).hexdigest()
    signature = hmac.new(sign_key.encode(), string_to_sign.encode(), hashlib.sha1).hexdigest()
    return {
        "key": key_prefix + "${filename}",
        "policy": base64.b64encode(policy.encode()).decode(),
        "q-sign-algorithm": "sha1", "q-ak": ak, "q-key-time": key_time, "q-signature": signature,
        **extra_fields,
    }


def test_sigv4_form_upload_stores_file_and_metadata(server, s3, bucket):
    key = f"form/{uid()}/a.txt"
    form = s3.generate_presigned_post(
        bucket, key,
        Fields={"Content-Type": "text/plain", "x-amz-meta-origin": "form"},
        Conditions=[{"Content-Type": "text/plain"}, {"x-amz-meta-origin": "form"},
                    ["content-length-range", 1, 1000]],
        ExpiresIn=300)
    r = post(form)
    assert r.status_code == 204, r.text
    assert r.headers["ETag"]
    assert r.headers["Location"].endswith(f"/{bucket}/{key}")
    got = s3.get_object(Bucket=bucket, Key=key)
    assert got["Body"].read() == b"hello form"
    assert got["ContentType"] == "text/plain"
    assert got["Metadata"] == {"origin": "form"}


def test_sigv4_form_201_answers_post_response_with_filename(server, s3, bucket):
    prefix = f"form/{uid()}/"
    form = s3.generate_presigned_post(
        bucket, prefix + "${filename}",
        Fields={"success_action_status": "201"},
        Conditions=[{"success_action_status": "201"}], ExpiresIn=300)
    r = post(form, data=b"x" * 300, filename="photo name.bin")
    assert r.status_code == 201, r.text
    doc = ET.fromstring(r.content)
    assert doc.tag == "PostResponse"
    assert doc.findtext("Bucket") == bucket
    assert doc.findtext("Key") == prefix + "photo name.bin"
    assert doc.findtext("ETag") == r.headers["ETag"]
    assert s3.get_object(Bucket=bucket, Key=prefix + "photo name.bin")["Body"].read() == b"x" * 300

    form = s3.generate_presigned_post(bucket, prefix + "two", Fields={"success_action_status": "200"},
                                      Conditions=[{"success_action_status": "200"}])
    r = post(form)
    assert (r.status_code, r.content) == (200, b"")


def test_policy_violations_are_refused_and_nothing_is_written(server, s3, bucket):
    prefix = f"form/{uid()}/"
    before = keys(s3, bucket)
    form = s3.generate_presigned_post(bucket, prefix + "${filename}",
                                      Conditions=[["content-length-range", 1, 10]], ExpiresIn=300)
    # The key outside the signed prefix.
    refused(post(form, key=f"other/{uid()}"), 403, "AccessDenied")
    # A field the policy does not cover.
    refused(post(form, **{"x-amz-meta-evil": "1"}), 403, "AccessDenied")
    refused(post(form, **{"Content-Type": "text/html"}), 403, "AccessDenied")
    # Out of content-length-range.
    refused(post(form, data=b"y" * 100), 400, "EntityTooLarge")
    refused(post(form, data=b""), 400, "EntityTooSmall")
    # A wrong signature.
    sig = form["fields"]["x-amz-signature"]
    refused(post(form, **{"x-amz-signature": sig[:-1] + ("0" if sig[-1] != "0" else "1")}),
            403, "SignatureDoesNotMatch")
    # Expired.
    old = s3.generate_presigned_post(bucket, prefix + "late", ExpiresIn=-10)
    refused(post(old), 403, "AccessDenied")
    # Anonymous: the same form without any signature.
    anon = {k: v for k, v in form["fields"].items() if not k.startswith("x-amz-")}
    r = requests.post(form["url"], data=anon, files={"file": ("a.txt", b"abc")})
    refused(r, 403, "AccessDenied")
    # An access key picops does not know.
    stranger = boto(server, "AKIDnobody", "whatever").generate_presigned_post(bucket, prefix + "s")
    refused(post(stranger), 403, "InvalidAccessKeyId")
    assert keys(s3, bucket) == before


def test_reserved_and_dot_keys_are_refused(server, s3, bucket):
    before = keys(s3, bucket)
    form = s3.generate_presigned_post(bucket, "${filename}", ExpiresIn=300)
    refused(post(form, key=".picops/styles/evil"), 403, "AccessDenied")
    refused(post(form, filename="../escape.txt"), 400, "InvalidArgument")
    assert keys(s3, bucket) == before
    assert s3.list_objects_v2(Bucket=bucket, Prefix=".picops/").get("KeyCount", 0) == 0


def test_a_key_limited_to_one_bucket_cannot_post_to_another(server, s3, bucket):
    try:
        s3.create_bucket(Bucket=LIMITED_BUCKET)
    except s3.exceptions.ClientError as e:
        if e.response["Error"]["Code"] not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
            raise
    limited = boto(server, LIMITED_KEY, LIMITED_SECRET)
    key = f"form/{uid()}/a.txt"
    before = keys(s3, bucket)
    refused(post(limited.generate_presigned_post(bucket, key)), 403, "AccessDenied")
    assert keys(s3, bucket) == before
    r = post(limited.generate_presigned_post(LIMITED_BUCKET, key))
    assert r.status_code == 204, r.text
    assert s3.get_object(Bucket=LIMITED_BUCKET, Key=key)["Body"].read() == b"hello form"


def test_cos_form_upload(server, s3, bucket):
    prefix = f"cosform/{uid()}/"
    fields = cos_form(bucket, prefix, {"Content-Type": "text/plain", "x-cos-meta-origin": "cos",
                                       "success_action_status": "201"})
    url = f"{server.endpoint}/{bucket}"
    r = requests.post(url, data=fields, files={"file": ("c.txt", b"cos form body", "text/plain")})
    assert r.status_code == 201, r.text
    assert ET.fromstring(r.content).findtext("Key") == prefix + "c.txt"
    got = s3.get_object(Bucket=bucket, Key=prefix + "c.txt")
    assert got["Body"].read() == b"cos form body"
    assert got["Metadata"] == {"origin": "cos"}
    # Tampered, expired, or signed with another secret.
    refused(requests.post(url, data={**fields, "key": "elsewhere/c.txt"}, files={"file": b"x"}),
            403, "AccessDenied")
    bad = cos_form(bucket, prefix, secret="not-the-secret")
    refused(requests.post(url, data=bad, files={"file": b"x"}), 403, "SignatureDoesNotMatch")
    expired = cos_form(bucket, prefix, expires_in=-30)
    refused(requests.post(url, data=expired, files={"file": b"x"}), 403, "AccessDenied")


def test_cos_form_with_pic_operations_processes_the_upload(server, s3, bucket):
    prefix = f"cospic/{uid()}/"
    ops = json.dumps({"is_pic_info": 1, "rules": [
        {"fileid": "thumb.webp", "rule": "imageMogr2/thumbnail/200x/format/webp"},
        {"fileid": "sq.jpg", "rule": "imageView2/1/w/100/h/100"}]})
    fields = cos_form(bucket, prefix, {"Pic-Operations": ops, "x-cos-meta-origin": "cam"})
    data = PHOTO.read_bytes()
    r = requests.post(f"{server.endpoint}/{bucket}", data=fields,
                      files={"file": ("a.jpg", data, "image/jpeg")})
    assert r.status_code == 200, r.text
    doc = ET.fromstring(r.content)
    assert doc.tag == "UploadResult"
    assert doc.findtext("OriginalInfo/Key") == prefix + "a.jpg"
    assert doc.findtext("OriginalInfo/ImageInfo/Width") == "2560"
    original = s3.get_object(Bucket=bucket, Key=prefix + "a.jpg")
    assert original["Body"].read() == data
    assert original["ContentType"] == "image/jpeg"
    assert original["Metadata"] == {"origin": "cam"}
    thumb = Image.open(io.BytesIO(s3.get_object(Bucket=bucket, Key=prefix + "thumb.webp")["Body"].read()))
    assert (thumb.format, thumb.size) == ("WEBP", (200, 125))
    sq = Image.open(io.BytesIO(s3.get_object(Bucket=bucket, Key=prefix + "sq.jpg")["Body"].read()))
    assert (sq.format, sq.size) == ("JPEG", (100, 100))
    # Pic-Operations outside the policy is refused: rules cannot be added to a signed form.
    unsigned = cos_form(bucket, prefix)
    unsigned["Pic-Operations"] = ops
    before = keys(s3, bucket)
    r = requests.post(f"{server.endpoint}/{bucket}", data=unsigned,
                      files={"file": ("b.jpg", data, "image/jpeg")})
    refused(r, 403, "AccessDenied")
    assert keys(s3, bucket) == before


@pytest.mark.parametrize("field", ["success_action_redirect"])
def test_redirects_are_not_implemented(server, s3, bucket, field):
    form = s3.generate_presigned_post(bucket, f"form/{uid()}", Fields={field: "http://example.com/"},
                                      Conditions=[{field: "http://example.com/"}])
    refused(post(form), 501, "NotImplemented")
