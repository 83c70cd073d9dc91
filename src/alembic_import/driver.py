# mergepoint import-alembic driver.
#
# Embedded in the mergepoint binary and run with the user's Python. It loads
# an Alembic project with Alembic's own ScriptDirectory and, for every
# revision, calls the module's upgrade() and downgrade() under an offline
# (as_sql) migration context, exactly like `alembic upgrade --sql` does, but
# capturing only that function's SQL: no version-table statements, no
# BEGIN/COMMIT. It prints one JSON document on stdout:
#
# The project's env.py is run once offline first, with context.configure()
# captured, so the rendering uses its target_metadata (the naming_convention
# that names unnamed constraints and indexes).
#
#   {"driver": 1, "alembic_version": "...", "sqlalchemy_version": "...",
#    "env_note": null or why env.py could not be run,
#    "revisions": {id: {"path", "down_revision", "depends_on",
#                       "branch_labels", "doc", "created",
#                       "upgrade_sql", "downgrade_sql",
#                       "upgrade_error", "downgrade_error",
#                       "autocommit_block", "transaction_control"}}}
#
# or, when the project cannot be loaded at all:
#
#   {"driver": 1, "fatal": {"kind": "...", "message": "..."}}
#
# Usage: python driver.py --dialect postgresql ([--ini FILE] [--toml FILE] --script-dir DIR
#        --version-location DIR...)
# The working directory should be the Alembic project root (where `alembic`
# is normally run), so that relative paths resolve as they do for Alembic.

import contextlib
import io
import json
import os
import re
import sys
import traceback

DRIVER_VERSION = 1

# The JSON goes to the real stdout; anything the project prints while it is
# loaded or run goes to stderr instead, so it cannot corrupt the document.
REAL_STDOUT = sys.stdout
sys.stdout = sys.stderr


def emit(doc):
    REAL_STDOUT.write(json.dumps(doc, sort_keys=True))
    REAL_STDOUT.write("\n")
    REAL_STDOUT.flush()


def fatal(kind, message):
    emit({"driver": DRIVER_VERSION, "fatal": {"kind": kind, "message": message}})
    sys.exit(0)


def as_list(value):
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    return [str(v) for v in value]


def parse_args(argv):
    opts = {"ini": None, "toml": None, "script_dir": None, "version_locations": [], "dialect": "postgresql"}
    i = 0
    while i < len(argv):
        a = argv[i]
        if a == "--ini":
            opts["ini"] = argv[i + 1]
        elif a == "--toml":
            opts["toml"] = argv[i + 1]
        elif a == "--script-dir":
            opts["script_dir"] = argv[i + 1]
        elif a == "--version-location":
            opts["version_locations"].append(argv[i + 1])
        elif a == "--dialect":
            opts["dialect"] = argv[i + 1]
        else:
            fatal("usage", "unknown driver argument %r" % a)
        i += 2
    return opts


CREATE_DATE = re.compile(r"^Create Date:\s*(.+?)\s*$", re.M)


def created_of(module):
    """The docstring's `Create Date:` as ISO 8601 (naive dates taken as
    UTC), or None."""
    import datetime

    doc = getattr(module, "__doc__", None) or ""
    m = CREATE_DATE.search(doc)
    if not m:
        return None
    try:
        d = datetime.datetime.fromisoformat(m.group(1))
    except ValueError:
        return None
    if d.tzinfo is None:
        d = d.replace(tzinfo=datetime.timezone.utc)
    d = d.astimezone(datetime.timezone.utc).replace(microsecond=0)
    return d.strftime("%Y-%m-%dT%H:%M:%SZ")


def describe_error(exc, path):
    """`Type: message (line N of the revision file)`."""
    text = "%s: %s" % (type(exc).__name__, exc)
    text = " ".join(text.split())
    line = None
    real = os.path.realpath(path) if path else None
    for frame in traceback.extract_tb(exc.__traceback__):
        if real and os.path.realpath(frame.filename) == real:
            line = frame.lineno
    if line is not None:
        text += " (line %d)" % line
    return text


TRANSACTION_CONTROL = re.compile(
    r"^\s*(BEGIN|COMMIT|END|ROLLBACK|START\s+TRANSACTION|ABORT)\b\s*(WORK|TRANSACTION)?\s*;?\s*$",
    re.I,
)


def capture_env(config, script_dir):
    """Runs the project's env.py once offline with context.configure()
    captured (the prelude's run_env_offline, as the online worker does).
    Returns (kwargs, note): note is None when it ran, else why it could not
    (then Alembic's defaults are assumed)."""
    captured, failure = run_env_offline(config, script_dir)
    if failure is None:
        return captured, None
    return {}, "env.py could not be run in offline mode: %s; its target_metadata (naming_convention) is not used" % failure


# What the offline rendering takes from env.py's context.configure().
RENDER_OPTIONS = ("target_metadata",)


def run_function(alembic, script_dir, config, script, name, dialect, env_opts):
    """Runs `name` ('upgrade'/'downgrade') of the revision's module offline.
    Returns (sql, error, used_autocommit_block)."""
    from alembic.operations import Operations
    from alembic.runtime.environment import EnvironmentContext

    fn = getattr(script.module, name, None)
    if fn is None:
        return None, "the module has no %s() function" % name, False
    buf = io.StringIO()
    used = {"autocommit": False}
    env = EnvironmentContext(config, script_dir, as_sql=True)
    with env:
        env.configure(
            dialect_name=dialect,
            output_buffer=buf,
            literal_binds=True,
            transactional_ddl=True,
            dialect_opts={"paramstyle": "named"},
            **env_opts
        )
        ctx = env.get_context()

        @contextlib.contextmanager
        def autocommit_block():
            # Offline, Alembic writes COMMIT; ... BEGIN; around the block.
            # mergepoint runs the whole revision outside a transaction
            # instead (transactional: false), so record and emit nothing.
            used["autocommit"] = True
            yield

        ctx.autocommit_block = autocommit_block
        try:
            with Operations.context(ctx):
                fn()
        except Exception as exc:  # noqa: BLE001 - reported to the user
            return None, describe_error(exc, script.path), used["autocommit"]
        except SystemExit as exc:
            return None, "SystemExit: %s" % exc, used["autocommit"]
    return buf.getvalue(), None, used["autocommit"]


def tidy(sql):
    """Alembic separates statements with blank lines; keep that, without
    trailing blank lines."""
    if sql is None:
        return None
    lines = [l.rstrip() for l in sql.replace("\r\n", "\n").split("\n")]
    text = "\n".join(lines).strip("\n")
    return text + "\n" if text else ""


def has_transaction_control(sql):
    if not sql:
        return False
    return any(TRANSACTION_CONTROL.match(s) for s in sql.split(";\n") if s.strip())


def main():
    opts = parse_args(sys.argv[1:])
    try:
        import alembic
        import sqlalchemy
    except ImportError as exc:
        fatal("no_alembic", "%s (Python %s at %s)" % (exc, sys.version.split()[0], sys.executable))

    try:
        config, script_dir = load_project(opts["ini"], opts["toml"], opts["script_dir"], opts["version_locations"])
        scripts = list(script_dir.walk_revisions("base", "heads"))
    except Exception as exc:  # noqa: BLE001
        tb = traceback.format_exc(limit=-3)
        fatal("load", "Alembic could not load the project: %s: %s\n%s" % (type(exc).__name__, exc, tb))

    captured, env_note = capture_env(config, script_dir)
    env_opts = {k: captured[k] for k in RENDER_OPTIONS if captured.get(k) is not None}

    revisions = {}
    for sc in scripts:
        module = sc.module
        entry = {
            "path": sc.path,
            "down_revision": as_list(getattr(module, "down_revision", None)),
            "depends_on": as_list(getattr(module, "depends_on", None)),
            "branch_labels": as_list(getattr(module, "branch_labels", None)),
            "doc": sc.doc,
            "created": created_of(module),
        }
        autocommit = False
        control = False
        for name in ("upgrade", "downgrade"):
            sql, err, used = run_function(alembic, script_dir, config, sc, name, opts["dialect"], env_opts)
            sql = tidy(sql)
            entry[name + "_sql"] = sql
            entry[name + "_error"] = err
            autocommit = autocommit or used
            control = control or has_transaction_control(sql)
        entry["autocommit_block"] = autocommit
        entry["transaction_control"] = control
        revisions[sc.revision] = entry

    emit(
        {
            "driver": DRIVER_VERSION,
            "alembic_version": alembic.__version__,
            "sqlalchemy_version": sqlalchemy.__version__,
            "python": sys.version.split()[0],
            "env_note": env_note,
            "revisions": revisions,
        }
    )


if __name__ == "__main__":
    main()
