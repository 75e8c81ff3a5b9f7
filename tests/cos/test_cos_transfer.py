"""The SDK's high-level transfers: upload_file (multipart with COS's default 1 MB parts, after
looking for an upload to resume), download_file (ranged, in parallel), and the client-side
encryption client (CosEncryptionClient with an AES master key), which keeps its data key in
`x-cos-meta-client-side-encryption-*` metadata."""
import base64
import hashlib
import os

import pytest
from qcloud_cos import CosConfig
from qcloud_cos.cos_encryption_client import CosEncryptionClient
from qcloud_cos.crypto import AESProvider

from cos.cosutil import REGION, get_bytes, service_error, uid
from e2e.server import KEY, SECRET

MB = 1024 * 1024


@pytest.fixture(scope="module")
def three_mb(tmp_path_factory):
    path = tmp_path_factory.mktemp("transfer") / "three.bin"
    path.write_bytes(os.urandom(3 * MB + 12345))
    return path


def test_upload_file_in_1mb_parts_and_download_file(cos, bucket, three_mb, tmp_path):
    key = f"mp/{uid()}/three mb.bin"
    out = cos.upload_file(Bucket=bucket, Key=key, LocalFilePath=str(three_mb), PartSize=1, MAXThread=2,
                          Metadata={"x-cos-meta-kind": "multipart"}, ContentType="application/x-three")
    assert out["ETag"].strip('"').endswith("-4"), out  # four parts: 1 + 1 + 1 MB + the rest
    head = cos.head_object(Bucket=bucket, Key=key)
    assert int(head["Content-Length"]) == three_mb.stat().st_size
    assert head["x-cos-meta-kind"] == "multipart"
    assert head["Content-Type"] == "application/x-three"
    # Ranged download in 1 MB parts, several threads.
    dest = tmp_path / "back.bin"
    cos.download_file(Bucket=bucket, Key=key, DestFilePath=str(dest), PartSize=1, MAXThread=2)
    assert hashlib.sha256(dest.read_bytes()).digest() == hashlib.sha256(three_mb.read_bytes()).digest()


@pytest.mark.parametrize("part_mb", [1, 5])
def test_multipart_calls(cos, bucket, tmp_path, part_mb):
    """What upload_file does once it has decided to upload anew, call by call: COS's default
    1 MB parts, and S3's 5 MiB minimum."""
    key = f"mp/{uid()}/parts {part_mb}.bin"
    size = part_mb * MB
    data = os.urandom(3 * size + 4321)
    up = cos.create_multipart_upload(Bucket=bucket, Key=key, Metadata={"x-cos-meta-kind": "parts"})
    parts = []
    for n, off in enumerate(range(0, len(data), size), start=1):
        r = cos.upload_part(Bucket=bucket, Key=key, Body=data[off:off + size], PartNumber=n, UploadId=up["UploadId"])
        assert r["ETag"].strip('"')
        parts.append({"PartNumber": n, "ETag": r["ETag"]})
    listed = cos.list_parts(Bucket=bucket, Key=key, UploadId=up["UploadId"])
    # In part-number order, as S3 and COS list them.
    assert [int(p["PartNumber"]) for p in listed["Part"]] == [1, 2, 3, 4]
    assert [int(p["Size"]) for p in listed["Part"]] == [size] * 3 + [4321]
    done = cos.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=up["UploadId"],
                                         MultipartUpload={"Part": parts})
    assert done["Key"] == key and done["ETag"].strip('"').endswith("-4"), done
    head = cos.head_object(Bucket=bucket, Key=key)
    assert int(head["Content-Length"]) == len(data)
    assert head["x-cos-meta-kind"] == "parts"
    assert head["ETag"] == done["ETag"]
    dest = tmp_path / "parts.back"
    cos.download_file(Bucket=bucket, Key=key, DestFilePath=str(dest), PartSize=part_mb, MAXThread=2)
    assert dest.read_bytes() == data


def test_abort_multipart_upload(cos, bucket):
    key = f"mp/{uid()}/aborted.bin"
    up = cos.create_multipart_upload(Bucket=bucket, Key=key)
    cos.upload_part(Bucket=bucket, Key=key, Body=b"x" * MB, PartNumber=1, UploadId=up["UploadId"])
    cos.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=up["UploadId"])
    e = service_error(cos.complete_multipart_upload, Bucket=bucket, Key=key, UploadId=up["UploadId"],
                      MultipartUpload={"Part": [{"PartNumber": 1, "ETag": '"x"'}]})
    assert 400 <= e.get_status_code() < 500
    assert service_error(cos.head_object, Bucket=bucket, Key=key).get_status_code() == 404
    e = service_error(cos.list_parts, Bucket=bucket, Key=key, UploadId=up["UploadId"])
    assert (e.get_status_code(), e.get_error_code()) == (404, "NoSuchUpload")


def test_upload_file_small_is_one_put(cos, bucket, tmp_path):
    src = tmp_path / "small.bin"
    src.write_bytes(b"small" * 1000)
    key = f"mp/{uid()}/small.bin"
    cos.upload_file(Bucket=bucket, Key=key, LocalFilePath=str(src))
    dest = tmp_path / "small.back"
    cos.download_file(Bucket=bucket, Key=key, DestFilePath=str(dest))
    assert dest.read_bytes() == src.read_bytes()


def test_client_side_encryption_round_trip(server, cos, bucket):
    conf = CosConfig(Region=REGION, SecretId=KEY, SecretKey=SECRET, Scheme="http", IP="127.0.0.1", Port=server.port)
    master = base64.b64encode(os.urandom(32)).decode()
    enc = CosEncryptionClient(conf, AESProvider(aes_key=master))
    key = f"cse/{uid()}/secret.bin"
    plain = os.urandom(200_000)
    enc.put_object(Bucket=bucket, Key=key, Body=plain)
    # Stored encrypted, with the wrapped data key as COS metadata.
    stored = get_bytes(cos, bucket, key)
    assert len(stored) == len(plain) and stored != plain
    head = cos.head_object(Bucket=bucket, Key=key)
    assert head["x-cos-meta-client-side-encryption-key"]
    assert head["x-cos-meta-client-side-encryption-iv"]
    got = enc.get_object(Bucket=bucket, Key=key)
    assert got["Body"].read(len(plain) + 1) == plain
    # A range decrypts from the middle of the stream.
    part = enc.get_object(Bucket=bucket, Key=key, Range="bytes=1000-1999")
    assert part["Body"].read(2000) == plain[1000:2000]
