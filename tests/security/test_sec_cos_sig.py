"""COS signatures (q-sign-algorithm=sha1), made by an independent signer (secutil) and by
cos-python-sdk-v5: the host must be signed (else a signature for one bucket's `/key` works on
every bucket's virtual host), every query parameter must be signed (else `response-*`
overrides and processing rules ride on someone else's signature), and a signature's window
is bounded."""
import io
import time
from urllib.parse import quote

import pytest
import requests
from PIL import Image
from qcloud_cos import CosConfig, CosS3Client

from e2e.server import KEY, SECRET
from security.secutil import SECRET_BODY, cos_authorization, no_leak, raw, refused, vhost, xml_error


def sdk():
    """The COS SDK as an application has it: real COS endpoint, picops as HTTP proxy."""
    return CosS3Client(CosConfig(Region="ap-guangzhou", SecretId=KEY, SecretKey=SECRET, Scheme="http"))


def get(server, bucket, target, auth=None, extra=None):
    h = {"Host": vhost(bucket)}
    if auth:
        h["Authorization"] = auth
    h.update(extra or {})
    return raw(server, "GET", target, h)


# --- (a) host not signed --------------------------------------------------------------------

def test_signature_without_host_replayed_on_another_bucket(server, bob, bucket):
    """A signature for `GET /secret.txt` that leaves `host` out (as cos-python-sdk-v5 does
    with SignHost=False) was meant for one bucket; sent to bob's virtual host it is refused."""
    auth = cos_authorization("GET", "/secret.txt", headers={})
    r = get(server, bob, "/secret.txt", auth)
    refused(r, 403)
    no_leak(r, SECRET_BODY)
    sdk_auth = sdk().get_auth(Method="GET", Bucket=bucket, Key="secret.txt", SignHost=False)
    assert "host" not in sdk_auth.split("q-header-list=", 1)[1].split("&", 1)[0]
    r = get(server, bob, "/secret.txt", sdk_auth)
    refused(r, 403)
    no_leak(r, SECRET_BODY)
    # The same as a forward-proxy request.
    r = raw(server, "GET", f"http://{vhost(bob)}/secret.txt", {"Host": vhost(bob), "Authorization": auth})
    refused(r, 403)
    no_leak(r, SECRET_BODY)


def test_presigned_url_without_host(server, bob):
    auth = cos_authorization("GET", "/secret.txt", headers={})
    query = "&".join(f"{k}={quote(v, safe='')}" for k, v in (kv.split("=", 1) for kv in auth.split("&")))
    r = get(server, bob, f"/secret.txt?{query}")
    refused(r, 403)
    no_leak(r, SECRET_BODY)


def test_control_host_signed(server, bob, bucket):
    auth = cos_authorization("GET", "/secret.txt", headers={"host": vhost(bob)})
    r = get(server, bob, "/secret.txt", auth)
    assert r.status_code == 200 and r.content == SECRET_BODY, r
    # Signed for another bucket's host: refused (the host is checked when it is signed).
    other = cos_authorization("GET", "/secret.txt", headers={"host": vhost(bucket)})
    r = get(server, bob, "/secret.txt", other)
    assert r.status_code == 403 and xml_error(r) == "SignatureDoesNotMatch", r
    no_leak(r, SECRET_BODY)
    # The SDK's own signature (host signed by default).
    r = get(server, bob, "/secret.txt", sdk().get_auth(Method="GET", Bucket=bob, Key="secret.txt"))
    assert r.status_code == 200 and r.content == SECRET_BODY, r


# --- (b) unsigned query parameters ---------------------------------------------------------

@pytest.mark.parametrize("param", [("response-content-type", "text/html"),
                                   ("response-content-disposition", "inline"),
                                   ("imageMogr2/thumbnail/10x", "")])
def test_unsigned_query_parameter(server, bob, param):
    name, value = param
    key = "mark.png" if name.startswith("image") else "secret.txt"
    auth = cos_authorization("GET", f"/{key}", headers={"host": vhost(bob)})
    q = name if not value else f"{name}={quote(value, safe='')}"
    r = get(server, bob, f"/{key}?{q}", auth)
    refused(r, 403)
    no_leak(r, SECRET_BODY)
    assert not r.headers.get("Content-Type", "").startswith(("text/html", "image/")), r.headers


def test_unsigned_query_parameter_on_presigned_url(server, bob):
    url = sdk().get_presigned_download_url(Bucket=bob, Key="secret.txt", Expired=300)
    proxies = {"http": server.endpoint}
    assert requests.get(url, proxies=proxies, timeout=30).content == SECRET_BODY  # control
    for extra in ("response-content-type=text%2Fhtml", "imageMogr2/thumbnail/10x"):
        r = requests.get(f"{url}&{extra}", proxies=proxies, timeout=30)
        refused(r, 403)
        no_leak(r, SECRET_BODY)


def test_control_signed_query_parameters(server, bob):
    # response-content-type signed: accepted.
    auth = cos_authorization("GET", "/secret.txt", params=[("response-content-type", "text/plain")],
                             headers={"host": vhost(bob)})
    r = get(server, bob, "/secret.txt?response-content-type=text%2Fplain", auth)
    assert r.status_code == 200 and r.content == SECRET_BODY, r
    # A processing rule signed: accepted and applied.
    auth = cos_authorization("GET", "/mark.png", params=[("imageMogr2/thumbnail/10x", "")],
                             headers={"host": vhost(bob)})
    r = get(server, bob, "/mark.png?imageMogr2/thumbnail/10x", auth)
    assert r.status_code == 200, r
    assert Image.open(io.BytesIO(r.content)).size == (10, 10)
    # The SDK signs the parameters it is given.
    url = sdk().get_presigned_download_url(Bucket=bob, Key="secret.txt", Expired=300,
                                           Params={"response-content-type": "text/plain"})
    r = requests.get(url, proxies={"http": server.endpoint}, timeout=30)
    assert r.status_code == 200 and r.content == SECRET_BODY, r.text


# --- (c) the signature's window ------------------------------------------------------------

@pytest.mark.parametrize("window", ["forever", "eight-days"])
def test_unbounded_sign_time(server, bob, window):
    now = int(time.time())
    end = {"forever": 99999999999, "eight-days": now + 8 * 86400}[window]
    auth = cos_authorization("GET", "/secret.txt", headers={"host": vhost(bob)}, start=now - 10, end=end)
    r = get(server, bob, "/secret.txt", auth)
    refused(r, 403)
    no_leak(r, SECRET_BODY)


def test_control_one_hour_window(server, bob):
    now = int(time.time())
    auth = cos_authorization("GET", "/secret.txt", headers={"host": vhost(bob)}, start=now - 10, end=now + 3600)
    r = get(server, bob, "/secret.txt", auth)
    assert r.status_code == 200 and r.content == SECRET_BODY, r
