"""Start `picops serve` as a process (embedded store, or the upstream named by
PICOPS_E2E_UPSTREAM with PICOPS_E2E_ACCESS_KEY/SECRET_KEY/REGION)."""
import os
import socket
import subprocess
import time

from helpers import BIN

UPSTREAM = os.environ.get("PICOPS_E2E_UPSTREAM")

# The credentials every test server knows (written to a credentials file, as a mounted
# Kubernetes Secret would be).
KEY, SECRET = "AKIDpicopstest", "picops-test-secret"
LIMITED_KEY, LIMITED_SECRET = "AKIDlimited", "limited-secret"
LIMITED_BUCKET = "picops-limited-1250000000"
TOKEN_KEY, TOKEN_SECRET, TOKEN = "AKIDtemporary", "temporary-secret", "session-token-123"
PUBLIC_BUCKET = "picops-public-1250000000"
CREDENTIALS = f"""
[[credentials]]
access_key = "{KEY}"
secret_key = "{SECRET}"

[[credentials]]
access_key = "{LIMITED_KEY}"
secret_key = "{LIMITED_SECRET}"
buckets = ["{LIMITED_BUCKET}"]

[[credentials]]
access_key = "{TOKEN_KEY}"
secret_key = "{TOKEN_SECRET}"
session_token = "{TOKEN}"
"""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_listening(port, proc, log, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"picops serve exited: {log.read_text()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("picops serve did not start listening")


class Server:
    def __init__(self, port, data_dir, proc, ops_port, log):
        self.port = port
        self.data_dir = data_dir
        self.proc = proc
        self.endpoint = f"http://127.0.0.1:{port}"
        self.ops = f"http://127.0.0.1:{ops_port}"
        self.log = log


def start_server(tmp, extra=(), credentials=CREDENTIALS):
    tmp.mkdir(parents=True, exist_ok=True)
    port, ops_port = free_port(), free_port()
    data = tmp / "data"
    log = tmp / "serve.log"
    creds = tmp / "credentials.toml"
    creds.write_text(credentials)
    args = [str(BIN), "serve", "--listen", f"127.0.0.1:{port}", "--data-dir", str(data),
            "--credentials-file", str(creds), "--public-read", PUBLIC_BUCKET,
            "--ops-listen", f"127.0.0.1:{ops_port}", *extra]
    if UPSTREAM and "--upstream" not in extra:
        args += [
            "--upstream", UPSTREAM,
            "--upstream-region", os.environ.get("PICOPS_E2E_REGION", "garage"),
            "--upstream-access-key", os.environ["PICOPS_E2E_ACCESS_KEY"],
            "--upstream-secret-key", os.environ["PICOPS_E2E_SECRET_KEY"],
        ]
    logf = open(log, "w")
    proc = subprocess.Popen(args, stdout=logf, stderr=subprocess.STDOUT)
    wait_listening(port, proc, log)
    wait_listening(ops_port, proc, log)
    return Server(port, data, proc, ops_port, log)


