"""The attack suite's set-up: the e2e server and clients, a victim bucket "bob" (full key:
secret.txt and a small PNG), alice (the key limited to LIMITED_BUCKET) and the public-read
bucket. Every test reads back with the full key to prove nothing leaked, changed or went."""
import uuid

import pytest

from e2e.conftest import bucket, cos, s3  # noqa: F401  (shared fixtures; `server` is tests/conftest.py's)
from e2e.server import LIMITED_BUCKET, LIMITED_KEY, LIMITED_SECRET, PUBLIC_BUCKET
from e2e.test_auth import boto, ensure_bucket
from security.secutil import MARK, SECRET_BODY


@pytest.fixture(scope="session")
def bob(s3):
    """The victim bucket: the full key's, holding secret.txt and mark.png."""
    name = f"bob-{uuid.uuid4().hex[:8]}-1250000000"
    s3.create_bucket(Bucket=name)
    s3.put_object(Bucket=name, Key="secret.txt", Body=SECRET_BODY)
    s3.put_object(Bucket=name, Key="mark.png", Body=MARK)
    yield name
    # Whatever any test did, bob's originals must still be there, unchanged.
    assert s3.get_object(Bucket=name, Key="secret.txt")["Body"].read() == SECRET_BODY
    assert s3.get_object(Bucket=name, Key="mark.png")["Body"].read() == MARK


@pytest.fixture(scope="session")
def alice_bucket(s3):
    ensure_bucket(s3, LIMITED_BUCKET)
    return LIMITED_BUCKET


@pytest.fixture(scope="session")
def alice(server, alice_bucket):
    """boto3 client of the key limited to LIMITED_BUCKET."""
    return boto(server, LIMITED_KEY, LIMITED_SECRET)


@pytest.fixture(scope="session")
def public(s3):
    """The public-read bucket, holding pub.txt and mark.png."""
    ensure_bucket(s3, PUBLIC_BUCKET)
    s3.put_object(Bucket=PUBLIC_BUCKET, Key="pub.txt", Body=b"public text")
    s3.put_object(Bucket=PUBLIC_BUCKET, Key="mark.png", Body=MARK)
    return PUBLIC_BUCKET
