"""Treatment, distinct-person and people-list counts over journey reports, written from the
issue's definitions without any linesmap code (Python 3 standard library only).

Inputs: the reports (NDJSON, as posted) and, for each report, the forces and stations the server
mapped it to (a JSON list of the journeys' GeoJSON properties: report_id, date, mode,
origin_force, destination_force, exporting_force, origin_station, destination_station,
stations). Filters: --from, --to (journey dates, inclusive), --mode. Pseudonyms are computed
with the key given (--key), as `psn_` + the first 16 hex digits of HMAC-SHA256(key,
"person:" + person_id). Writes one JSON object to stdout.

The integration test tests/it/people.rs generates reports that are not in the repository,
posts them, writes the two inputs to a temporary folder and runs this script on them:

    python3 tests/independent/people_counts.py REPORTS.ndjson JOURNEYS.json --key KEY [--from D] [--to D] [--mode M]
"""

import argparse
import datetime
import hashlib
import hmac
import json
import math

CHILD = {"under_10", "10-12", "13-14", "15-17"}
ADULT = {"18-24", "25-34", "35_plus"}
MEASURES = ["recognised_as_victim", "safeguarding_referred", "nrm_referred", "arrested",
            "charged", "nfa"]
BYS = ["source_force", "origin_force", "destination_force", "exporting_force"]
GROUPS = ["children", "adults", "vulnerable_adults", "all"]
RANK = {"runner": 1, "line_holder": 2, "controller": 3}


def person(p):
    """A person with the schema's defaults filled in."""
    return {
        "person_id": p["person_id"],
        "age_band": p.get("age_band", "unknown"),
        "roles": p.get("roles", []),
        "victim_status": p.get("victim_status", "none"),
        "suspect_status": p.get("suspect_status", "none"),
        "flags": p.get("vulnerability_flags", []),
        "nrm": bool(p.get("nrm_referred", False)),
        "sg": bool(p.get("safeguarding_referred", False)),
    }


def in_group(p, g):
    adult = p["age_band"] in ADULT
    return {"children": p["age_band"] in CHILD, "adults": adult,
            "vulnerable_adults": adult and len(p["flags"]) > 0, "all": True}[g]


def hits(p):
    s = p["suspect_status"]
    return [p["victim_status"] != "none", p["sg"], p["nrm"],
            s in ("arrested", "charged", "convicted"), s in ("charged", "convicted"), s == "nfa"]


def empty():
    return {"encounters": 0, "persons": set(), "m": [0] * 6}


def add(c, p):
    c["encounters"] += 1
    c["persons"].add(p["person_id"])
    for k, h in enumerate(hits(p)):
        c["m"][k] += int(h)


def out_counts(c):
    d = {"encounters": c["encounters"], "persons": len(c["persons"])}
    for k, m in enumerate(MEASURES):
        d[m] = c["m"][k]
    return d


def quantile(n, p, q):
    """min r with P(Y <= r) >= q for Y ~ Binomial(n, p), summing terms from 0 in log space."""
    if p <= 0:
        return 0
    if p >= 1:
        return n
    acc = 0.0
    lp, lq = math.log(p), math.log1p(-p)
    base = math.lgamma(n + 1)
    for r in range(n + 1):
        acc += math.exp(base - math.lgamma(r + 1) - math.lgamma(n - r + 1) + r * lp + (n - r) * lq)
        if acc >= q * (1 - 4 * 2.220446049250313e-16):
            return r
    return n


def position(y, n, p0):
    if n == 0:
        return None
    q = [quantile(n, p0, x) for x in (0.001, 0.025, 0.975, 0.999)]
    if y > q[3]:
        return "above_99.8"
    if y > q[2]:
        return "above_95"
    if y < q[0]:
        return "below_99.8"
    if y < q[1]:
        return "below_95"
    return "within"


def distinct(journeys):
    ids, kids = set(), set()
    for j in journeys:
        for p in j["persons"]:
            ids.add(p["person_id"])
            if p["age_band"] in CHILD:
                kids.add(p["person_id"])
    return {"distinct_persons": len(ids), "distinct_children": len(kids)}


def day(s):
    return datetime.date.fromisoformat(s)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("reports")
    ap.add_argument("journeys")
    ap.add_argument("--key", required=True)
    ap.add_argument("--from", dest="frm")
    ap.add_argument("--to")
    ap.add_argument("--mode")
    a = ap.parse_args()
    mapped = {j["report_id"]: j for j in json.load(open(a.journeys))}
    js = []
    for line in open(a.reports):
        if not line.strip():
            continue
        r = json.loads(line)
        m = mapped[r["report_id"]]
        d = r["journey"]["date"]
        if a.frm and d < a.frm or a.to and d > a.to:
            continue
        if a.mode and r["journey"]["mode"] != a.mode:
            continue
        js.append({
            "id": r["report_id"], "date": d, "source_force": r["source_force"],
            "origin_force": m["origin_force"], "destination_force": m["destination_force"],
            "exporting_force": m["exporting_force"], "importing_force": m["importing_force"],
            "stations": set([m["origin_station"], m["destination_station"]] + m["stations"]) - {None},
            "persons": [person(p) for p in r.get("persons", [])],
            "order": len(js),
        })

    # treatment
    treatment = {}
    for by in BYS:
        for g in GROUPS:
            nat, rows = empty(), {}
            for j in js:
                key = "BTP" if by == "source_force" and j["source_force"] == "BTP" else j[by]
                for p in j["persons"]:
                    if not in_group(p, g):
                        continue
                    add(nat, p)
                    if key is not None:
                        add(rows.setdefault(key, empty()), p)
            n = out_counts(nat)
            rates = [n[m] / n["encounters"] if n["encounters"] else None for m in MEASURES]
            out_rows = {}
            for k, c in rows.items():
                o = out_counts(c)
                o["positions"] = {m: position(o[m], o["encounters"], rates[i])
                                  for i, m in enumerate(MEASURES) if rates[i] is not None}
                out_rows[k] = o
            treatment[f"{by}/{g}"] = {"national": n, "rows": out_rows}

    completeness = {}
    for j in js:
        c = completeness.setdefault(j["source_force"], {
            "encounters": 0, "known_age_band": 0, "victim_status_recorded": 0,
            "vulnerability_flagged": 0})
        for p in j["persons"]:
            c["encounters"] += 1
            c["known_age_band"] += int(p["age_band"] != "unknown")
            c["victim_status_recorded"] += int(p["victim_status"] != "none")
            c["vulnerability_flagged"] += int(len(p["flags"]) > 0)

    # distinct persons per flow, month, force (cross-border journeys exported or imported) and
    # station
    flows, months, forces, stations = {}, {}, {}, {}
    for j in js:
        if j["origin_force"] and j["destination_force"]:
            flows.setdefault(j["origin_force"] + ">" + j["destination_force"], []).append(j)
        months.setdefault(j["date"][:7] + "-01", []).append(j)
        e, i = j["exporting_force"], j["importing_force"]
        if e and i and e != i:
            forces.setdefault(e, []).append(j)
            forces.setdefault(i, []).append(j)
        for s in j["stations"]:
            stations.setdefault(s, []).append(j)

    # people
    ref_day = a.to or max((j["date"] for j in js), default="1970-01-01")
    by_person = {}
    for j in sorted(js, key=lambda j: (j["date"], j["order"])):
        for pid in dict.fromkeys(p["person_id"] for p in j["persons"]):
            by_person.setdefault(pid, []).append(j)
    people = []
    for pid, pj in by_person.items():
        forces_seen, force_day = [], {}
        bands, roles, statuses = [], [], []
        sg = nrm = arrests = missing = 0
        child = flagged = False
        ranks = []
        for j in pj:
            for f in (j["origin_force"], j["destination_force"]):
                if f and f not in forces_seen:
                    forces_seen.append(f)
                    force_day[f] = j["date"]
            mine = [p for p in j["persons"] if p["person_id"] == pid]
            h = [hits(p) for p in mine]
            sg += int(any(x[1] for x in h))
            nrm += int(any(x[2] for x in h))
            arrests += int(any(x[3] for x in h))
            missing += int(any("missing_episode" in p["flags"] for p in mine))
            rk = []
            for p in mine:
                if p["age_band"] not in bands:
                    bands.append(p["age_band"])
                for r in p["roles"]:
                    if r not in roles:
                        roles.append(r)
                    if r in RANK:
                        rk.append(RANK[r])
                if p["victim_status"] not in statuses:
                    statuses.append(p["victim_status"])
                child = child or p["age_band"] in CHILD
                flagged = flagged or len(p["flags"]) > 0
            if rk:
                ranks.append((min(rk), max(rk)))
        signals = []
        first_day = force_day[forces_seen[0]] if forces_seen else None
        if any(force_day[f] > first_day and 0 <= (day(ref_day) - day(force_day[f])).days < 90
               for f in forces_seen[1:]):
            signals.append("new_force_last_90_days")
        gaps = [(day(b["date"]) - day(a_["date"])).days for a_, b in zip(pj, pj[1:])]
        if len(gaps) >= 2 and all(y <= x for x, y in zip(gaps, gaps[1:])) and gaps[-1] * 2 <= gaps[0]:
            signals.append("shortening_intervals")
        if any(hi > lo for i, (lo, _) in enumerate(ranks) for (_, hi) in ranks[i + 1:]):
            signals.append("role_escalation")
        if missing >= 2:
            signals.append("repeated_missing_episodes")
        if arrests > 0 and sg == 0 and nrm == 0:
            signals.append("arrested_never_referred")
        adult = not child and any(b != "unknown" for b in bands)
        mac = hmac.new(a.key.encode(), b"person:" + pid.encode(), hashlib.sha256).hexdigest()
        people.append({
            "person": "psn_" + mac[:16], "child": child, "journeys": len(pj),
            "forces": forces_seen, "first_seen": pj[0]["date"], "last_seen": pj[-1]["date"],
            "age_bands": bands, "roles": roles, "victim_statuses": statuses,
            "safeguarding_referrals": sg, "nrm_referrals": nrm, "arrests": arrests,
            "missing_episodes": missing, "signals": signals,
            "groups": [g for g, ok in (("children", child), ("adults", adult),
                                       ("vulnerable_adults", adult and flagged), ("all", True)) if ok],
            "journey_ids": [j["id"] for j in pj],
        })
    people.sort(key=lambda p: p["person"])
    people.sort(key=lambda p: (-p["journeys"], _neg(p["last_seen"])))

    json.dump({
        "journeys": len(js),
        "treatment": treatment,
        "completeness": completeness,
        "flows": {k: distinct(v) for k, v in flows.items()},
        "months": {k: distinct(v) for k, v in months.items()},
        "forces": {k: distinct(v) for k, v in forces.items()},
        "stations": {k: distinct(v) for k, v in stations.items()},
        "people": people,
    }, __import__("sys").stdout)


def _neg(date):
    """A sort key putting later dates first."""
    return -day(date).toordinal()


if __name__ == "__main__":
    main()
