#!/usr/bin/env python3
"""Render benches/http/compare.sh's results (JSON lines) as Markdown tables.

Usage: table.py RESULTS.jsonl

One column group per server (linesmap first, then each peer in the order it ran, e.g.
pygeoapi-OGR and pygeoapi-SpatiaLite) and the ratio of linesmap's req/s to each peer's.

Each line: {"case", "title", "server", "status" (the HTTP status of one request before the load,
null when the server has no such query), "busy_before" (percent of all cores busy just before
the run, servers idle), "wrk" (the figures of report.lua, null when not loaded)}. A run with any non-2xx response, timeout or socket error is flagged, never shown as
a throughput.
"""

import json
import sys

FEW = 50  # below this many responses the percentiles are rough: marked with a dagger


def duration(us):
    if us >= 10_000_000:
        return f"{us / 1e6:.0f} s"
    if us >= 1_000_000:
        return f"{us / 1e6:.1f} s"
    if us >= 100_000:
        return f"{us / 1e3:.0f} ms"
    if us >= 1_000:
        return f"{us / 1e3:.1f} ms"
    return f"{us / 1e3:.2f} ms"


def rate(per_s):
    if per_s >= 100:
        return f"{per_s:,.0f}"
    if per_s >= 10:
        return f"{per_s:.1f}"
    return f"{per_s:.2f}"


def problem(result):
    """Why a result cannot be read as a throughput, or None."""
    status, wrk = result["status"], result["wrk"]
    if status is None:
        return None
    if not 200 <= status < 300:
        return f"**HTTP {status}**, not loaded"
    if wrk is None:
        return "**not loaded**"
    problems = []
    if wrk["status_errors"]:
        problems.append(f"{wrk['status_errors']:,} non-2xx of {wrk['requests']:,}")
    if wrk["timeouts"]:
        problems.append(f"{wrk['timeouts']:,} timeouts")
    sockets = wrk["connect_errors"] + wrk["read_errors"] + wrk["write_errors"]
    if sockets:
        problems.append(f"{sockets:,} socket errors")
    if wrk["requests"] == 0:
        problems.append("no response completed within the run")
    return "**" + ", ".join(problems) + "**" if problems else None


def cells(result):
    """req/s, p50, p99 for the main table."""
    if result is None or result["status"] is None:
        return ["n/a", "n/a", "n/a"]
    flagged = problem(result)
    if flagged:
        return [flagged, "–", "–"]
    wrk = result["wrk"]
    few = " †" if wrk["requests"] < FEW else ""
    per_s = wrk["requests"] / (wrk["duration_us"] / 1e6)
    return [rate(per_s), duration(wrk["p50_us"]) + few, duration(wrk["p99_us"]) + few]


def throughput(result):
    if result is None or result["status"] is None or problem(result):
        return None
    wrk = result["wrk"]
    return wrk["requests"] / (wrk["duration_us"] / 1e6)


def main():
    results = [json.loads(line) for line in open(sys.argv[1], encoding="utf-8") if line.strip()]
    cases = []
    for r in results:
        if r["case"] not in [c["case"] for c in cases]:
            cases.append(r)
    by = {(r["case"], r["server"]): r for r in results}
    peers = []  # the servers linesmap is compared with, in the order they ran
    for r in results:
        if r["server"] != "linesmap" and r["server"] not in peers:
            peers.append(r["server"])

    head = ["#", "case", "linesmap req/s", "p50", "p99"]
    for peer in peers:
        head += [f"{peer} req/s", "p50", "p99"]
    head += [f"linesmap / {peer}, req/s" for peer in peers]
    print("| " + " | ".join(head) + " |")
    print("|---|---|" + "---:|" * (len(head) - 2))
    for c in cases:
        ours = by.get((c["case"], "linesmap"))
        row = [str(c["case"]), c["title"]] + cells(ours)
        ratios = []
        for peer in peers:
            theirs = by.get((c["case"], peer))
            row += cells(theirs)
            a, b = throughput(ours), throughput(theirs)
            ratios.append(f"**{a / b:.1f}×**" if a and b else "n/a")
        print("| " + " | ".join(row + ratios) + " |")
    print()
    print(f"† fewer than {FEW} responses in the run: the percentiles are rough.")
    print()
    print("| # | server | measured for | responses completed | KiB per response | errors (non-2xx, timeouts, socket) | other load |")
    print("|---|---|---:|---:|---:|---|---:|")
    for r in results:
        if r["status"] is None:
            continue
        wrk = r["wrk"]
        if wrk is None:
            print(f"| {r['case']} | {r['server']} | – | – | – | HTTP {r['status']} before the load: not loaded | – |")
            continue
        size = f"{wrk['bytes'] / wrk['requests'] / 1024:,.1f}" if wrk["requests"] else "–"
        sockets = wrk["connect_errors"] + wrk["read_errors"] + wrk["write_errors"]
        busy = f"{r['busy_before']} %" if r.get("busy_before") is not None else "–"
        print(f"| {r['case']} | {r['server']} | {wrk['duration_us'] / 1e6:.0f} s | {wrk['requests']:,} | {size} | "
              f"{wrk['status_errors']:,}, {wrk['timeouts']:,}, {sockets:,} | {busy} |")


if __name__ == "__main__":
    main()
