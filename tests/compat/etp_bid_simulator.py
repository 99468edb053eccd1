#!/usr/bin/env python3
"""The old energy trading platform's bid simulator (trigger/bidsubmit.sh), against flexmarket's ETP compatibility API.

Logs in (POST /login), posts one bid per hourly slot (POST /bidsubmit; times are local to
--timezone, "YYYY/MM/DD HH"), then checks that GET /bidsubmit lists every accepted bid with
its volume, price and start time. With --edit-and-delete it also raises the first listed bid's
price by 1 (PUT) and deletes the last (DELETE, twice: the second must be 400 "Invalid ID"),
checking the listing after each. Prints one JSON line per answer and, last, the summary
{"accepted", "rejected", "listed", "ok"}; exits 0 only if every check held. The system tests
run it against `flexmarket serve` as an old BEMS client would:

  etp_bid_simulator.py --server http://127.0.0.1:8080/compat/etp --account A --password P \
      --value 10 --price 20 --type buy [--hours 24] [--start "2024/05/02 00"] [--edit-and-delete]

Needs only Debian's python3-requests (if another python3 without it comes first on PATH, the
script runs itself again with /usr/bin/python3).
"""
import argparse
import json
import os
import re
import sys
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

try:
    import requests
except ImportError:
    if os.path.exists("/usr/bin/python3") and os.path.realpath(sys.executable) != os.path.realpath("/usr/bin/python3"):
        os.execv("/usr/bin/python3", ["/usr/bin/python3", *sys.argv])
    raise

FMT = "%Y/%m/%d %H"
TIMEOUT = 30


def emit(obj):
    print(json.dumps(obj, ensure_ascii=False), flush=True)


def slots(start, hours, tz):
    """(start_time, end_time) of each hourly slot, stepped in UTC so that a DST change is one hour."""
    t0 = start.replace(tzinfo=tz).astimezone(timezone.utc)
    local = [(t0 + timedelta(hours=i)).astimezone(tz) for i in range(hours + 1)]
    return [(a.strftime(FMT), b.strftime(FMT)) for a, b in zip(local, local[1:])]


def hour_key(text):
    """'YYYY/MM/DD HH' from a listed time ('2024/05/02 07', '2024/05/02 07:00', '2024-05-02T07:00:00+08:00')."""
    m = re.match(r"\s*(\d{4})\D(\d{1,2})\D(\d{1,2})\D+(\d{1,2})", str(text))
    return "%s/%02d/%02d %02d" % (m[1], int(m[2]), int(m[3]), int(m[4])) if m else None


def same(a, b):
    try:
        return abs(float(a) - float(b)) <= 1e-6 * max(1.0, abs(float(b)))
    except (TypeError, ValueError):
        return False


class Client:
    def __init__(self, base):
        self.base = base.rstrip("/")
        self.http = requests.Session()

    def call(self, method, path, label, **kw):
        r = self.http.request(method, self.base + path, timeout=TIMEOUT, **kw)
        try:
            body = r.json()
        except ValueError:
            body = r.text
        emit({"op": label, "status": r.status_code, "answer": body})
        return r.status_code, body

    def listing(self, bid_type):
        status, body = self.call("GET", "/bidsubmit", "list", params={"per_page": 1000, "page": 1, "bid_type": bid_type})
        if status != 200 or not isinstance(body, dict) or not isinstance(body.get("data"), list):
            raise RuntimeError(f"GET /bidsubmit: {status} {body!r}")
        return body["data"]


def run(args, tz, start, stats, problems):
    c = Client(args.server)
    status, body = c.call("POST", "/login", "login", json={"account": args.account, "password": args.password})
    if status != 200 or not isinstance(body, dict) or not body.get("bearer"):
        problems.append(f"login refused: {status} {body!r}")
        return
    c.http.headers["Authorization"] = "Bearer " + body["bearer"]

    accepted = []
    for st, et in slots(start, args.hours, tz):
        bid = {"bid_type": args.type, "start_time": st, "end_time": et, "value": args.value, "price": args.price}
        status, body = c.call("POST", "/bidsubmit", "bid " + st, json=bid)
        message = body.get("message") if isinstance(body, dict) else None
        if status == 200 and message == "Accept":
            accepted.append(bid)
            stats["accepted"] += 1
        elif status == 200 and message == "Reject":
            stats["rejected"] += 1
        else:
            problems.append(f"POST /bidsubmit {st}: {status} {body!r}")

    rows = c.listing(args.type)
    stats["listed"] = len(rows)
    matched = {}  # listed row's index -> the accepted bid it shows
    for bid in accepted:
        i = next((i for i, r in enumerate(rows) if i not in matched and hour_key(r.get("start_time")) == bid["start_time"]
                  and same(r.get("volume"), bid["value"]) and same(r.get("price"), bid["price"])), None)
        if i is None:
            problems.append(f"accepted bid {bid['start_time']} (volume {bid['value']}, price {bid['price']}) is not listed")
        else:
            matched[i] = bid
    if not args.edit_and_delete:
        return
    ours = [(rows[i], matched[i]) for i in sorted(matched)]  # this run's bids, in listing order
    if not ours:
        problems.append("--edit-and-delete: no listed bid of this run to edit")
        return

    (first, first_bid), (last, _) = ours[0], ours[-1]
    edited = dict(first_bid, id=first["id"], price=first_bid["price"] + 1)
    status, body = c.call("PUT", "/bidsubmit", "edit " + str(first["id"]), json=edited)
    if status != 200 or not isinstance(body, dict) or body.get("message") != "Accept":
        problems.append(f"PUT /bidsubmit {first['id']}: {status} {body!r}")
    else:
        row = next((r for r in c.listing(args.type) if r.get("id") == first["id"]), None)
        if row is None or not same(row.get("price"), edited["price"]) or not same(row.get("volume"), edited["value"]):
            problems.append(f"after PUT, bid {first['id']} is listed as {row!r}, not at price {edited['price']}")

    status, body = c.call("DELETE", "/bidsubmit", "delete " + str(last["id"]), json={"id": last["id"]})
    if status != 200 or not isinstance(body, dict) or body.get("message") != "Accept":
        problems.append(f"DELETE /bidsubmit {last['id']}: {status} {body!r}")
    else:
        if any(r.get("id") == last["id"] for r in c.listing(args.type)):
            problems.append(f"after DELETE, bid {last['id']} is still listed")
        status, body = c.call("DELETE", "/bidsubmit", "delete again " + str(last["id"]), json={"id": last["id"]})
        if status != 400 or not isinstance(body, dict) or body.get("message") != "Reject" or body.get("description") != "Invalid ID":
            problems.append(f"second DELETE of {last['id']}: {status} {body!r}, not 400 Reject \"Invalid ID\"")


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--server", required=True, help="base URL, e.g. http://127.0.0.1:8080/compat/etp")
    p.add_argument("--account", required=True)
    p.add_argument("--password", required=True)
    p.add_argument("--value", type=float, required=True, help="volume of each bid (kWh)")
    p.add_argument("--price", type=float, required=True, help="price of each bid (per kWh)")
    p.add_argument("--type", choices=("buy", "sell"), required=True)
    p.add_argument("--timezone", default="Asia/Taipei", help="the market's timezone (default Asia/Taipei)")
    p.add_argument("--hours", type=int, default=24, help="hourly slots to bid for (default 24)")
    p.add_argument("--start", help='first slot, local "YYYY/MM/DD HH" (default: the next local midnight)')
    p.add_argument("--edit-and-delete", action="store_true", help="also PUT the first listed bid and DELETE the last")
    args = p.parse_args()
    try:
        tz = ZoneInfo(args.timezone)
    except (ValueError, LookupError):
        p.error(f"unknown timezone {args.timezone!r}")
    if args.start:
        try:
            start = datetime.strptime(args.start, FMT)
        except ValueError:
            p.error(f'--start {args.start!r} is not "YYYY/MM/DD HH"')
    else:  # as the seed did: bid for the next local day
        start = datetime.combine(datetime.now(tz).date() + timedelta(days=1), datetime.min.time())

    stats, problems = {"accepted": 0, "rejected": 0, "listed": 0}, []
    try:
        run(args, tz, start, stats, problems)
    except (requests.RequestException, RuntimeError) as e:
        problems.append(str(e))
    emit(dict(stats, ok=not problems))
    for problem in problems:
        print("etp_bid_simulator: " + problem, file=sys.stderr)
    return 0 if not problems else 1


if __name__ == "__main__":
    sys.exit(main())
