"""Listing through cos-python-sdk-v5: prefixes, the `/` delimiter and the SDK's default empty
one, keys with spaces, unicode, `+` and `%`, `EncodingType='url'`, and paging the way COS's
own examples page (`Marker = NextMarker` while `IsTruncated`).

The SDK always sends `delimiter=` (empty unless given) and `encoding-type=url`, and decodes
keys with `urllib.parse.unquote` (COS encodes RFC 3986 style: a space is `%20`, a plus
`%2B`), so a key that comes back wrong here comes back wrong to every COS application."""
from urllib.parse import unquote

import pytest

from cos.cosutil import uid

NAMES = ["a b.txt", "ü 文件.txt", "a+b.txt", "100%.txt", "plain.txt"]
NESTED = ["sub/x.txt", "sub/y z.txt", "sub2/deeper/z.txt"]


@pytest.fixture(scope="module")
def tree(cos, bucket):
    base = f"list/{uid()}"
    keys = [f"{base}/{n}" for n in NAMES + NESTED]
    for k in keys:
        cos.put_object(Bucket=bucket, Key=k, Body=k.encode())
    return base, sorted(keys)


def keys_of(listing):
    return sorted(c["Key"] for c in listing.get("Contents", []))


def prefixes_of(listing):
    return sorted(p["Prefix"] for p in listing.get("CommonPrefixes", []))


def test_list_with_delimiter(cos, bucket, tree):
    base, _ = tree
    out = cos.list_objects(Bucket=bucket, Prefix=f"{base}/", Delimiter="/")
    assert keys_of(out) == sorted(f"{base}/{n}" for n in NAMES)
    assert prefixes_of(out) == [f"{base}/sub/", f"{base}/sub2/"]
    assert out["IsTruncated"] == "false"
    sizes = {c["Key"]: int(c["Size"]) for c in out["Contents"]}
    assert sizes == {k: len(k.encode()) for k in keys_of(out)}
    inner = cos.list_objects(Bucket=bucket, Prefix=f"{base}/sub2/", Delimiter="/")
    assert keys_of(inner) == []
    assert prefixes_of(inner) == [f"{base}/sub2/deeper/"]


def test_list_everything_under_a_prefix(cos, bucket, tree):
    """The SDK's default: `Delimiter=""`, every key under the prefix, however deep."""
    base, keys = tree
    out = cos.list_objects(Bucket=bucket, Prefix=f"{base}/")
    assert prefixes_of(out) == []
    assert keys_of(out) == keys
    assert out["IsTruncated"] == "false"
    assert out["Prefix"] == f"{base}/"
    assert all(c["ETag"].strip('"') for c in out["Contents"])


def test_list_with_a_prefix_that_ends_inside_a_name(cos, bucket, tree):
    base, _ = tree
    assert keys_of(cos.list_objects(Bucket=bucket, Prefix=f"{base}/a")) == [f"{base}/a b.txt", f"{base}/a+b.txt"]
    assert keys_of(cos.list_objects(Bucket=bucket, Prefix=f"{base}/ü")) == [f"{base}/ü 文件.txt"]


def test_encoding_type_url(cos, bucket, tree):
    base, _ = tree
    out = cos.list_objects(Bucket=bucket, Prefix=f"{base}/", Delimiter="/", EncodingType="url")
    raw = keys_of(out)
    assert sorted(unquote(k) for k in raw) == sorted(f"{base}/{n}" for n in NAMES), raw
    assert sorted(unquote(p) for p in prefixes_of(out)) == [f"{base}/sub/", f"{base}/sub2/"]
    # Encoded: nothing a URL cannot carry as it is.
    assert not [k for k in raw if " " in k or not k.isascii()], raw


def test_key_with_a_percent_escape_lists_as_itself(cos, bucket):
    base = f"list/{uid()}"
    key = f"{base}/x%20y+z.txt"
    cos.put_object(Bucket=bucket, Key=key, Body=b"literal")
    assert cos.get_object(Bucket=bucket, Key=key)["Body"].get_raw_stream().read() == b"literal"
    assert keys_of(cos.list_objects(Bucket=bucket, Prefix=f"{base}/", Delimiter="/")) == [key]


def test_paging_as_cos_examples_do(cos, bucket, tree):
    """COS's documented loop: no delimiter, `Marker = response['NextMarker']`."""
    base, keys = tree
    seen, marker, pages = [], "", 0
    while True:
        out = cos.list_objects(Bucket=bucket, Prefix=f"{base}/", Marker=marker, MaxKeys=3)
        seen += keys_of(out) + prefixes_of(out)
        pages += 1
        assert pages <= len(keys)
        if out["IsTruncated"] == "false":
            break
        assert out.get("NextMarker"), f"IsTruncated=true without NextMarker: {out}"
        marker = out["NextMarker"]
    assert seen == keys
    assert pages == 3


def test_paging_with_delimiter(cos, bucket, tree):
    base, _ = tree
    seen, marker = [], ""
    for _ in range(10):
        out = cos.list_objects(Bucket=bucket, Prefix=f"{base}/", Delimiter="/", Marker=marker, MaxKeys=3)
        seen += keys_of(out) + prefixes_of(out)
        if out["IsTruncated"] == "false":
            break
        marker = out["NextMarker"]
    assert sorted(seen) == sorted([f"{base}/{n}" for n in NAMES] + [f"{base}/sub/", f"{base}/sub2/"])


def test_special_keys_round_trip(cos, bucket, tree):
    base, keys = tree
    for k in keys:
        assert cos.get_object(Bucket=bucket, Key=k)["Body"].get_raw_stream().read() == k.encode(), k
        assert int(cos.head_object(Bucket=bucket, Key=k)["Content-Length"]) == len(k.encode())
