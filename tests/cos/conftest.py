"""The COS-client suite: cos-python-sdk-v5 used as applications use it, against `picops serve`.

The server is the one tests/conftest.py starts (e2e/server.py), shared with tests/e2e: in
front of its embedded store (a Garage that picops runs itself, PICOPS_STORE_BIN) by default,
or of the store named by PICOPS_E2E_UPSTREAM (an external Garage in CI) when that is set.
Every test holds for both.
Two clients:

- `cos`: the SDK pointed at picops by IP and port (CosConfig IP/Port), as in tests/e2e. It
  sends `Host: <bucket>.cos.ap-guangzhou.myqcloud.com`, so the bucket comes from the host.
- `cos_domain`: the SDK with COS's own domain names and an HTTP proxy (CosConfig Proxies),
  the way an application reaches picops when COS's host names resolve to it. Its URLs name
  the bucket, so the pre-signed URLs it makes are usable as they are (`fetch` sends them
  through the same proxy).
"""
import pytest
import requests
from qcloud_cos import CosConfig, CosS3Client

from cos.cosutil import REGION, uid
from e2e.server import KEY, SECRET, UPSTREAM


def pytest_report_header(config):
    return f"picops COS-client suite, store: {UPSTREAM or 'embedded Garage'}"


def _config(server, **kw):
    return CosConfig(Region=REGION, SecretId=KEY, SecretKey=SECRET, Scheme="http", Timeout=60, **kw)


@pytest.fixture(scope="session")
def cos(server):
    return CosS3Client(_config(server, IP="127.0.0.1", Port=server.port), retry=1)


@pytest.fixture(scope="session")
def cos_domain(server):
    return CosS3Client(_config(server, Proxies={"http": server.endpoint}), retry=1)


@pytest.fixture(scope="session")
def fetch(server):
    """Send a request for a URL made by `cos_domain` (pre-signed) through picops."""

    def go(method, url, **kw):
        kw.setdefault("timeout", 60)
        return requests.request(method, url, proxies={"http": server.endpoint}, **kw)

    return go


@pytest.fixture(scope="session")
def bucket(cos):
    # COS form: <name>-<appid>. Created the way a COS application creates it.
    name = f"picops-cos-{uid()}-1250000000"
    cos.create_bucket(Bucket=name)
    return name
