"""Helpers of the attack suite: raw requests that keep every byte of the request target
(dot segments, encoded slashes, absolute-form targets), SigV4 signatures over such targets,
an independent COS signer, and read-backs with the full key."""
import hashlib
import hmac
import http.client
import io
import os
import time
import uuid
import xml.etree.ElementTree as ET
from urllib.parse import quote, unquote

from PIL import Image
from requests.structures import CaseInsensitiveDict

from e2e.server import KEY, SECRET
from e2e.sigs import sigv4_headers

UPSTREAM = os.environ.get("PICOPS_E2E_UPSTREAM")
COS_DOMAIN = "cos.ap-guangzhou.myqcloud.com"

# What the victim bucket holds; every test checks none of it leaks or changes.
SECRET_BODY = b"bob's secret: " + uuid.uuid4().hex.encode()


def uid():
    return uuid.uuid4().hex[:10]


def png(size=(16, 16), colour=(200, 30, 30)):
    buf = io.BytesIO()
    Image.new("RGB", size, colour).save(buf, "PNG")
    return buf.getvalue()


MARK = png()


def vhost(bucket):
    return f"{bucket}.{COS_DOMAIN}"


class Resp:
    """The parts of an answer the tests look at (the shape of a `requests` response)."""

    def __init__(self, status, headers, content):
        self.status_code = status
        self.headers = headers
        self.content = content

    @property
    def text(self):
        return self.content.decode(errors="replace")

    def __repr__(self):
        return f"<Resp {self.status_code} {self.content[:300]!r}>"


def raw(srv, method, target, headers=None, body=b"", timeout=60):
    """Send `method target HTTP/1.1` exactly as given (no dot-segment removal, no
    re-encoding; `target` may be absolute-form, as sent to an HTTP proxy)."""
    h = CaseInsensitiveDict({"Host": f"127.0.0.1:{srv.port}"})
    h.update(headers or {})
    if body or method in ("PUT", "POST"):
        h.setdefault("Content-Length", str(len(body)))
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=timeout)
    try:
        conn.putrequest(method, target, skip_host=True, skip_accept_encoding=True)
        for k, v in h.items():
            conn.putheader(k, v)
        conn.endheaders(body if body else None)
        r = conn.getresponse()
        return Resp(r.status, CaseInsensitiveDict(r.getheaders()), r.read())
    finally:
        conn.close()


def split_target(target):
    """(path, query) of an origin-form or absolute-form request target."""
    if target.startswith("http://"):
        rest = target[len("http://"):]
        slash = rest.find("/")
        target = rest[slash:] if slash >= 0 else "/"
    path, _, query = target.partition("?")
    return path, query


def sigv4_raw(srv, method, target, headers=None, body=b"", key=KEY, secret=SECRET, host=None, payload=None):
    """Headers signing `target` with SigV4. The canonical URI of S3 is the path decoded and
    encoded once (picops and AWS both do this), so `%2e%2e` signs as `..`; botocore's S3
    signer does not normalise the path, so dot segments are signed as sent."""
    host = host or f"127.0.0.1:{srv.port}"
    path, query = split_target(target)
    canon = quote(unquote(path), safe="/~")
    url = f"http://{host}{canon}" + (f"?{query}" if query else "")
    h = dict(headers or {})
    signed = sigv4_headers(method, url, h, body, key, secret, payload=payload)
    signed["Host"] = host
    return signed


def signed_raw(srv, method, target, headers=None, body=b"", key=KEY, secret=SECRET, host=None, **kw):
    h = sigv4_raw(srv, method, target, headers, body, key, secret, host)
    return raw(srv, method, target, h, body, **kw)


# --- COS signatures, written from the COS documentation ----------------------------------

def _sha1_hmac_hex(key, msg):
    return hmac.new(key.encode(), msg.encode(), hashlib.sha1).hexdigest()


def cos_authorization(method, path, params=(), headers=None, key=KEY, secret=SECRET, start=None, end=None):
    """A COS `Authorization` value. `path` is the decoded request path; `params` are
    (name, value) pairs (decoded) to sign; `headers` the headers to sign (name -> value);
    the window is `start;end` (default: a minute ago to ten minutes ahead)."""
    now = int(time.time())
    start = now - 60 if start is None else start
    end = now + 600 if end is None else end
    key_time = f"{start};{end}"
    hp = sorted((quote(k.lower(), safe=""), quote(v, safe="")) for k, v in (headers or {}).items())
    pp = sorted((quote(k, safe="").lower(), quote(v, safe="")) for k, v in params)
    http_string = "\n".join([
        method.lower(),
        path,
        "&".join(f"{k}={v}" for k, v in pp),
        "&".join(f"{k}={v}" for k, v in hp),
    ]) + "\n"
    sts = f"sha1\n{key_time}\n{hashlib.sha1(http_string.encode()).hexdigest()}\n"
    signature = _sha1_hmac_hex(_sha1_hmac_hex(secret, key_time), sts)
    return (f"q-sign-algorithm=sha1&q-ak={key}&q-sign-time={key_time}&q-key-time={key_time}"
            f"&q-header-list={';'.join(k for k, _ in hp)}&q-url-param-list={';'.join(k for k, _ in pp)}"
            f"&q-signature={signature}")


# --- answers and read-backs --------------------------------------------------------------

def xml_error(r):
    """The COS error answer's code (asserting it is one, with the request id header)."""
    err = ET.fromstring(r.content)
    assert err.tag == "Error", r.content[:300]
    assert err.findtext("RequestId") == r.headers["x-cos-request-id"], (r.headers, r.content[:300])
    return err.findtext("Code")


def refused(r, *statuses, method="GET"):
    """`r` is a refusal with one of `statuses` (COS XML unless it answers a HEAD), and not
    for a bad signature: this suite signs correctly, so such a refusal would prove nothing."""
    assert r.status_code in statuses, f"expected {statuses}, got {r.status_code}: {r.content[:400]!r}"
    if method == "HEAD":
        return None
    code = xml_error(r)
    assert code not in ("SignatureDoesNotMatch", "InvalidAccessKeyId"), r.content[:400]
    return code


def no_leak(r, *secrets):
    for s in secrets:
        assert s not in r.content, f"leaked {s[:40]!r}: {r.content[:400]!r}"


def read(s3, bucket, key):
    """Bytes of an object with the full key, or None if it does not exist."""
    from botocore.exceptions import ClientError
    try:
        return s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    except ClientError as e:
        if e.response["Error"]["Code"] in ("NoSuchKey", "404", "NotFound"):
            return None
        raise


def keys(s3, bucket, prefix=""):
    out, token = [], None
    for _ in range(100):
        kw = {"Bucket": bucket, "Prefix": prefix}
        if token:
            kw["ContinuationToken"] = token
        page = s3.list_objects_v2(**kw)
        out += [o["Key"] for o in page.get("Contents", [])]
        if not page.get("IsTruncated"):
            break
        token = page["NextContinuationToken"]
    return sorted(out)


def bucket_names(s3):
    return sorted(b["Name"] for b in s3.list_buckets()["Buckets"])


def victim(s3, bucket, suffix=".txt"):
    """A fresh object in the victim bucket; returns (key, content)."""
    key = f"victim-{uid()}{suffix}"
    content = b"victim " + uuid.uuid4().hex.encode()
    s3.put_object(Bucket=bucket, Key=key, Body=content)
    return key, content


def stop(srv):
    """Stop a dedicated server (a hung processing job must not keep a core busy)."""
    srv.proc.terminate()
    try:
        srv.proc.wait(timeout=10)
    except Exception:
        srv.proc.kill()
        srv.proc.wait(timeout=30)


def vm_mib(pid, field):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field):
                return int(line.split()[1]) // 1024
    return 0


_HELP = []


def serve_help():
    """`picops serve --help` (cached): which flags this binary has."""
    if not _HELP:
        from helpers import picops
        _HELP.append(picops("serve", "--help").stdout)
    return _HELP[0]


def dedicated(tmp, extra=(), config=None):
    """A server of its own (through e2e's start_server, so it fronts the same upstream as the
    shared one), with the public bucket created and `config` written as its picops.toml."""
    from e2e.server import PUBLIC_BUCKET, start_server
    from e2e.sigs import signed
    extra = list(extra)
    if config:
        cfg = tmp / "picops.toml"
        tmp.mkdir(parents=True, exist_ok=True)
        cfg.write_text(config)
        extra += ["--config", str(cfg)]
    srv = start_server(tmp, extra)
    r = signed("PUT", f"{srv.endpoint}/{PUBLIC_BUCKET}")
    assert r.status_code in (200, 409), r.text
    return srv


def listing_entries(content):
    """Keys and common prefixes a ListObjects (v1/v2) answer lists (not the request's echoed
    Prefix/Marker), URL-decoded."""
    from urllib.parse import unquote
    root = ET.fromstring(content)
    out = []
    for el in root:
        tag = el.tag.split("}")[-1]
        for child in el:
            ctag = child.tag.split("}")[-1]
            if (tag, ctag) in (("Contents", "Key"), ("CommonPrefixes", "Prefix"), ("Version", "Key"),
                               ("DeleteMarker", "Key"), ("Upload", "Key")) and child.text:
                out.append(unquote(child.text))
    return out
