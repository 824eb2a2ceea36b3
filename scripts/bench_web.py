#!/usr/bin/env python3
"""Web and API load benchmark (`vigie serve`). Prints its figures; asserts nothing.

    cargo build --release
    python3 scripts/bench_web.py [--seconds 30] [--cases 200] [--bin target/release/vigie]

Needs Python 3.11 (standard library only) and wrk (`apt-get install wrk`).

In a fresh database in a temporary directory it adds an organisation `acme` (a dpo user,
an API token, --cases open `fr` cases) and an organisation `small` (its own user and
--small-cases open cases: the dashboard lists every open case of the organisation, so its
cost grows with that number; 20 is a realistic organisation), starts `vigie serve` on a
free loopback port, and runs wrk (-t2 -c32, --seconds each) on:

  api-read   GET /api/cases/{id}          ids rotating over acme's cases, Bearer token
  case-page  GET /cases/{id}              HTML, ids rotating, session cookie of acme's DPO
  dashboard  GET /                        HTML, session cookie of small's DPO
  api-write  POST /api/cases/{id}/facts   ids rotating; each call appends one event
  portfolio  GET /portfolio               HTML, session cookie of an external DPO with the
                                          DPO role in --portfolio-orgs organisations of
                                          --portfolio-cases open cases each (issue 25: 50 x 40)

Every write sets `records_approx` to a value unique to that request; wrk's Lua keeps
the value echoed by each 2xx answer. After the write run the script compares the events
table with those answers (none lost, none applied twice; a request still in flight
when wrk stopped may have been applied without wrk seeing the answer, and is shown
apart) and runs `vigie audit verify`.

For each run it also samples the CPU time of the server (by thread kind) and of wrk from
/proc, since client and server share the machine's cores.

Targets (issue): >= 5,000 reads/s and >= 1,000 writes/s, no errors, no lost or
duplicated events; the portfolio of 2,000 cases >= 1,000/s (issue 25).
"""
import argparse
import concurrent.futures
import http.client
import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import defaultdict

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PASSWORD = "bench password, long enough"
CONFIG = """mail: { from: vigie <vigie@example.org>, transport: file, outbox_dir: ./outbox }
reminders: { to: [dpo@example.org] }
"""
READ_TARGET = 5000
WRITE_TARGET = 1000
PORTFOLIO_TARGET = 1000
EXT = "ext@dpo.example"
TICK = os.sysconf("SC_CLK_TCK")


def vigie(args, cwd, db, stdin=None, org=None):
    cmd = [ARGS.bin, "--db", db] + (["--org", org] if org else []) + args
    p = subprocess.run(cmd, cwd=cwd, input=stdin, capture_output=True, text=True)
    if p.returncode != 0:
        raise SystemExit(f"failed: {' '.join(cmd)}\n{p.stdout}{p.stderr}")
    return p.stdout


def api(base, token, method, path, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(base + path, data=data, method=method)
    req.add_header("Authorization", f"Bearer {token}")
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def open_cases(base, token, prefix, n):
    def one(i):
        return api(base, token, "POST", "/api/cases", {
            "workflow": "fr", "title": f"Bench case {i}", "aware_at": "2026-11-20T09:00",
            "id": f"{prefix}-{i:04d}",
        })

    t = time.time()
    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        results = list(pool.map(one, range(1, n + 1)))
    bad = [(s, b[:200]) for s, b in results if s != 201]
    if bad:
        raise SystemExit(f"opening {prefix} cases: {len(bad)} failed, first: {bad[0]}")
    return [f"{prefix}-{i:04d}" for i in range(1, n + 1)], time.time() - t


def sign_in(port, email):
    """The vigie_session cookie value, through the sign-in form."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    c.request("GET", "/login")
    r = c.getresponse()
    page = r.read().decode()
    cookie = re.search(r"vigie_login=([^;]+)", r.getheader("Set-Cookie") or "")
    field = re.search(r'name="_login" value="([^"]+)"', page)
    if r.status != 200 or not cookie or not field:
        raise SystemExit(f"GET /login: {r.status}, no login cookie or field")
    form = urllib.parse.urlencode({"_login": field.group(1), "email": email,
                                   "password": PASSWORD, "next": "/"})
    c.request("POST", "/login", body=form, headers={
        "Content-Type": "application/x-www-form-urlencoded",
        "Cookie": f"vigie_login={cookie.group(1)}"})
    r = c.getresponse()
    r.read()
    session = None
    for k, v in r.getheaders():
        m = re.match(r"vigie_session=([^;]+)", v) if k.lower() == "set-cookie" else None
        if m:
            session = m.group(1)
    c.close()
    if r.status != 303 or not session:
        raise SystemExit(f"POST /login: {r.status}, no session cookie")
    return session


def portfolio_setup(tmp, db, base):
    """An external DPO (EXT) with the DPO role in --portfolio-orgs organisations, each with
    --portfolio-cases open cases opened through the API with EXT's token of that
    organisation (a token reads one organisation only). Returns the number of cases."""
    t = time.time()
    total = 0
    for i in range(1, ARGS.portfolio_orgs + 1):
        org = f"client-{i:02d}"
        vigie(["org", "add", org, "--name", f"Client {i:02d} SA"], tmp, db)
        vigie(["user", "add", EXT, "--role", "dpo"], tmp, db,
              stdin=PASSWORD + "\n" if i == 1 else "", org=org)
        token = vigie(["user", "token", EXT, "--name", "bench"], tmp, db, org=org).strip()
        ids, _ = open_cases(base, token, org, ARGS.portfolio_cases)
        total += len(ids)
    print(f"portfolio: {EXT} is DPO of {ARGS.portfolio_orgs} organisations, {total} open "
          f"cases opened in {time.time() - t:.1f} s")
    return total


def check_get(port, path, headers, want):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    c.request("GET", path, headers=headers)
    r = c.getresponse()
    body = r.read()
    c.close()
    if r.status != 200 or want not in body:
        raise SystemExit(f"GET {path}: {r.status} (expected 200 with {want!r})")
    return len(body)


# --- CPU accounting from /proc ---------------------------------------------------------

def proc_ticks(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            s = f.read()
    except OSError:
        return 0
    fields = s[s.rindex(")") + 2:].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


def thread_ticks(pid):
    """CPU ticks of the process's threads, grouped by kind (thread name)."""
    out = defaultdict(int)
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return out
    for tid in tids:
        try:
            with open(f"/proc/{pid}/task/{tid}/stat") as f:
                s = f.read()
        except OSError:
            continue
        name = s[s.index("(") + 1:s.rindex(")")]
        fields = s[s.rindex(")") + 2:].split()
        out[name] += int(fields[11]) + int(fields[12])
    return out


def machine_ticks():
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return sum(v), v[3] + v[4]  # total, idle + iowait


# --- wrk ---------------------------------------------------------------------------------

DONE_LUA = r"""
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "BENCH requests=%d duration_us=%d bytes=%d connect=%d read=%d write=%d status=%d timeout=%d p50=%d p90=%d p99=%d max=%d\n",
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status,
    e.timeout, latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
  if extra_done then extra_done() end
end
"""


def lua_list(items):
    return "{" + ",".join(json.dumps(i) for i in items) + "}"


def read_lua(paths, headers):
    hdr = "{" + ",".join(f"[{json.dumps(k)}]={json.dumps(v)}" for k, v in headers.items()) + "}"
    return f"""
local paths = {lua_list(paths)}
local headers = {hdr}
local n = 0
local next_tid = 0
function setup(thread)
  next_tid = next_tid + 1
  thread:set("tid", next_tid)
end
function request()
  n = n + 1
  return wrk.format("GET", paths[((tid or 1) * 7919 + n) % #paths + 1], headers)
end
""" + DONE_LUA


def write_lua(ids, token, acked_dir):
    return f"""
local ids = {lua_list(ids)}
local headers = {{["Authorization"]="Bearer {token}", ["Content-Type"]="application/json"}}
local threads = {{}}
local next_tid = 0
sent, ok = 0, 0
statuses = {{}}
function setup(thread)
  next_tid = next_tid + 1
  thread:set("tid", next_tid)
  table.insert(threads, thread)
end
function init(args)
  acked = io.open("{acked_dir}/acked-" .. tid, "w")
  acked:setvbuf("line")
end
function request()
  sent = sent + 1
  local v = tid * 100000000 + sent
  local body = '{{"facts":{{"records_approx":' .. v .. '}},"note":"bench write"}}'
  return wrk.format("POST", "/api/cases/" .. ids[(tid * 7919 + sent) % #ids + 1] .. "/facts",
                    headers, body)
end
function response(status, hdrs, body)
  if status >= 200 and status < 300 then
    ok = ok + 1
    acked:write(body:match('"records_approx":(%d+)') or "?", "\\n")
  else
    statuses[status] = (statuses[status] or 0) + 1
  end
end
function extra_done()
  local s, k, codes, per = 0, 0, {{}}, {{}}
  for _, t in ipairs(threads) do
    table.insert(per, t:get("tid") .. ":" .. t:get("sent"))
    s = s + t:get("sent")
    k = k + t:get("ok")
    for code, c in pairs(t:get("statuses")) do codes[code] = (codes[code] or 0) + c end
  end
  local parts = {{}}
  for code, c in pairs(codes) do table.insert(parts, code .. ":" .. c) end
  io.write(string.format("WRITES sent=%d ok=%d non2xx=%s per_thread=%s\\n", s, k,
    table.concat(parts, ","), table.concat(per, ",")))
end
""" + DONE_LUA


def run_wrk(name, lua_text, tmp, port, server_pid):
    script = os.path.join(tmp, f"{name}.lua")
    with open(script, "w") as f:
        f.write(lua_text)
    cmd = ["wrk", f"-t{ARGS.threads}", f"-c{ARGS.connections}", f"-d{ARGS.seconds}s",
           "--latency", "-s", script, f"http://127.0.0.1:{port}"]
    if ARGS.warmup > 0 and name != "api-write":
        # Unmeasured: the pages are rendered once per version and kept, so the first
        # request of each case costs a full render (about 3 ms); measured apart with
        # --warmup 0.
        subprocess.run(["wrk", f"-t{ARGS.threads}", f"-c{ARGS.connections}",
                        f"-d{ARGS.warmup}s", "-s", script, f"http://127.0.0.1:{port}"],
                       capture_output=True, text=True)
    srv0, thr0, mach0 = proc_ticks(server_pid), thread_ticks(server_pid), machine_ticks()
    t0 = time.time()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    # wrk's own CPU: sample it just before it exits (it stays alive while printing).
    wrk_ticks = 0
    top_snapshot = None

    def sample():
        nonlocal wrk_ticks
        while p.poll() is None:
            wrk_ticks = max(wrk_ticks, proc_ticks(p.pid))
            time.sleep(0.2)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    if ARGS.top:
        time.sleep(ARGS.seconds / 2)
        top_snapshot = "\n".join(subprocess.run(["top", "-b", "-n1", "-w", "120"],
                                                capture_output=True, text=True)
                                 .stdout.splitlines()[:15])
    out, _ = p.communicate()
    sampler.join()
    wall = time.time() - t0
    srv1, thr1, mach1 = proc_ticks(server_pid), thread_ticks(server_pid), machine_ticks()
    m = re.search(r"^BENCH (.*)$", out, re.M)
    if p.returncode != 0 or not m:
        raise SystemExit(f"wrk {name} failed ({p.returncode}):\n{out}")
    r = {k: int(v) for k, v in (kv.split("=") for kv in m.group(1).split())}
    r["name"] = name
    r["rps"] = r["requests"] / (r["duration_us"] / 1e6)
    r["socket_errors"] = r["connect"] + r["read"] + r["write"] + r["timeout"]
    r["wrk_output"] = out
    w = re.search(r"^WRITES sent=(\d+) ok=(\d+) non2xx=(\S*) per_thread=(\S*)$", out, re.M)
    if w:
        r["sent"], r["ok"], r["non2xx"] = int(w.group(1)), int(w.group(2)), w.group(3)
        r["sent_per_thread"] = {int(a): int(b) for a, b in
                                (kv.split(":") for kv in w.group(4).split(",") if kv)}
    kinds = defaultdict(int)
    for k, v in thr1.items():
        kind = re.sub(r"[-_]?\d+$", "", k)
        kinds[kind] += v - thr0.get(k, 0)
    r["server_cores"] = (srv1 - srv0) / TICK / wall
    # Load-independent: the server's CPU time per answer (the machine is shared).
    r["server_us"] = (srv1 - srv0) / TICK * 1e6 / max(r["requests"], 1)
    r["server_kinds"] = {k: v / TICK / wall for k, v in kinds.items() if v > 0}
    r["wrk_cores"] = wrk_ticks / TICK / wall
    total, idle = mach1[0] - mach0[0], mach1[1] - mach0[1]
    r["machine_busy"] = 1 - idle / total if total else float("nan")
    r["other_cores"] = max(r["machine_busy"] * os.cpu_count() - r["server_cores"] - r["wrk_cores"], 0)
    r["top"] = top_snapshot
    return r


def event_count(db):
    c = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    try:
        return c.execute("SELECT COUNT(*) FROM events").fetchone()[0]
    finally:
        c.close()


def write_values(db):
    """records_approx of every facts_set event written by the write run."""
    c = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    try:
        rows = c.execute("SELECT payload FROM events WHERE kind = 'facts_set' "
                         "AND payload LIKE '%bench write%'").fetchall()
    finally:
        c.close()
    return [json.loads(p)["facts"]["records_approx"] for (p,) in rows]


def wait_quiet(log_path, seconds=60):
    """Waits until the reminder dispatcher stops logging (the overdue reminders of the
    freshly opened cases are sent at once), so it does not run during the measurements."""
    last, since, t = -1, time.time(), time.time()
    while time.time() - t < seconds:
        with open(log_path) as f:
            n = sum(1 for _ in f)
        if n != last:
            last, since = n, time.time()
        elif time.time() - since > 2:
            return n
        time.sleep(0.25)
    return last


def fmt_us(us):
    return f"{us / 1000:.2f} ms" if us >= 1000 else f"{us} µs"


def main():
    if not shutil.which("wrk"):
        raise SystemExit("wrk not found (apt-get install wrk)")
    tmp = tempfile.mkdtemp(prefix="vigie-bench-web-", dir=os.environ.get("BENCH_DIR"))
    server = None
    try:
        db = os.path.join(tmp, "bench.db")
        cfg = os.path.join(tmp, "config.yaml")
        with open(cfg, "w") as f:
            f.write(CONFIG)
        vigie(["org", "add", "acme", "--name", "ACME SA"], tmp, db)
        vigie(["org", "add", "small", "--name", "Small SARL"], tmp, db)
        tokens = {}
        for org in ("acme", "small"):
            email = f"dpo@{org}.example"
            vigie(["user", "add", email, "--role", "dpo"], tmp, db, stdin=PASSWORD + "\n", org=org)
            tokens[org] = vigie(["user", "token", email, "--name", "bench"], tmp, db).strip()

        log_path = os.path.join(tmp, "serve.log")
        log = open(log_path, "w")
        server = subprocess.Popen([ARGS.bin, "--db", db, "--config", cfg, "serve", "--listen",
                                   "127.0.0.1:0"], cwd=tmp, stdout=log, stderr=log)
        port, t = None, time.time()
        while port is None and time.time() - t < 30:
            if server.poll() is not None:
                raise SystemExit(f"vigie serve exited:\n{open(log_path).read()}")
            m = re.search(r"web page and API on http://127\.0\.0\.1:(\d+)/", open(log_path).read())
            port = int(m.group(1)) if m else None
            time.sleep(0.05)
        if port is None:
            raise SystemExit(f"vigie serve did not start:\n{open(log_path).read()}")
        base = f"http://127.0.0.1:{port}"

        ids, dt = open_cases(base, tokens["acme"], "bench", ARGS.cases)
        print(f"opened {len(ids)} cases in acme through the API in {dt:.2f} s "
              f"({len(ids) / dt:.0f}/s, 16 Python threads)")
        small_ids, _ = open_cases(base, tokens["small"], "small", ARGS.small_cases)
        print(f"opened {len(small_ids)} cases in small")
        chosen = set(ARGS.runs.split(","))
        portfolio_cases = portfolio_setup(tmp, db, base) if "portfolio" in chosen else 0
        lines = wait_quiet(log_path)
        print(f"reminder dispatcher quiet ({lines} log lines; the cases are overdue, so "
              f"their reminders were sent at once)")

        acme_session = sign_in(port, "dpo@acme.example")
        small_session = sign_in(port, "dpo@small.example")
        bearer = {"Authorization": f"Bearer {tokens['acme']}"}
        acme_cookie = {"Cookie": f"vigie_session={acme_session}"}
        small_cookie = {"Cookie": f"vigie_session={small_session}"}
        if portfolio_cases:
            ext_cookie = {"Cookie": f"vigie_session={sign_in(port, EXT)}"}
            size = check_get(port, "/portfolio", ext_cookie, b'class="portfolio-row"')
            print(f"one answer: portfolio ({portfolio_cases} open cases, first page) {size} B")
        sizes = {
            "api-read": check_get(port, f"/api/cases/{ids[0]}", bearer, ids[0].encode()),
            "case-page": check_get(port, f"/cases/{ids[0]}", acme_cookie, b"<html"),
            # (the first page of the dashboard: 50 of the most urgent cases)
            "dashboard": check_get(port, "/", small_cookie, b'class="case-row" data-case="small-'),
        }
        print(f"one answer each: api-read {sizes['api-read']} B, case-page "
              f"{sizes['case-page']} B, dashboard ({len(small_ids)} open cases) "
              f"{sizes['dashboard']} B")

        nproc = os.cpu_count()
        print(f"\nmachine: nproc {nproc}; client (wrk -t{ARGS.threads} -c{ARGS.connections}) "
              f"and server share these {nproc} cores; {ARGS.seconds} s per run"
              + (f", each read run after {ARGS.warmup} s of unmeasured load" if ARGS.warmup else
                 ", cold (no warm-up)") + "\n")

        runs = []
        if "api-read" in chosen:
            runs.append(run_wrk("api-read", read_lua([f"/api/cases/{i}" for i in ids], bearer),
                                tmp, port, server.pid))
        if "case-page" in chosen:
            runs.append(run_wrk("case-page", read_lua([f"/cases/{i}" for i in ids], acme_cookie),
                                tmp, port, server.pid))
        if "dashboard" in chosen:
            runs.append(run_wrk("dashboard", read_lua(["/"], small_cookie), tmp, port, server.pid))
        if portfolio_cases:
            runs.append(run_wrk("portfolio", read_lua(["/portfolio"], ext_cookie), tmp, port,
                                server.pid))

        w = None
        if "api-write" in chosen:
            before = event_count(db)
            w = run_wrk("api-write", write_lua(ids, tokens["acme"], tmp), tmp, port, server.pid)
            runs.append(w)
            time.sleep(1)  # let writes still running in the server when wrk stopped finish
            after = event_count(db)

        print(f"{'run':<11} {'requests/s':>11} {'p50':>10} {'p90':>10} {'p99':>10} "
              f"{'max':>10} {'errors':>8} {'B/answer':>9} {'CPU µs/req':>11} {'target':>12}")
        for r in runs:
            errors = r["status"] + r["socket_errors"]
            target = {"api-write": f">= {WRITE_TARGET:,}/s",
                      "portfolio": f">= {PORTFOLIO_TARGET:,}/s"}.get(r["name"], f">= {READ_TARGET:,}/s")
            print(f"{r['name']:<11} {r['rps']:>11,.0f} {fmt_us(r['p50']):>10} "
                  f"{fmt_us(r['p90']):>10} {fmt_us(r['p99']):>10} {fmt_us(r['max']):>10} "
                  f"{errors:>8} {r['bytes'] / max(r['requests'], 1):>9,.0f} "
                  f"{r['server_us']:>11,.0f} {target:>12}")
        print(f"(dashboard: organisation 'small' with {len(small_ids)} open cases, first page; api-read and "
              f"case-page rotate over {len(ids)} cases, api-write over the same {len(ids)}"
              + (f"; portfolio: {ARGS.portfolio_orgs} organisations, {portfolio_cases} open "
                 f"cases, first page)" if portfolio_cases else ")"))
        for r in runs:
            if r["status"] or r["socket_errors"]:
                print(f"  {r['name']}: non-2xx/3xx {r['status']}, connect {r['connect']}, "
                      f"read {r['read']}, write {r['write']}, timeout {r['timeout']}")

        print("\nCPU during each run (cores busy on average; the machine has "
              f"{nproc}):")
        for r in runs:
            kinds = ", ".join(f"{k} {v:.2f}" for k, v in
                              sorted(r["server_kinds"].items(), key=lambda kv: -kv[1]) if v >= 0.01)
            print(f"  {r['name']:<10} server {r['server_cores']:.2f} ({kinds}); "
                  f"wrk {r['wrk_cores']:.2f}; other processes {r['other_cores']:.2f}; "
                  f"machine {r['machine_busy'] * 100:.0f}% busy")

        # --- the writes: every acknowledged write is one event, no more, no less ----------
        if w is None:
            return
        acked = []
        for name in os.listdir(tmp):
            if name.startswith("acked-"):
                with open(os.path.join(tmp, name)) as f:
                    acked += [line.strip() for line in f if line.strip()]
        stored = write_values(db)
        stored_set = set(stored)
        acked_ints = [int(v) for v in acked if v.isdigit()]
        unreadable = len(acked) - len(acked_ints)
        acked_set = set(acked_ints)
        ok = w.get("ok", 0)
        non2xx = sum(int(kv.split(":")[1]) for kv in (w.get("non2xx") or "").split(",") if kv)
        in_flight = w.get("sent", 0) - ok - non2xx
        print("\nwrites:")
        print(f"  wrk: {w['requests']} answers, {ok} 2xx, non-2xx {w.get('non2xx') or 'none'}, "
              f"socket errors {w['socket_errors']}; {w.get('sent', 0)} requests sent, "
              f"{max(in_flight, 0)} still in flight when wrk stopped")
        print(f"  events before {before}, after {after}: +{after - before}; "
              f"events-before + 2xx = {before + ok}")
        diff = after - (before + ok)
        duplicated = len(stored) - len(stored_set)
        lost = len(acked_set - stored_set)
        unacked = len(stored_set - acked_set)
        sent_per = w.get("sent_per_thread", {})
        # a stored value that no answer acknowledged must be one wrk sent and never
        # read the answer of (in flight when it stopped); anything else is spurious
        spurious = [x for x in stored_set - acked_set
                    if not (0 < x % 100_000_000 <= sent_per.get(x // 100_000_000, 0))]
        acked_twice = len(acked) - len(acked_set)
        print(f"  events-after - (events-before + 2xx) = {diff:+d}")
        print(f"  by value: {lost} acknowledged writes missing from the events, {duplicated} "
              f"stored twice, {acked_twice} acknowledged twice, {len(spurious)} never sent; "
              f"{unacked} applied whose answer wrk never read (in flight when it stopped, "
              f"at most {max(in_flight, 0)}); {unreadable} answers without the value")
        if lost == duplicated == acked_twice == unreadable == len(spurious) == 0 \
                and diff == unacked <= max(in_flight, 0):
            extra = f" (the {diff:+d} are the in-flight requests above)" if diff else ""
            print(f"  lost or duplicated events: 0{extra}")
        else:
            print(f"  lost or duplicated events: {lost} lost, {duplicated} duplicated, "
                  f"difference {diff:+d}")
        v = subprocess.run([ARGS.bin, "--db", db, "audit", "verify"], cwd=tmp,
                           capture_output=True, text=True)
        print(f"  audit verify (exit {v.returncode}): {(v.stdout + v.stderr).strip()}")

        print(f"\ntargets: >= {READ_TARGET:,} reads/s, >= {WRITE_TARGET:,} writes/s, no errors, "
              "no lost or duplicated events (printed, not asserted)")
        if ARGS.verbose:
            for r in runs:
                print(f"\n--- wrk {r['name']} ---\n{r['wrk_output']}")
                if r["top"]:
                    print(f"--- top during {r['name']} ---\n{r['top']}")
    finally:
        if server is not None and server.poll() is None:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(timeout=15)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
        if ARGS.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=int, default=30, help="duration of each wrk run")
    ap.add_argument("--cases", type=int, default=200, help="open cases in acme")
    ap.add_argument("--small-cases", type=int, default=20,
                    help="open cases in the dashboard's organisation")
    ap.add_argument("--bin", default=os.path.join(ROOT, "target", "release", "vigie"))
    ap.add_argument("--warmup", type=int, default=2,
                    help="seconds of unmeasured load before each read run (0: measure cold)")
    ap.add_argument("--threads", type=int, default=2, help="wrk threads")
    ap.add_argument("--connections", type=int, default=32, help="wrk connections")
    ap.add_argument("--runs", default="api-read,case-page,dashboard,api-write,portfolio",
                    help="which runs, comma-separated (default: all five)")
    ap.add_argument("--portfolio-orgs", type=int, default=50,
                    help="organisations of the portfolio's external DPO")
    ap.add_argument("--portfolio-cases", type=int, default=40,
                    help="open cases in each of them")
    ap.add_argument("--top", action="store_true", help="snapshot top mid-run (with -v)")
    ap.add_argument("-v", "--verbose", action="store_true", help="print wrk's own output")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    ARGS = ap.parse_args()
    ARGS.bin = os.path.abspath(ARGS.bin)
    main()
