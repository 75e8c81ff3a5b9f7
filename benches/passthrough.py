#!/usr/bin/env python3
"""Passthrough cost: GET and PUT of 1 MB objects with boto3, directly to Garage and through
`picops serve --upstream <Garage>` (release build), same client, same run. Needs the
PICOPS_E2E_* variables of a running Garage (scripts/garage.sh sets them). Writes the table
into benches/README.md between the PASSTHROUGH markers.
"""
import os
import pathlib
import sys
import tempfile
import uuid

from common import client, write_section

from e2e.server import start_server  # noqa: E402
from load import run  # noqa: E402

BODY = os.urandom(1 << 20)
CONCURRENCY = int(os.environ.get("PASS_CONCURRENCY", "8"))


def main():
    upstream = os.environ.get("PICOPS_E2E_UPSTREAM")
    if not upstream:
        sys.exit("set PICOPS_E2E_UPSTREAM/ACCESS_KEY/SECRET_KEY/REGION (a running Garage)")
    key, secret = os.environ["PICOPS_E2E_ACCESS_KEY"], os.environ["PICOPS_E2E_SECRET_KEY"]
    srv = start_server(pathlib.Path(tempfile.mkdtemp()))
    rows = []
    try:
        direct = client(upstream, key, secret)
        bucket = f"pass-{uuid.uuid4().hex[:8]}"
        direct.create_bucket(Bucket=bucket)
        direct.put_object(Bucket=bucket, Key="one", Body=BODY)
        for name, c in (("direct to Garage", direct), ("through picops", client(srv.endpoint))):
            rows.append((name, "GET 1 MB", *run(CONCURRENCY, lambda: c.get_object(Bucket=bucket, Key="one")["Body"].read())))
            rows.append((name, "PUT 1 MB", *run(CONCURRENCY, lambda: c.put_object(Bucket=bucket, Key=f"k/{uuid.uuid4().hex}", Body=BODY))))
    finally:
        srv.proc.terminate()
        srv.proc.wait(timeout=30)
    lines = [f"boto3, concurrency {CONCURRENCY}, {os.environ.get('LOAD_SECONDS', '15')} s per row.", "",
             "| path | request | req/s | p50 ms | p99 ms | errors |", "|---|---|---:|---:|---:|---:|"]
    for name, op, rate, p50, p99, err in rows:
        lines.append(f"| {name} | {op} | {rate:.1f} | {p50:.1f} | {p99:.1f} | {err} |")
    for op in ("GET 1 MB", "PUT 1 MB"):
        d = next(r for r in rows if r[0].startswith("direct") and r[1] == op)
        p = next(r for r in rows if r[0].startswith("through") and r[1] == op)
        lines.append(f"\n{op}: picops / direct throughput {p[2] / d[2] * 100:.0f} %, added p50 {p[3] - d[3]:.1f} ms.")
    table = "\n".join(lines)
    print(table)
    write_section("PASSTHROUGH", table)


if __name__ == "__main__":
    main()
