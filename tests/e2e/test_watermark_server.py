"""Watermarks through the server: the mark is read from a bucket (never from elsewhere), with
the caller's rights; results decoded with Pillow."""
import base64
import io
import json
import uuid

from PIL import Image

from e2e.server import LIMITED_BUCKET, LIMITED_KEY, LIMITED_SECRET
from e2e.sigs import signed
from helpers import IMAGES

PHOTO = (IMAGES / "photos" / "autumn-2560x1600.jpg").read_bytes()


def b64(s):
    return base64.urlsafe_b64encode(s.encode()).decode().rstrip("=")


def red_png():
    buf = io.BytesIO()
    Image.new("RGBA", (40, 20), (255, 0, 0, 255)).save(buf, "PNG")
    return buf.getvalue()


def listing(s3, bucket):
    return sorted(o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", []))


def test_image_watermark_from_the_bucket(server, s3, bucket):
    s3.put_object(Bucket=bucket, Key="wm/logo.png", Body=red_png())
    for url in (f"http://{bucket}.cos.ap-guangzhou.myqcloud.com/wm/logo.png",
                f"http://127.0.0.1:{server.port}/{bucket}/wm/logo.png"):
        key = f"wmk/{uuid.uuid4().hex[:8]}/a.jpg"
        rule = f"imageMogr2/thumbnail/400x/format/png|watermark/1/image/{b64(url)}/gravity/southeast/dx/10/dy/10"
        r = signed("PUT", f"{server.endpoint}/{bucket}/{key}", data=PHOTO,
                   headers={"Pic-Operations": json.dumps({"rules": [{"fileid": "w.png", "rule": rule}]})})
        assert r.status_code == 200, r.text
        out = s3.get_object(Bucket=bucket, Key=key.rsplit("/", 1)[0] + "/w.png")["Body"].read()
        im = Image.open(io.BytesIO(out)).convert("RGB")
        assert im.size == (400, 250)
        assert im.getpixel((400 - 10 - 40, 250 - 10 - 20)) == (255, 0, 0)
        assert im.getpixel((400 - 10 - 1, 250 - 10 - 1)) == (255, 0, 0)
        assert im.getpixel((400 - 10 - 41, 250 - 10 - 21)) != (255, 0, 0)


def test_watermark_urls_outside_the_buckets_are_refused(server, s3, bucket):
    s3.put_object(Bucket=bucket, Key="wm/logo.png", Body=red_png())
    before = listing(s3, bucket)
    for url in ("http://example.com/logo.png", "http://169.254.169.254/latest/meta-data/x",
                f"http://{bucket}.example.com/wm/logo.png"):
        r = signed("PUT", f"{server.endpoint}/{bucket}/wmk/{uuid.uuid4().hex[:8]}/a.jpg", data=PHOTO,
                   headers={"Pic-Operations": json.dumps({"rules": [
                       {"fileid": "w.jpg", "rule": f"watermark/1/image/{b64(url)}"}]})})
        assert r.status_code == 403 and "<Code>AccessDenied</Code>" in r.text, (url, r.text)
    assert listing(s3, bucket) == before


def test_watermark_from_a_bucket_the_key_may_not_read(server, s3, bucket):
    try:
        s3.create_bucket(Bucket=LIMITED_BUCKET)
    except Exception:
        pass
    s3.put_object(Bucket=bucket, Key="wm/logo.png", Body=red_png())
    before = listing(s3, LIMITED_BUCKET)
    url = f"http://{bucket}.cos.ap-guangzhou.myqcloud.com/wm/logo.png"
    r = signed("PUT", f"{server.endpoint}/{LIMITED_BUCKET}/wmk/a.jpg", data=PHOTO, key=LIMITED_KEY, secret=LIMITED_SECRET,
               headers={"Pic-Operations": json.dumps({"rules": [{"fileid": "w.jpg", "rule": f"watermark/1/image/{b64(url)}"}]})})
    assert r.status_code == 403 and "<Code>AccessDenied</Code>" in r.text, r.text
    assert listing(s3, LIMITED_BUCKET) == before


def test_text_watermark_on_get(server, s3, bucket):
    key = f"wmk/{uuid.uuid4().hex[:8]}/a.jpg"
    s3.put_object(Bucket=bucket, Key=key, Body=PHOTO)
    plain = signed("GET", f"{server.endpoint}/{bucket}/{key}?imageMogr2/thumbnail/400x")
    marked = signed("GET", f"{server.endpoint}/{bucket}/{key}?imageMogr2/thumbnail/400x%7Cwatermark/2/text/"
                           f"{b64('版权 picops')}/fontsize/30/fill/{b64('#FFFFFF')}/gravity/center/shadow/50")
    assert plain.status_code == marked.status_code == 200, marked.text
    a = Image.open(io.BytesIO(plain.content)).convert("L")
    b = Image.open(io.BytesIO(marked.content)).convert("L")
    from PIL import ImageChops
    box = ImageChops.difference(a, b).point(lambda v: 255 if v > 40 else 0).getbbox()
    assert box is not None
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    assert abs(cx - 200 - 10) < 25 and abs(cy - 125 - 10) < 20, box  # centred, moved by dx/dy 10
