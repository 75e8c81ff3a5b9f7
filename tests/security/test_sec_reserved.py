"""The reserved prefix `.picops/`: styles created through the style API are objects under
`<bucket>/.picops/styles/<name>`, reachable only through that API. No spelling of the key (dot
segments, encodings), no copy source, no DeleteObjects body, no Pic-Operations fileid and no
listing may read, write, delete or reveal them."""
import json
from urllib.parse import unquote

import pytest
from botocore.exceptions import ClientError

from e2e.server import LIMITED_KEY, LIMITED_SECRET
from e2e.sigs import signed
from security.secutil import (
    MARK,
    SECRET_BODY,
    keys,
    listing_entries,
    raw,
    read,
    refused,
    signed_raw,
    uid,
    victim,
)

BODY = "imageMogr2/thumbnail/!50p"


def style_body(cos, bucket, name):
    _, listed = cos.ci_get_image_style(Bucket=bucket, Request={"StyleName": name})
    rules = (listed or {}).get("StyleRule") or []
    rules = rules if isinstance(rules, list) else [rules]
    found = [r["StyleBody"] for r in rules if r.get("StyleName") == name]
    return found[0] if found else None


@pytest.fixture
def style(cos, alice_bucket):
    """A fresh style in alice's bucket (made with the full key); yields its name and checks
    afterwards that nothing changed it."""
    name = f"s{uid()}"
    cos.ci_put_image_style(Bucket=alice_bucket, Request={"StyleName": name, "StyleBody": BODY})
    assert style_body(cos, alice_bucket, name) == BODY
    yield name
    assert style_body(cos, alice_bucket, name) == BODY
    # Remove it again: the style list reads every style object of the bucket, so styles left
    # behind by earlier tests made every later style_body() slower (the suite went quadratic).
    cos.ci_delete_image_style(Bucket=alice_bucket, Request={"StyleName": name})


def alice_raw(server, method, target, **kw):
    return signed_raw(server, method, target, key=LIMITED_KEY, secret=LIMITED_SECRET, **kw)


# --- direct and disguised keys -------------------------------------------------------------

@pytest.mark.parametrize("method", ["GET", "HEAD", "PUT", "DELETE"])
@pytest.mark.parametrize("who", ["alice", "full"])
@pytest.mark.parametrize("spelling", [
    ".picops/styles/{s}",
    "%2Epicops/styles/{s}",
    "%2epicops%2Fstyles%2F{s}",
    ".picops/styles",
    ".picops/",
    ".picops/other-{u}",
])
def test_reserved_prefix_is_forbidden(server, cos, alice_bucket, style, spelling, who, method):
    target = f"/{alice_bucket}/" + spelling.format(s=style, u=uid())
    kw = {} if who == "full" else {"key": LIMITED_KEY, "secret": LIMITED_SECRET}
    r = signed_raw(server, method, target, body=b"imageMogr2/thumbnail/1x" if method == "PUT" else b"", **kw)
    refused(r, 403, method=method)
    assert BODY.encode() not in r.content
    assert style_body(cos, alice_bucket, style) == BODY


@pytest.mark.parametrize("method", ["GET", "HEAD", "PUT", "DELETE"])
@pytest.mark.parametrize("spelling", [
    "./.picops/styles/{s}",
    "x/../.picops/styles/{s}",
    "%2e/.picops/styles/{s}",
    "x/%2e%2e/.picops/styles/{s}",
    "x%2F..%2F.picops%2Fstyles%2F{s}",
    ".picops/./styles/{s}",
    ".picops//styles/{s}",
    ".picops/styles/./{s}",
    ".picops/x/../styles/{s}",
    "/.picops/styles/{s}",
])
def test_reserved_prefix_behind_dot_segments(server, cos, alice_bucket, style, spelling, method):
    target = f"/{alice_bucket}/" + spelling.format(s=style)
    r = alice_raw(server, method, target, body=b"imageMogr2/thumbnail/1x" if method == "PUT" else b"")
    refused(r, 400, 403, method=method)
    assert BODY.encode() not in r.content
    assert style_body(cos, alice_bucket, style) == BODY


def test_reserved_prefix_anonymous_on_public_bucket(server, cos, public):
    name = f"p{uid()}"
    cos.ci_put_image_style(Bucket=public, Request={"StyleName": name, "StyleBody": BODY})
    try:
        for target, statuses in [
            (f"/{public}/.picops/styles/{name}", (403,)),
            (f"/{public}/%2Epicops/styles/{name}", (403,)),
            (f"/{public}/./.picops/styles/{name}", (400, 403)),
            (f"/{public}/x/../.picops/styles/{name}", (400, 403)),
            (f"/{public}/x/%2e%2e/.picops/styles/{name}", (400, 403)),
        ]:
            for method in ("GET", "HEAD"):
                r = raw(server, method, target)
                refused(r, *statuses, method=method)
                assert BODY.encode() not in r.content
        assert style_body(cos, public, name) == BODY
    finally:
        cos.ci_delete_image_style(Bucket=public, Request={"StyleName": name})


# --- copy sources --------------------------------------------------------------------------

@pytest.mark.parametrize("who", ["alice", "full"])
@pytest.mark.parametrize("source", [
    "/{b}/.picops/styles/{s}",
    "{b}/.picops/styles/{s}",
    "/{b}/%2Epicops/styles/{s}",
    "/{b}/./.picops/styles/{s}",
    "/{b}/x/../.picops/styles/{s}",
])
def test_copy_from_reserved_prefix(server, s3, alice_bucket, style, source, who):
    dst = f"copied-{uid()}.txt"
    kw = {} if who == "full" else {"key": LIMITED_KEY, "secret": LIMITED_SECRET}
    r = signed_raw(server, "PUT", f"/{alice_bucket}/{dst}",
                   headers={"x-amz-copy-source": source.format(b=alice_bucket, s=style)}, **kw)
    refused(r, 400, 403)
    assert read(s3, alice_bucket, dst) is None


def test_copy_into_reserved_prefix(server, cos, s3, alice_bucket, style):
    s3.put_object(Bucket=alice_bucket, Key="own.txt", Body=b"alice's")
    for target in (f"/{alice_bucket}/.picops/styles/{style}", f"/{alice_bucket}/./.picops/styles/{style}"):
        r = alice_raw(server, "PUT", target, headers={"x-amz-copy-source": f"/{alice_bucket}/own.txt"})
        refused(r, 400, 403)
    assert style_body(cos, alice_bucket, style) == BODY


# --- DeleteObjects bodies ------------------------------------------------------------------

@pytest.mark.parametrize("bad", [
    ".picops/styles/{s}",
    "./.picops/styles/{s}",
    "x/../.picops/styles/{s}",
    "../{bob}/{victim}",
    "x/../../{bob}/{victim}",
])
def test_delete_objects_with_reserved_or_dotted_key(s3, cos, alice, alice_bucket, bob, style, bad):
    vkey, vcontent = victim(s3, bob)
    keep = [f"keep-{uid()}.txt", f"keep-{uid()}.txt"]
    for k in keep:
        alice.put_object(Bucket=alice_bucket, Key=k, Body=b"keep")
    objects = [{"Key": keep[0]}, {"Key": bad.format(s=style, bob=bob, victim=vkey)}, {"Key": keep[1]}]
    with pytest.raises(ClientError) as e:
        alice.delete_objects(Bucket=alice_bucket, Delete={"Objects": objects})
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] in (400, 403), e.value.response
    # The whole request was refused: nothing in it was deleted.
    assert style_body(cos, alice_bucket, style) == BODY
    assert read(s3, bob, vkey) == vcontent
    for k in keep:
        assert read(s3, alice_bucket, k) == b"keep"


def test_control_delete_objects(s3, alice, alice_bucket):
    ks = [f"del-{uid()}.txt" for _ in range(3)]
    for k in ks:
        alice.put_object(Bucket=alice_bucket, Key=k, Body=b"x")
    out = alice.delete_objects(Bucket=alice_bucket, Delete={"Objects": [{"Key": k} for k in ks[:2]]})
    assert sorted(d["Key"] for d in out.get("Deleted", [])) == sorted(ks[:2])
    assert [read(s3, alice_bucket, k) for k in ks] == [None, None, b"x"]


# --- Pic-Operations fileid -----------------------------------------------------------------

@pytest.mark.parametrize("fileid", [
    "/.picops/styles/{s}",
    "/%2Epicops/styles/{s}",
    "/./.picops/styles/{s}",
    "../.picops/styles/{s}",
    "/.picops/other-{u}.png",
    "/.picops/styles/./{s}",
])
def test_pic_operations_fileid_into_reserved_prefix(server, s3, cos, alice_bucket, style, fileid):
    src = f"up-{uid()}/a.png"
    rule = json.dumps({"rules": [{"fileid": fileid.format(s=style, u=uid()), "rule": "imageMogr2/thumbnail/8x"}]})
    before = keys(s3, alice_bucket)
    r = signed("PUT", f"{server.endpoint}/{alice_bucket}/{src}", headers={"Pic-Operations": rule}, data=MARK,
               key=LIMITED_KEY, secret=LIMITED_SECRET)
    refused(r, 400, 403)
    assert style_body(cos, alice_bucket, style) == BODY
    assert keys(s3, alice_bucket) == before


def test_control_pic_operations_fileid(server, s3, alice_bucket):
    src = f"up-{uid()}/a.png"
    rule = json.dumps({"rules": [{"fileid": "t.png", "rule": "imageMogr2/thumbnail/8x"}]})
    r = signed("PUT", f"{server.endpoint}/{alice_bucket}/{src}", headers={"Pic-Operations": rule}, data=MARK,
               key=LIMITED_KEY, secret=LIMITED_SECRET)
    assert r.status_code == 200, r.text
    assert read(s3, alice_bucket, src) == MARK
    assert read(s3, alice_bucket, src.rsplit("/", 1)[0] + "/t.png")[:8] == b"\x89PNG\r\n\x1a\n"


# --- listings ------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def styled(cos, s3, bob, alice_bucket):
    """Styles in bob and in alice's bucket (created as the brief's example does)."""
    for b in (bob, alice_bucket):
        cos.ci_put_image_style(Bucket=b, Request={"StyleName": "s1", "StyleBody": BODY})
    s3.put_object(Bucket=alice_bucket, Key="own.txt", Body=b"alice's")
    return {"bob": bob, "alice": alice_bucket}


def listed_names(page):
    names = [o["Key"] for o in page.get("Contents", [])] + [p["Prefix"] for p in page.get("CommonPrefixes", [])]
    return [unquote(n) for n in names]


LIST_ARGS = [
    {},
    {"Prefix": ".picops/"},
    {"Prefix": ".picops"},
    {"Prefix": ".picops/styles/"},
    {"Prefix": ".p"},
    {"Delimiter": "/"},
    {"Prefix": ".picops/", "Delimiter": "/"},
    {"StartAfter": ".a"},
]


@pytest.mark.parametrize("encoding", [None, "url"])
@pytest.mark.parametrize("version", [1, 2])
@pytest.mark.parametrize("args", LIST_ARGS, ids=lambda a: ",".join(f"{k}={v}" for k, v in a.items()) or "plain")
@pytest.mark.parametrize("who", ["full-on-bob", "alice-on-own"])
def test_listings_never_show_reserved_keys(styled, s3, alice, who, args, version, encoding):
    client, bucket, expected = {
        "full-on-bob": (s3, styled["bob"], "secret.txt"),
        "alice-on-own": (alice, styled["alice"], "own.txt"),
    }[who]
    kw = dict(args, Bucket=bucket)
    if encoding:
        kw["EncodingType"] = encoding
    if version == 1:
        kw.pop("StartAfter", None) and kw.update(Marker=".a")
        page = client.list_objects(**kw)
    else:
        page = client.list_objects_v2(**kw)
    names = listed_names(page)
    assert not [n for n in names if n.startswith(".picops")], names
    if "Prefix" not in args:
        assert expected in names, names  # control: the listing itself works


@pytest.mark.parametrize("query", ["prefix=.picops/", "prefix=%2Epicops%2F", "list-type=2&prefix=.picops/",
                                   "list-type=2&prefix=.picops&delimiter=/", "delimiter=%2F"])
def test_raw_listing_queries(server, styled, query):
    r = signed_raw(server, "GET", f"/{styled['bob']}?{query}")
    assert r.status_code == 200, r
    names = listing_entries(r.content)
    assert not [n for n in names if n.startswith(".picops")], names
    assert b"imageMogr2" not in r.content
    assert SECRET_BODY not in r.content


def test_listing_counts_do_not_reveal_reserved_keys(styled, s3):
    """KeyCount is the number of keys (and common prefixes) the page lists: it must not count
    the hidden `.picops/` entries, which would tell that styles exist and how many."""
    for args in ({"Prefix": ".picops/"}, {"Prefix": ".picops/styles/"}, {}, {"Delimiter": "/"}):
        page = s3.list_objects_v2(Bucket=styled["bob"], **args)
        shown = len(page.get("Contents", [])) + len(page.get("CommonPrefixes", []))
        assert page.get("KeyCount", 0) == shown, (args, page.get("KeyCount"), shown)
