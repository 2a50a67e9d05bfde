"""Score cellwatch's cases on an outside scenario (sms_scenario.py / radio_scenario.py).

Usage: score.py DIR   (DIR holds truth.json, radio_truth.json, out/cases.jsonl)
Prints one line per SMS kind and operator (flagged / total, detection delay) and one
per fake transmitter (cases, position error, time to detect), then the false cases.
"""
import collections, json, math, os, sys

T_SPAM = {"spam", "burst", "farm"}
LAT0, LON0 = 21.03, 105.85


def last_snapshots(path):
    last = {}
    for line in open(path):
        c = json.loads(line)
        last[c["case_id"]] = c
    return last


def xy(lat, lon):
    return ((lon - LON0) * 111320 * math.cos(math.radians(LAT0)), (lat - LAT0) * 111320)


def sms(d, cases):
    truth = json.load(open(f"{d}/truth.json"))
    flagged = {}
    for c in cases.values():
        for s in c.get("sims", []):
            if s not in flagged or c["opened_at"] < flagged[s][0]:
                flagged[s] = (c["opened_at"], c["kind"])
    per = collections.defaultdict(lambda: [0, 0, []])
    for sim, t in truth.items():
        row = per[(t["kind"], t["operator"])]
        row[0] += 1
        if sim in flagged:
            row[1] += 1
            row[2].append((flagged[sim][0] - t["start_ms"]) / 60000)
    for (kind, op), (n, f, delays) in sorted(per.items()):
        if kind not in T_SPAM and f == 0:
            continue
        delays.sort()
        what = "spam" if kind in T_SPAM else "FALSE POSITIVE"
        line = f"sms  {op} {kind:9s} {f:3d}/{n:<4d} flagged ({what})"
        if delays and kind in T_SPAM:
            line += f", delay median {delays[len(delays) // 2]:.1f} max {delays[-1]:.1f} min"
        print(line)


def radio(d, cases):
    truth = json.load(open(f"{d}/radio_truth.json"))
    wit = truth.get("witnesses", {})
    found = collections.defaultdict(list)
    false = []
    for c in cases.values():
        if c["kind"] != "fake_bts":
            continue
        ids = {(i["mnc"], i["lac"], i["cid"]) for i in c["identities"]}
        x, y = xy(c["location"]["lat"], c["location"]["lon"])
        match = None
        for t in truth["transmitters"]:
            if ids & {tuple(i) for i in t["identities"]}:
                if "track" in t:
                    p = min(t["track"], key=lambda p: abs(p[0] - c["last_seen"]))
                    err = math.hypot(p[1] - x, p[2] - y)
                else:
                    err = math.hypot(t["x"] - x, t["y"] - y)
                match = t["name"]
                found[match].append((c["opened_at"], err, c["location"]["radius_m"]))
                break
        if match is None:
            false.append(c)
    for t in truth["transmitters"]:
        w = wit.get(t["name"], {"reports": 0, "reporters": 0})
        line = f"bts  {t['name']:13s} heard in {w['reports']} reports by {w['reporters']} phones: "
        cs = found.get(t["name"], [])
        if not cs:
            line += "NOT FOUND"
        else:
            errs = sorted(e for _, e, _ in cs)
            first = min(o for o, _, _ in cs)
            line += f"{len(cs)} case(s), position error median {errs[len(errs) // 2]:.0f} m"
            if w.get("first_ms"):
                line += f", detected {(first - w['first_ms']) / 60000:.1f} min after the first report"
        print(line)
    print(f"bts  false cases: {len(false)}" + "".join(f"\n     {c['case_id']} {c['claimed_cell']}" for c in false))


d = sys.argv[1]
cases = last_snapshots(f"{d}/out/cases.jsonl")
if os.path.exists(f"{d}/truth.json"):
    sms(d, cases)
if os.path.exists(f"{d}/radio_truth.json"):
    radio(d, cases)
