"""Authentication (docs/protocol.md, Authentication): real SDKs sign, picops verifies and re-signs for the
upstream; every forged or stale request is answered 403 with COS XML and writes nothing."""
import io
import os
import json
import time
import uuid
import xml.etree.ElementTree as ET

import boto3
import pytest
import requests
from botocore.config import Config
from botocore.exceptions import ClientError
from PIL import Image
from qcloud_cos import CosConfig, CosS3Client
from qcloud_cos.cos_exception import CosServiceError

from e2e.server import (
    KEY,
    LIMITED_BUCKET,
    LIMITED_KEY,
    LIMITED_SECRET,
    PUBLIC_BUCKET,
    SECRET,
    TOKEN,
    TOKEN_KEY,
    TOKEN_SECRET,
)
from e2e.sigs import sigv4_headers, signed, streaming_request
from helpers import IMAGES

JPEG = (IMAGES / "photos" / "autumn-2560x1600.jpg").read_bytes()
RULE = json.dumps({"rules": [{"fileid": "t.jpg", "rule": "imageMogr2/thumbnail/100x"}]})


def uid():
    return uuid.uuid4().hex[:10]


def listing(s3, bucket):
    out = s3.list_objects_v2(Bucket=bucket)
    return sorted((o["Key"], o["Size"]) for o in out.get("Contents", []))


def ensure_bucket(s3, name):
    try:
        s3.create_bucket(Bucket=name)
    except ClientError as e:
        if e.response["Error"]["Code"] not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
            raise


def refused(r, status=403, code=None):
    assert r.status_code == status, r.text
    err = ET.fromstring(r.content)
    assert err.tag == "Error"
    if code:
        assert err.findtext("Code") == code, r.text
    assert err.findtext("RequestId") == r.headers["x-cos-request-id"]
    return err.findtext("Code")


def boto(server, key=KEY, secret=SECRET, token=None):
    return boto3.client(
        "s3", endpoint_url=server.endpoint, aws_access_key_id=key, aws_secret_access_key=secret,
        aws_session_token=token, region_name="us-east-1",
        config=Config(s3={"addressing_style": "path"}, signature_version="s3v4", retries={"max_attempts": 1}),
    )


def cos_client(server, key=KEY, secret=SECRET, token=None):
    return CosS3Client(CosConfig(Region="ap-guangzhou", SecretId=key, SecretKey=secret, Token=token,
                                 Scheme="http", IP="127.0.0.1", Port=server.port))


# --- positive paths ---------------------------------------------------------------------

def test_streaming_signed_payload_passthrough_and_processing(server, s3, bucket):
    key = f"stream/{uid()}.bin"
    data = bytes(range(256)) * 1000  # 256,000 bytes: 4 chunks of 64 KiB
    r = streaming_request(f"{server.endpoint}/{bucket}/{key}", data)
    assert r.status_code == 200, r.text
    assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == data

    key = f"stream/{uid()}/a.jpg"
    r = streaming_request(f"{server.endpoint}/{bucket}/{key}", JPEG, headers={"Pic-Operations": RULE})
    assert r.status_code == 200, r.text
    assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == JPEG
    thumb = s3.get_object(Bucket=bucket, Key=key.rsplit("/", 1)[0] + "/t.jpg")["Body"].read()
    assert Image.open(io.BytesIO(thumb)).size == (100, 63)


def test_boto3_presigned_get_and_put(server, s3, bucket):
    key = f"pre/{uid()}.txt"
    put_url = s3.generate_presigned_url("put_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=300)
    assert requests.put(put_url, data=b"presigned body", timeout=30).status_code == 200
    get_url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=300)
    r = requests.get(get_url, timeout=30)
    assert r.status_code == 200 and r.content == b"presigned body"


def test_cos_presigned_get_and_put(server, s3, bucket):
    """Pre-signed URLs name the COS host, so they reach picops as its HTTP proxy (the sidecar
    set-up: the application keeps its COS endpoint and sets HTTP_PROXY)."""
    cos = CosS3Client(CosConfig(Region="ap-guangzhou", SecretId=KEY, SecretKey=SECRET, Scheme="http"))
    proxies = {"http": server.endpoint}
    key = f"pre/{uid()} x.txt"
    put_url = cos.get_presigned_url(Bucket=bucket, Key=key, Method="PUT", Expired=300)
    assert put_url.startswith(f"http://{bucket}.cos.ap-guangzhou.myqcloud.com/")
    r = requests.put(put_url, data=b"cos presigned", proxies=proxies, timeout=30)
    assert r.status_code == 200, r.text
    get_url = cos.get_presigned_download_url(Bucket=bucket, Key=key, Expired=300)
    r = requests.get(get_url, proxies=proxies, timeout=30)
    assert r.status_code == 200 and r.content == b"cos presigned"
    r = requests.get(get_url.replace("x.txt", "y.txt"), proxies=proxies, timeout=30)
    refused(r, code="SignatureDoesNotMatch")


def test_session_token(server, s3, bucket):
    key = f"tok/{uid()}.txt"
    boto(server, TOKEN_KEY, TOKEN_SECRET, TOKEN).put_object(Bucket=bucket, Key=key, Body=b"t")
    with pytest.raises(ClientError) as e:
        boto(server, TOKEN_KEY, TOKEN_SECRET, "wrong-token").put_object(Bucket=bucket, Key=key + "2", Body=b"t")
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    with pytest.raises(CosServiceError) as e:
        cos_client(server, TOKEN_KEY, TOKEN_SECRET).put_object(Bucket=bucket, Key=key + "3", Body=b"t")
    assert e.value.get_status_code() == 403
    cos_client(server, TOKEN_KEY, TOKEN_SECRET, TOKEN).put_object(Bucket=bucket, Key=key + "4", Body=b"t")
    keys = [k for k, _ in listing(s3, bucket) if k.startswith(key)]
    assert keys == [key, key + "4"]


def test_public_read_bucket(server, s3):
    ensure_bucket(s3, PUBLIC_BUCKET)
    key = f"pub/{uid()}.txt"
    s3.put_object(Bucket=PUBLIC_BUCKET, Key=key, Body=b"open")
    r = requests.get(f"{server.endpoint}/{PUBLIC_BUCKET}/{key}", timeout=30)
    assert r.status_code == 200 and r.content == b"open"
    refused(requests.put(f"{server.endpoint}/{PUBLIC_BUCKET}/{key}x", data=b"no", timeout=30), code="AccessDenied")
    assert (key + "x") not in [k for k, _ in listing(s3, PUBLIC_BUCKET)]


# --- refusals -----------------------------------------------------------------------------

def test_anonymous_and_unknown_key(server, s3, bucket):
    before = listing(s3, bucket)
    url = f"{server.endpoint}/{bucket}/neg/{uid()}.jpg"
    refused(requests.put(url, data=b"x", timeout=30), code="AccessDenied")
    refused(requests.get(f"{server.endpoint}/{bucket}", timeout=30), code="AccessDenied")
    refused(signed("PUT", url, data=b"x", key="AKIDnobody"), code="InvalidAccessKeyId")
    assert listing(s3, bucket) == before


def test_wrong_secret_sigv4_and_cos(server, s3, bucket):
    before = listing(s3, bucket)
    url = f"{server.endpoint}/{bucket}/neg/{uid()}.jpg"
    refused(signed("PUT", url, headers={"Pic-Operations": RULE}, data=JPEG, secret="not-the-secret"),
            code="SignatureDoesNotMatch")
    with pytest.raises(CosServiceError) as e:
        cos_client(server, KEY, "not-the-secret").ci_put_object(Bucket=bucket, Key=f"neg/{uid()}.jpg", Body=JPEG,
                                                                 PicOperations=RULE)
    assert (e.value.get_status_code(), e.value.get_error_code()) == (403, "SignatureDoesNotMatch")
    assert listing(s3, bucket) == before


def test_stale_and_future_signatures(server, cos, s3, bucket):
    before = listing(s3, bucket)
    key = f"neg/{uid()}.jpg"
    url = f"{server.endpoint}/{bucket}/{key}"
    # SigV4 signed by a client whose clock is an hour ahead (botocore reads the time itself).
    import datetime

    import botocore.auth
    real = botocore.auth.datetime.datetime

    class Later(real):
        @classmethod
        def utcnow(cls):
            return real.utcnow() + datetime.timedelta(hours=1)

        @classmethod
        def now(cls, tz=None):
            return real.now(tz) + datetime.timedelta(hours=1)

    botocore.auth.datetime.datetime = Later
    try:
        h = sigv4_headers("PUT", url, {}, b"x")
    finally:
        botocore.auth.datetime.datetime = real
    assert h["X-Amz-Date"] > time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(time.time() + 3000))
    refused(requests.put(url, data=b"x", headers=h, timeout=30), code="RequestTimeTooSkewed")
    # A COS signature whose window has closed.
    auth = cos.get_auth(Method="PUT", Bucket=bucket, Key=key, Expired=1)
    time.sleep(2.2)
    r = requests.put(url, data=b"x", headers={"Authorization": auth}, timeout=30)
    refused(r, code="AccessDenied")
    # An expired pre-signed URL.
    get_url = s3.generate_presigned_url("put_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=1)
    time.sleep(2.2)
    refused(requests.put(get_url, data=b"x", timeout=30), code="AccessDenied")
    assert listing(s3, bucket) == before


def test_tampered_path_header_and_query(server, s3, bucket):
    before = listing(s3, bucket)
    key = f"neg/{uid()}/a.jpg"
    url = f"{server.endpoint}/{bucket}/{key}"
    # Path: signed for one key, sent to another.
    h = sigv4_headers("PUT", url, {"Pic-Operations": RULE}, JPEG)
    refused(requests.put(url.replace("a.jpg", "b.jpg"), data=JPEG, headers=h, timeout=60), code="SignatureDoesNotMatch")
    # Signed header: the rules swapped after signing.
    h["Pic-Operations"] = RULE.replace("100x", "2000x")
    refused(requests.put(url, data=JPEG, headers=h, timeout=60), code="SignatureDoesNotMatch")
    # Query: a signed parameter changed in a pre-signed URL.
    s3.put_object(Bucket=bucket, Key=key + ".txt", Body=b"x")
    before = listing(s3, bucket)
    get_url = s3.generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": key + ".txt", "ResponseContentType": "text/plain"}, ExpiresIn=300)
    assert requests.get(get_url, timeout=30).status_code == 200
    refused(requests.get(get_url.replace("text%2Fplain", "text%2Fhtml"), timeout=30), code="SignatureDoesNotMatch")
    # COS signature with a tampered path.
    auth = CosS3Client(cos_config(server)).get_auth(Method="PUT", Bucket=bucket, Key=key)
    refused(requests.put(url.replace("a.jpg", "c.jpg"), data=b"x", headers={"Authorization": auth}, timeout=30),
            code="SignatureDoesNotMatch")
    assert listing(s3, bucket) == before


def cos_config(server):
    return CosConfig(Region="ap-guangzhou", SecretId=KEY, SecretKey=SECRET, Scheme="http", IP="127.0.0.1",
                     Port=server.port)


def test_pic_operations_must_be_signed(server, s3, bucket):
    before = listing(s3, bucket)
    key = f"neg/{uid()}/a.jpg"
    put_url = s3.generate_presigned_url("put_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=300)
    r = requests.put(put_url, data=JPEG, headers={"Pic-Operations": RULE}, timeout=60)
    refused(r, code="AccessDenied")
    assert "Pic-Operations" in ET.fromstring(r.content).findtext("Message")
    assert listing(s3, bucket) == before


def test_body_changed_under_signed_hash(server, s3, bucket):
    before = listing(s3, bucket)
    for headers in ({}, {"Pic-Operations": RULE}):
        url = f"{server.endpoint}/{bucket}/neg/{uid()}/a.jpg"
        h = sigv4_headers("PUT", url, headers, JPEG)
        forged = JPEG[:-10] + b"\0" * 10
        refused(requests.put(url, data=forged, headers=h, timeout=60), code="SignatureDoesNotMatch")
    assert listing(s3, bucket) == before


@pytest.mark.parametrize("where", ["data", "final-signature"])
def test_tampered_aws_chunk(server, s3, bucket, where):
    before = listing(s3, bucket)
    data = bytes(range(256)) * 1000

    def tamper(body):
        b = bytearray(body)
        if where == "data":
            b[100_000] ^= 1
        else:
            b[-10] = ord("0") if b[-10] != ord("0") else ord("1")
        return bytes(b)

    for headers in ({}, {"Pic-Operations": RULE}):
        payload = data if not headers else JPEG
        url = f"{server.endpoint}/{bucket}/neg/{uid()}/a.jpg"
        r = streaming_request(url, payload, headers=headers, tamper=tamper)
        refused(r, code="SignatureDoesNotMatch")
    assert listing(s3, bucket) == before


def test_bucket_restrictions(server, s3, bucket):
    ensure_bucket(s3, LIMITED_BUCKET)
    limited = boto(server, LIMITED_KEY, LIMITED_SECRET)
    key = f"lim/{uid()}/a.jpg"
    limited.put_object(Bucket=LIMITED_BUCKET, Key=key, Body=b"mine")
    before = listing(s3, bucket)
    with pytest.raises(ClientError) as e:
        limited.put_object(Bucket=bucket, Key=key, Body=b"not mine")
    assert e.value.response["Error"]["Code"] == "AccessDenied"
    with pytest.raises(ClientError) as e:
        limited.list_buckets()
    assert e.value.response["Error"]["Code"] == "AccessDenied"
    # A rule may not write into a bucket the key may not use.
    rule = json.dumps({"rules": [{"bucket": bucket, "fileid": "t.jpg", "rule": "imageMogr2/thumbnail/100x"}]})
    before_limited = listing(s3, LIMITED_BUCKET)
    url = f"{server.endpoint}/{LIMITED_BUCKET}/{key}"
    r = signed("PUT", url, headers={"Pic-Operations": rule}, data=JPEG, key=LIMITED_KEY, secret=LIMITED_SECRET)
    refused(r, code="AccessDenied")
    assert listing(s3, bucket) == before
    assert listing(s3, LIMITED_BUCKET) == before_limited
    # Its own bucket, with processing, works.
    r = signed("PUT", url, headers={"Pic-Operations": RULE}, data=JPEG, key=LIMITED_KEY, secret=LIMITED_SECRET)
    assert r.status_code == 200, r.text


def test_sign_upstream_as_caller(tmp_path, s3, bucket):
    """With `--sign-upstream-as caller`, picops signs upstream requests with the caller's own
    key, so the upstream's policies apply: against Garage, a key Garage knows but that has no
    access to the bucket is refused by Garage itself, while the same request through a
    service-key picops is allowed."""
    from e2e.server import CREDENTIALS, start_server

    outsider = os.environ.get("PICOPS_E2E_OUTSIDER_KEY")
    extra = ""
    if outsider:
        extra = f"""
[[credentials]]
access_key = "{os.environ['PICOPS_E2E_ACCESS_KEY']}"
secret_key = "{os.environ['PICOPS_E2E_SECRET_KEY']}"

[[credentials]]
access_key = "{outsider}"
secret_key = "{os.environ['PICOPS_E2E_OUTSIDER_SECRET']}"
"""
    srv = start_server(tmp_path, ["--sign-upstream-as", "caller"], credentials=CREDENTIALS + extra)
    try:
        if outsider:
            me = (os.environ["PICOPS_E2E_ACCESS_KEY"], os.environ["PICOPS_E2E_SECRET_KEY"])
        else:
            me = (KEY, SECRET)
            signed("PUT", f"{srv.endpoint}/{bucket}", key=me[0], secret=me[1])  # per-server store
        key = f"caller/{uid()}/a.jpg"
        r = signed("PUT", f"{srv.endpoint}/{bucket}/{key}", headers={"Pic-Operations": RULE}, data=JPEG,
                   key=me[0], secret=me[1])
        assert r.status_code == 200, r.text
        if outsider:
            assert s3.head_object(Bucket=bucket, Key=key.rsplit("/", 1)[0] + "/t.jpg")["ContentLength"] > 0
            before = listing(s3, bucket)
            sec = os.environ["PICOPS_E2E_OUTSIDER_SECRET"]
            for headers in ({}, {"Pic-Operations": RULE}):
                r = signed("PUT", f"{srv.endpoint}/{bucket}/caller/{uid()}/b.jpg", headers=headers, data=JPEG,
                           key=outsider, secret=sec)
                # Garage scopes bucket names per key, so it answers NoSuchBucket rather than
                # AccessDenied; either way the refusal is the upstream's, for the caller's key.
                assert r.status_code in (403, 404), r.text
                assert ET.fromstring(r.content).findtext("Code") in ("AccessDenied", "NoSuchBucket")
            assert listing(s3, bucket) == before
    finally:
        srv.proc.terminate()
        srv.proc.wait(timeout=30)


def test_signed_trailer_payloads_are_refused(server, s3, bucket):
    """Chunks with a signed trailer would leave the trailer unchecked: refused, not trusted."""
    before = listing(s3, bucket)
    url = f"{server.endpoint}/{bucket}/neg/{uid()}.bin"
    h = sigv4_headers("PUT", url, {"Content-Encoding": "aws-chunked", "x-amz-decoded-content-length": "5"}, b"",
                      payload="STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER")
    r = requests.put(url, data=b"5\r\nhello\r\n0\r\n\r\n", headers=h, timeout=30)
    assert r.status_code == 501 and "<Code>NotImplemented</Code>" in r.text, r.text
    assert listing(s3, bucket) == before
