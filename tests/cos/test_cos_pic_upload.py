"""Upload with processing (`ci_put_object`, Pic-Operations) keeps on the original what a plain
put_object would have kept: user metadata, Cache-Control, Content-Disposition, Content-Type.
Results are new objects: they get none of the original's descriptive metadata."""
import io
import json

from PIL import Image

from cos.cosutil import get_bytes, no_amz, uid
from helpers import IMAGES

PHOTO = IMAGES / "photos" / "autumn-2560x1600.jpg"


def test_ci_put_object_original_keeps_metadata_and_content_headers(cos, bucket):
    base = f"ci/{uid()}"
    key = f"{base}/photo.jpg"
    resp, data = cos.ci_put_object(
        Bucket=bucket,
        Key=key,
        Body=PHOTO.read_bytes(),
        PicOperations=json.dumps({"is_pic_info": 1, "rules": [{"fileid": "thumb.png", "rule": "imageMogr2/thumbnail/160x/format/png"}]}),
        Metadata={"x-cos-meta-origin": "cam"},
        CacheControl="max-age=3600",
        ContentDisposition='inline; filename="photo.jpg"',
        ContentType="image/jpeg",
    )
    assert resp["x-cos-request-id"]
    assert data["OriginalInfo"]["Key"] == key
    head = cos.head_object(Bucket=bucket, Key=key)
    no_amz(head)
    assert head.get("x-cos-meta-origin") == "cam", head
    assert head.get("Cache-Control") == "max-age=3600", head
    assert head.get("Content-Disposition") == 'inline; filename="photo.jpg"', head
    assert head["Content-Type"] == "image/jpeg"
    assert head["ETag"] == data["OriginalInfo"]["ETag"]
    assert get_bytes(cos, bucket, key) == PHOTO.read_bytes()

    thumb = f"{base}/thumb.png"
    im = Image.open(io.BytesIO(get_bytes(cos, bucket, thumb)))
    assert (im.format, im.size) == ("PNG", (160, 100))
    th = cos.head_object(Bucket=bucket, Key=thumb)
    assert th["Content-Type"] == "image/png"
    # A thumbnail is not the camera's file: none of the original's own description.
    assert "x-cos-meta-origin" not in th
    assert "Content-Disposition" not in th
