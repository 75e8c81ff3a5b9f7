"""Starts `picops serve` as a process and gives real clients pointed at it.

Upstream: the embedded store by default; a real S3 server when PICOPS_E2E_UPSTREAM is set
(with PICOPS_E2E_ACCESS_KEY, PICOPS_E2E_SECRET_KEY, PICOPS_E2E_REGION), e.g. Garage in CI.
"""
import os
import uuid

import boto3
import pytest
from botocore.config import Config
from qcloud_cos import CosConfig, CosS3Client

from e2e.server import KEY, SECRET

@pytest.fixture(scope="session")
def s3(server):
    return boto3.client(
        "s3",
        endpoint_url=server.endpoint,
        aws_access_key_id=KEY,
        aws_secret_access_key=SECRET,
        region_name=os.environ.get("PICOPS_E2E_REGION", "us-east-1"),
        config=Config(s3={"addressing_style": "path"}, signature_version="s3v4", retries={"max_attempts": 1}),
    )


@pytest.fixture(scope="session")
def bucket(s3):
    # COS form: <name>-<appid>; also a valid S3 name.
    name = f"picops-{uuid.uuid4().hex[:8]}-1250000000"
    s3.create_bucket(Bucket=name)
    return name


@pytest.fixture(scope="session")
def cos(server):
    conf = CosConfig(
        Region="ap-guangzhou",
        SecretId=KEY,
        SecretKey=SECRET,
        Scheme="http",
        IP="127.0.0.1",
        Port=server.port,
    )
    return CosS3Client(conf)
