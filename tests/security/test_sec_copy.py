"""Copy sources name a second bucket: a key limited to its own bucket may not copy out of
another one (CopyObject, UploadPartCopy, the COS `x-cos-copy-source` form), and a copy source
with dot segments is refused like any such key."""
import pytest
from botocore.exceptions import ClientError
from qcloud_cos.cos_exception import CosServiceError

from e2e.server import LIMITED_KEY, LIMITED_SECRET
from e2e.test_auth import cos_client
from security.secutil import COS_DOMAIN, SECRET_BODY, no_leak, read, refused, signed_raw, uid


def alice_copy(server, alice_bucket, dst, headers):
    return signed_raw(server, "PUT", f"/{alice_bucket}/{dst}", headers=headers, key=LIMITED_KEY,
                      secret=LIMITED_SECRET)


def test_boto3_copy_object_from_another_bucket(s3, alice, alice_bucket, bob):
    dst = f"stolen-{uid()}.txt"
    with pytest.raises(ClientError) as e:
        alice.copy_object(Bucket=alice_bucket, Key=dst, CopySource={"Bucket": bob, "Key": "secret.txt"})
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert e.value.response["Error"]["Code"] == "AccessDenied"
    assert read(s3, alice_bucket, dst) is None


@pytest.mark.parametrize("source", [
    "/{bob}/secret.txt",
    "{bob}/secret.txt",
    "%2F{bob}%2Fsecret.txt",
    "{bob}%2Fsecret.txt",
    "/{bob}/secret%2Etxt",
    "/{bob}/secret.txt?versionId=null",
    "/{bob}/secret.txt?versionId=1",
    "/{bob}//secret.txt",
])
def test_copy_source_forms_from_another_bucket(server, s3, alice_bucket, bob, source):
    dst = f"stolen-{uid()}.txt"
    r = alice_copy(server, alice_bucket, dst, {"x-amz-copy-source": source.format(bob=bob)})
    assert r.status_code in (400, 403), r
    code = refused(r, r.status_code)
    if r.status_code == 403:
        assert code == "AccessDenied", r
    no_leak(r, SECRET_BODY)
    assert read(s3, alice_bucket, dst) is None


@pytest.mark.parametrize("source", [
    "{bob}.{domain}/secret.txt",
    "{bob}.{domain}/secret.txt?versionId=null",
    "/{bob}.{domain}/secret.txt",
    "http://{bob}.{domain}/secret.txt",
])
def test_cos_copy_source_from_another_bucket(server, s3, alice_bucket, bob, source):
    """The COS form (what cos-python-sdk-v5 sends) is refused 403; odd spellings of it may
    also be refused as malformed (400)."""
    dst = f"stolen-{uid()}.txt"
    r = alice_copy(server, alice_bucket, dst, {"x-cos-copy-source": source.format(bob=bob, domain=COS_DOMAIN)})
    refused(r, *((403,) if source.startswith("{bob}") else (400, 403)))
    no_leak(r, SECRET_BODY)
    assert read(s3, alice_bucket, dst) is None


def test_cos_sdk_copy_object_from_another_bucket(server, s3, alice_bucket, bob):
    dst = f"stolen-{uid()}.txt"
    client = cos_client(server, LIMITED_KEY, LIMITED_SECRET)
    with pytest.raises(CosServiceError) as e:
        client.copy_object(Bucket=alice_bucket, Key=dst,
                           CopySource={"Bucket": bob, "Key": "secret.txt", "Region": "ap-guangzhou"})
    assert (e.value.get_status_code(), e.value.get_error_code()) == (403, "AccessDenied")
    assert read(s3, alice_bucket, dst) is None


def test_upload_part_copy_from_another_bucket(s3, alice, alice_bucket, bob):
    dst = f"stolen-{uid()}.txt"
    up = alice.create_multipart_upload(Bucket=alice_bucket, Key=dst)["UploadId"]
    try:
        with pytest.raises(ClientError) as e:
            alice.upload_part_copy(Bucket=alice_bucket, Key=dst, UploadId=up, PartNumber=1,
                                   CopySource={"Bucket": bob, "Key": "secret.txt"})
        assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
        assert e.value.response["Error"]["Code"] == "AccessDenied"
        parts = alice.list_parts(Bucket=alice_bucket, Key=dst, UploadId=up).get("Parts", [])
        assert parts == [], parts
    finally:
        alice.abort_multipart_upload(Bucket=alice_bucket, Key=dst, UploadId=up)
    assert read(s3, alice_bucket, dst) is None


@pytest.mark.parametrize("source", [
    "/{alice}/../{bob}/secret.txt",
    "/{alice}/%2e%2e/{bob}/secret.txt",
    "{alice}/..%2F{bob}%2Fsecret.txt",
    "/{alice}/./own.txt",
    "/{alice}/a//own.txt",
])
def test_copy_source_with_dot_segments(server, s3, alice_bucket, bob, source):
    s3.put_object(Bucket=alice_bucket, Key="own.txt", Body=b"alice's")
    dst = f"dots-{uid()}.txt"
    r = alice_copy(server, alice_bucket, dst, {"x-amz-copy-source": source.format(alice=alice_bucket, bob=bob)})
    refused(r, 400)
    no_leak(r, SECRET_BODY)
    assert read(s3, alice_bucket, dst) is None


def test_full_key_copy_source_with_dot_segments(server, s3, bob):
    """Even the full key: a copy source is a key, and `..` is not part of any key."""
    dst = f"dots-{uid()}.txt"
    r = signed_raw(server, "PUT", f"/{bob}/{dst}", headers={"x-amz-copy-source": f"/{bob}/x/../secret.txt"})
    refused(r, 400)
    assert read(s3, bob, dst) is None


# --- controls ------------------------------------------------------------------------------

def test_control_copy_within_own_bucket(s3, alice, alice_bucket):
    src, dst = f"src-{uid()}.bin", f"dst-{uid()}.bin"
    body = bytes(range(256)) * 40
    alice.put_object(Bucket=alice_bucket, Key=src, Body=body)
    alice.copy_object(Bucket=alice_bucket, Key=dst, CopySource={"Bucket": alice_bucket, "Key": src})
    assert read(s3, alice_bucket, dst) == body
    assert alice.get_object(Bucket=alice_bucket, Key=dst)["Body"].read() == body


def test_control_upload_part_copy_within_own_bucket(s3, alice, alice_bucket):
    src, dst = f"src-{uid()}.bin", f"dst-{uid()}.bin"
    # Garage refuses to copy a part from a source under S3's 5 MiB minimum part size.
    body = b"part copy " * (530 * 1024)
    alice.put_object(Bucket=alice_bucket, Key=src, Body=body)
    up = alice.create_multipart_upload(Bucket=alice_bucket, Key=dst)["UploadId"]
    part = alice.upload_part_copy(Bucket=alice_bucket, Key=dst, UploadId=up, PartNumber=1,
                                  CopySource={"Bucket": alice_bucket, "Key": src})
    alice.complete_multipart_upload(Bucket=alice_bucket, Key=dst, UploadId=up, MultipartUpload={
        "Parts": [{"PartNumber": 1, "ETag": part["CopyPartResult"]["ETag"]}]})
    assert read(s3, alice_bucket, dst) == body


def test_control_full_key_copies_between_its_buckets(s3, bob, bucket):
    dst = f"copy-{uid()}.txt"
    s3.copy_object(Bucket=bob, Key=dst, CopySource={"Bucket": bob, "Key": "secret.txt"})
    assert read(s3, bob, dst) == SECRET_BODY
    s3.copy_object(Bucket=bucket, Key=dst, CopySource={"Bucket": bob, "Key": "secret.txt"})
    assert read(s3, bucket, dst) == SECRET_BODY
