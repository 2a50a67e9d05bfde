"""An outside radio scenario from docs/contract.md alone: three operators' cells on
offset grids, apps / probes / MDT reporters, an IMSI catcher, a cloning SMS blaster
on the road grid, a static clone; a cell on wheels, a new site, an overshooting GSM
mast and unciphered legacy GSM cells as look-alikes."""
import json, math, random, hashlib, sys

# Usage: radio_scenario.py SEED DIR  -> DIR/meas.jsonl, DIR/cells.csv, DIR/radio_truth.json
seed = int(sys.argv[1]); out = sys.argv[2]
R = random.Random(seed)
LAT0, LON0 = 21.03, 105.85
T0 = 1795737600000; MIN = 60_000; H = 60 * MIN; DUR = 6 * H
def ll(x, y): return LAT0 + y / 111320, LON0 + x / (111320 * math.cos(math.radians(LAT0)))
def pseud(s): return hashlib.sha256(f"r{seed}:{s}".encode()).hexdigest()[:32]
def pl(d): return 40 + 32 * math.log10(max(d, 10))
def shadow(a, b): return (int(hashlib.md5(f"{a}/{b}".encode()).hexdigest()[:6], 16) / 0xFFFFFF - 0.5) * 14
cells = []  # dict: op, rat, lac, cid, x, y, eirp, arfcn, pci, gsm cipher
OPS = [(1, 0, 0), (2, 400, 300), (4, 800, 700)]
used = set()
for mnc, ox, oy in OPS:
    for ix in range(14):
        for iy in range(14):
            x = -8000 + ox + ix * 1200 + R.uniform(-200, 200); y = -8000 + oy + iy * 1200 + R.uniform(-200, 200)
            lac = 10000 + mnc * 1000 + (ix // 4) * 10 + iy // 4
            while True:
                cid = R.randrange(1000, 65000)
                if (mnc, cid) not in used: used.add((mnc, cid)); break
            cells.append(dict(op=mnc, rat="GSM", lac=lac, cid=cid, x=x, y=y, eirp=43, arfcn=R.randrange(1, 124), pci=R.randrange(0, 64),
                              cipher="A5/0" if R.random() < 0.05 else "A5/1", nb=R.randrange(0, 3) if R.random() < 0.05 else R.randrange(4, 9), reg=True))
            cells.append(dict(op=mnc, rat="LTE", lac=lac, cid=(ix * 14 + iy + 1) * 256 + mnc, x=x, y=y, eirp=46, arfcn=1275 + mnc * 25, pci=R.randrange(0, 504),
                              cipher="EEA2", nb=R.randrange(5, 12), reg=True))
# look-alikes: cell on wheels (45202 LTE, unregistered, 2h-5h), new site (45201 LTE, unregistered), overshooting mast
cow = dict(op=2, rat="LTE", lac=12011, cid=999001, x=1500, y=-2500, eirp=46, arfcn=1325, pci=77, cipher="EEA2", nb=7, reg=False, on=(2 * H, 5 * H))
new = dict(op=1, rat="LTE", lac=11022, cid=888001, x=-3000, y=2600, eirp=46, arfcn=1300, pci=12, cipher="EEA2", nb=8, reg=False)
cells += [cow, new]
mast = R.choice([c for c in cells if c["op"] == 4 and c["rat"] == "GSM" and c["cipher"] == "A5/1"]); mast["overshoot"] = True
# inventory: 45202 sends arfcn/pci columns, others not
with open(f"{out}/cells.csv", "w") as f:
    f.write("radio,mcc,net,area,cell,unit,lon,lat,range,samples,changeable,created,updated,averageSignal,arfcn,pci\n")
    for c in cells:
        if not c["reg"]: continue
        lat, lon = ll(c["x"], c["y"])
        extra = f"{c['arfcn']},{c['pci']}" if c["op"] == 2 else ","
        f.write(f"{c['rat']},452,{c['op']},{c['lac']},{c['cid']},,{lon:.6f},{lat:.6f},{2500 if c['rat']=='GSM' else 1500},0,1,0,0,0,{extra}\n")
# attackers
cat = dict(name="imsi_catcher", x=R.uniform(-4000, 4000), y=R.uniform(-4000, 4000), on=(1 * H, 3.5 * H))
catcher_cell = dict(op=2, rat="LTE", lac=12777, cid=31337 * 256, eirp=27, arfcn=1325, pci=400, nb=2)
far = lambda x, y: [c for c in cells if c["op"] == 4 and c["rat"] == "GSM" and c["reg"] and math.hypot(c["x"] - x, c["y"] - y) >= 6000]
sc_target = R.choice([c for c in cells if c["op"] == 1 and c["rat"] == "GSM" and abs(c["x"]) < 5000 and abs(c["y"]) < 5000])
sc = dict(name="static_clone", x=sc_target["x"] + 800, y=sc_target["y"], on=(2 * H, 4 * H))
sc_cell = dict(sc_target, arfcn=(sc_target["arfcn"] + 7) % 124 + 1, eirp=37, cipher="A5/0")
# blaster track on the road grid (roads every 1000 m), 25 km/h, stops at 35% of corners
track = []; bx, by = 0.0, 0.0; t = 1 * H; ident = None; next_id = t
while t < 5 * H:
    if t >= next_id:
        cand = far(bx, by); ident = dict(R.choice(cand), arfcn=R.randrange(1, 124), eirp=40, cipher="A5/0", nb=0); next_id = t + R.randrange(12, 19) * MIN
    track.append((t, bx, by, ident))
    # move to next corner
    dx, dy = R.choice([(1000, 0), (-1000, 0), (0, 1000), (0, -1000)])
    if abs(bx + dx) > 6000 or abs(by + dy) > 6000: dx, dy = -dx, -dy
    steps = 10
    for k in range(1, steps + 1):
        t += int(1000 / (25 / 3.6) / steps * 1000)
        track.append((t, bx + dx * k / steps, by + dy * k / steps, ident))
    bx += dx; by += dy
    if R.random() < 0.35: t += R.randrange(60, 600) * 1000
def blaster_at(t):
    best = None
    for p in track:
        if p[0] <= t: best = p
        else: break
    return best
truth = {"transmitters": [dict(name="imsi_catcher", kind="imsi_catcher", identities=[[2, 12777, catcher_cell["cid"]]], x=cat["x"], y=cat["y"], first=T0 + int(cat["on"][0])),
                          dict(name="static_clone", kind="static_clone", identities=[[1, sc_target["lac"], sc_target["cid"]]], x=sc["x"], y=sc["y"]),
                          dict(name="blaster", kind="cloning_blaster", identities=sorted({(4, p[3]["lac"], p[3]["cid"]) for p in track}), track=[(T0 + p[0], p[1], p[2]) for p in track[::5]])]}
recs = []; wit = {}
def report(kind, rid, t, x, y, c, sig, event=None, sender=None, who=None):
    if who: w = wit.setdefault(who, [0, set(), None]); w[0] += 1; w[1].add(rid); w[2] = min(w[2] or T0 + int(t), T0 + int(t))
    lat, lon = ll(x + R.gauss(0, 8), y + R.gauss(0, 8))
    r = {"source": {"app": "app", "probe": "probe", "mdt": "45204"}[kind], "reporter": rid, "ts": T0 + int(t), "lat": round(lat, 6), "lon": round(lon, 6),
         "rat": c["rat"], "mcc": 452, "mnc": c["op"], "lac": c["lac"], "cid": c["cid"]}
    if kind != "mdt": r["accuracy_m"] = round(R.uniform(4, 30), 1)
    r["signal_dbm"] = round(max(-140, min(-30, sig)), 1)
    if kind in ("probe", "mdt") or R.random() < 0.5: r["arfcn"] = c["arfcn"]
    if kind in ("probe", "mdt"): r["pci"] = c["pci"]
    d = math.hypot(c.get("x", x) - x, c.get("y", y) - y) if "x" in c else 0
    if kind in ("probe", "mdt"): r["ta"] = int(d / (550 if c["rat"] == "GSM" else 78))
    if kind == "probe": r["neighbors"] = c["nb"]; r["cipher"] = c["cipher"]
    if event: r["event"] = event
    if sender: r["sms_sender"] = sender
    recs.append(r)
def serving(op, gsm_only, x, y, t, rid):
    best = None
    for c in cells:
        if c["op"] != op or (gsm_only and c["rat"] != "GSM") or ("on" in c and not c["on"][0] <= t < c["on"][1]): continue
        dx, dy = c["x"] - x, c["y"] - y
        if abs(dx) > 4000 or abs(dy) > 4000:
            if not (c.get("overshoot") and R.random() < 0.02): continue
        s = c["eirp"] - pl(math.hypot(dx, dy)) + shadow(rid, c["cid"]) + (12 if c.get("overshoot") else 0) + (8 if c["rat"] == "LTE" else 0)
        if best is None or s > best[0]: best = (s, c)
    return best[1], best[0] - (8 if best[1]["rat"] == "LTE" else 0)
phones = []
for i in range(260): phones.append(("app", pseud(f"app{i}"), R.choice([1, 2, 4]), R.random() < 0.12, R.uniform(-7000, 7000), R.uniform(-7000, 7000)))
for i in range(120): phones.append(("mdt", pseud(f"mdt{i}"), 4, R.random() < 0.1, R.uniform(-7000, 7000), R.uniform(-7000, 7000)))
for kind, rid, op, g2, x, y in phones:
    t = R.randrange(0, 10 * MIN); vx, vy = R.uniform(-1, 1), R.uniform(-1, 1)
    caught = False
    while t < DUR:
        c, s = serving(op, g2, x, y, t, rid)
        ev = None
        b = blaster_at(t)
        if op == 4 and b and b[3] and t < 5 * H and math.hypot(b[1] - x, b[2] - y) < 700:
            c = dict(b[3], x=b[1], y=b[2]); s = 40 - pl(math.hypot(b[1] - x, b[2] - y)) + R.gauss(0, 4)
            ev = R.choice(["sms_received", "rat_downgrade", None]) if kind == "app" else R.choice(["rat_downgrade", "sms_received"])
            report(kind, rid, t, x, y, c, s, ev, "VCB-Bank" if ev == "sms_received" else None, who="blaster")
        elif op == 1 and sc["on"][0] <= t < sc["on"][1] and math.hypot(sc["x"] - x, sc["y"] - y) < 350:
            c = dict(sc_cell, x=sc["x"], y=sc["y"]); s = 37 - pl(math.hypot(sc["x"] - x, sc["y"] - y)) + R.gauss(0, 4)
            report(kind, rid, t, x, y, c, s, R.choice([None, "rat_downgrade"]), who="static_clone")
        else:
            report(kind, rid, t, x, y, c, s + R.gauss(0, 3))
        t += R.randrange(3, 15) * MIN if kind == "app" else 2 * MIN
        x += vx * 300; y += vy * 300
        if abs(x) > 7500: vx = -vx
        if abs(y) > 7500: vy = -vy
# IMSI catcher: 10 phones of 45202 rejected once each, paced over its window
for k in range(10):
    t = int(cat["on"][0] + (k + R.random()) * (cat["on"][1] - cat["on"][0]) / 10)
    a = R.uniform(0, 2 * math.pi); d = R.uniform(30, 180)
    x, y = cat["x"] + d * math.cos(a), cat["y"] + d * math.sin(a)
    kind = R.choice(["app", "app", "probe"])
    report(kind, pseud(f"catch{k}"), t, x, y, dict(catcher_cell, x=cat["x"], y=cat["y"], cipher=None), 27 - pl(d) + R.gauss(0, 4), "reject", who="imsi_catcher")
    if "cipher" in recs[-1] and recs[-1]["cipher"] is None: del recs[-1]["cipher"]
# static clone: 12 phones of 45201 passing by are caught and held for a few reports
for k in range(12):
    t = int(sc["on"][0] + (k + R.random()) * (sc["on"][1] - sc["on"][0]) / 12)
    a = R.uniform(0, 2 * math.pi); d = R.uniform(40, 300)
    x, y = sc["x"] + d * math.cos(a), sc["y"] + d * math.sin(a)
    kind = R.choice(["app", "app", "probe"])
    for j in range(R.randrange(2, 5)):
        report(kind, pseud(f"held{k}"), t + j * 40_000, x, y, dict(sc_cell, x=sc["x"], y=sc["y"]), 37 - pl(d) + R.gauss(0, 4), "rat_downgrade" if j == 0 else None, who="static_clone")
# probes driving the road grid with full fields
for i in range(6):
    rid = pseud(f"probe{i}"); op = [1, 2, 4][i % 3]; x, y = 0.0, 0.0; t = R.randrange(0, 30 * MIN)
    while t < DUR:
        dx, dy = R.choice([(1000, 0), (-1000, 0), (0, 1000), (0, -1000)])
        if abs(x + dx) > 7000 or abs(y + dy) > 7000: dx, dy = -dx, -dy
        for k in range(6):
            px, py = x + dx * k / 6, y + dy * k / 6
            b = blaster_at(t)
            if op == 4 and b and b[3] and t < 5 * H and math.hypot(b[1] - px, b[2] - py) < 900:
                c = dict(b[3], x=b[1], y=b[2]); s = 40 - pl(math.hypot(b[1] - px, b[2] - py)) + R.gauss(0, 4)
                report("probe", rid, t, px, py, c, s, R.choice(["rat_downgrade", "sms_received"]), "VCB-Bank", who="blaster")
            else:
                c, s = serving(op, False, px, py, t, rid); report("probe", rid, t, px, py, c, s + R.gauss(0, 3))
            t += 24_000
        x += dx; y += dy
recs.sort(key=lambda r: r["ts"])
with open(f"{out}/meas.jsonl", "w") as f:
    for r in recs: f.write(json.dumps(r, separators=(",", ":")) + "\n")
truth["witnesses"] = {k: dict(reports=v[0], reporters=len(v[1]), first_ms=v[2]) for k, v in wit.items()}
json.dump(truth, open(f"{out}/radio_truth.json", "w"))
print(len(recs), "reports", sum(1 for c in cells if c["reg"]), "cells")
