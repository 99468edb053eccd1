"""A flexmarket cluster on one machine, for the cluster test (run_cluster_test.py): a
throwaway PostgreSQL server (initdb + pg_ctl in a temporary directory, as the postgres user
when run as root), `flexmarket serve` and `flexmarket worker` processes on one database of
it, and Debian's nginx in front of the servers as the load balancer.

Every process this starts is stopped by `Cluster.stop()` (the flexmarket processes and
nginx also die with the Python process that started them: PR_SET_PDEATHSIG)."""
import ctypes
import glob
import http.client
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time

PR_SET_PDEATHSIG = 1
NGINX = "/usr/sbin/nginx"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _die_with_parent():
    # Our own process group (so that a kill reaches nothing else), and SIGKILL when the
    # test that started it dies, however it dies.
    os.setpgrp()
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def _as_postgres(argv):
    if os.geteuid() != 0:
        return argv
    return ["/usr/sbin/runuser", "-u", "postgres", "--"] + argv


def pg_bin_dir():
    dirs = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda d: int(d.split("/")[-2]))
    dirs = [d for d in dirs if os.path.exists(os.path.join(d, "pg_ctl"))]
    if not dirs:
        raise SystemExit("PostgreSQL server binaries not found: run scripts/setup")
    return dirs[-1]


class Postgres:
    """initdb + pg_ctl in `<work>/pg`, trust authentication on 127.0.0.1, a free port."""

    def __init__(self, work):
        self.bin = pg_bin_dir()
        self.dir = os.path.join(work, "pg")
        os.makedirs(self.dir)
        if os.geteuid() == 0:
            pw = pwd.getpwnam("postgres")
            os.chown(self.dir, pw.pw_uid, pw.pw_gid)
        self.data = os.path.join(self.dir, "data")
        self.port = free_port()
        self.started = False

    def start(self):
        subprocess.run(_as_postgres([f"{self.bin}/initdb", "-D", self.data, "-A", "trust", "-U", "postgres", "-E", "UTF8",
                                     "--no-sync", "--locale=C"]), check=True, stdout=subprocess.DEVNULL)
        opts = (f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off"
                " -c full_page_writes=off -c max_connections=300")
        r = subprocess.run(_as_postgres([f"{self.bin}/pg_ctl", "-D", self.data, "-o", opts, "-l",
                                         os.path.join(self.dir, "server.log"), "-w", "-t", "60", "start"]),
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if r.returncode != 0:
            raise SystemExit("pg_ctl start failed: " + r.stdout)
        self.started = True

    def url(self, db):
        return f"postgresql://postgres@127.0.0.1:{self.port}/{db}"

    def psql(self, sql, db="flexmarket"):
        """Runs `sql`; returns its rows as lists of strings (unaligned, tab-separated)."""
        psql = os.path.join(self.bin, "psql")
        r = subprocess.run([psql, "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-d", db, "-AtX",
                            "-F", "\t", "-v", "ON_ERROR_STOP=1", "-c", sql],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        if r.returncode != 0:
            raise RuntimeError(f"psql failed: {r.stderr.strip()}\n  in: {sql}")
        return [line.split("\t") for line in r.stdout.splitlines() if line != ""]

    def stop(self):
        if self.started:
            subprocess.run(_as_postgres([f"{self.bin}/pg_ctl", "-D", self.data, "-m", "immediate", "-w", "stop"]),
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            self.started = False


class Process:
    """A child in its own process group, standard output and error in `log`."""

    def __init__(self, name, argv, log, env=None):
        self.name, self.argv, self.log, self.env = name, argv, log, env
        self.proc = None
        self.starts = 0

    def start(self):
        out = open(self.log, "ab")
        self.proc = subprocess.Popen(self.argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                     env=self.env, preexec_fn=_die_with_parent)
        out.close()
        self.starts += 1
        return self

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def signal(self, sig):
        if self.alive():
            os.killpg(self.proc.pid, sig)

    def kill(self):
        """SIGKILL, as a crash would."""
        self.signal(signal.SIGKILL)
        if self.proc:
            self.proc.wait()

    def stop(self, timeout=20):
        if not self.alive():
            return None
        self.signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            return None


def wait_for_port(port, proc, seconds=60):
    """Waits until something accepts connections on `port` (and `proc` still runs)."""
    for _ in range(int(seconds * 10)):
        if proc is not None and not proc.alive():
            raise SystemExit(f"{proc.name} stopped while starting:\n" + open(proc.log, errors="replace").read()[-3000:])
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"nothing listens on port {port} after {seconds} s")


def wait_healthy(port, proc, seconds=60):
    wait_for_port(port, proc, seconds)
    for _ in range(int(seconds * 10)):
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            c.request("GET", "/api/v1/health")
            if c.getresponse().status == 200:
                return
        except (OSError, http.client.HTTPException):
            pass
        time.sleep(0.1)
    raise SystemExit(f"{proc.name if proc else port} is not healthy after {seconds} s")


NGINX_CONF = """
worker_processes 1;
pid {work}/nginx/nginx.pid;
error_log {work}/nginx/error.log warn;
events {{ worker_connections 4096; }}
http {{
  access_log {access_log};
  client_body_temp_path {work}/nginx/client_body;
  proxy_temp_path {work}/nginx/proxy;
  fastcgi_temp_path {work}/nginx/fastcgi;
  uwsgi_temp_path {work}/nginx/uwsgi;
  scgi_temp_path {work}/nginx/scgi;
  client_max_body_size 64m;
  upstream flexmarket {{
    # Round robin; a server that refuses connections is skipped for 2 s.
{servers}
    keepalive 64;
  }}
  server {{
    listen 127.0.0.1:{port};
    proxy_http_version 1.1;
    proxy_set_header Connection "";
    proxy_set_header Host $host;
    proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
    # A request that could not be sent (connection refused, a dead server) goes to the
    # other server; one already sent is not repeated unless it is idempotent (nginx never
    # repeats POST/PATCH by default), so a bid is never placed twice by the proxy.
    proxy_next_upstream error timeout http_502 http_503;
    proxy_connect_timeout 2s;
    location / {{
      proxy_pass http://flexmarket;
    }}
    # Server-Sent Events: passed on as they come, and kept open.
    location /api/v1/events {{
      proxy_pass http://flexmarket;
      proxy_buffering off;
      proxy_cache off;
      proxy_read_timeout 1h;
    }}
  }}
}}
"""


class Nginx(Process):
    """nginx as the load balancer of `backends` (ports), run unprivileged-style in `<work>/nginx`."""

    def __init__(self, work, backends, access_log=False):
        self.work = work
        self.port = free_port()
        d = os.path.join(work, "nginx")
        os.makedirs(d, exist_ok=True)
        os.chmod(d, 0o755)
        servers = "\n".join(f"    server 127.0.0.1:{p} max_fails=1 fail_timeout=2s;" for p in backends)
        conf = NGINX_CONF.format(work=work, port=self.port, servers=servers,
                                 access_log=f"{d}/access.log" if access_log else "off")
        self.conf = os.path.join(d, "nginx.conf")
        with open(self.conf, "w") as f:
            f.write(conf)
        if not os.path.exists(NGINX):
            raise SystemExit(f"{NGINX} is missing: run scripts/setup (package nginx-light)")
        super().__init__("nginx", [NGINX, "-p", d, "-c", self.conf, "-e", f"{d}/error.log", "-g", "daemon off;"],
                         os.path.join(d, "stdout.log"))

    def children(self):
        """The pids of nginx's master and its workers."""
        pids = [self.pid]
        try:
            for line in open(f"/proc/{self.pid}/task/{self.pid}/children").read().split():
                pids.append(int(line))
        except OSError:
            pass
        return pids


def make_work_dir(prefix):
    work = tempfile.mkdtemp(prefix=prefix)
    os.chmod(work, 0o755)  # the postgres user and nginx's workers reach their directories inside
    return work


def remove_work_dir(work):
    shutil.rmtree(work, ignore_errors=True)


class HttpClient:
    """One keep-alive connection; reconnects after errors. `request` raises
    ConnectionError when the request may not have been answered."""

    def __init__(self, port, timeout=30):
        self.port, self.timeout = port, timeout
        self.conn = None

    def request(self, method, path, body=None, token=None, headers=None):
        h = dict(headers or {})
        if token:
            h["Authorization"] = "Bearer " + token
        data = None
        if body is not None:
            data = json.dumps(body)
            h["Content-Type"] = "application/json"
        if self.conn is None:
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
        try:
            self.conn.request(method, path, data, h)
            r = self.conn.getresponse()
            raw = r.read()
        except (OSError, http.client.HTTPException) as e:
            self.close()
            raise ConnectionError(f"{method} {path}: {e!r}") from e
        if (r.getheader("Connection") or "").lower() == "close":
            self.close()
        try:
            parsed = json.loads(raw) if raw else None
        except ValueError:
            parsed = raw.decode(errors="replace")
        return r.status, parsed

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def rss_kb(pid):
    """VmRSS of a process in kB, or None when it is gone."""
    try:
        for line in open(f"/proc/{pid}/status"):
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None
