#!/usr/bin/env python3
"""Passthrough cost: GET and PUT of 1 MB objects with boto3, directly to Garage and through
`picops serve --upstream <Garage>` (release build), same client, same run, at concurrency 1
(the added latency of the hop itself) and 8 (the client, Garage and picops then compete for
the machine's cores, and the ratio shows picops' share of that CPU). The two paths take turns
in short rounds, so that a change in the shared machine's load during the run falls on both
alike instead of on whichever path ran last. Needs the
PICOPS_E2E_* variables of a running Garage (scripts/garage.sh sets them). Writes the table
into benches/README.md between the PASSTHROUGH markers.
"""
import os
import sys
import uuid

from common import client, write_section, scratch_dir, cpu_seconds

from e2e.server import start_server  # noqa: E402
from load import run_raw, summary  # noqa: E402

BODY = os.urandom(1 << 20)


SECONDS = float(os.environ.get("LOAD_SECONDS", "15"))
ROUNDS = int(os.environ.get("PASS_ROUNDS", "5"))
CONCURRENCY = [int(c) for c in os.environ.get("PASS_CONCURRENCY", "1,8").split(",")]


def alternating(pid, paths, concurrency):
    """Runs each path's call for SECONDS in all, the paths taking turns in ROUNDS slices;
    returns per path (calls/s, p50 ms, p99 ms, errors, picops CPU ms per call)."""
    totals = {name: ([], 0, 0.0, 0.0) for name, _ in paths}
    for _ in range(ROUNDS):
        for name, one in paths:
            before = cpu_seconds(pid)
            lat, errors, elapsed = run_raw(concurrency, one, SECONDS / ROUNDS)
            t_lat, t_err, t_elapsed, t_cpu = totals[name]
            totals[name] = (t_lat + lat, t_err + errors, t_elapsed + elapsed,
                            t_cpu + cpu_seconds(pid) - before)
    out = {}
    for name, (lat, errors, elapsed, cpu) in totals.items():
        out[name] = (*summary(lat, errors, elapsed), cpu * 1000 / max(1, len(lat)))
    return out



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
        clients = (("direct to Garage", direct), ("through picops", client(srv.endpoint)))

        def get(c):
            return lambda: c.get_object(Bucket=bucket, Key="one")["Body"].read()

        def put(c):
            return lambda: c.put_object(Bucket=bucket, Key=f"k/{uuid.uuid4().hex}", Body=BODY)

        for n in CONCURRENCY:
            for op, call in (("GET 1 MB", get), ("PUT 1 MB", put)):
                results = alternating(pid, [(name, call(c)) for name, c in clients], n)
                rows += [(name, n, op, *results[name]) for name, _ in clients]
    finally:
        srv.proc.terminate()
        srv.proc.wait(timeout=30)
    lines = [f"boto3, {SECONDS:.0f} s per row in {ROUNDS} turns alternating with the other path.", "",
             "| path | concurrency | request | req/s | p50 ms | p99 ms | errors | picops CPU ms / request |",
             "|---|---:|---|---:|---:|---:|---:|---:|"]
    for name, n, op, rate, p50, p99, err, cpu in rows:
        cpu_text = f"{cpu:.2f}" if name.startswith("through") else "—"
        lines.append(f"| {name} | {n} | {op} | {rate:.1f} | {p50:.1f} | {p99:.1f} | {err} | {cpu_text} |")
    lines.append("")
    for n in CONCURRENCY:
        for op in ("GET 1 MB", "PUT 1 MB"):
            d = next(r for r in rows if r[0].startswith("direct") and r[1:3] == (n, op))
            p = next(r for r in rows if r[0].startswith("through") and r[1:3] == (n, op))
            lines.append(f"- {op}, concurrency {n}: picops / direct throughput {p[3] / d[3] * 100:.0f} %, "
                         f"added p50 {p[4] - d[4]:.1f} ms, added p99 {p[5] - d[5]:.1f} ms.")
    table = "\n".join(lines)
    print(table)
    write_section("PASSTHROUGH", table)


if __name__ == "__main__":
    main()
