"""`public_read` lets anyone GET and HEAD the objects of a bucket, nothing more: no listing,
no style list, no other bucket-level call. `--public-list` adds anonymous listing, which
still never shows the reserved `.picops/` keys. Style names are validated as keys."""
import pytest
from qcloud_cos import CosConfig, CosS3Client

from e2e.server import KEY, SECRET, PUBLIC_BUCKET
from e2e.sigs import signed
from security.secutil import dedicated, listing_entries, raw, refused, serve_help, stop, uid, vhost

STYLE_BODY = "imageMogr2/thumbnail/10x"


@pytest.mark.parametrize("target", [
    "/{b}", "/{b}/", "/{b}?list-type=2", "/{b}/?list-type=2", "/{b}?prefix=", "/{b}?prefix=.picops/",
    "/{b}/?style", "/{b}?style", "/{b}?uploads", "/{b}?location", "/{b}?versions", "/{b}?acl",
])
def test_anonymous_bucket_level_get_is_refused(server, public, target):
    r = raw(server, "GET", target.format(b=public))
    refused(r, 403)
    assert b"pub.txt" not in r.content and b"StyleRule" not in r.content


def test_anonymous_bucket_level_on_virtual_host_and_head(server, public):
    for target in ("/", "/?list-type=2", "/?style"):
        r = raw(server, "GET", target, {"Host": vhost(public)})
        refused(r, 403)
        assert b"pub.txt" not in r.content
    refused(raw(server, "HEAD", f"/{public}"), 403, method="HEAD")


def test_anonymous_style_list_is_refused(server, cos, public):
    name = f"p{uid()}"
    cos.ci_put_image_style(Bucket=public, Request={"StyleName": name, "StyleBody": STYLE_BODY})
    try:
        r = raw(server, "GET", f"/{public}/?style")
        refused(r, 403)
        assert name.encode() not in r.content
        # The full key still lists it.
        r = signed("GET", f"{server.endpoint}/{public}/?style")
        assert r.status_code == 200 and name.encode() in r.content, r.text
    finally:
        cos.ci_delete_image_style(Bucket=public, Request={"StyleName": name})


def test_control_anonymous_object_reads(server, public):
    r = raw(server, "GET", f"/{public}/pub.txt")
    assert r.status_code == 200 and r.content == b"public text", r
    r = raw(server, "HEAD", f"/{public}/pub.txt")
    assert r.status_code == 200 and r.headers["Content-Length"] == str(len(b"public text")), r
    r = raw(server, "GET", "/pub.txt", {"Host": vhost(public)})
    assert r.status_code == 200 and r.content == b"public text", r


def test_public_list_shows_no_reserved_keys(tmp_path):
    if "--public-list" not in serve_help():
        pytest.skip("this picops has no --public-list flag (`picops serve --help`)")
    srv = dedicated(tmp_path, ["--public-list", PUBLIC_BUCKET])
    try:
        assert signed("PUT", f"{srv.endpoint}/{PUBLIC_BUCKET}/listed.txt", data=b"x").status_code == 200
        cos = CosS3Client(CosConfig(Region="ap-guangzhou", SecretId=KEY, SecretKey=SECRET, Scheme="http",
                                    IP="127.0.0.1", Port=srv.port))
        cos.ci_put_image_style(Bucket=PUBLIC_BUCKET, Request={"StyleName": "s1", "StyleBody": STYLE_BODY})
        for query in ("", "?list-type=2", "?delimiter=/", "?list-type=2&delimiter=/", "?encoding-type=url"):
            r = raw(srv, "GET", f"/{PUBLIC_BUCKET}{query}")
            assert r.status_code == 200, r
            names = listing_entries(r.content)
            assert "listed.txt" in names, names
            assert not [n for n in names if ".picops" in n or "%2Epicops" in n], names
        for query in ("?prefix=.picops/", "?list-type=2&prefix=.picops/", "?prefix=.picops/styles/s1"):
            r = raw(srv, "GET", f"/{PUBLIC_BUCKET}{query}")
            assert r.status_code in (200, 403), r
            if r.status_code == 200:
                assert listing_entries(r.content) == [], r.content[:500]
            assert STYLE_BODY.encode() not in r.content
        # Listing is all it adds: no style list, no writes.
        refused(raw(srv, "GET", f"/{PUBLIC_BUCKET}/?style"), 403)
        refused(raw(srv, "PUT", f"/{PUBLIC_BUCKET}/anon.txt", body=b"x"), 403)
    finally:
        stop(srv)


@pytest.mark.parametrize("name", ["..", ".", "a/../b", "../x"])
def test_style_name_that_is_no_key_segment(server, cos, bucket, name):
    body = (f"<AddStyle><StyleName>{name}</StyleName><StyleBody>{STYLE_BODY}</StyleBody></AddStyle>").encode()
    r = signed("PUT", f"{server.endpoint}/{bucket}/?style", data=body)
    refused(r, 400)
    # The style API still works, and no such style exists.
    listing = signed("GET", f"{server.endpoint}/{bucket}/?style")
    assert listing.status_code == 200, listing.text
    assert f"<StyleName>{name}</StyleName>".encode() not in listing.content


def test_control_style_name_with_dots(cos, bucket):
    name = f"v1.{uid()}"
    cos.ci_put_image_style(Bucket=bucket, Request={"StyleName": name, "StyleBody": STYLE_BODY})
    _, listed_styles = cos.ci_get_image_style(Bucket=bucket, Request={"StyleName": name})
    rules = listed_styles["StyleRule"]
    rules = rules if isinstance(rules, list) else [rules]
    assert {"StyleName": name, "StyleBody": STYLE_BODY} in rules
    cos.ci_delete_image_style(Bucket=bucket, Request={"StyleName": name})
