#!/usr/bin/env python3
"""A Socket.IO client as the old energy trading platform's frontend was, against flexmarket's ETP compatibility surface.

Connects to --server (the origin) at --path with the token in the query string
(`?token=T`, as the seed's frontend did), over --transports. The system tests use it twice:

  --expect transaction  prints `connected` once the Socket.IO namespace is connected, then
                        waits for one `transaction` event, whose payload is a JSON-encoded
                        string; prints it decoded as one JSON line and exits 0 (1 on a timeout,
                        a refused connection or a disconnection).
  --expect refused      exits 0 if the connection is refused (a bad or missing token): the
                        handshake fails (HTTP error, or the websocket upgrade is refused), the
                        server answers the namespace CONNECT with CONNECT_ERROR, or it closes
                        before connecting it; 1 if it connects or does not answer in --timeout.
                        (A server that is down reads as refused too: pair it with a connect.)

  etp_socketio_client.py --server http://127.0.0.1:8080 --path compat/etp/socket.io --token T \
      --expect transaction [--transports websocket|polling|both] [--timeout 60]

Needs only Debian's python3-socketio (5.x, Engine.IO 4) and python3-websocket (if another
python3 without them comes first on PATH, the script runs itself again with /usr/bin/python3).
"""
import argparse
import json
import os
import queue
import sys
import time
import urllib.parse

try:
    import socketio
except ImportError:
    if os.path.exists("/usr/bin/python3") and os.path.realpath(sys.executable) != os.path.realpath("/usr/bin/python3"):
        os.execv("/usr/bin/python3", ["/usr/bin/python3", *sys.argv])
    raise

TRANSPORTS = {"websocket": ["websocket"], "polling": ["polling"], "both": ["polling", "websocket"]}


def end(code, message=None):
    if message:
        print("etp_socketio_client: " + message, file=sys.stderr)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)  # engineio's threads are not daemons; a long-poll in flight would hold the exit


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--server", required=True, help="origin, e.g. http://127.0.0.1:8080")
    p.add_argument("--path", default="socket.io", help="Socket.IO path, e.g. compat/etp/socket.io")
    p.add_argument("--token", help="sent as ?token=T (no query string without it)")
    p.add_argument("--transports", choices=TRANSPORTS, default="websocket")
    p.add_argument("--expect", choices=("transaction", "refused"), required=True)
    p.add_argument("--timeout", type=float, default=60, help="seconds to wait for the namespace and for the event (default 60)")
    args = p.parse_args()

    # python-socketio runs each handler on a thread of its own, so events may come out of order
    events, got = queue.Queue(), {}
    sio = socketio.Client(reconnection=False, request_timeout=min(args.timeout, 10))
    for name in ("connect", "connect_error", "transaction", "disconnect"):
        sio.on(name, lambda *data, name=name: events.put((name, data)))

    def wait_for(wanted, seconds):
        """The first of wanted that came within seconds (1 s at most after a disconnection), else None."""
        deadline = time.monotonic() + seconds
        while not any(k in got for k in wanted):
            if time.monotonic() >= deadline:
                return None
            try:
                kind, data = events.get(timeout=0.1)
            except queue.Empty:  # a close before the namespace connected is no 'disconnect' event
                kind, data = ("disconnect", ()) if sio.eio.state != "connected" else (None, None)
            if kind and kind not in got:
                got[kind] = data
                if kind == "disconnect":
                    deadline = min(deadline, time.monotonic() + 1)
        return next(k for k in wanted if k in got)

    url = args.server.rstrip("/") + "/"
    if args.token is not None:
        url += "?token=" + urllib.parse.quote(args.token, safe="")
    refused = None
    try:
        # wait=False: with wait=True a CONNECT_ERROR surfaces only after wait_timeout has passed again
        sio.connect(url, socketio_path=args.path, transports=TRANSPORTS[args.transports], wait=False)
    except socketio.exceptions.ConnectionError as e:  # the Engine.IO handshake failed
        refused = f"{e} {e.args[1:] or ''}".strip()
    except Exception as e:  # e.g. an OPEN packet without sid or pingInterval
        end(1, f"connection failed: {e!r}")
    if refused is None:
        outcome = wait_for(("connect", "connect_error"), args.timeout)
        if outcome == "connect_error":
            refused = f"CONNECT_ERROR {got['connect_error']!r}"
        elif outcome is None and "disconnect" in got:
            refused = "closed before the namespace connected"
        elif outcome is None:
            sio.disconnect()
            end(1, f"no answer to the namespace CONNECT in {args.timeout:g} s")
    if refused is not None:
        sio.disconnect()
        end(0 if args.expect == "refused" else 1, "refused: " + refused)
    if args.expect == "refused":
        sio.disconnect()
        end(1, "connected, but a refusal was expected")

    print("connected", flush=True)
    if wait_for(("transaction",), args.timeout) is None:
        sio.disconnect()
        end(1, "disconnected before a transaction event" if "disconnect" in got else f"no transaction event in {args.timeout:g} s")
    data = got["transaction"]
    try:
        if len(data) != 1 or not isinstance(data[0], str):
            raise ValueError(f"payload is not one JSON-encoded string: {data!r}")
        print(json.dumps(json.loads(data[0]), ensure_ascii=False), flush=True)
    except ValueError as e:
        sio.disconnect()
        end(1, str(e))
    sio.disconnect()
    end(0)

if __name__ == "__main__":
    main()
