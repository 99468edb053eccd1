#!/usr/bin/env python3
"""The web interface's browser tests (web/e2e/browser.test.mjs: playwright-core driving
Debian's chromium) against a fresh demo served by the binary under test, with the web
interface embedded in it. Screenshots of each page go to --out.

usage: run_browser_tests.py --binary build/flexmarket --source . --out build/test-output/browser
       run_browser_tests.py ... --bench --script e2e/ui_bench.mjs --runs 5   (bench/ui_bench)
"""
import argparse
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from demo_process import Demo  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", required=True)
    ap.add_argument("--source", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--script", default="e2e/browser.test.mjs")
    ap.add_argument("--bench", action="store_true", help="run the script as a benchmark (node SCRIPT RUNS)")
    ap.add_argument("--runs", default="5")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    demo = Demo(args.binary, "flexmarket-browser-")
    ok = False
    try:
        env = dict(os.environ, FM_URL=demo.url, FM_DEMO_OUT=demo.out_path, FM_E2E_OUT=os.path.abspath(args.out))
        cmd = ["node", args.script, args.runs] if args.bench else ["node", "--test", "--test-concurrency=1", args.script]
        r = subprocess.run(cmd,
                           cwd=os.path.join(args.source, "web"), env=env, timeout=900)
        ok = r.returncode == 0
    finally:
        demo.stop(keep=not ok)
    if not args.bench:
        print(f"screenshots: {os.path.abspath(args.out)}")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
