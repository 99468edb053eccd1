#!/usr/bin/env python3
"""The nginx configuration of docs/operations.md, for real: TLS in front of `flexmarket serve`.

Takes the block marked `<!-- operations: nginx.conf -->` from docs/operations.md (so the doc
and this test cannot drift apart), changes only what a test machine needs (addresses,
ports, certificate and log paths; each replacement must match, or the test fails), and runs
Debian's nginx with it in front of one `flexmarket serve` on a temporary SQLite database,
with a self-signed certificate made by openssl. Over HTTPS, trusting only that certificate:
health, the HTTP-to-HTTPS redirect, login and /api/v1/me, a session cookie marked Secure, an
event stream's first bytes passing the proxy unbuffered, and the access log carrying the
client's X-Forwarded-For chain with the request id flexmarket logs for the same request.

Usage: tls_test.py [--binary build/flexmarket]. Exits 77 (skipped) if nginx or openssl is
missing; KEEP_WORK=1 keeps the temporary directory (configuration, logs).
"""
import argparse
import ctypes
import http.client
import json
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
DOC = os.path.join(ROOT, "docs", "operations.md")
NGINX = "/usr/sbin/nginx"
OPENSSL = shutil.which("openssl") or "/usr/bin/openssl"
EMAIL, PASSWORD = "admin@example.com", "admin-password-1"
SKIP = 77


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def die_with_parent():
    os.setpgrp()
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def fail(message):
    print("FAIL: " + message)
    sys.exit(1)


def doc_nginx_block():
    lines = open(DOC, encoding="utf-8").read().split("\n")
    for i, line in enumerate(lines):
        if "<!-- operations: nginx.conf -->" in line:
            if not lines[i + 1].startswith("```nginx"):
                fail("docs/operations.md: the nginx.conf marker is not followed by a ```nginx block")
            end = lines.index("```", i + 2)
            return "\n".join(lines[i + 2:end])
    fail("docs/operations.md has no <!-- operations: nginx.conf --> block")


def replace(text, pattern, replacement, what, count=1):
    new, n = re.subn(pattern, replacement, text, flags=re.M)
    if n != count and not (count == 0 and n > 0):
        fail(f"docs/operations.md's nginx block changed: expected {count or 'some'} {what}, found {n}")
    return new


def test_config(block, work, serve_port, http_port, https_port, cert, key):
    # The two example servers become our one; everything else stays as documented.
    block = replace(block, r"^(\s*)server 10\.0\.1\.11:8080 ", rf"\g<1>server 127.0.0.1:{serve_port} ", "first upstream server")
    block = replace(block, r"^\s*server 10\.0\.1\.\d+:8080 [^\n]*\n", "", "other upstream servers", count=0)
    block = replace(block, r"listen 80;", f"listen 127.0.0.1:{http_port};", "plain listen")
    block = replace(block, r"listen 443 ssl", f"listen 127.0.0.1:{https_port} ssl", "TLS listen")
    block = replace(block, r"/etc/ssl/flexmarket/fullchain\.pem", cert, "certificate path")
    block = replace(block, r"/etc/ssl/flexmarket/privkey\.pem", key, "key path")
    block = replace(block, r"/var/log/nginx/flexmarket\.access\.log", os.path.join(work, "access.log"), "access log")
    temp = os.path.join(work, "nginx-temp")
    os.makedirs(temp)
    return "\n".join([
        "worker_processes 1;",
        f"pid {work}/nginx.pid;",
        "user root;" if os.geteuid() == 0 else "",
        "events { worker_connections 256; }",
        "http {",
        f"  client_body_temp_path {temp}/body;",
        f"  proxy_temp_path {temp}/proxy;",
        f"  fastcgi_temp_path {temp}/fastcgi;",
        f"  uwsgi_temp_path {temp}/uwsgi;",
        f"  scgi_temp_path {temp}/scgi;",
        f"  access_log {work}/other-access.log;",
        block,
        "}",
        "",
    ])


def wait_for(what, check, seconds=30):
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            if check():
                return
        except OSError:
            pass
        time.sleep(0.1)
    fail("timed out waiting for " + what)


def main():
    ap = argparse.ArgumentParser(description="docs/operations.md's nginx configuration over HTTPS")
    ap.add_argument("--binary", default=os.path.join(ROOT, "build", "flexmarket"))
    binary = os.path.abspath(ap.parse_args().binary)
    for tool, name in ((NGINX, "nginx"), (OPENSSL, "openssl")):
        if not os.access(tool, os.X_OK):
            print(f"SKIP: {name} is not installed ({tool}); scripts/setup installs it")
            return SKIP
    work = tempfile.mkdtemp(prefix="fm-tls-")
    procs = []
    try:
        cert, key = os.path.join(work, "cert.pem"), os.path.join(work, "key.pem")
        r = subprocess.run([OPENSSL, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                            "-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=flexmarket.test",
                            "-addext", "subjectAltName=DNS:flexmarket.test,IP:127.0.0.1"],
                           capture_output=True, text=True)
        if r.returncode != 0:
            fail("openssl req: " + r.stderr)

        db = f"sqlite://{work}/flexmarket.db"
        var = os.path.join(work, "var")
        common = ["--database", db, "--var-dir", var]
        r = subprocess.run([binary, "user", "create", "--email", EMAIL, "--account", "Operations", "--role", "admin",
                            "--password-stdin"] + common, input=PASSWORD + "\n", capture_output=True, text=True)
        if r.returncode != 0:
            fail("user create: " + r.stdout + r.stderr)

        serve_port, http_port, https_port = free_port(), free_port(), free_port()
        serve_log = open(os.path.join(work, "serve.log"), "w")
        # nginx is the trusted proxy: flexmarket takes the client's address from X-Forwarded-For.
        serve = subprocess.Popen([binary, "serve", "--host", "127.0.0.1", "--port", str(serve_port)] + common,
                                 stdout=serve_log, stderr=subprocess.STDOUT, preexec_fn=die_with_parent,
                                 env=dict(os.environ, FLEXMARKET_SERVER_TRUSTED_PROXIES="127.0.0.1"))
        procs.append(serve)

        conf = os.path.join(work, "nginx.conf")
        with open(conf, "w") as f:
            f.write(test_config(doc_nginx_block(), work, serve_port, http_port, https_port, cert, key))
        nginx_argv = [NGINX, "-p", work, "-c", conf, "-e", os.path.join(work, "error.log")]
        r = subprocess.run(nginx_argv + ["-t"], capture_output=True, text=True)
        if r.returncode != 0:
            fail("nginx -t rejects the documented configuration:\n" + r.stderr)
        nginx = subprocess.Popen(nginx_argv + ["-g", "daemon off;"], stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL, preexec_fn=die_with_parent)
        procs.append(nginx)

        ctx = ssl.create_default_context(cafile=cert)  # trusts this certificate only

        def https():
            return http.client.HTTPSConnection("127.0.0.1", https_port, context=ctx, timeout=10)

        def request(method, path, body=None, headers=None):
            c = https()
            c.request(method, path, body=json.dumps(body) if body is not None else None,
                      headers={"Content-Type": "application/json", **(headers or {})})
            res = c.getresponse()
            data = res.read()
            c.close()
            return res, data

        def healthy():
            res, _ = request("GET", "/api/v1/health")
            return res.status == 200
        wait_for("flexmarket behind nginx over HTTPS", healthy)

        # 1. Health, over TLS 1.2+, with HSTS.
        res, data = request("GET", "/api/v1/health")
        if json.loads(data).get("status") != "ok":
            fail("health: " + data.decode())
        if "max-age" not in (res.getheader("Strict-Transport-Security") or ""):
            fail("no Strict-Transport-Security header")
        c = https()
        c.connect()
        if c.sock.version() not in ("TLSv1.2", "TLSv1.3"):
            fail("TLS version " + str(c.sock.version()))
        c.close()

        # 2. Plain HTTP is sent to HTTPS.
        p = http.client.HTTPConnection("127.0.0.1", http_port, timeout=10)
        p.request("GET", "/api/v1/health")
        res = p.getresponse()
        res.read()
        if res.status != 301 or not (res.getheader("Location") or "").startswith("https://"):
            fail(f"plain HTTP: {res.status} {res.getheader('Location')}")

        # 3. Login, then /me from a client that says it forwards for 203.0.113.7.
        res, data = request("POST", "/api/v1/auth/token", {"email": EMAIL, "password": PASSWORD})
        if res.status != 200:
            fail(f"login: {res.status} {data.decode()}")
        token = json.loads(data)["token"]
        res, data = request("GET", "/api/v1/me", headers={"Authorization": "Bearer " + token,
                                                           "X-Forwarded-For": "203.0.113.7"})
        if res.status != 200 or json.loads(data)["user"]["email"] != EMAIL:
            fail(f"/me: {res.status} {data.decode()}")
        request_id = res.getheader("X-Request-Id") or ""
        if not re.fullmatch(r"[0-9a-f]{32}", request_id):
            fail("/me's request id is not nginx's $request_id: " + request_id)

        # 4. A browser session's cookie is Secure behind TLS (X-Forwarded-Proto).
        res, data = request("POST", "/api/v1/auth/session", {"email": EMAIL, "password": PASSWORD})
        cookie = res.getheader("Set-Cookie") or ""
        if res.status not in (200, 201) or "Secure" not in cookie:
            fail(f"session: {res.status} cookie {cookie!r}")

        # 5. An event stream: its first bytes arrive through the proxy at once, unbuffered.
        s = https()
        try:
            s.request("GET", "/api/v1/events?after=latest", headers={"Authorization": "Bearer " + token})
            res = s.getresponse()
            if res.status != 200 or not (res.getheader("Content-Type") or "").startswith("text/event-stream"):
                fail(f"events: {res.status} {res.getheader('Content-Type')}")
            s.sock.settimeout(5)
            first = res.readline()
        except TimeoutError:
            fail("events: nothing came through the proxy within 10 s (is the stream buffered?)")
        if not first.startswith(b":"):
            fail(f"events: first line {first!r}")
        s.close()

        # 6. The logs: nginx's has the client's chain and the request id; flexmarket's has the
        #    same request id for the same request.
        def logged():
            access = open(os.path.join(work, "access.log")).read()
            mine = [l for l in access.splitlines() if "/api/v1/me " in l and f"request_id={request_id}" in l]
            return mine and 'xff="203.0.113.7, 127.0.0.1"' in mine[0]
        wait_for("the access log line with X-Forwarded-For", logged, 10)

        def joined():
            for line in open(os.path.join(work, "serve.log")):
                if line.startswith("{"):
                    entry = json.loads(line)
                    if entry.get("request_id") == request_id and entry.get("path") == "/api/v1/me":
                        # The client's address, past the trusted proxy's own hop.
                        return entry.get("status") == 200 and entry.get("remote") == "203.0.113.7"
            return False
        wait_for("flexmarket's log line with nginx's request id", joined, 10)

        print("PASS: docs/operations.md's nginx configuration: TLS, redirect, login, /me, Secure session "
              "cookie, event stream unbuffered, X-Forwarded-For and request id in the logs")
        return 0
    finally:
        for p in reversed(procs):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
        if os.environ.get("KEEP_WORK"):
            print("work directory kept: " + work)
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
