"""Styles (docs/protocol.md, styles): created, listed and deleted through cos-python-sdk-v5's style API,
stored in the upstream, and used by `style/<name>` in uploads; styles from picops.toml too."""
import io
import json
import uuid

import pytest
from PIL import Image
from qcloud_cos.cos_exception import CosServiceError

from e2e.server import start_server
from e2e.sigs import signed
from helpers import IMAGES

JPEG = (IMAGES / "photos" / "autumn-2560x1600.jpg").read_bytes()


def size_of(s3, bucket, key):
    return Image.open(io.BytesIO(s3.get_object(Bucket=bucket, Key=key)["Body"].read())).size


def test_style_api_round_trip_and_use(cos, s3, bucket):
    name = f"t{uuid.uuid4().hex[:6]}"
    cos.ci_put_image_style(Bucket=bucket, Request={"StyleName": name, "StyleBody": "imageMogr2/thumbnail/!25p"})
    _, listed = cos.ci_get_image_style(Bucket=bucket, Request={"StyleName": name})
    rules = listed["StyleRule"] if isinstance(listed["StyleRule"], list) else [listed["StyleRule"]]
    assert {"StyleName": name, "StyleBody": "imageMogr2/thumbnail/!25p"} in rules

    key = f"styled/{uuid.uuid4().hex[:8]}/a.jpg"
    _, result = cos.ci_put_object(Bucket=bucket, Key=key, Body=JPEG, PicOperations=json.dumps(
        {"rules": [{"fileid": "q.jpg", "rule": f"style/{name}"}]}))
    assert size_of(s3, bucket, key.rsplit("/", 1)[0] + "/q.jpg") == (640, 400)

    cos.ci_delete_image_style(Bucket=bucket, Request={"StyleName": name})
    with pytest.raises(CosServiceError) as e:
        cos.ci_put_object(Bucket=bucket, Key=key, Body=JPEG, PicOperations=json.dumps(
            {"rules": [{"fileid": "q2.jpg", "rule": f"style/{name}"}]}))
    assert e.value.get_error_code() == "NoSuchStyle"


def test_style_store_is_private(server, bucket):
    for method in ("GET", "PUT", "DELETE"):
        r = signed(method, f"{server.endpoint}/{bucket}/.picops/styles/anything", data=b"x" if method == "PUT" else b"")
        assert r.status_code == 403 and "<Code>AccessDenied</Code>" in r.text, r.text


def test_invalid_style_bodies_are_refused(cos, bucket):
    for body in ("imageMogr2/bogus/1", "style/other"):
        with pytest.raises(CosServiceError) as e:
            cos.ci_put_image_style(Bucket=bucket, Request={"StyleName": "bad", "StyleBody": body})
        assert e.value.get_error_code() == "InvalidArgument"


def test_styles_from_the_config_file(tmp_path, bucket):
    cfg = tmp_path / "picops.toml"
    cfg.write_text(f'[styles."{bucket}"]\nsmall = "imageView2/1/w/120/h/90"\n')
    srv = start_server(tmp_path, ["--config", str(cfg)])
    try:
        import os
        if not os.environ.get("PICOPS_E2E_UPSTREAM"):
            assert signed("PUT", f"{srv.endpoint}/{bucket}").status_code == 200
        key = f"cfgstyle/{uuid.uuid4().hex[:8]}/a.jpg"
        r = signed("PUT", f"{srv.endpoint}/{bucket}/{key}", data=JPEG, headers={"Pic-Operations": json.dumps(
            {"rules": [{"fileid": "s.jpg", "rule": "style/small"}]})})
        assert r.status_code == 200, r.text
        g = signed("GET", f"{srv.endpoint}/{bucket}/{key.rsplit('/', 1)[0]}/s.jpg")
        assert Image.open(io.BytesIO(g.content)).size == (120, 90)
    finally:
        srv.proc.terminate()
        srv.proc.wait(timeout=30)
