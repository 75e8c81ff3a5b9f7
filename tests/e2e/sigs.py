"""Signing raw HTTP requests for tests that need to control every byte (tampering, streaming
bodies). SigV4 comes from botocore's own signer; chunk signatures are computed here from the
AWS documentation, independently of picops' Rust code."""
import datetime
import hashlib
import hmac

import requests
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from e2e.server import KEY, SECRET

UNSIGNED = "UNSIGNED-PAYLOAD"
STREAMING = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
REGION = "us-east-1"


class _Signer(S3SigV4Auth):
    """botocore's S3 signer, declaring a given x-amz-content-sha256 instead of hashing."""

    def __init__(self, credentials, declared):
        super().__init__(credentials, "s3", REGION)
        self._declared = declared

    def payload(self, request):
        return self._declared or super().payload(request)


def sigv4_headers(method, url, headers=None, body=b"", key=KEY, secret=SECRET, payload=None, token=None):
    """Headers (Authorization, X-Amz-Date, X-Amz-Content-SHA256, the given ones) for a request.
    `payload`: None signs the SHA-256 of `body`; otherwise the literal value to declare."""
    headers = dict(headers or {})
    req = AWSRequest(method=method, url=url, headers=headers, data=body if isinstance(body, bytes) else b"")
    _Signer(Credentials(key, secret, token), payload).add_auth(req)
    return dict(req.headers.items())


def signed(method, url, headers=None, data=b"", key=KEY, secret=SECRET, payload=None, session=None, **kw):
    """Send a SigV4-signed request with requests (through `session` when given)."""
    if not isinstance(data, bytes) and payload is None:
        payload = UNSIGNED
    h = sigv4_headers(method, url, headers, data, key, secret, payload)
    kw.setdefault("timeout", 120)
    return (session or requests).request(method, url, headers=h, data=data, **kw)


def _hmac(k, m):
    return hmac.new(k, m.encode(), hashlib.sha256).digest()


def signed_chunks(chunks, signed_headers, secret=SECRET):
    """The aws-chunked body of `chunks` (the last one empty), each chunk signed in the chain
    that starts at the seed signature of `signed_headers`."""
    seed = signed_headers["Authorization"].rsplit("Signature=", 1)[1]
    amz_date = signed_headers["X-Amz-Date"]
    day = amz_date[:8]
    scope = f"{day}/{REGION}/s3/aws4_request"
    k = _hmac(_hmac(_hmac(_hmac(("AWS4" + secret).encode(), day), REGION), "s3"), "aws4_request")
    empty = hashlib.sha256(b"").hexdigest()
    prev, body = seed, b""
    for c in chunks:
        sts = "\n".join(["AWS4-HMAC-SHA256-PAYLOAD", amz_date, scope, prev, empty, hashlib.sha256(c).hexdigest()])
        prev = hmac.new(k, sts.encode(), hashlib.sha256).hexdigest()
        body += f"{len(c):x};chunk-signature={prev}\r\n".encode() + c + b"\r\n"
    return body


def streaming_request(url, data, chunk_size=64 * 1024, key=KEY, secret=SECRET, headers=None, tamper=None):
    """A PUT with a STREAMING-AWS4-HMAC-SHA256-PAYLOAD body; `tamper(body_bytes) -> bytes`
    changes the encoded body after signing. Returns the response."""
    headers = dict(headers or {})
    chunks = [data[i:i + chunk_size] for i in range(0, len(data), chunk_size)] + [b""]
    # Encoded length: each chunk is `hex;chunk-signature=<64>\r\n<data>\r\n`.
    encoded_len = sum(len(f"{len(c):x};chunk-signature=") + 64 + 2 + len(c) + 2 for c in chunks)
    headers.update({
        "Content-Encoding": "aws-chunked",
        "x-amz-decoded-content-length": str(len(data)),
        "Content-Length": str(encoded_len),
    })
    signed_headers = sigv4_headers("PUT", url, headers, b"", key, secret, payload=STREAMING)
    body = signed_chunks(chunks, signed_headers, secret)
    assert len(body) == encoded_len
    if tamper:
        body = tamper(body)
    return requests.put(url, data=body, headers=signed_headers, timeout=120)


def now_amz():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
