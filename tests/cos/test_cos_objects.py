"""Objects through cos-python-sdk-v5 as applications call it: PUT/GET/HEAD with metadata and
Content-* headers, storage classes, copies (plain, metadata update in place, storage class
change), server-side encryption, error codes, bucket location, and what the store (Garage) does
not do as COS clients see it. Every answer is read in COS's dialect: `x-cos-*` headers, never
`x-amz-*`."""
from qcloud_cos import CosS3Client
from qcloud_cos.cos_exception import CosServiceError

from cos.cosutil import REGION, get_bytes, service_error, uid

BODY = b"picops cos suite \x00\x01\xff" * 100


def test_put_get_head_keep_metadata_and_content_headers(cos, bucket):
    key = f"obj/{uid()}/a.bin"
    put = cos.put_object(
        Bucket=bucket,
        Key=key,
        Body=BODY,
        Metadata={"x-cos-meta-a": "b"},
        ContentType="application/x-picops",
        CacheControl="max-age=60",
        ContentDisposition='attachment; filename="a.bin"',
    )
    assert put["ETag"].strip('"')
    assert put["x-cos-request-id"]
    head = cos.head_object(Bucket=bucket, Key=key)
    assert head["x-cos-meta-a"] == "b"
    assert "x-amz-meta-a" not in head
    assert head["ETag"] == put["ETag"]
    assert head["Content-Type"] == "application/x-picops"
    assert head["Cache-Control"] == "max-age=60"
    assert head["Content-Disposition"] == 'attachment; filename="a.bin"'
    assert int(head["Content-Length"]) == len(BODY)
    got = cos.get_object(Bucket=bucket, Key=key)
    assert got["x-cos-meta-a"] == "b"
    assert got["ETag"] == put["ETag"]
    assert got["Body"].get_raw_stream().read() == BODY


def test_answers_carry_no_s3_headers(cos, bucket):
    """COS clients get COS's dialect: every x-amz-* header of the store's answer is translated
    or withheld (an SDK or application reading x-cos-* would miss it, and one logging
    headers would show a store COS does not have)."""
    key = f"obj/{uid()}/dialect.bin"
    src = dict(Bucket=bucket, Key=key, Region=REGION)
    answers = {
        "put_object": cos.put_object(Bucket=bucket, Key=key, Body=BODY, Metadata={"x-cos-meta-a": "b"}),
        "head_object": cos.head_object(Bucket=bucket, Key=key),
        "get_object": {k: v for k, v in cos.get_object(Bucket=bucket, Key=key).items() if k != "Body"},
        "copy_object": cos.copy_object(Bucket=bucket, Key=key + ".copy", CopySource=src),
        "head_bucket": cos.head_bucket(Bucket=bucket),
        "delete_object": cos.delete_object(Bucket=bucket, Key=key + ".copy"),
    }
    leaks = {call: sorted(f"{k}: {v}" for k, v in h.items() if k.lower().startswith("x-amz-"))
             for call, h in answers.items()}
    assert not {c: l for c, l in leaks.items() if l}, "S3 headers reached a COS client"


def test_range_and_response_overrides(cos, bucket):
    key = f"obj/{uid()}/r.bin"
    cos.put_object(Bucket=bucket, Key=key, Body=BODY)
    assert get_bytes(cos, bucket, key, Range="bytes=10-19") == BODY[10:20]
    got = cos.get_object(Bucket=bucket, Key=key, ResponseContentType="text/x-over", ResponseCacheControl="no-cache")
    assert got["Content-Type"] == "text/x-over"
    assert got["Cache-Control"] == "no-cache"
    assert got["Body"].get_raw_stream().read() == BODY


def test_storage_class_is_kept_or_refused(cos, bucket):
    """The store keeps no storage classes (Garage accepts any and keeps none), and picops is
    not configured as fronting one that does: the class is refused (501) and nothing is
    stored, rather than answered 200 for an object that is not in the class asked for."""
    key = f"obj/{uid()}/ia.bin"
    e = service_error(cos.put_object, Bucket=bucket, Key=key, Body=BODY, StorageClass="STANDARD_IA")
    assert (e.get_status_code(), e.get_error_code()) == (501, "NotImplemented")
    assert "storage-classes" in e.get_error_msg()
    assert service_error(cos.head_object, Bucket=bucket, Key=key).get_status_code() == 404
    # STANDARD is what every store does: it passes.
    cos.put_object(Bucket=bucket, Key=key, Body=BODY, StorageClass="STANDARD")
    assert get_bytes(cos, bucket, key) == BODY


def test_unknown_storage_class_is_refused_and_writes_nothing(cos, bucket):
    key = f"obj/{uid()}/bad.bin"
    e = service_error(cos.put_object, Bucket=bucket, Key=key, Body=BODY, StorageClass="NOT_A_CLASS")
    assert (e.get_status_code(), e.get_error_code()) == (400, "InvalidArgument")
    assert "NOT_A_CLASS" in e.get_error_msg()
    assert service_error(cos.head_object, Bucket=bucket, Key=key).get_status_code() == 404


def test_copy_object_with_cos_copy_source(cos, bucket):
    src = f"copy/{uid()}/src.bin"
    dst = f"copy/{uid()}/dst copy.bin"
    put = cos.put_object(Bucket=bucket, Key=src, Body=BODY, Metadata={"x-cos-meta-a": "b"}, ContentType="application/x-src")
    out = cos.copy_object(Bucket=bucket, Key=dst, CopySource={"Bucket": bucket, "Key": src, "Region": REGION})
    assert out["ETag"].strip('"')
    assert get_bytes(cos, bucket, dst) == BODY
    head = cos.head_object(Bucket=bucket, Key=dst)
    assert int(head["Content-Length"]) == len(BODY)
    # COS's default directive is Copy: metadata and type come with the bytes.
    assert head["x-cos-meta-a"] == "b"
    assert head["Content-Type"] == "application/x-src"
    assert head["ETag"] == put["ETag"]


def test_copy_with_replaced_metadata_to_another_key(cos, bucket):
    src = f"copy/{uid()}/src.bin"
    dst = f"copy/{uid()}/dst.bin"
    cos.put_object(Bucket=bucket, Key=src, Body=BODY, Metadata={"x-cos-meta-a": "b"})
    cos.copy_object(
        Bucket=bucket,
        Key=dst,
        CopySource={"Bucket": bucket, "Key": src, "Region": REGION},
        CopyStatus="Replaced",
        Metadata={"x-cos-meta-new": "yes"},
        ContentType="text/x-replaced",
    )
    head = cos.head_object(Bucket=bucket, Key=dst)
    assert head["x-cos-meta-new"] == "yes"
    assert "x-cos-meta-a" not in head
    assert head["Content-Type"] == "text/x-replaced"
    assert get_bytes(cos, bucket, dst) == BODY
    assert cos.head_object(Bucket=bucket, Key=src)["x-cos-meta-a"] == "b"


def test_copy_of_a_missing_source_is_no_such_key(cos, bucket):
    dst = f"copy/{uid()}/never.bin"
    e = service_error(cos.copy_object, Bucket=bucket, Key=dst,
                      CopySource={"Bucket": bucket, "Key": f"copy/{uid()}/missing.bin", "Region": REGION})
    assert (e.get_status_code(), e.get_error_code()) == (404, "NoSuchKey")
    assert service_error(cos.head_object, Bucket=bucket, Key=dst).get_status_code() == 404


def test_update_object_meta_keeps_the_content(cos, bucket):
    key = f"meta/{uid()}/a.bin"
    cos.put_object(Bucket=bucket, Key=key, Body=BODY, Metadata={"x-cos-meta-a": "b"}, ContentType="application/x-old")
    cos.update_object_meta(Bucket=bucket, Key=key, Metadata={"x-cos-meta-a": "c", "x-cos-meta-added": "1"},
                           ContentType="text/x-new", CacheControl="max-age=5")
    head = cos.head_object(Bucket=bucket, Key=key)
    assert int(head["Content-Length"]) == len(BODY)
    assert (head["x-cos-meta-a"], head["x-cos-meta-added"]) == ("c", "1")
    assert head["Content-Type"] == "text/x-new"
    assert head["Cache-Control"] == "max-age=5"
    assert get_bytes(cos, bucket, key) == BODY


def test_change_object_storage_class_keeps_the_content(cos, bucket):
    """An in-place copy to another class: refused on a store without classes, and the object
    is left whole (a copy that lost its source header once truncated it to 0 bytes)."""
    key = f"class/{uid()}/a.bin"
    cos.put_object(Bucket=bucket, Key=key, Body=BODY, Metadata={"x-cos-meta-a": "b"})
    e = service_error(cos.change_object_storage_class, Bucket=bucket, Key=key, StorageClass="STANDARD_IA")
    assert (e.get_status_code(), e.get_error_code()) == (501, "NotImplemented")
    head = cos.head_object(Bucket=bucket, Key=key)
    assert int(head["Content-Length"]) == len(BODY)
    assert head["x-cos-meta-a"] == "b"
    assert get_bytes(cos, bucket, key) == BODY
    # The same in-place copy to STANDARD (what update_object_meta-style copies use) works.
    cos.change_object_storage_class(Bucket=bucket, Key=key, StorageClass="STANDARD")
    assert get_bytes(cos, bucket, key) == BODY


def test_server_side_encryption_the_store_does_not_do_is_refused(cos, bucket):
    """Neither Garage nor the embedded store encrypts at rest, and picops is not configured
    as fronting one that does (upstream.features): asking for AES256 is a 501 naming the
    feature, and nothing is stored in plaintext under a 200."""
    key = f"sse/{uid()}/a.bin"
    e = service_error(cos.put_object, Bucket=bucket, Key=key, Body=BODY, ServerSideEncryption="AES256")
    assert (e.get_status_code(), e.get_error_code()) == (501, "NotImplemented")
    assert "sse-s3" in e.get_error_msg()
    assert service_error(cos.head_object, Bucket=bucket, Key=key).get_status_code() == 404


# Errors: codes, status, resource and request id as COS SDKs report them.


def test_get_of_a_missing_key_is_no_such_key(cos, bucket):
    key = f"missing/{uid()}.bin"
    e = service_error(cos.get_object, Bucket=bucket, Key=key)
    assert (e.get_status_code(), e.get_error_code()) == (404, "NoSuchKey")
    assert e.get_error_msg()
    assert key in e.get_resource_location()
    assert e.get_request_id() not in ("", "Unknown")
    # HEAD has no body: the SDK reports the status only.
    assert service_error(cos.head_object, Bucket=bucket, Key=key).get_status_code() == 404


def test_missing_bucket_is_no_such_bucket(cos):
    missing = f"picops-none-{uid()}-1250000000"
    e = service_error(cos.list_objects, Bucket=missing)
    assert (e.get_status_code(), e.get_error_code()) == (404, "NoSuchBucket")
    assert e.get_request_id() not in ("", "Unknown")
    e = service_error(cos.get_bucket_location, Bucket=missing)
    assert (e.get_status_code(), e.get_error_code()) == (404, "NoSuchBucket")
    assert service_error(cos.head_bucket, Bucket=missing).get_status_code() == 404
    assert service_error(cos.head_object, Bucket=missing, Key="a.txt").get_status_code() == 404
    e = service_error(cos.get_object, Bucket=missing, Key="a.txt")
    assert (e.get_status_code(), e.get_error_code()) == (404, "NoSuchBucket")


def test_head_bucket_of_an_existing_bucket(cos, bucket):
    assert cos.head_bucket(Bucket=bucket)["x-cos-request-id"]


def test_create_bucket_that_exists_is_a_conflict(cos, bucket):
    e = service_error(cos.create_bucket, Bucket=bucket)
    assert e.get_status_code() == 409
    assert e.get_error_code() in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"), e.get_origin_msg()
    assert e.get_request_id() not in ("", "Unknown")


def test_bucket_location_is_the_configured_region(cos, bucket):
    assert cos.get_bucket_location(Bucket=bucket)["LocationConstraint"] == REGION


def test_delete_object_then_get_is_no_such_key(cos, bucket):
    key = f"del/{uid()}.bin"
    cos.put_object(Bucket=bucket, Key=key, Body=BODY)
    cos.delete_object(Bucket=bucket, Key=key)
    assert service_error(cos.get_object, Bucket=bucket, Key=key).get_error_code() == "NoSuchKey"
    # Deleting what is not there succeeds, as in COS.
    cos.delete_object(Bucket=bucket, Key=key)


def test_what_the_store_does_not_keep_is_501_not_implemented(cos, bucket):
    """Garage, embedded or external, keeps no ACLs, object tags, versioning or bucket policies,
    and picops is not configured as fronting a store that does (upstream.features lists none):
    a COS client asking for one gets a COS error, 501 NotImplemented, never a 200 for something
    that was not done. An upload asking for a public ACL or for tags is refused whole."""
    # The SDK sends a request that got a 5xx again after a second's pause; once is enough here.
    cos = CosS3Client(cos._conf, retry=0)
    key = f"unkept/{uid()}/a.bin"
    cos.put_object(Bucket=bucket, Key=key, Body=BODY)
    policy = {
        "version": "2.0",
        "Statement": [{
            "Effect": "allow",
            "Principal": {"qcs": ["qcs::cam::anyone:anyone"]},
            "Action": ["name/cos:GetObject"],
            "Resource": [f"qcs::cos:{REGION}:uid/1250000000:{bucket}/*"],
        }],
    }
    acl_key, tagged_key = f"unkept/{uid()}/public.bin", f"unkept/{uid()}/tagged.bin"
    calls = {
        "put_object_acl": (cos.put_object_acl, dict(Bucket=bucket, Key=key, ACL="public-read")),
        "get_object_acl": (cos.get_object_acl, dict(Bucket=bucket, Key=key)),
        "put_object_tagging": (cos.put_object_tagging,
                               dict(Bucket=bucket, Key=key, Tagging={"TagSet": {"Tag": [{"Key": "a", "Value": "b"}]}})),
        "put_bucket_versioning": (cos.put_bucket_versioning, dict(Bucket=bucket, Status="Enabled")),
        "put_bucket_policy": (cos.put_bucket_policy, dict(Bucket=bucket, Policy=policy)),
        "put_bucket_acl": (cos.put_bucket_acl, dict(Bucket=bucket, ACL="public-read")),
        "put_object ACL=public-read": (cos.put_object, dict(Bucket=bucket, Key=acl_key, Body=BODY, ACL="public-read")),
        "put_object Tagging=a=b": (cos.put_object, dict(Bucket=bucket, Key=tagged_key, Body=BODY, Tagging="a=b")),
    }
    answers, request_ids = {}, {}
    for name, (call, kw) in calls.items():
        try:
            answers[name] = ("success", call(**kw))
        except CosServiceError as e:
            answers[name] = (e.get_status_code(), e.get_error_code())
            request_ids[name] = e.get_request_id()
    assert answers == {name: (501, "NotImplemented") for name in calls}
    assert not [n for n, r in request_ids.items() if r in ("", "Unknown")], request_ids
    # The refused uploads stored nothing; the object asked about is as it was.
    assert service_error(cos.head_object, Bucket=bucket, Key=acl_key).get_status_code() == 404
    assert service_error(cos.head_object, Bucket=bucket, Key=tagged_key).get_status_code() == 404
    assert get_bytes(cos, bucket, key) == BODY


def test_sse_c_round_trip_on_the_embedded_store(cos, bucket):
    """SSE-C: the embedded Garage encrypts with the client's key and refuses reads without it
    (picops declares sse-c for it). Fronting a store with --upstream, picops asks for SSE-C
    only when upstream.features lists it: otherwise 501 and nothing stored."""
    import base64
    import hashlib
    import os

    key = f"ssec/{uid()}/a.bin"
    secret = os.urandom(32)
    sse = {
        "SSECustomerAlgorithm": "AES256",
        "SSECustomerKey": base64.b64encode(secret).decode(),
        "SSECustomerKeyMD5": base64.b64encode(hashlib.md5(secret).digest()).decode(),
    }
    if os.environ.get("PICOPS_E2E_UPSTREAM"):
        e = service_error(cos.put_object, Bucket=bucket, Key=key, Body=BODY, **sse)
        assert (e.get_status_code(), e.get_error_code()) == (501, "NotImplemented")
        assert service_error(cos.head_object, Bucket=bucket, Key=key).get_status_code() == 404
        return
    cos.put_object(Bucket=bucket, Key=key, Body=BODY, **sse)
    assert service_error(cos.get_object, Bucket=bucket, Key=key).get_status_code() in (400, 403)
    assert get_bytes(cos, bucket, key, **sse) == BODY
