#!/usr/bin/env python3
"""Harness self-test: a deliberately wrong `mergepoint`.

Wraps the real binary (MERGEPOINT_REAL_BIN, default target/debug/mergepoint)
and swaps the last two steps of every `plan --json` answer with three or more
steps, a plausible tie-break bug. The harness must flag it:

    MERGEPOINT_REAL_BIN=target/debug/mergepoint \\
      $(scripts/alembic-env) tests/alembic/differential.py --bin tests/alembic/mutant.py \\
      --seeds 30 --no-fixtures --plans 6      # expect: MISMATCH ...:order, exit 1
"""
import json
import os
import subprocess
import sys
from pathlib import Path

real = os.environ.get("MERGEPOINT_REAL_BIN",
                      str(Path(__file__).resolve().parents[2] / "target/debug/mergepoint"))
args = sys.argv[1:]
p = subprocess.run([real] + args, capture_output=True, text=True)
out = p.stdout
if "plan" in args and "--json" in args and p.returncode == 0:
    d = json.loads(out)
    steps = d.get("steps") or []
    if len(steps) >= 3:
        steps[-2], steps[-1] = steps[-1], steps[-2]
    out = json.dumps(d)
sys.stdout.write(out)
sys.stderr.write(p.stderr)
sys.exit(p.returncode)
