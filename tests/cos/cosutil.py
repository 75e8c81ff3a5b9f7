"""Shared names of the COS-client suite."""
import uuid

import pytest
from qcloud_cos.cos_exception import CosServiceError

REGION = "ap-guangzhou"


def uid():
    return uuid.uuid4().hex[:10]


def no_amz(headers):
    """COS clients must never see the store's S3 dialect."""
    leaked = sorted(k for k in headers if k.lower().startswith("x-amz-"))
    assert not leaked, f"S3 headers leaked to a COS client: {leaked}"


def get_bytes(cos, bucket, key, **kw):
    return cos.get_object(Bucket=bucket, Key=key, **kw)["Body"].get_raw_stream().read()


def service_error(call, **kw):
    """The CosServiceError a call raises."""
    with pytest.raises(CosServiceError) as e:
        call(**kw)
    return e.value
