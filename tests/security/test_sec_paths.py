"""Dot segments and empty segments in keys. picops addresses the upstream with its own
service key, so a key such as `../bob/secret.txt` under a bucket the caller may use must
never reach a store that resolves it into another bucket (s3s-fs resolves paths on disk).
Every such request is refused 400 with COS XML, whatever the addressing style; nothing is
read, written, deleted or created."""
import pytest

from e2e.server import LIMITED_KEY, LIMITED_SECRET, PUBLIC_BUCKET
from security.secutil import (
    SECRET_BODY,
    UPSTREAM,
    bucket_names,
    keys,
    no_leak,
    raw,
    read,
    refused,
    signed_raw,
    uid,
    vhost,
    victim,
)

# Ways to write "up one level, then into bob" after a bucket the caller may use: path-style
# targets `/{x}{trick}` where the remainder names {bob}/{key}.
PATH_TRICKS = {
    "dotdot": "/{x}/../{bob}/{key}",
    "enc-lower": "/{x}/%2e%2e/{bob}/{key}",
    "enc-mixed": "/{x}/%2E%2e/{bob}/{key}",
    "half-enc": "/{x}/.%2e/{bob}/{key}",
    "enc-slash": "/{x}/..%2F{bob}%2F{key}",
    "all-enc": "/{x}/%2e%2e%2f{bob}%2f{key}",
    "deep": "/{x}/a/../../{bob}/{key}",
    "dot-then-dotdot": "/{x}/./../{bob}/{key}",
}
# The same on a virtual host of bucket x (the path is the key).
VHOST_TRICKS = {
    "dotdot": "/../{bob}/{key}",
    "enc-lower": "/%2e%2e/{bob}/{key}",
    "half-enc": "/.%2e/{bob}/{key}",
    "enc-slash": "/..%2F{bob}%2F{key}",
}


def send(server, who, method, target, body=b"", host=None):
    """`who`: "anon" (no signature) or "alice" (the limited key, SigV4 over the raw target)."""
    headers = {"Host": host} if host else {}
    if who == "anon":
        return raw(server, method, target, headers, body)
    return signed_raw(server, method, target, body=body, key=LIMITED_KEY, secret=LIMITED_SECRET, host=host)


def bucket_of(who, alice_bucket):
    return PUBLIC_BUCKET if who == "anon" else alice_bucket


def expect_400(r, method, who, bucket_public=True):
    # A dot segment is a malformed request: 400 before anything else. An anonymous write (or
    # any anonymous request to a private bucket) may be refused for being anonymous first.
    allowed = (400,) if (who != "anon" or (bucket_public and method in ("GET", "HEAD"))) else (400, 403)
    refused(r, *allowed, method=method)


# --- reads ---------------------------------------------------------------------------------

@pytest.mark.parametrize("method", ["GET", "HEAD"])
@pytest.mark.parametrize("who", ["anon", "alice"])
@pytest.mark.parametrize("trick", sorted(PATH_TRICKS))
def test_path_style_traversal_read(server, s3, bob, public, alice_bucket, trick, who, method):
    target = PATH_TRICKS[trick].format(x=bucket_of(who, alice_bucket), bob=bob, key="secret.txt")
    r = send(server, who, method, target)
    expect_400(r, method, who)
    no_leak(r, SECRET_BODY)


@pytest.mark.parametrize("method", ["GET", "HEAD"])
@pytest.mark.parametrize("who", ["anon", "alice"])
@pytest.mark.parametrize("trick", sorted(VHOST_TRICKS))
def test_virtual_host_traversal_read(server, bob, public, alice_bucket, trick, who, method):
    x = bucket_of(who, alice_bucket)
    target = VHOST_TRICKS[trick].format(bob=bob, key="secret.txt")
    r = send(server, who, method, target, host=vhost(x))
    expect_400(r, method, who)
    no_leak(r, SECRET_BODY)


@pytest.mark.parametrize("who", ["anon", "alice"])
@pytest.mark.parametrize("form", ["vhost", "vhost-encoded", "path-style"])
def test_forward_proxy_traversal_read(server, bob, public, alice_bucket, form, who):
    """`GET http://<bucket>.cos.ap-guangzhou.myqcloud.com/../x HTTP/1.1`, as a client that
    uses picops as its HTTP proxy sends it."""
    x = bucket_of(who, alice_bucket)
    target = {
        "vhost": f"http://{vhost(x)}/../{bob}/secret.txt",
        "vhost-encoded": f"http://{vhost(x)}/%2e%2e/{bob}/secret.txt",
        "path-style": f"http://127.0.0.1:{server.port}/{x}/../{bob}/secret.txt",
    }[form]
    host = vhost(x) if form.startswith("vhost") else None
    r = send(server, who, "GET", target, host=host)
    expect_400(r, "GET", who)
    no_leak(r, SECRET_BODY)


def test_processing_get_traversal(server, bob, public, alice_bucket):
    """GET-time processing reads the object too: `../bob/mark.png?imageMogr2/…` is refused."""
    for who in ("anon", "alice"):
        x = bucket_of(who, alice_bucket)
        r = send(server, who, "GET", f"/{x}/../{bob}/mark.png?imageMogr2/thumbnail/8x")
        expect_400(r, "GET", who)
        assert not r.headers.get("Content-Type", "").startswith("image/"), r


# --- writes and deletes --------------------------------------------------------------------

@pytest.mark.parametrize("who", ["anon", "alice"])
@pytest.mark.parametrize("trick", sorted(PATH_TRICKS))
def test_path_style_traversal_put(server, s3, bob, public, alice_bucket, trick, who):
    key, content = victim(s3, bob)
    x = bucket_of(who, alice_bucket)
    before = keys(s3, x)
    r = send(server, who, "PUT", PATH_TRICKS[trick].format(x=x, bob=bob, key=key), body=b"pwned")
    expect_400(r, "PUT", who)
    assert read(s3, bob, key) == content
    assert keys(s3, x) == before


@pytest.mark.parametrize("who", ["anon", "alice"])
@pytest.mark.parametrize("trick", sorted(PATH_TRICKS))
def test_path_style_traversal_delete(server, s3, bob, public, alice_bucket, trick, who):
    key, content = victim(s3, bob)
    r = send(server, who, "DELETE", PATH_TRICKS[trick].format(x=bucket_of(who, alice_bucket), bob=bob, key=key))
    expect_400(r, "DELETE", who)
    assert read(s3, bob, key) == content


@pytest.mark.parametrize("method", ["PUT", "DELETE"])
@pytest.mark.parametrize("trick", sorted(VHOST_TRICKS))
def test_virtual_host_traversal_write(server, s3, bob, alice_bucket, trick, method):
    key, content = victim(s3, bob)
    r = send(server, "alice", method, VHOST_TRICKS[trick].format(bob=bob, key=key), body=b"pwned",
             host=vhost(alice_bucket))
    expect_400(r, method, "alice")
    assert read(s3, bob, key) == content


@pytest.mark.parametrize("method", ["PUT", "DELETE"])
def test_forward_proxy_traversal_write(server, s3, bob, alice_bucket, method):
    key, content = victim(s3, bob)
    target = f"http://{vhost(alice_bucket)}/../{bob}/{key}"
    r = send(server, "alice", method, target, body=b"pwned", host=vhost(alice_bucket))
    expect_400(r, method, "alice")
    assert read(s3, bob, key) == content


@pytest.mark.parametrize("form", ["path", "path-encoded", "vhost"])
def test_create_bucket_by_traversal(server, s3, alice_bucket, form):
    """`PUT /alice/../evil/` would be a folder object `../evil/`, which a file-system store
    creates as a directory beside the buckets: a new bucket alice may not create."""
    evil = f"evil-{uid()}"
    target, host = {
        "path": (f"/{alice_bucket}/../{evil}/", None),
        "path-encoded": (f"/{alice_bucket}/%2e%2e/{evil}/", None),
        "vhost": (f"/../{evil}/", vhost(alice_bucket)),
    }[form]
    before = keys(s3, alice_bucket)
    r = send(server, "alice", "PUT", target, host=host)
    expect_400(r, "PUT", "alice")
    assert evil not in bucket_names(s3)
    assert keys(s3, alice_bucket) == before


# --- the caller's own bucket: dot and empty segments are refused, not normalised -----------

@pytest.mark.parametrize("key", ["./x-{u}", "a-{u}/./b", "a-{u}//b", "a-{u}/../b", "%2e/x-{u}", "a-{u}/%2e%2e/b",
                                 "a-{u}%2F%2Fb"])
def test_own_bucket_odd_segments(server, s3, alice_bucket, key):
    key = key.format(u=uid())
    before = keys(s3, alice_bucket)
    r = send(server, "alice", "PUT", f"/{alice_bucket}/{key}", body=b"odd")
    refused(r, 400)
    assert keys(s3, alice_bucket) == before
    for method in ("GET", "HEAD", "DELETE"):
        refused(send(server, "alice", method, f"/{alice_bucket}/{key}"), 400, method=method)


# --- controls: what looks odd but is legitimate still works --------------------------------

def test_control_folder_keys_and_dots_inside_names(server, s3, alice, alice_bucket):
    u = uid()
    folder = f"dir-{u}/"
    r = send(server, "alice", "PUT", f"/{alice_bucket}/{folder}")
    assert r.status_code == 200, r
    if UPSTREAM:  # s3s-fs keeps a folder key as a directory, which its listings leave out
        assert folder in keys(s3, alice_bucket, prefix=f"dir-{u}")
    # A key inside the folder, then the folder itself listed as a common prefix.
    alice.put_object(Bucket=alice_bucket, Key=f"{folder}in.txt", Body=b"in")
    page = alice.list_objects_v2(Bucket=alice_bucket, Prefix=f"dir-{u}", Delimiter="/")
    assert [p["Prefix"] for p in page.get("CommonPrefixes", [])] == [folder]
    alice.delete_object(Bucket=alice_bucket, Key=f"{folder}in.txt")
    # Dots inside a segment are not dot segments.
    for k in (f"v1..2-{u}/x.txt", f"...-{u}", f"a-{u}/.hidden", f"a-{u}/..b"):
        r = send(server, "alice", "PUT", f"/{alice_bucket}/{k}", body=k.encode())
        assert r.status_code == 200, (k, r)
        assert read(s3, alice_bucket, k) == k.encode()
        g = send(server, "alice", "GET", f"/{alice_bucket}/{k}")
        assert g.status_code == 200 and g.content == k.encode(), (k, g)
    alice.delete_object(Bucket=alice_bucket, Key=folder)
    assert read(s3, alice_bucket, folder) is None


def test_control_plain_reads(server, bob, public, alice_bucket, s3):
    # The public object anonymously, on every addressing style.
    assert raw(server, "GET", f"/{public}/pub.txt").content == b"public text"
    r = raw(server, "GET", "/pub.txt", {"Host": vhost(public)})
    assert r.status_code == 200 and r.content == b"public text", r
    r = raw(server, "GET", f"http://{vhost(public)}/pub.txt", {"Host": vhost(public)})
    assert r.status_code == 200 and r.content == b"public text", r
    # alice reads her own bucket; the full key reads bob.
    s3.put_object(Bucket=alice_bucket, Key="own.txt", Body=b"alice's")
    r = send(server, "alice", "GET", f"/{alice_bucket}/own.txt")
    assert r.status_code == 200 and r.content == b"alice's", r
    r = signed_raw(server, "GET", f"/{bob}/secret.txt")
    assert r.status_code == 200 and r.content == SECRET_BODY, r
    # Signatures over odd but legitimate targets verify (so the refusals above are about the
    # path, not a signing mistake of this suite): an encoded dot inside a name, a virtual host,
    # a forward-proxy target.
    for target, host in [(f"/{alice_bucket}/own%2Etxt", None), ("/own.txt", vhost(alice_bucket)),
                         (f"http://{vhost(alice_bucket)}/own.txt", vhost(alice_bucket)),
                         (f"http://{vhost(alice_bucket)}/own%2etxt", vhost(alice_bucket))]:
        r = send(server, "alice", "GET", target, host=host)
        assert r.status_code == 200 and r.content == b"alice's", (target, r)
    # alice is refused bob outright.
    refused(send(server, "alice", "GET", f"/{bob}/secret.txt"), 403)
