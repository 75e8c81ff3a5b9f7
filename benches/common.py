"""Shared by the benchmark scripts: test helpers on the path, the release binary, an S3
client, and writing a result into README.md between its markers."""
import atexit
import os
import pathlib
import re
import shutil
import sys
import tempfile

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))
# The e2e server helper starts PICOPS_BIN; benchmarks measure the release build.
os.environ.setdefault(
    "PICOPS_BIN",
    str(pathlib.Path(os.environ.get("CARGO_TARGET_DIR", HERE.parent / "target")) / "release" / "picops"),
)


# The embedded store is Garage, which scripts/test and scripts/serve build into the cache.
os.environ.setdefault(
    "PICOPS_STORE_BIN",
    str(pathlib.Path(os.environ.get("CARGO_TARGET_DIR", "/var/cache/picops/target")).parent / "garage" / "bin" / "garage"),
)


def client(endpoint, key=None, secret=None):
    """A boto3 client; by default with the credentials the e2e server helper configures."""
    import boto3
    from e2e.server import KEY, SECRET

    key, secret = key or KEY, secret or SECRET
    from botocore.config import Config

    return boto3.client("s3", endpoint_url=endpoint, aws_access_key_id=key, aws_secret_access_key=secret,
                        region_name=os.environ.get("PICOPS_E2E_REGION", "us-east-1"),
                        config=Config(s3={"addressing_style": "path"}, max_pool_connections=64))


def write_section(marker, text):
    """Replace what stands between `<!-- marker -->` and `<!-- /marker -->` in README.md."""
    readme = HERE / "README.md"
    pattern = rf"(<!-- {re.escape(marker)} -->\n).*?(\n<!-- /{re.escape(marker)} -->)"
    new, n = re.subn(pattern, lambda m: m.group(1) + text + m.group(2), readme.read_text(), flags=re.S)
    if n != 1:
        raise SystemExit(f"README.md has no <!-- {marker} --> section")
    readme.write_text(new)


def scratch_dir():
    """A fresh directory (a server's data: an embedded store under load fills gigabytes),
    removed when the script exits, however it exits."""
    path = pathlib.Path(tempfile.mkdtemp(prefix="picops-bench-"))
    atexit.register(shutil.rmtree, path, True)
    return path


def cpu_seconds(pid):
    """User + system CPU time a process has used so far (from /proc)."""
    fields = pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
