#!/usr/bin/env python3
"""Harness self-test: a stand-in `mergepoint` answered by Alembic itself.

    MERGEPOINT_REAL_BIN=target/debug/mergepoint \
      differential.py --bin tests/alembic/stand_in.py --db postgresql://postgres@127.0.0.1:5432/postgres

`upgrade/downgrade SPEC --sql`, `current --json` and `stamp TARGET` are
answered by Alembic (through oracle.py); every other command is handed to the
real binary in MERGEPOINT_REAL_BIN (or fails if unset).  With it the harness
must report no plan or database mismatch: this proves the comparison code
has no false alarms before mergepoint's own commands land.  Not a test of
mergepoint.
"""

import io
import json
import os
import sys
import warnings
from contextlib import redirect_stdout
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))


def main(argv):
    args = list(argv)
    root = "."
    if args[:1] == ["--dir"]:
        root, args = args[1], args[2:]
    cmd = args[0] if args else ""
    if cmd in ("upgrade", "downgrade") and "--sql" in args:
        import oracle
        spec = [a for a in args[1:] if a != "--sql"][0]
        cfg, script = oracle.load(Path(root))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = (oracle.upgrade_sql if cmd == "upgrade" else oracle.downgrade_sql)(cfg, script, spec)
        if not res["ok"]:
            print("error: %s" % res["error"], file=sys.stderr)
            return 2
        sys.stdout.write(res["sql"])
        return 0
    if cmd in ("current", "stamp"):
        import oracle
        from alembic import command
        url = os.environ["DATABASE_URL"].replace("postgresql://", "postgresql+psycopg://", 1)
        if cmd == "current":
            print(json.dumps([{"revision": r} for r in oracle.current_heads(url)]))
            return 0
        cfg, _ = oracle.load(Path(root))
        cfg.set_main_option("sqlalchemy.url", url)
        with redirect_stdout(io.StringIO()):
            command.stamp(cfg, args[1])
        return 0
    real = os.environ.get("MERGEPOINT_REAL_BIN")
    if not real:
        print("error: stand-in: no MERGEPOINT_REAL_BIN for %r" % cmd, file=sys.stderr)
        return 2
    os.execv(real, [real, "--dir", root] + args)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
