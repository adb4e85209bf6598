"""Reference values for the local-time clock, from Python's zoneinfo (IANA tz database).

Rerun (writes clock.json beside this file; needs only the standard library and the system's
tz database, or `pip install tzdata`):

    python3 tests/independent/clock.py

Each journey has a UTC instant (departed_at, or encounter.at) or a window [from, to). Its cells
are found here independently of the Rust code: the instant converted to Europe/London, and a
window walked minute by minute, each minute's local (weekday, hour) counted and divided by the
window's minutes (aoristic weights). The instants and windows sit on both 2024 clock changes
(31 March, 27 October) and across midnights. For each filter, the journeys it keeps: some cell
with positive weight in the selected hours (both ends included, wrapping) of the selected days.
"""

import json
import os
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

LONDON = ZoneInfo("Europe/London")
DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]

JOURNEYS = [
    ("syn-c-01", "departed_at", "2024-03-31T00:30:00Z", None),
    ("syn-c-02", "departed_at", "2024-03-31T01:30:00Z", None),
    ("syn-c-03", "departed_at", "2024-10-27T00:30:00Z", None),
    ("syn-c-04", "departed_at", "2024-10-27T01:30:00Z", None),
    ("syn-c-05", "departed_at", "2024-07-01T23:15:00Z", None),
    ("syn-c-06", "departed_at", "2024-01-08T15:00:00Z", None),
    ("syn-c-07", "departed_at", "2024-06-14T21:59:00Z", None),
    ("syn-c-08", "departed_at", "2024-12-20T22:30:00Z", None),
    ("syn-c-09", "departed_at", "2024-03-30T23:30:00Z", None),
    ("syn-c-10", "encounter_at", "2024-05-04T01:10:00Z", None),
    ("syn-c-11", "time_window", "2024-03-31T00:15:00Z", "2024-03-31T02:15:00Z"),
    ("syn-c-12", "time_window", "2024-10-26T23:40:00Z", "2024-10-27T02:10:00Z"),
    ("syn-c-13", "time_window", "2024-01-12T21:30:00Z", "2024-01-13T01:00:00Z"),
    ("syn-c-14", "untimed", None, None),
]

FILTERS = {
    "hours=15-19": (range(15, 20), DAYS),
    "hours=22-02": ([22, 23, 0, 1, 2], DAYS),
    "days=sun": (range(24), ["sun"]),
    "hours=1-1&days=sun": ([1], ["sun"]),
    "hours=0-0&days=sat,tue": ([0], ["sat", "tue"]),
}


def utc(s):
    return datetime.strptime(s, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)


def local_cell(t):
    lt = t.astimezone(LONDON)
    return (lt.weekday(), lt.hour)


def cells(kind, a, b):
    if kind == "untimed":
        return {}
    if b is None:
        return {local_cell(utc(a)): 1.0}
    t, end = utc(a), utc(b)
    minutes = int((end - t).total_seconds() // 60)
    out = {}
    for m in range(minutes):
        c = local_cell(t + timedelta(minutes=m))
        out[c] = out.get(c, 0) + 1
    return {c: n / minutes for c, n in out.items()}


journeys = []
clock = [[0.0] * 24 for _ in range(7)]
for jid, kind, a, b in JOURNEYS:
    cs = cells(kind, a, b)
    for (d, h), w in cs.items():
        clock[d][h] += w
    journeys.append({
        "id": jid, "kind": kind, "from": a, "to": b,
        "cells": [[d, h, w] for (d, h), w in sorted(cs.items())],
    })

filters = {}
for name, (hours, days) in FILTERS.items():
    hs, ds = set(hours), {DAYS.index(d) for d in days}
    filters[name] = sorted(
        j["id"] for j in journeys
        if any(w > 0 and d in ds and h in hs for d, h, w in j["cells"])
    )

out = {"timezone": "Europe/London", "journeys": journeys, "clock": clock, "filters": filters}
path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "clock.json")
with open(path, "w") as f:
    json.dump(out, f, indent=1)
print("wrote", path)
