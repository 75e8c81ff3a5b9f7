"""Headers a signature does not cover. picops re-signs every x-amz-* header for the upstream
with its own key, so an unsigned one added to someone else's pre-signed URL (or signed
request) would be honoured as if the signer had sent it: refused 403, nothing stored."""

import pytest
import requests

from e2e.sigs import STREAMING, signed_chunks, sigv4_headers, streaming_request
from security.secutil import SECRET_BODY, read, refused, uid, victim

EXTRAS = {
    "copy-source": ("x-amz-copy-source", "/{bob}/secret.txt"),
    "cos-copy-source": ("x-cos-copy-source", "{bob}.cos.ap-guangzhou.myqcloud.com/secret.txt"),
    "meta": ("x-amz-meta-evil", "1"),
    "cos-meta": ("x-cos-meta-evil", "1"),
    "redirect": ("x-amz-website-redirect-location", "https://evil.example/"),
    "acl": ("x-amz-acl", "public-read"),
    "storage-class": ("x-amz-storage-class", "REDUCED_REDUNDANCY"),
    "tagging": ("x-amz-tagging", "evil=1"),
}


def unchanged(s3, bucket, key, content):
    assert read(s3, bucket, key) == content
    head = s3.head_object(Bucket=bucket, Key=key)
    assert head.get("Metadata", {}) == {}, head.get("Metadata")
    assert "WebsiteRedirectLocation" not in head, head


@pytest.mark.parametrize("extra", sorted(EXTRAS))
def test_presigned_put_with_unsigned_extra_header(s3, bob, extra):
    key, content = victim(s3, bob)
    url = s3.generate_presigned_url("put_object", Params={"Bucket": bob, "Key": key}, ExpiresIn=300)
    name, value = EXTRAS[extra]
    r = requests.put(url, data=b"uploaded", headers={name: value.format(bob=bob)}, timeout=60)
    refused(r, 403)
    assert SECRET_BODY not in r.content
    unchanged(s3, bob, key, content)
    # A fresh key: nothing created either.
    new = f"new-{uid()}.txt"
    url = s3.generate_presigned_url("put_object", Params={"Bucket": bob, "Key": new}, ExpiresIn=300)
    refused(requests.put(url, data=b"uploaded", headers={name: value.format(bob=bob)}, timeout=60), 403)
    assert read(s3, bob, new) is None


def test_control_presigned_put(s3, bob):
    key, _ = victim(s3, bob)
    url = s3.generate_presigned_url("put_object", Params={"Bucket": bob, "Key": key}, ExpiresIn=300)
    r = requests.put(url, data=b"uploaded", timeout=60)
    assert r.status_code == 200, r.text
    assert read(s3, bob, key) == b"uploaded"


@pytest.mark.parametrize("extra", ["meta", "cos-meta", "copy-source", "redirect"])
def test_header_signed_put_with_unsigned_extra_header(server, s3, bob, extra):
    key, content = victim(s3, bob)
    url = f"{server.endpoint}/{bob}/{key}"
    h = sigv4_headers("PUT", url, {}, b"uploaded")
    name, value = EXTRAS[extra]
    h[name] = value.format(bob=bob)
    r = requests.put(url, data=b"uploaded", headers=h, timeout=60)
    refused(r, 403)
    unchanged(s3, bob, key, content)


def test_control_header_signed_put_with_signed_metadata(server, s3, bob):
    key, _ = victim(s3, bob)
    url = f"{server.endpoint}/{bob}/{key}"
    h = sigv4_headers("PUT", url, {"x-amz-meta-good": "yes"}, b"uploaded")
    r = requests.put(url, data=b"uploaded", headers=h, timeout=60)
    assert r.status_code == 200, r.text
    assert read(s3, bob, key) == b"uploaded"
    assert s3.head_object(Bucket=bob, Key=key)["Metadata"] == {"good": "yes"}


def streaming_with_unsigned_length(url, data, declared, chunk_size=64 * 1024):
    """A signed aws-chunked upload (as e2e.sigs.streaming_request) whose
    x-amz-decoded-content-length is added after signing, so SignedHeaders lacks it."""
    chunks = [data[i:i + chunk_size] for i in range(0, len(data), chunk_size)] + [b""]
    encoded_len = sum(len(f"{len(c):x};chunk-signature=") + 64 + 2 + len(c) + 2 for c in chunks)
    headers = {"Content-Encoding": "aws-chunked", "Content-Length": str(encoded_len)}
    h = sigv4_headers("PUT", url, headers, b"", payload=STREAMING)
    assert "x-amz-decoded-content-length" not in h["Authorization"]
    body = signed_chunks(chunks, h)
    h["x-amz-decoded-content-length"] = declared
    return requests.put(url, data=body, headers=h, timeout=60)


@pytest.mark.parametrize("existing", [False, True])
def test_streaming_upload_with_unsigned_decoded_length(server, s3, bob, existing):
    if existing:
        key, content = victim(s3, bob)
    else:
        key, content = f"stream-{uid()}.bin", None
    data = bytes(range(256)) * 400  # 102,400 bytes: two chunks
    r = streaming_with_unsigned_length(f"{server.endpoint}/{bob}/{key}", data, "3")
    stored = read(s3, bob, key)
    assert stored != data[:3], "the object was truncated to the unsigned x-amz-decoded-content-length"
    if r.status_code == 200:
        assert stored == data
    else:
        assert 400 <= r.status_code < 500, r.text
        refused(r, r.status_code)
        assert stored == content


def test_control_streaming_upload(server, s3, bob):
    key = f"stream-{uid()}.bin"
    data = bytes(range(256)) * 400
    r = streaming_request(f"{server.endpoint}/{bob}/{key}", data)
    assert r.status_code == 200, r.text
    assert read(s3, bob, key) == data
