#!/usr/bin/env python3
"""The cluster test: two `flexmarket serve` and two `flexmarket worker` processes on one
PostgreSQL database, behind nginx, run simulated market days under load while one server
and one worker are killed (SIGKILL) and restarted; afterwards every slot must have cleared
and settled exactly once, nothing may be duplicated or lost, and every job must be done
exactly once.

    tests/cluster/run_cluster_test.py --binary build/flexmarket [--hours 48] [--speed 1440] [--keep]
                                      [--no-meter-forecasts]

What it does:

1. A throwaway PostgreSQL server, database `flexmarket`, migrated with `flexmarket db upgrade`;
   an admin and an operator made with `flexmarket user create`.
2. Two servers and two workers, all `--clock simulated --start <one instant> --speed <speed>`
   (1440: a market hour every 2.5 s), sharing a token pepper (FLEXMARKET_AUTH_TOKEN_PEPPER);
   nginx round-robins the API over the servers (keep-alive upstream connections, no
   buffering on the event stream).
3. Through nginx: six participants (three sellers, three buyers) with a site and a 15-minute
   meter each, three of them with a battery; a public price sensor; a market (hourly slots,
   settlement deadline PT2H); four days of meter history and a week of prices.
4. `--hours` slots of load: bidding bots (one thread per participant) place bids for the
   coming slots, a BEMS thread posts each meter's readings once each 15 minutes have passed,
   schedule and forecast jobs are requested throughout, and a participant follows the event
   stream. Only what the platform acknowledged is recorded; requests without an answer
   (connection lost, 502) are retried, and a retried bid that was stored after all is not
   counted as acknowledged.
5. Half-way: SIGKILL of one server and of the worker running a job (queued on purpose just
   before); both restart some seconds later.
6. Once the clock is past every slot's settlement: checks through the API and in PostgreSQL
   (exactly one clearing per slot with bids, no duplicate trade, settlement statement or
   event, every acknowledged bid, reading and job present, every job done once).

No timing is asserted: ctest's TIMEOUT bounds the run.
"""
import argparse
import collections
import datetime as dt
import http.client
import json
import os
import random
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.parse

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cluster  # noqa: E402

UTC = dt.timezone.utc
START = "2026-11-23T00:00:00+08:00"  # a Monday in Taipei
HOUR = dt.timedelta(hours=1)
Q = dt.timedelta(minutes=15)
PASSWORD = "cluster-test-password-1"
PEPPER = "5f0c9d1e2b3a4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5"


def iso(t):
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse(t):
    return dt.datetime.fromisoformat(t.replace("Z", "+00:00"))


def floor(t, step):
    epoch = dt.datetime(1970, 1, 1, tzinfo=UTC)
    return epoch + ((t - epoch) // step) * step


def us(t):
    return int((t - dt.datetime(1970, 1, 1, tzinfo=UTC)) / dt.timedelta(microseconds=1))


def from_us(v):
    return dt.datetime(1970, 1, 1, tzinfo=UTC) + dt.timedelta(microseconds=int(v))


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.counts = collections.Counter()
        self.errors = []

    def add(self, key, n=1):
        with self.lock:
            self.counts[key] += n

    def error(self, text):
        with self.lock:
            self.counts["unexpected_answers"] += 1
            if len(self.errors) < 30:
                self.errors.append(text)


class Api:
    """Requests through nginx; `call` retries what got no answer (connection lost, 502,
    503, 504) and returns (status, body) of the first answer."""

    RETRY = {502, 503, 504}

    def __init__(self, port, stats):
        self.port, self.stats = port, stats
        self.local = threading.local()

    def client(self):
        if not hasattr(self.local, "c"):
            self.local.c = cluster.HttpClient(self.port)
        return self.local.c

    def call(self, method, path, body=None, token=None, tries=40):
        for attempt in range(tries):
            try:
                status, data = self.client().request(method, path, body, token)
            except ConnectionError:
                self.stats.add("retries_no_answer")
                time.sleep(0.25)
                continue
            if status in self.RETRY:
                self.stats.add(f"retries_{status}")
                time.sleep(0.25)
                continue
            return status, data
        raise RuntimeError(f"{method} {path}: no answer after {tries} tries")

    def ok(self, method, path, body=None, token=None, expect=(200, 201, 202)):
        status, data = self.call(method, path, body, token)
        if status not in expect:
            raise RuntimeError(f"{method} {path} -> {status}: {data}")
        return data


class Test:
    def __init__(self, args):
        self.args = args
        self.binary = os.path.abspath(args.binary)
        self.stats = Stats()
        self.work = cluster.make_work_dir("flexmarket-cluster-")
        self.pg = cluster.Postgres(self.work)
        self.procs = []
        self.nginx = None
        self.failures = []
        self.stop_load = threading.Event()
        self.stop_bems = threading.Event()
        # What the platform acknowledged.
        self.bids = {}  # id -> (account, side, slot_start, volume, price)
        self.readings = collections.defaultdict(set)  # sensor -> event starts (datetime)
        self.jobs = {}  # id -> kind
        self.lock = threading.Lock()
        self.kills = []
        self.events_seen = []
        self.events_last = 0
        self.in_flight_at_kill = []

    # ---------------------------------------------------------------- processes
    def env(self):
        e = dict(os.environ)
        e["FLEXMARKET_AUTH_TOKEN_PEPPER"] = PEPPER
        # Job leases (a job whose runner died is taken over): short, so that the test sees it.
        e["FLEXMARKET_JOBS_LEASE"] = self.args.lease
        e.pop("FLEXMARKET_DATABASE_URL", None)
        return e

    def cli(self, *argv, stdin=None):
        r = subprocess.run([self.binary, *argv, "--database", self.db_url, "--var-dir", os.path.join(self.work, "cli"),
                            "--log-level", "warn"], input=stdin, capture_output=True, text=True, env=self.env())
        if r.returncode != 0:
            raise SystemExit(f"flexmarket {' '.join(argv)} failed: {r.stdout}{r.stderr}")
        return r.stdout

    def flexmarket(self, name, command, port=None):
        var = os.path.join(self.work, name)
        os.makedirs(var, exist_ok=True)
        argv = [self.binary, command, "--database", self.db_url, "--var-dir", var, "--clock", "simulated",
                "--start", START, "--speed", str(self.args.speed)]
        if port:
            argv += ["--port", str(port), "--threads", "64"]
        p = cluster.Process(name, argv, os.path.join(self.work, f"{name}.log"), env=self.env())
        p.port = port
        self.procs.append(p)
        return p.start()

    def start_cluster(self):
        self.pg.start()
        self.pg.psql("CREATE DATABASE flexmarket", db="postgres")
        self.db_url = self.pg.url("flexmarket")
        self.cli("db", "upgrade")
        self.cli("user", "create", "--email", "admin@cluster.test", "--account", "Cluster Admin", "--role", "admin",
                 "--password-stdin", stdin=PASSWORD + "\n")
        self.cli("user", "create", "--email", "operator@cluster.test", "--account", "Cluster Operator", "--role",
                 "operator", "--password-stdin", stdin=PASSWORD + "\n")
        self.servers = [self.flexmarket(f"serve{i}", "serve", cluster.free_port()) for i in (1, 2)]
        for s in self.servers:
            cluster.wait_healthy(s.port, s)
        self.workers = [self.flexmarket(f"worker{i}", "worker") for i in (1, 2)]
        self.nginx = cluster.Nginx(self.work, [s.port for s in self.servers]).start()
        cluster.wait_healthy(self.nginx.port, self.nginx)
        self.procs.append(self.nginx)
        self.api = Api(self.nginx.port, self.stats)

    def stop_cluster(self):
        for p in reversed(self.procs):
            p.stop()
        self.pg.stop()

    # ---------------------------------------------------------------- setup over HTTP
    def login(self, email):
        return self.api.ok("POST", "/api/v1/auth/token", {"email": email, "password": PASSWORD})["token"]

    def market_now(self):
        return parse(self.api.ok("GET", "/api/v1/markets", token=self.operator)["now"])

    def setup_market(self):
        api = self.api
        self.admin = self.login("admin@cluster.test")
        self.operator = self.login("operator@cluster.test")
        self.prices = api.ok("POST", "/api/v1/sensors", {"name": "day-ahead price", "unit": "TWD/kWh",
                                                         "event_resolution": "PT1H", "timezone": "Asia/Taipei",
                                                         "public": True}, self.operator)["id"]
        self.market = api.ok("POST", "/api/v1/markets", {
            "name": "Cluster market", "timezone": "Asia/Taipei", "currency": "TWD", "price_max": 10,
            "settlement_deadline": "PT2H"}, self.operator)["id"]
        self.participants = []
        for i in range(self.args.participants):
            side = "sell" if i % 2 == 0 else "buy"
            email = f"site{i}@cluster.test"
            u = api.ok("POST", "/api/v1/users", {"email": email, "account": f"Site {i}", "roles": ["participant"],
                                                 "password": PASSWORD}, self.admin)
            token = self.login(email)
            site = api.ok("POST", "/api/v1/assets", {"name": f"site {i}", "type": "site", "timezone": "Asia/Taipei"},
                          token)["id"]
            meter = api.ok("POST", "/api/v1/sensors", {"name": "net load", "unit": "kW", "event_resolution": "PT15M",
                                                       "asset_id": site}, token)["id"]
            p = {"i": i, "email": email, "token": token, "account": u["user"]["account"]["id"], "side": side,
                 "site": site, "meter": meter, "battery": None}
            if i < 3:
                p["battery"] = api.ok("POST", "/api/v1/assets", {
                    "name": f"battery {i}", "type": "battery", "parent_id": site, "storage_capacity_kwh": 100,
                    "max_charge_kw": 50, "max_discharge_kw": 50, "charge_efficiency": 0.95,
                    "discharge_efficiency": 0.95, "soc_min_kwh": 10, "soc_max_kwh": 90}, token)["id"]
                api.ok("POST", "/api/v1/sensors", {"name": "battery power", "unit": "kW", "event_resolution": "PT15M",
                                                   "asset_id": p["battery"]}, token)
            if i == 0:
                # A second sensor with two months of history: its forecasts (model auto) take
                # long enough for one to be running when a worker is killed.
                self.load_sensor = api.ok("POST", "/api/v1/sensors", {"name": "building load", "unit": "kW",
                                                                     "event_resolution": "PT15M", "asset_id": site},
                                          token)["id"]
            api.ok("PUT", f"/api/v1/markets/{self.market}/meters/{p['account']}", {"sensor_id": meter}, self.operator)
            self.participants.append(p)
        now = self.market_now()
        # Prices from four days back to a week ahead; four days of meter history.
        first = floor(now, HOUR) - 4 * 24 * HOUR
        prices = [round(2.5 + 1.5 * ((h % 24) in range(9, 21)) + 0.1 * (h % 7), 2) for h in range(11 * 24)]
        api.ok("POST", f"/api/v1/sensors/{self.prices}/data", {"start": iso(first), "resolution": "PT1H",
                                                              "values": prices}, self.operator)
        self.history_end = floor(now, Q)
        for p in self.participants:
            start = floor(now, HOUR) - 4 * 24 * HOUR
            n = int((self.history_end - start) / Q)
            values = [self.load_kw(p, start + k * Q) for k in range(n)]
            api.ok("POST", f"/api/v1/sensors/{p['meter']}/data", {"start": iso(start), "values": values}, p["token"])
            p["posted_until"] = self.history_end
        start = floor(now, HOUR) - 60 * 24 * HOUR
        n = int((self.history_end - start) / Q)
        p = self.participants[0]
        values = [round(abs(self.load_kw(p, start + k * Q)) * (1.1 if (start + k * Q).weekday() >= 5 else 1), 3)
                  for k in range(n)]
        api.ok("POST", f"/api/v1/sensors/{self.load_sensor}/data", {"start": iso(start), "values": values}, p["token"])
        # The slots under test: from the second hour from now, --hours of them.
        self.period_start = floor(self.market_now(), HOUR) + 2 * HOUR
        self.period_end = self.period_start + self.args.hours * HOUR
        print(f"market {self.market}: {len(self.participants)} participants, slots {iso(self.period_start)} to "
              f"{iso(self.period_end)}, clock x{self.args.speed}", flush=True)

    def load_kw(self, p, t):
        """A participant's metered net import (kW) at `t`: sellers export, buyers import."""
        h = t.astimezone(dt.timezone(dt.timedelta(hours=8))).hour
        base = 20 + 10 * (8 <= h < 20) + random.Random(p["i"] * 10**12 + us(t) // 10**6).uniform(-3, 3)
        return round(-base if p["side"] == "sell" else base + 5 * (p["i"] % 3), 3)

    # ---------------------------------------------------------------- load
    def bidder(self, p):
        rng = random.Random(p["i"])
        placed = collections.Counter()
        while not self.stop_load.is_set():
            try:
                now = self.market_now()
            except RuntimeError as e:
                self.stats.error(str(e))
                continue
            if now >= self.period_end:
                break
            # The slots still open (gate 20 minutes before the start; 10 more as a margin),
            # the first one first, so that every slot gets bids.
            open_from = max(self.period_start, floor(now + dt.timedelta(minutes=30) + HOUR - dt.timedelta(microseconds=1), HOUR))
            slots = [open_from + k * HOUR for k in range(4) if open_from + k * HOUR < self.period_end]
            if not slots:
                time.sleep(0.2)
                continue
            slot = slots[0] if placed[slots[0]] < 2 else rng.choice(slots)
            side = p["side"] if rng.random() < 0.85 else ("buy" if p["side"] == "sell" else "sell")
            body = {"side": side, "slot_start": iso(slot), "volume_kwh": rng.randint(1, 40),
                    "price": round(rng.uniform(2.0, 6.0), 2)}
            try:
                status, data = self.api.call("POST", f"/api/v1/markets/{self.market}/bids", body, p["token"])
            except RuntimeError as e:
                self.stats.error(str(e))
                continue
            if status == 201:
                with self.lock:
                    self.bids[data["id"]] = (p["account"], side, slot, body["volume_kwh"], body["price"])
                placed[slot] += 1
                self.stats.add("bids_acknowledged")
            elif status == 409 or (status == 422 and isinstance(data, dict)
                                   and data.get("error", {}).get("field") == "slot_start"
                                   and "already started" in data.get("error", {}).get("message", "")):
                # Late: at x1440 a loaded machine can take longer than the margin between
                # reading the clock and the answer; the gate (409) or the slot's start (422)
                # has passed, and the refusal is right.
                self.stats.add("bids_refused_gate_closed")
            else:
                self.stats.error(f"bid {body} -> {status} {data}")
            time.sleep(rng.uniform(0.4, 1.2) * self.args.bid_pause)

    def bems(self):
        """Each meter's readings, posted once each 15 minutes have passed on the market clock."""
        while True:
            try:
                now = self.market_now()
            except RuntimeError as e:
                self.stats.error(str(e))
                continue
            done = self.stop_bems.is_set()
            for p in self.participants:
                upto = floor(now, Q)
                if upto <= p["posted_until"]:
                    continue
                start = p["posted_until"]
                n = int((upto - start) / Q)
                values = [self.load_kw(p, start + k * Q) for k in range(n)]
                try:
                    status, data = self.api.call("POST", f"/api/v1/sensors/{p['meter']}/data",
                                                 {"start": iso(start), "values": values}, p["token"])
                except RuntimeError as e:
                    self.stats.error(str(e))
                    continue
                if status == 200:
                    with self.lock:
                        self.readings[p["meter"]].update(start + k * Q for k in range(n))
                    p["posted_until"] = upto
                    self.stats.add("readings_acknowledged", n)
                else:
                    self.stats.error(f"readings -> {status} {data}")
            if done:
                return
            time.sleep(0.3)

    def request_job(self, kind, p, heavy=False):
        now = self.market_now()
        if kind == "schedule":
            start = floor(now, HOUR) + HOUR
            path = f"/api/v1/assets/{p['battery']}/schedules"
            body = {"start": iso(start), "duration": "PT12H", "flex_model": {"soc_at_start": 50},
                    "flex_context": {"consumption_price_sensor": self.prices, "site_power_capacity_kw": 60}}
        elif heavy:
            path = f"/api/v1/sensors/{self.load_sensor}/forecasts"
            body = {"duration": "PT48H", "model": "auto"}
        else:
            # Forecasts of the settlement meters themselves, as a BEMS would ask for them
            # (--no-meter-forecasts: of the building load sensor instead).
            if self.args.no_meter_forecasts:
                p = self.participants[0]
            sensor = self.load_sensor if self.args.no_meter_forecasts else p["meter"]
            path = f"/api/v1/sensors/{sensor}/forecasts"
            body = {"duration": "PT6H", "model": "seasonal_naive"}
        status, data = self.api.call("POST", path, body, p["token"])
        if status == 202:
            with self.lock:
                self.jobs[data["id"]] = kind
            self.stats.add(f"{kind}_jobs_acknowledged")
            return data["id"]
        self.stats.error(f"{kind} request -> {status} {data}")
        return None

    def requester(self):
        rng = random.Random(99)
        batteries = [p for p in self.participants if p["battery"]]
        while not self.stop_load.is_set():
            try:
                if self.market_now() >= self.period_end - 6 * HOUR:
                    break
                if rng.random() < 0.6:
                    self.request_job("schedule", rng.choice(batteries))
                else:
                    self.request_job("forecast", rng.choice(self.participants))
            except RuntimeError as e:
                self.stats.error(str(e))
            time.sleep(rng.uniform(0.5, 1.5))

    def event_follower(self):
        """A participant follows the event stream through nginx (unbuffered), resuming with
        Last-Event-ID whenever the stream breaks."""
        p = self.participants[1]
        last = 0
        while not self.stop_load.is_set():
            conn = http.client.HTTPConnection("127.0.0.1", self.nginx.port, timeout=30)
            try:
                conn.request("GET", "/api/v1/events", headers={"Authorization": "Bearer " + p["token"],
                                                               "Accept": "text/event-stream",
                                                               "Last-Event-ID": str(last)})
                r = conn.getresponse()
                if r.status != 200:
                    r.read()
                    self.stats.add(f"event_stream_{r.status}")
                    time.sleep(0.5)
                    continue
                while not self.stop_load.is_set():
                    line = r.readline()
                    if not line:
                        break
                    line = line.decode().rstrip("\n")
                    if line.startswith("id: "):
                        last = int(line[4:])
                        self.events_seen.append(last)
                        self.events_last = last
                self.stats.add("event_stream_reconnects")
            except (OSError, http.client.HTTPException):
                self.stats.add("event_stream_reconnects")
                time.sleep(0.2)
            finally:
                conn.close()

    # ---------------------------------------------------------------- kills
    def kill_and_restart(self):
        """SIGKILL one server and the worker that runs a job, then restart both."""
        # Jobs that take a while (auto model over two days), so that one is in flight.
        for _ in range(4):
            self.request_job("forecast", self.participants[0], heavy=True)
        victim_worker = None
        for _ in range(100):
            rows = self.pg.psql("SELECT worker FROM jobs WHERE state = 'running' AND worker LIKE 'worker@%'")
            pids = {int(r[0].rsplit(":", 1)[1]) for r in rows}
            victim_worker = next((w for w in self.workers if w.pid in pids), None)
            if victim_worker:
                break
            time.sleep(0.05)
        in_flight = []
        if victim_worker is None:
            victim_worker = self.workers[0]
            print("note: no job was running on a worker at the kill", flush=True)
        else:
            in_flight = [int(r[0]) for r in self.pg.psql(
                f"SELECT id FROM jobs WHERE state = 'running' AND worker LIKE '%:{victim_worker.pid}'")]
        victim_server = self.servers[0]
        at = self.market_now()
        victim_worker.kill()
        victim_server.kill()
        self.kills.append((victim_server.name, victim_worker.name))
        print(f"killed {victim_server.name} and {victim_worker.name} (running jobs {in_flight}) at market time "
              f"{iso(at)}", flush=True)
        self.in_flight_at_kill = in_flight
        time.sleep(self.args.down_seconds)  # the load goes on through the other server
        victim_server.start()
        victim_worker.start()
        cluster.wait_healthy(victim_server.port, victim_server)
        print(f"restarted them at market time {iso(self.market_now())}", flush=True)

    # ---------------------------------------------------------------- run
    def run(self):
        self.start_cluster()
        self.setup_market()
        threads = [threading.Thread(target=self.bidder, args=(p,), daemon=True) for p in self.participants]
        threads.append(threading.Thread(target=self.requester, daemon=True))
        follower = threading.Thread(target=self.event_follower, daemon=True)
        bems = threading.Thread(target=self.bems, daemon=True)
        for t in threads + [follower, bems]:
            t.start()
        kill_at = self.period_start + (self.period_end - self.period_start) * 0.45
        while self.market_now() < kill_at:
            time.sleep(0.5)
        self.kill_and_restart()
        for t in threads:
            t.join()
        # Past every slot's settlement: the last slot ends at period_end; its readings come
        # within a tick, its deadline is two hours later.
        while self.market_now() < self.period_end + 3 * HOUR:
            time.sleep(0.5)
        self.stop_bems.set()
        bems.join()
        # Until every job has finished and every slot is past settlement, or market time
        # has moved well beyond what that needs (the checks then say what is missing).
        limit = self.period_end + 24 * HOUR
        while self.market_now() < limit:
            busy = self.pg.psql("SELECT count(*) FROM jobs WHERE state IN ('queued', 'running')")[0][0]
            unsettled = self.pg.psql(
                f"SELECT count(*) FROM bids WHERE market_id = {self.market} AND status IN "
                "('open', 'locked', 'won', 'partially_won', 'executing', 'settling')")[0][0]
            if busy == "0" and unsettled == "0":
                break
            time.sleep(0.5)
        self.stop_load.set()
        follower.join(timeout=10)
        self.check()

    # ---------------------------------------------------------------- checks
    def fail(self, text):
        self.failures.append(text)
        print("FAIL " + text, flush=True)

    def ok(self, text):
        print("ok   " + text, flush=True)

    def sql(self, q):
        return self.pg.psql(q)

    def check(self):
        m = self.market
        p0, p1 = us(self.period_start), us(self.period_end)
        slots = [self.period_start + k * HOUR for k in range(self.args.hours)]
        duplicates = 0

        # Clearing: one row per slot with bids, none for a slot without.
        with_bids = {int(r[0]) for r in self.sql(
            f"SELECT DISTINCT slot_start FROM bids WHERE market_id = {m} AND status <> 'cancelled'")}
        clear_rows = collections.Counter(int(r[0]) for r in self.sql(
            f"SELECT slot_start FROM clearings WHERE market_id = {m}"))
        missing = sorted(s for s in with_bids if clear_rows[s] == 0)
        twice = sorted(s for s, n in clear_rows.items() if n > 1)
        duplicates += len(twice)
        period_with_bids = [s for s in slots if us(s) in with_bids]
        if missing or twice:
            self.fail(f"slots with bids but no clearing: {[iso(from_us(s)) for s in missing]}; cleared twice: "
                      f"{[iso(from_us(s)) for s in twice]}")
        else:
            self.ok(f"{len(clear_rows)} slots cleared once each ({len(period_with_bids)} of the {len(slots)} slots "
                    "under test had bids)")
        if len(period_with_bids) < len(slots):
            print(f"note: {len(slots) - len(period_with_bids)} slots under test got no bid", flush=True)

        # Every slot's state through the API: none pending.
        states = collections.Counter()
        page = 1
        while True:
            q = urllib.parse.urlencode({"start": iso(self.period_start), "end": iso(self.period_end), "page": page,
                                        "per_page": 500})
            body = self.api.ok("GET", f"/api/v1/markets/{m}/clearings?{q}", token=self.operator)
            states.update(i["state"] for i in body["items"])
            if page * 500 >= body["total"]:
                break
            page += 1
        if states.get("pending") or sum(states.values()) != len(slots):
            self.fail(f"slot states through the API: {dict(states)} (expected {len(slots)} slots, none pending)")
        else:
            self.ok(f"slot states through the API: {dict(states)}")

        # Bids: every acknowledged one stored as placed, none left before settlement.
        rows = {int(r[0]): r[1:] for r in self.sql(
            f"SELECT b.id, b.account_id, b.side, b.slot_start, b.volume_ticks * k.volume_tick_kwh, "
            f"b.price_ticks * k.price_tick, b.status FROM bids b JOIN markets k ON k.id = b.market_id "
            f"WHERE b.market_id = {m}")}
        lost = [i for i in self.bids if i not in rows]
        wrong = []
        for i, (account, side, slot, volume, price) in self.bids.items():
            r = rows.get(i)
            if r and (int(r[0]) != account or r[1] != side or int(r[2]) != us(slot) or abs(float(r[3]) - volume) > 1e-9
                      or abs(float(r[4]) - price) > 1e-9):
                wrong.append((i, r))
        unfinished = collections.Counter(r[5] for r in rows.values() if r[5] not in ("settled", "lost", "cancelled"))
        unacknowledged = len(rows) - len(self.bids)
        if lost or wrong or unfinished:
            self.fail(f"bids: {len(lost)} acknowledged but not stored {lost[:10]}, {len(wrong)} stored otherwise "
                      f"{wrong[:5]}, unfinished {dict(unfinished)}")
        else:
            self.ok(f"{len(self.bids)} acknowledged bids stored as placed; final states "
                    f"{dict(collections.Counter(r[5] for r in rows.values()))}; {unacknowledged} stored without an "
                    "acknowledgement (answers lost to the kills)")
        # ... and through the API, as each participant lists its own.
        listed = set()
        for p in self.participants:
            page = 1
            while True:
                body = self.api.ok("GET", f"/api/v1/markets/{m}/bids?page={page}&per_page=500", token=p["token"])
                listed.update(b["id"] for b in body["items"])
                if page * 500 >= body["total"]:
                    break
                page += 1
        if set(self.bids) - listed:
            self.fail(f"bids acknowledged but not listed to their owner: {sorted(set(self.bids) - listed)[:10]}")
        else:
            self.ok("every acknowledged bid is listed to its owner")

        # Trades: no trade stored twice (each bid's fill is the sum of its trades, each slot's
        # cleared volume the sum of the slot's); a pair of bids in more than one row is noted.
        split = self.sql(f"SELECT slot_start, buy_bid_id, sell_bid_id, count(*) FROM trades WHERE market_id = {m} "
                         "GROUP BY 1, 2, 3 HAVING count(*) > 1")
        fills = self.sql(
            f"SELECT b.id, b.filled_ticks, coalesce(sum(t.volume_ticks), 0) FROM bids b LEFT JOIN trades t "
            f"ON t.market_id = b.market_id AND (t.buy_bid_id = b.id OR t.sell_bid_id = b.id) "
            f"WHERE b.market_id = {m} GROUP BY b.id, b.filled_ticks HAVING b.filled_ticks <> coalesce(sum(t.volume_ticks), 0)")
        volumes = self.sql(
            f"SELECT c.slot_start, c.volume_ticks, coalesce(sum(t.volume_ticks), 0) FROM clearings c LEFT JOIN trades t "
            f"ON t.market_id = c.market_id AND t.slot_start = c.slot_start WHERE c.market_id = {m} "
            "GROUP BY c.slot_start, c.volume_ticks HAVING c.volume_ticks <> coalesce(sum(t.volume_ticks), 0)")
        duplicates += len(fills) + len(volumes)
        ntrades = int(self.sql(f"SELECT count(*) FROM trades WHERE market_id = {m}")[0][0])
        if fills or volumes:
            self.fail(f"trades: bids whose fill differs from their trades {fills[:5]}, slots whose cleared volume "
                      f"differs from their trades {volumes[:5]}")
        else:
            self.ok(f"{ntrades} trades, none stored twice: fills and cleared volumes match them")
        if split:
            print(f"note: {len(split)} pairs of bids trade in more than one row of a slot (self-trade rewiring), "
                  f"e.g. slot {iso(from_us(split[0][0]))} buy bid {split[0][1]} sell bid {split[0][2]}: "
                  f"{split[0][3]} rows", flush=True)

        # Settlement: one statement per account, slot and version; version 1 for every
        # account that traded in a slot, and one current statement.
        dup = self.sql(f"SELECT slot_start, account_id, version, count(*) FROM settlements WHERE market_id = {m} "
                       "GROUP BY 1, 2, 3 HAVING count(*) > 1")
        duplicates += len(dup)
        traded = {(int(r[0]), int(r[1])) for r in self.sql(
            f"SELECT slot_start, buyer_account_id FROM trades WHERE market_id = {m} UNION "
            f"SELECT slot_start, seller_account_id FROM trades WHERE market_id = {m}")}
        st = collections.defaultdict(list)
        for r in self.sql(f"SELECT slot_start, account_id, version, current, missing_intervals FROM settlements "
                          f"WHERE market_id = {m}"):
            st[(int(r[0]), int(r[1]))].append((int(r[2]), int(r[3]), int(r[4])))
        unsettled = sorted(traded - set(st))
        stray = sorted(set(st) - traded)
        bad_versions = [(k, v) for k, v in st.items()
                        if sorted(x[0] for x in v) != list(range(1, len(v) + 1)) or sum(x[1] for x in v) != 1]
        corrected = sum(1 for v in st.values() if len(v) > 1)
        with_missing = sum(1 for v in st.values() if any(x[2] for x in v if x[1]))
        if dup or unsettled or stray or bad_versions:
            self.fail(f"settlement: duplicates {dup[:5]}, traded but unsettled {unsettled[:5]}, settled without "
                      f"trades {stray[:5]}, versions not 1..n with one current {bad_versions[:5]}")
        else:
            self.ok(f"{sum(len(v) for v in st.values())} statements for {len(st)} account-slots, one per version "
                    f"({corrected} corrected, {with_missing} current ones with missing intervals)")
        # A first statement without missing intervals is one the meters' measurements made
        # (the BEMS here never changes a reading): its metered energy is theirs, not a
        # forecast's (forecasts are stored on the same sensors, with horizons above zero).
        not_measured = self.sql(f"""
            WITH meters AS (SELECT account_id, sensor_id FROM market_meters WHERE market_id = {m}),
            measured AS (
              SELECT meters.account_id, b.event_start - b.event_start % 3600000000 AS slot,
                     -sum(b.value) * 0.25 AS kwh
              FROM beliefs b JOIN meters ON meters.sensor_id = b.sensor_id
              WHERE b.belief_horizon <= 0 GROUP BY 1, 2)
            SELECT s.slot_start, s.account_id, s.metered_kwh, round(measured.kwh::numeric, 6)
            FROM settlements s JOIN measured ON measured.account_id = s.account_id AND measured.slot = s.slot_start
            WHERE s.market_id = {m} AND s.version = 1 AND s.missing_intervals = 0
              AND abs(s.metered_kwh - measured.kwh) > 1e-5 ORDER BY 1, 2""")
        if not_measured:
            r = not_measured[0]
            self.fail(f"settlement: {len(not_measured)} first statements counted as complete settled other energy than "
                      f"the meters measured (a forecast stored on the meter counted as a reading), e.g. slot "
                      f"{iso(from_us(r[0]))} account {r[1]}: metered {r[2]} kWh, measured {r[3]} kWh")
        # ... and through the API (the operator sees every account's).
        q = urllib.parse.urlencode({"market_id": m, "start": iso(self.period_start - 48 * HOUR),
                                    "end": iso(self.period_end + 48 * HOUR), "versions": "all", "per_page": 1})
        status, body = self.api.call("GET", f"/api/v1/settlements?{q}", token=self.operator)
        total = sum(len(v) for v in st.values())
        if status != 200 or body.get("total") != total:
            self.fail(f"GET /api/v1/settlements (operator, versions=all): {status} total "
                      f"{body.get('total') if isinstance(body, dict) else body}, {total} in the database")
        else:
            self.ok(f"the API lists the {total} statements")

        # Events: none twice (same type, account and payload), one of each per slot.
        dup = self.sql("SELECT type, coalesce(account_id, 0), payload, count(*) FROM events "
                       "GROUP BY 1, 2, 3 HAVING count(*) > 1")
        duplicates += len(dup)
        per_slot = self.sql(
            f"SELECT type, payload::json->>'slot_start', count(*) FROM events WHERE market_id = {m} AND account_id IS NULL "
            "GROUP BY 1, 2 HAVING count(*) > 1")
        duplicates += len(per_slot)
        placed = collections.Counter(json.loads(r[0])["bid_id"] for r in self.sql(
            "SELECT payload FROM events WHERE type = 'bid_placed'"))
        no_event = [i for i in self.bids if placed[i] != 1]
        nevents = int(self.sql("SELECT count(*) FROM events")[0][0])
        if dup or per_slot or no_event:
            self.fail(f"events: duplicates {dup[:5]}, public events repeated for a slot {per_slot[:5]}, acknowledged "
                      f"bids without exactly one bid_placed {no_event[:5]}")
        else:
            self.ok(f"{nevents} events, none twice; one bid_placed per acknowledged bid")
        # The stream through nginx delivered each event once, in order.
        seen = self.events_seen
        if len(seen) != len(set(seen)) or seen != sorted(seen):
            self.fail(f"the event stream repeated or reordered events ({len(seen)} received, {len(set(seen))} distinct)")
        else:
            account = self.participants[1]["account"]
            expected = {int(r[0]) for r in self.sql(
                f"SELECT id FROM events WHERE (account_id IS NULL OR account_id = {account}) "
                f"AND id <= {getattr(self, 'events_last', 0)}")}
            if expected - set(seen):
                self.fail(f"the event stream missed {len(expected - set(seen))} events of {len(expected)}")
            else:
                self.ok(f"the event stream through nginx delivered {len(seen)} events once each, in order "
                        f"({self.stats.counts['event_stream_reconnects']} reconnects)")

        # Readings: every acknowledged interval stored as a measurement.
        lost_readings = 0
        for sensor, starts in self.readings.items():
            stored = {int(r[0]) for r in self.sql(
                f"SELECT event_start FROM beliefs WHERE sensor_id = {sensor} AND belief_horizon <= 0")}
            lost_readings += sum(1 for t in starts if us(t) not in stored)
        nreadings = sum(len(v) for v in self.readings.values())
        if lost_readings:
            self.fail(f"{lost_readings} of {nreadings} acknowledged readings are not stored")
        else:
            self.ok(f"{nreadings} acknowledged readings stored")

        # Jobs: every acknowledged one present, every job done, none run twice.
        columns = {r[0] for r in self.sql("SELECT column_name FROM information_schema.columns WHERE table_name = 'jobs'")}
        extra = ", attempt" if "attempt" in columns else ", 1"
        jobs = {int(r[0]): r[1:] for r in self.sql(f"SELECT id, kind, state, coalesce(error, ''), worker{extra} FROM jobs")}
        absent = [i for i in self.jobs if i not in jobs]
        states = collections.Counter(r[1] for r in jobs.values())
        not_done = {i: (r[0], r[1], r[2][:200], r[3]) for i, r in jobs.items() if r[1] != "done"}
        # A job is finished once: count the runners' "job done"/"job failed" lines.
        finished = collections.Counter()
        for p in self.procs:
            if p is self.nginx:
                continue
            for line in open(p.log, errors="replace"):
                if '"job done"' in line or '"job failed"' in line:
                    try:
                        finished[json.loads(line)["job"]] += 1
                    except (ValueError, KeyError):
                        pass
        twice = {i: n for i, n in finished.items() if n > 1}
        duplicates += len(twice)
        attempts = collections.Counter(int(r[4]) for r in jobs.values())
        if absent or not_done or twice:
            self.fail(f"jobs: {len(absent)} acknowledged but absent {absent[:5]}; not done {dict(list(not_done.items())[:8])}"
                      f"; finished more than once {twice}")
        else:
            self.ok(f"{len(jobs)} jobs ({dict(collections.Counter(r[0] for r in jobs.values()))}) all done, each "
                    f"finished once; attempts {dict(attempts)}")
        if "attempt" in columns:
            taken_over = [i for i in self.in_flight_at_kill if int(jobs[i][4]) < 2]
            if taken_over:
                self.fail(f"jobs running on the killed worker but not taken over (attempt < 2): {taken_over}")
            elif self.in_flight_at_kill:
                self.ok(f"jobs running on the killed worker were taken over: {self.in_flight_at_kill}")
        else:
            print("note: the jobs table has no attempt column yet (job leases)", flush=True)
        # Through the API: nothing queued or running.
        for state in ("queued", "running", "failed"):
            body = self.api.ok("GET", f"/api/v1/jobs?state={state}&per_page=1", token=self.operator)
            if body["total"]:
                self.fail(f"GET /api/v1/jobs?state={state}: {body['total']}")

        # The processes: none died on its own.
        for p in self.procs:
            if not p.alive():
                self.fail(f"{p.name} is not running (exit {p.proc.returncode}); log {p.log}")
        crashes = []
        for p in self.procs:
            if p is self.nginx:
                continue
            for line in open(p.log, errors="replace"):
                if '"level":"error"' in line or "terminate called" in line:
                    crashes.append(f"{p.name}: {line.strip()[:300]}")
        if crashes:
            print(f"note: {len(crashes)} error lines in the logs, first: {crashes[:3]}", flush=True)

        c = self.stats.counts
        if self.stats.errors:
            self.fail(f"{c['unexpected_answers']} unexpected answers, first: {self.stats.errors[:5]}")
        retries = sum(v for k, v in c.items() if k.startswith("retries_"))
        print(f"summary: slots {len(slots)} ({len(period_with_bids)} with bids, {len(clear_rows)} cleared, "
              f"{len(st)} account-slots settled), bids {len(self.bids)} acknowledged ({c['bids_refused_gate_closed']} "
              f"refused at gate closure), readings {nreadings}, jobs {len(jobs)} ({dict(states)}), trades {ntrades}, "
              f"events {nevents}, kills survived {len(self.kills) * 2}, requests retried {retries}, "
              f"duplicates found {duplicates}", flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", required=True)
    ap.add_argument("--hours", type=int, default=48, help="slots under test (hourly)")
    ap.add_argument("--speed", type=int, default=1440, help="simulated clock speed")
    ap.add_argument("--participants", type=int, default=6)
    ap.add_argument("--bid-pause", type=float, default=1.0, help="scales the pause between a bot's bids")
    ap.add_argument("--down-seconds", type=float, default=6.0, help="how long the killed processes stay down")
    ap.add_argument("--lease", default="5s", help="jobs.lease for the cluster (when the platform has it)")
    ap.add_argument("--no-meter-forecasts", action="store_true",
                    help="forecast a sensor that settles nothing instead of the settlement meters")
    ap.add_argument("--keep", action="store_true", help="keep the work directory (logs) even when it passes")
    args = ap.parse_args()
    t = Test(args)

    def on_signal(sig, _frame):
        raise KeyboardInterrupt(f"signal {sig}")

    signal.signal(signal.SIGTERM, on_signal)
    started = time.monotonic()
    try:
        t.run()
    except BaseException as e:  # noqa: BLE001 - report, clean up, fail
        t.failures.append(f"the test stopped: {e!r}")
        import traceback
        traceback.print_exc()
    finally:
        t.stop_load.set()
        t.stop_bems.set()
        t.stop_cluster()
        keep = args.keep or bool(t.failures)
        print(f"{'FAILED' if t.failures else 'passed'} in {time.monotonic() - started:.0f} s"
              + (f"; logs kept in {t.work}" if keep else ""), flush=True)
        if not keep:
            cluster.remove_work_dir(t.work)
    sys.exit(1 if t.failures else 0)


if __name__ == "__main__":
    main()
