#!/usr/bin/env python3
"""Passthrough cost: GET and PUT of 1 MB objects with boto3, directly to Garage and through
`picops serve --upstream <Garage>` (release build), same client, same run. Needs the
PICOPS_E2E_* variables of a running Garage (scripts/garage.sh sets them). Writes the table
into benches/README.md between the PASSTHROUGH markers.
"""
import os
import sys
import uuid

from common import client, write_section, scratch_dir, cpu_seconds

from e2e.server import start_server  # noqa: E402
from load import run  # noqa: E402

BODY = os.urandom(1 << 20)


def measured(pid, rate_row):
    """Runs a load row and adds picops' CPU time per request during it."""
    before = cpu_seconds(pid)
    rate, p50, p99, err = rate_row()
    seconds = float(os.environ.get("LOAD_SECONDS", "15"))
    per_request = (cpu_seconds(pid) - before) / max(1, rate * seconds) * 1000
    return rate, p50, p99, err, per_request
CONCURRENCY = int(os.environ.get("PASS_CONCURRENCY", "8"))


def main():
    upstream = os.environ.get("PICOPS_E2E_UPSTREAM")
    if not upstream:
        sys.exit("set PICOPS_E2E_UPSTREAM/ACCESS_KEY/SECRET_KEY/REGION (a running Garage)")
    key, secret = os.environ["PICOPS_E2E_ACCESS_KEY"], os.environ["PICOPS_E2E_SECRET_KEY"]
    srv = start_server(scratch_dir())
    rows = []
    try:
        direct = client(upstream, key, secret)
        bucket = f"pass-{uuid.uuid4().hex[:8]}"
        direct.create_bucket(Bucket=bucket)
        direct.put_object(Bucket=bucket, Key="one", Body=BODY)
        pid = srv.proc.pid
        for name, c in (("direct to Garage", direct), ("through picops", client(srv.endpoint))):
            get = lambda: c.get_object(Bucket=bucket, Key="one")["Body"].read()  # noqa: E731
            put = lambda: c.put_object(Bucket=bucket, Key=f"k/{uuid.uuid4().hex}", Body=BODY)  # noqa: E731
            rows.append((name, "GET 1 MB", *measured(pid, lambda: run(CONCURRENCY, get))))
            rows.append((name, "PUT 1 MB", *measured(pid, lambda: run(CONCURRENCY, put))))
    finally:
        srv.proc.terminate()
        srv.proc.wait(timeout=30)
    lines = [f"boto3, concurrency {CONCURRENCY}, {os.environ.get('LOAD_SECONDS', '15')} s per row.", "",
             "| path | request | req/s | p50 ms | p99 ms | errors | picops CPU ms / request |",
             "|---|---|---:|---:|---:|---:|---:|"]
    for name, op, rate, p50, p99, err, cpu in rows:
        cpu_text = f"{cpu:.2f}" if name.startswith("through") else "—"
        lines.append(f"| {name} | {op} | {rate:.1f} | {p50:.1f} | {p99:.1f} | {err} | {cpu_text} |")
    for op in ("GET 1 MB", "PUT 1 MB"):
        d = next(r for r in rows if r[0].startswith("direct") and r[1] == op)
        p = next(r for r in rows if r[0].startswith("through") and r[1] == op)
        lines.append(f"\n{op}: picops / direct throughput {p[2] / d[2] * 100:.0f} %, added p50 {p[3] - d[3]:.1f} ms.")
    table = "\n".join(lines)
    print(table)
    write_section("PASSTHROUGH", table)


if __name__ == "__main__":
    main()
