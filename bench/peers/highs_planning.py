#!/usr/bin/env python3
"""The peer of build/planning_bench: reads the storage program that planning_bench wrote
(write_storage_program in src/planning/fast_storage.hpp: minimise c'x, A x = b,
lb <= x <= ub) and solves it with HiGHS through scipy.optimize.linprog(method="highs").
Prints one line of JSON: the solve's wall time in ms (linprog alone: not Python's start,
not reading the file), the objective, HiGHS's status and message."""
import json
import sys
import time

import numpy as np
import scipy.optimize
import scipy.sparse


def read_program(path):
    with open(path, "rb") as f:
        if f.read(8) != b"FMLP0001":
            raise SystemExit(f"{path}: not a storage program")
        variables, rows, nonzeros = np.fromfile(f, dtype="<i8", count=3)
        c = np.fromfile(f, dtype="<f8", count=variables)
        lb = np.fromfile(f, dtype="<f8", count=variables)
        ub = np.fromfile(f, dtype="<f8", count=variables)
        b = np.fromfile(f, dtype="<f8", count=rows)
        r = np.fromfile(f, dtype="<i4", count=nonzeros)
        k = np.fromfile(f, dtype="<i4", count=nonzeros)
        v = np.fromfile(f, dtype="<f8", count=nonzeros)
    a = scipy.sparse.csc_matrix((v, (r, k)), shape=(rows, variables))
    return c, a, b, lb, ub


def main():
    if len(sys.argv) != 2:
        raise SystemExit("usage: highs_planning.py PROGRAM_FILE")
    c, a, b, lb, ub = read_program(sys.argv[1])
    t0 = time.perf_counter()
    res = scipy.optimize.linprog(c, A_eq=a, b_eq=b, bounds=np.column_stack([lb, ub]), method="highs")
    ms = (time.perf_counter() - t0) * 1000.0
    print(json.dumps({"ms": ms, "objective": float(res.fun) if res.fun is not None else None,
                      "status": int(res.status), "message": str(res.message)}))
    return 0 if res.status == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
