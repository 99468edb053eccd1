"""A flexmarket demo on a free port in a temporary directory, for the tests that drive the
platform from outside (the README's examples, the browser tests, the UI benchmark)."""
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Demo:
    """`build/flexmarket demo` in a fresh directory (with a `build` link to the binary's
    folder, as the README's examples expect); its standard output, with each demo user's
    password, is in `out_path`."""

    def __init__(self, binary, prefix, speed=None):
        self.work = tempfile.mkdtemp(prefix=prefix)
        os.symlink(os.path.dirname(os.path.abspath(binary)), os.path.join(self.work, "build"))
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.out_path = os.path.join(self.work, "demo.out")
        args = ["build/flexmarket", "demo", "--port", str(self.port)]
        if speed:
            args += ["--speed", str(speed)]
        with open(self.out_path, "w") as out:
            self.proc = subprocess.Popen(args, cwd=self.work, stdout=out, stderr=subprocess.STDOUT)
        for _ in range(600):
            try:
                urllib.request.urlopen(self.url + "/api/v1/health", timeout=2)
                return
            except OSError:
                if self.proc.poll() is not None:
                    print(open(self.out_path).read())
                    sys.exit("the demo stopped before serving")
                time.sleep(0.5)
        self.stop(keep=True)
        sys.exit("the demo did not serve within 5 minutes")

    def stop(self, keep=False):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        if keep:
            print(f"kept {self.work} (demo output in demo.out, log in var/demo.log)")
        else:
            shutil.rmtree(self.work, ignore_errors=True)
