"""An outside SMS scenario written from docs/contract.md alone: three operators with
their own habits, spammers of several shapes, look-alikes. Truth in truth.json."""
import json, random, hashlib, sys, datetime as dt

# Usage: sms_scenario.py SEED DIR  -> DIR/sms.jsonl, DIR/truth.json (sim -> operator, kind, start)
seed = int(sys.argv[1]); out = sys.argv[2]
R = random.Random(seed)
T0 = 1795737600000  # some day, ms
H = 3600_000; DUR = 6 * H
def pseud(s): return hashlib.sha256(f"{seed}:{s}".encode()).hexdigest()[:32]
def ts(ms, style):
    if style == "ms": return ms
    t = dt.datetime.fromtimestamp(ms / 1000, dt.timezone(dt.timedelta(hours=7)))
    return t.isoformat()
OPS = {  # operator: (window_secs, fields sent, timestamp style, emits idle windows?)
  "45201": (60, set(), "rfc", False),
  "45202": (300, {"sms_in", "distinct_recipients", "new_recipients", "calls_out", "calls_in", "device", "imei_tac", "cell", "sim_age_days", "kyc_verified"}, "ms", False),
  "45204": (900, {"sms_in", "distinct_recipients", "calls_out", "calls_in", "cell"}, "rfc", True),
}
recs = []; truth = {}
def emit(op, sim, rate_fn, kind, new_frac=0.1, calls=1.0, age=900, kyc=True, device=None, cell=None, tac="35332510", start=0, end=DUR, sms_in_rate=1.0):
    w, fields, style, idle = OPS[op]
    truth[sim] = {"operator": op, "kind": kind, "start_ms": T0 + start}
    for k in range(start // (w * 1000), end // (w * 1000)):
        ws = T0 + k * w * 1000
        lam = rate_fn((ws - T0) / H) * w / 3600
        n = sum(1 for _ in range(50) if R.random() < lam / 50) if lam < 5 else max(0, int(R.gauss(lam, lam ** 0.5)))
        nin = sum(1 for _ in range(10) if R.random() < sms_in_rate * w / 3600 / 10)
        cin = 1 if R.random() < calls * w / 3600 else 0
        cout = 1 if R.random() < calls * w / 3600 else 0
        if n == 0 and nin == 0 and cin == 0 and cout == 0 and not idle: continue
        r = {"operator": op, "sim": sim, "window_start": ts(ws, style), "window_secs": w, "sms_out": n}
        d = max(0, min(n, int(n * (0.95 if kind in ("spam", "farm", "burst") else 0.5) + 0.5)))
        opt = {"sms_in": nin, "distinct_recipients": d, "new_recipients": int(d * new_frac),
               "calls_out": cout, "calls_in": cin, "device": device or pseud("dev" + sim), "imei_tac": tac,
               "cell": cell or f"452-{int(op[3:])}-{100 + int(sim[:4], 16) % 5}-{2000 + int(sim[4:8], 16) % 40}",
               "sim_age_days": age, "kyc_verified": kyc}
        for f in sorted(fields): r[f] = opt[f]
        recs.append(r)
for op in OPS:
    for i in range(1500):
        base = R.lognormvariate(0, 1.0)  # ~1/h median
        emit(op, pseud(f"{op}n{i}"), lambda h, b=base: b * (0.5 + (h % 6) / 6), "normal", new_frac=0.05, calls=0.8)
    # blatant: 500/h for 2 h
    for i in range(4):
        s = R.randrange(0, 3) * H + R.randrange(0, 3600) * 1000
        emit(op, pseud(f"{op}spam{i}"), lambda h: 500, "spam", new_frac=0.95, calls=0, age=3, kyc=False, start=s, end=s + 2 * H, sms_in_rate=0.1)
    # bursty spammer: 150 SMS in 10 min every 30 min for 3 h (300/h average)
    for i in range(2):
        s = R.randrange(0, 2) * H
        emit(op, pseud(f"{op}burst{i}"), lambda h: 900 if (h * 60) % 30 < 10 else 0, "burst", new_frac=0.95, calls=0, age=5, kyc=False, start=s, end=s + 3 * H, sms_in_rate=0.1)
    # look-alikes
    for i in range(4):  # new-number announcement: 200 to known contacts within 15 min, once
        s = R.randrange(0, 5) * H + R.randrange(0, 3600) * 1000
        emit(op, pseud(f"{op}ann{i}"), lambda h: 800, "announce", new_frac=0.0, calls=2, start=s, end=s + 15 * 60 * 1000)
    for i in range(3):  # shop: 60/h for the whole day, known customers, replies
        emit(op, pseud(f"{op}shop{i}"), lambda h: 60, "shop", new_frac=0.2, calls=3, sms_in_rate=10)
    for i in range(2):  # school: 400 in 20 minutes to parents, once
        s = R.randrange(1, 5) * H
        emit(op, pseud(f"{op}school{i}"), lambda h: 1200, "school", new_frac=0.02, calls=1, start=s, end=s + 20 * 60 * 1000, sms_in_rate=20)
    for i in range(3):  # M2M line: 12/h regular, one recipient, no calls
        emit(op, pseud(f"{op}m2m{i}"), lambda h: 12, "m2m", new_frac=0.0, calls=0, sms_in_rate=12)
# a farm of 25 SIMs on the required-only operator: 120/h each for 3 h, common start
s = 2 * H
for i in range(25):
    emit("45201", pseud(f"farm{i}"), lambda h: 120, "farm", new_frac=0.95, calls=0, age=2, kyc=False, start=s + R.randrange(0, 120) * 1000, end=s + 3 * H, sms_in_rate=0.05)
recs.sort(key=lambda r: (r["window_start"] if isinstance(r["window_start"], int) else int(dt.datetime.fromisoformat(r["window_start"]).timestamp() * 1000)) + r["window_secs"] * 1000 + R.randrange(0, 120_000))
with open(f"{out}/sms.jsonl", "w") as f:
    for r in recs: f.write(json.dumps(r, separators=(",", ":")) + "\n")
json.dump(truth, open(f"{out}/truth.json", "w"))
print(len(recs), "records", len(truth), "sims")
