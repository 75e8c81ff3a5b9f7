"""Attacks on browser form uploads (POST Object) and what came with them: the store
features check, and the embedded store's files. Each test sends real requests (raw sockets
where the framing itself is the attack) and reads back with the full key."""
import base64
import datetime
import hashlib
import hmac
import json
import os
import socket
import stat

import pytest
import requests

from e2e.server import KEY, SECRET
from e2e.sigs import sigv4_headers
from security.secutil import UPSTREAM, read, refused, uid, xml_error


def sigv4_form(bucket, key, conditions=(), fields=None, access_key=KEY, secret=SECRET):
    """A SigV4 POST form for `key` in `bucket`: its policy names the bucket, the key, the
    signature's own fields, and `conditions`; `fields` are sent as well."""
    now = datetime.datetime.now(datetime.timezone.utc)
    date = now.strftime("%Y%m%dT%H%M%SZ")
    cred = f"{access_key}/{date[:8]}/us-east-1/s3/aws4_request"
    form = {"key": key, "x-amz-algorithm": "AWS4-HMAC-SHA256", "x-amz-credential": cred,
            "x-amz-date": date, **(fields or {})}
    conds = [{"bucket": bucket}, {"key": key}, {"x-amz-algorithm": "AWS4-HMAC-SHA256"},
             {"x-amz-credential": cred}, {"x-amz-date": date}, *conditions]
    expiration = (now + datetime.timedelta(minutes=10)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    policy = base64.b64encode(json.dumps({"expiration": expiration, "conditions": conds}).encode()).decode()

    def h(k, m):
        return hmac.new(k, m.encode(), hashlib.sha256).digest()

    signing = h(h(h(h(("AWS4" + secret).encode(), date[:8]), "us-east-1"), "s3"), "aws4_request")
    form["policy"] = policy
    form["x-amz-signature"] = hmac.new(signing, policy.encode(), hashlib.sha256).hexdigest()
    return form


def multipart(fields, data, boundary="picopsBoundary7", after=b""):
    out = b""
    for k, v in fields.items():
        out += f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
    out += (f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="f.bin"\r\n\r\n'
            .encode() + data + f"\r\n--{boundary}".encode() + after + b"--\r\n")
    return out


def chunked(body, size=64 * 1024):
    out = b""
    for i in range(0, len(body), size):
        piece = body[i:i + size]
        out += f"{len(piece):x}\r\n".encode() + piece + b"\r\n"
    return out + b"0\r\n\r\n"


def send_raw(srv, head, body, timeout=60):
    """Send a request as given; returns (status, body) of the answer."""
    s = socket.create_connection(("127.0.0.1", srv.port), timeout=timeout)
    try:
        s.sendall(head.encode() + body)
        data = b""
        while True:
            try:
                piece = s.recv(65536)
            except (socket.timeout, ConnectionResetError):
                break
            if not piece:
                break
            data += piece
            if b"\r\n\r\n" in data:
                header, _, rest = data.partition(b"\r\n\r\n")
                lengths = [l for l in header.split(b"\r\n") if l.lower().startswith(b"content-length:")]
                if lengths and len(rest) >= int(lengths[0].split(b":")[1]):
                    break
        header, _, rest = data.partition(b"\r\n\r\n")
        return int(header.split(b" ")[1]), rest
    finally:
        s.close()


def test_a_body_longer_than_its_declared_length_is_refused(server, s3, bucket):
    """A signed `x-amz-decoded-content-length: 10` on a form POST (or a PUT with
    Pic-Operations) whose body is not aws-chunked: picops reserved memory for 10 bytes and
    then read (and stored) a body of up to max_body. (pingora drops a `Content-Length` sent
    beside `Transfer-Encoding: chunked`, so that one is no lie: the whole cap is reserved.)"""
    key = f"lie/{uid()}"
    body = multipart(sigv4_form(bucket, key), b"z" * (2 << 20))
    url = f"http://127.0.0.1:{server.port}/{bucket}"
    ct = "multipart/form-data; boundary=picopsBoundary7"
    signed = sigv4_headers("POST", url, {"x-amz-decoded-content-length": "10", "Content-Type": ct},
                           payload="UNSIGNED-PAYLOAD")
    head = f"POST /{bucket} HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n"
    for k, v in signed.items():
        head += f"{k}: {v}\r\n"
    head += "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    status, answer = send_raw(server, head, chunked(body))
    assert status in (400, 413), (status, answer[:300])
    assert read(s3, bucket, key) is None
    # The same form with its true length is stored.
    signed = sigv4_headers("POST", url, {"x-amz-decoded-content-length": str(len(body)),
                                         "Content-Type": ct}, payload="UNSIGNED-PAYLOAD")
    head = f"POST /{bucket} HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in signed.items())
    head += "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    status, answer = send_raw(server, head, chunked(body))
    assert status == 204, (status, answer[:300])
    assert read(s3, bucket, key) == b"z" * (2 << 20)


def test_form_fields_are_bounded_before_anything_is_verified(server, s3, bucket):
    """The fields are copied as text and the policy decoded before the signature is checked:
    a form of megabytes of fields (anyone may send one) made picops allocate several times
    the body it had reserved memory for."""
    big = base64.b64encode(os.urandom(3 << 20)).decode()
    fields = {"key": f"big/{uid()}", "policy": big, "x-amz-algorithm": "AWS4-HMAC-SHA256",
              "x-amz-credential": f"{KEY}/20260101/us-east-1/s3/aws4_request",
              "x-amz-date": "20260101T000000Z", "x-amz-signature": "0" * 64}
    r = requests.post(f"{server.endpoint}/{bucket}", data=fields,
                      files={"file": ("a.txt", b"x")}, timeout=60)
    assert refused(r, 400) == "MalformedPOSTRequest", r.text
    # Bytes after the file (ignored, but held with it) are bounded the same way.
    key = f"tail/{uid()}"
    form = sigv4_form(bucket, key)
    tail = b"\r\nContent-Disposition: form-data; name=\"x\"\r\n\r\n" + b"t" * (2 << 20) + b"\r\n--picopsBoundary7"
    r = requests.post(f"{server.endpoint}/{bucket}", data=multipart(form, b"file body", after=tail),
                      headers={"Content-Type": "multipart/form-data; boundary=picopsBoundary7"}, timeout=60)
    assert refused(r, 400) == "MalformedPOSTRequest", r.text
    assert read(s3, bucket, key) is None
    # A form within the bounds is still accepted.
    r = requests.post(f"{server.endpoint}/{bucket}", data=multipart(form, b"file body"),
                      headers={"Content-Type": "multipart/form-data; boundary=picopsBoundary7"}, timeout=60)
    assert r.status_code == 204, r.text
    assert read(s3, bucket, key) == b"file body"


def test_a_repeated_acl_is_checked_in_every_value(server, s3, bucket):
    """upstream.features (no `acl` here): only the first value of a header was checked, so
    `x-amz-acl: private` vouched for a second `x-amz-acl: public-read` (a form's `acl` and
    `x-amz-acl` fields, or the header sent twice), and the store was asked for both."""
    key = f"acl/{uid()}"
    form = sigv4_form(bucket, key, [{"acl": "private"}, {"x-amz-acl": "public-read"}],
                      {"acl": "private", "x-amz-acl": "public-read"})
    r = requests.post(f"{server.endpoint}/{bucket}", data=form, files={"file": ("a", b"x")}, timeout=60)
    assert refused(r, 501) == "NotImplemented", r.text
    assert read(s3, bucket, key) is None
    # The header twice on a plain PUT, both values signed.
    url = f"{server.endpoint}/{bucket}/{key}"
    signed = sigv4_headers("PUT", url, {"x-amz-acl": "private,public-read"}, b"x")
    head = f"PUT /{bucket}/{key} HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n"
    for k, v in signed.items():
        if k.lower() == "x-amz-acl":
            head += "x-amz-acl: private\r\nx-amz-acl: public-read\r\n"
        elif k.lower() != "host":
            head += f"{k}: {v}\r\n"
    head += "Content-Length: 1\r\nConnection: close\r\n\r\n"
    status, answer = send_raw(server, head, b"x")
    assert status == 501, answer[:300]
    assert read(s3, bucket, key) is None
    # Both values private: accepted.
    signed = sigv4_headers("PUT", url, {"x-amz-acl": "private"}, b"x")
    assert requests.put(url, headers=signed, data=b"x", timeout=60).status_code == 200


@pytest.mark.skipif(bool(UPSTREAM), reason="the embedded store only")
def test_the_embedded_stores_files_are_private(server, s3, bucket):
    """Garage creates its metadata database (every key's secret, picops' all-powerful one
    included) and its data blocks readable by everyone: the directory above them must let
    no other local user in."""
    root = server.data_dir / "garage"
    mode = stat.S_IMODE(os.stat(root).st_mode)
    assert mode & 0o077 == 0, oct(mode)


def test_error_answers_are_cos_xml(server, bucket):
    """(A sanity check of the helpers above: an anonymous form is refused as COS XML.)"""
    r = requests.post(f"{server.endpoint}/{bucket}", data={"key": "k"},
                      files={"file": ("a", b"x")}, timeout=60)
    assert r.status_code == 403 and xml_error(r) == "AccessDenied"
