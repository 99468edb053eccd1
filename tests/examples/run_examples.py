#!/usr/bin/env python3
"""Runs every shell example of README.md and docs/*.md against a fresh demo.

The demo runs at 240x instead of 60x, to wait less. Each ```sh block (also one indented in a
list item) runs as written in its own bash (set -euo pipefail), in a directory where
`build/` is the build and `var/` the demo's, with `localhost:8080` pointed at the demo's
port. curl fails on any HTTP error (--fail-with-body). A comment line `# {...}` after a
command claims what it prints: some JSON line of the block's output must have the claim's
keys, with equal values except where the claim says `...` (ids and times that vary).
Blocks preceded by `<!-- example: skip (reason) -->` are not run.
"""
import argparse
import json
import os
import re
import subprocess
import sys
import time
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from demo_process import Demo  # noqa: E402

FENCE = re.compile(r"^(\s*)```(sh|bash|shell)\s*$")  # indented too (inside a list item)
SKIP = re.compile(r"<!--\s*example:\s*skip")
# Keys whose values differ from run to run; their presence is still checked.
VARYING = {"id", "parent_id", "sensor_id", "account_id", "created_at", "updated_at", "cleared_at", "password", "ts"}
PRELUDE = """set -euo pipefail
curl() { command curl --fail-with-body -w '\\n' "$@"; }
"""


def blocks(path):
    lines = open(path, encoding="utf-8").read().split("\n")
    out, i, skip_next = [], 0, False
    while i < len(lines):
        if SKIP.search(lines[i]):
            skip_next = True
        m = FENCE.match(lines[i])
        if m:
            start = i + 1
            j = start
            while j < len(lines) and not lines[j].lstrip().startswith("```"):
                j += 1
            indent = len(m.group(1))
            if not skip_next:
                out.append((start, "\n".join(line[indent:] if line[:indent].isspace() else line for line in lines[start:j])))
            skip_next = False
            i = j
        elif lines[i].lstrip().startswith("```"):  # another language: skip to its end
            i += 1
            while i < len(lines) and not lines[i].lstrip().startswith("```"):
                i += 1
            skip_next = False
        i += 1
    return out


def claim_of(comment):
    """The JSON a `# {...}` comment claims, with `...` as a wildcard; None if not JSON."""
    text = comment.lstrip("#").strip()
    if not text.startswith("{"):
        return None
    text = re.sub(r",\s*\.\.\.(?=\s*[}\]])", "", text)
    text = re.sub(r"\[\s*\.\.\.\s*\]", '"..."', text)
    text = re.sub(r":\s*\.\.\.", ': "..."', text)
    try:
        value, _ = json.JSONDecoder().raw_decode(text)
    except json.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None


def matches(claim, actual):
    if not isinstance(actual, dict):
        return False
    for k, v in claim.items():
        if k not in actual:
            return False
        if v == "..." or k in VARYING or isinstance(v, (dict, list)) and "..." in json.dumps(v):
            continue
        if isinstance(v, dict):
            if not matches(v, actual[k]):
                return False
        elif v != actual[k]:
            return False
    return True


def json_lines(text):
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("{"):
            try:
                yield json.loads(line)
            except json.JSONDecodeError:
                pass


def demo_env(work):
    env = {}
    for line in open(os.path.join(work, "var", "demo.env")):
        m = re.match(r"export (\w+)=(\S+)", line)
        if m:
            env[m.group(1)] = m.group(2)
    return env


def settled_statements(port, token):
    url = (f"http://127.0.0.1:{port}/api/v1/settlements?start=2000-01-01T00:00:00Z&end=2199-01-01T00:00:00Z"
           "&per_page=1")
    req = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    body = json.load(urllib.request.urlopen(req, timeout=10))
    return body["total"] if "total" in body else len(body["items"])


def keeps_settling(work, port, seconds=180):
    """The grid supplier trades in every slot of the demo market, and a slot settles only
    once every participant's meter has reported it: its statements must keep coming."""
    token = demo_env(work)["GRID"]
    before = settled_statements(port, token)
    deadline = time.time() + seconds
    while time.time() < deadline:
        time.sleep(5)
        if settled_statements(port, token) > before:
            return True
    return False


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", required=True)
    ap.add_argument("--source", required=True)
    ap.add_argument("--verbose", action="store_true", help="print every block's output")
    args = ap.parse_args()
    # At 240x rather than the demo's 60x: the market example waits for its slot to clear and
    # settle, a quarter as long. The examples themselves do not depend on the speed.
    demo = Demo(args.binary, "flexmarket-examples-", speed=240)
    work, port = demo.work, demo.port
    failures = 0
    try:
        files = [os.path.join(args.source, "README.md")]
        docs = os.path.join(args.source, "docs")
        files += sorted(os.path.join(docs, f) for f in os.listdir(docs) if f.endswith(".md"))
        ran = 0
        for path in files:
            rel = os.path.relpath(path, args.source)
            for line, code in blocks(path):
                script = PRELUDE + code.replace("localhost:8080", f"localhost:{port}")
                r = subprocess.run(["bash", "-c", script], cwd=work, capture_output=True, text=True, timeout=300)
                ran += 1
                problems = []
                if r.returncode != 0:
                    problems.append(f"exit status {r.returncode}")
                outputs = list(json_lines(r.stdout))
                for n, src in enumerate(code.split("\n")):
                    if src.lstrip().startswith("# {"):
                        claim = claim_of(src)
                        if claim is not None and not any(matches(claim, o) for o in outputs):
                            problems.append(f"line {line + n}: no output matches the claim {src.strip()}")
                if problems:
                    failures += 1
                    print(f"FAIL {rel}:{line}")
                    for p in problems:
                        print("  " + p)
                    print("  --- stdout\n" + r.stdout[-3000:] + "\n  --- stderr\n" + r.stderr[-3000:])
                else:
                    print(f"ok   {rel}:{line}")
                    if args.verbose:
                        print(r.stdout + r.stderr)
        print(f"{ran} example blocks, {failures} failed")
        # What the examples did must not stall the demo: its market keeps settling.
        if not keeps_settling(work, port):
            failures += 1
            print("FAIL the demo market stopped settling after the examples")
        else:
            print("ok   the demo market keeps settling after the examples")
    finally:
        demo.stop(keep=failures > 0)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
