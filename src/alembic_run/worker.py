# mergepoint's Alembic worker.
#
# Embedded in the mergepoint binary and started once per `mergepoint
# upgrade/downgrade` run on an Alembic project, with the project's Python.
# mergepoint keeps the plan, the migration lock (on its own session), the
# version-table rows and the audit; this worker owns the connection the
# revisions run on, so that each step's operations and the bookkeeping
# statements mergepoint hands it commit (or roll back) in one transaction.
#
# Start-up:
#   1. loads the project with Alembic's own ScriptDirectory;
#   2. runs the project's env.py once in offline mode with
#      context.configure() captured and run_migrations() a no-op (no
#      connection is opened by it), to learn target_metadata (its
#      naming_convention above all), version_table, ... ;
#   3. connects with whichever driver is installed (psycopg, psycopg2, or
#      asyncpg through an async engine's run_sync, as the async template's
#      env.py does), the URL taken from the environment
#      (MP_WORKER_DATABASE_URL), never from the command line;
#   4. configures an online EnvironmentContext / MigrationContext on that
#      connection with the captured options, and says hello.
#
# Then one JSON request per line on stdin, one JSON answer per line on
# stdout (anything the project prints goes to stderr):
#   {"op": "begin"}                                  open the step transaction
#   {"op": "sql", "statements": [...], "intact": b}  mergepoint's own SQL
#   {"op": "step", "revision": r, "direction": d}    upgrade() / downgrade()
#   {"op": "intact"}                                 is our transaction still open
#   {"op": "in_block"}                               is any transaction open
#   {"op": "commit", "statements": [...], "intact": b, "begin": b}
#   {"op": "rollback"}
#   {"op": "exit"}
# Answers: {"ok": true, ...} or {"ok": false, "kind": "sql" | "python" |
# "ended" | "lost", "error": "...", "lock_timeout": bool}.
#
# Usage: python worker.py ([--ini FILE] [--toml FILE] --script-dir DIR --version-location DIR...)

import contextlib
import json
import os
import sys
import traceback

WORKER_VERSION = 1

# The protocol has the process's stdin and stdout to itself: they are moved
# to private descriptors, and fd 0 / fd 1 become /dev/null and stderr, so
# that neither a print() nor a C extension writing to fd 1 can corrupt an
# answer, and an input() in a revision cannot eat a request.
REAL_STDOUT = os.fdopen(os.dup(1), "w", encoding="utf-8")
REQUESTS = os.fdopen(os.dup(0), "r", encoding="utf-8")
os.dup2(2, 1)
_null = os.open(os.devnull, os.O_RDONLY)
os.dup2(_null, 0)
os.close(_null)
sys.stdout = sys.stderr


def emit(doc):
    REAL_STDOUT.write(json.dumps(doc, sort_keys=True))
    REAL_STDOUT.write("\n")
    REAL_STDOUT.flush()


def fatal(kind, message):
    emit({"worker": WORKER_VERSION, "ok": False, "kind": kind, "error": message})
    sys.exit(0)


def parse_args(argv):
    opts = {"ini": None, "toml": None, "script_dir": None, "version_locations": []}
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
        else:
            fatal("usage", "unknown worker argument %r" % a)
        i += 2
    return opts


# Options of context.configure() that only matter to autogenerate or to
# offline (--sql) runs, or that mergepoint decides itself: not passed to the
# online context.
NOT_ONLINE = {
    "url",
    "dialect_name",
    "dialect_opts",
    "connection",
    "as_sql",
    "literal_binds",
    "output_buffer",
    "output_encoding",
    "starting_rev",
    "tag",
    "template_args",
    "process_revision_directives",
    "compare_type",
    "compare_server_default",
    "include_name",
    "include_object",
    "include_symbol",
    "render_item",
    "render_as_batch",
    "user_module_prefix",
    "sqlalchemy_module_prefix",
    "alembic_module_prefix",
    "upgrade_token",
    "downgrade_token",
    "on_version_apply",
    "transaction_per_migration",
}


def capture_env(config, script_dir):
    """Runs env.py offline with configure() captured (the prelude's
    run_env_offline). Returns (kwargs, note): note is None when it ran, else
    why it could not and what is assumed."""
    captured, failure = run_env_offline(config, script_dir)
    if failure is None:
        return captured, None
    return captured, "env.py could not be run in offline mode: %s; its context.configure() options are not used (no target_metadata, so no naming_convention), Alembic's defaults are assumed" % failure


def connect(url):
    """(connection, driver name, closer). Tries psycopg, psycopg2, then
    asyncpg (through an async engine; the caller runs the loop inside
    run_sync)."""
    import sqlalchemy

    try:
        import psycopg  # noqa: F401

        # No server-side prepared statements (psycopg prepares a query run 5
        # times): behind PgBouncer in transaction pooling they would land on
        # another client's server connection.
        engine = sqlalchemy.create_engine(
            "postgresql+psycopg://",
            creator=lambda: psycopg.connect(url, prepare_threshold=None),
            poolclass=sqlalchemy.pool.NullPool,
        )
        return engine, "psycopg", False
    except ImportError:
        pass
    try:
        import psycopg2  # noqa: F401

        engine = sqlalchemy.create_engine(
            "postgresql+psycopg2://", creator=lambda: psycopg2.connect(url), poolclass=sqlalchemy.pool.NullPool
        )
        return engine, "psycopg2", False
    except ImportError:
        pass
    try:
        import asyncpg  # noqa: F401
        from sqlalchemy.ext.asyncio import create_async_engine
    except ImportError:
        fatal(
            "no_driver",
            "no PostgreSQL driver for SQLAlchemy in Python %s at %s: install psycopg, psycopg2 or asyncpg"
            % (sys.version.split()[0], sys.executable),
        )
    if url and "://" not in url:
        fatal(
            "usage",
            "asyncpg takes only postgresql:// URLs, not key=value connection strings; give mergepoint a URL",
        )

    async def creator():
        return await asyncpg.connect(url or None)

    engine = create_async_engine("postgresql+asyncpg://", async_creator=creator, poolclass=sqlalchemy.pool.NullPool)
    return engine, "asyncpg", True


def db_error(exc):
    """An answer for a database error raised by SQLAlchemy or the driver."""
    orig = getattr(exc, "orig", None) or exc
    state = None
    for e in (orig, getattr(orig, "__cause__", None), exc):
        if e is None:
            continue
        state = getattr(e, "sqlstate", None) or getattr(e, "pgcode", None)
        if state:
            break
    text = str(orig).strip()
    first = text.splitlines()[0] if text else type(orig).__name__
    return {
        "ok": False,
        "kind": "lost" if getattr(exc, "connection_invalidated", False) else "sql",
        "error": first,
        "lock_timeout": state == "55P03",
    }


LIBRARY_DIRS = ("site-packages", "dist-packages")


def python_error(exc, path, name):
    """`upgrade() raised Type: message at versions/x.py:N`, then the last
    frames of the traceback that end in the project's own code (the
    revision, or a module of the project it calls); the worker's own frames
    are left out."""
    real = os.path.realpath(path) if path else None
    me = os.path.realpath(__file__)
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if os.path.realpath(f.filename) != me]
    line = None
    for f in frames:
        if real and os.path.realpath(f.filename) == real:
            line = f.lineno
    message = " ".join(str(exc).split()) or "(no message)"
    at = message.find(" (Background on this error at:")
    if at > 0:
        message = message[:at]
    head = "%s() raised %s: %s" % (name, type(exc).__name__, message)
    if line is not None:
        head += " at %s:%d" % (path, line)
    # Frames of Alembic's generated `op` proxies are named "<string>".
    own = [
        i
        for i, f in enumerate(frames)
        if not f.filename.startswith("<") and not any(d in f.filename for d in LIBRARY_DIRS)
    ]
    end = own[-1] + 1 if own else len(frames)
    last = frames[max(0, end - 3) : end]
    if not last:
        return head
    tail = "".join(traceback.format_list(last)).rstrip("\n")
    return head + "\n  Traceback (most recent call last, last %d frames):\n%s" % (len(last), tail)


class Worker:
    def __init__(self, conn, env, script_dir, driver):
        self.conn = conn
        # psycopg and psycopg2 take several statements in one call (no
        # parameters): mergepoint's bookkeeping is then one round trip.
        self.batches = driver in ("psycopg", "psycopg2")
        self.env = env
        self.ctx = env.get_context()
        self.script_dir = script_dir
        self.began = None  # the Transaction "begin" opened

    def transaction_open(self):
        t = self.ctx._transaction
        return t is not None and t.is_active and self.ctx.connection.in_transaction()

    def run_sql(self, statements):
        # no_parameters: the text goes to the driver as it is (no
        # %-formatting of a '%' in an audit row's error message).
        opts = {"no_parameters": True}
        if self.batches and statements:
            self.ctx.connection.exec_driver_sql(";\n".join(statements), execution_options=opts)
            return
        for s in statements:
            self.ctx.connection.exec_driver_sql(s, execution_options=opts)

    def handle(self, req):
        from sqlalchemy import exc as sa_exc

        first = req.pop("begin_first", None)
        if first is not None:
            # The step's BEGIN, sent with its first request.
            began = self.handle({"op": "begin", "statements": first})
            if not began.get("ok"):
                return began
        op = req.get("op")
        try:
            if op == "begin":
                if self.conn.in_transaction():
                    self.conn.rollback()
                self.ctx._transaction = self.began = self.conn.begin()
                self.run_sql(req.get("statements", []))
                return {"ok": True}
            if op == "intact":
                return {"ok": True, "intact": self.transaction_open()}
            if op == "in_block":
                return {"ok": True, "in_block": self.ctx.connection.in_transaction()}
            if op in ("sql", "commit"):
                if req.get("intact") and not self.transaction_open():
                    return {"ok": False, "kind": "ended", "error": "the step's transaction was ended", "lock_timeout": False}
                if op == "commit" and req.get("begin"):
                    self.ctx._transaction = self.began = self.conn.begin()
                self.run_sql(req.get("statements", []))
                if op == "commit":
                    t = self.ctx._transaction
                    if t is not None and t.is_active:
                        t.commit()
                    elif self.conn.in_transaction():
                        self.conn.commit()
                    self.ctx._transaction = self.began = None
                return {"ok": True}
            if op == "rollback":
                t = self.ctx._transaction
                self.ctx._transaction = self.began = None
                try:
                    if t is not None and t.is_active:
                        t.rollback()
                    if self.conn.in_transaction():
                        self.conn.rollback()
                except sa_exc.SQLAlchemyError:
                    pass
                return {"ok": True}
            if op == "step":
                return self.step(req["revision"], req["direction"], req.get("one_transaction", False))
            return {"ok": False, "kind": "usage", "error": "unknown request %r" % op, "lock_timeout": False}
        except sa_exc.DBAPIError as exc:
            return db_error(exc)
        except sa_exc.SQLAlchemyError as exc:
            return {"ok": False, "kind": "sql", "error": "%s: %s" % (type(exc).__name__, exc), "lock_timeout": False}

    def step(self, revision, direction, one_transaction):
        from alembic.operations import Operations
        from sqlalchemy import exc as sa_exc

        script = self.script_dir.get_revision(revision)
        if script is None:
            return {"ok": False, "kind": "python", "error": "Alembic does not know revision %s" % revision, "lock_timeout": False}
        fn = getattr(script.module, direction, None)
        if fn is None:
            return {
                "ok": False,
                "kind": "python",
                "error": "%s has no %s() function" % (script.path, direction),
                "lock_timeout": False,
            }
        ctx = self.ctx
        if one_transaction:
            # All or nothing was asked for: a block that commits half way
            # would break that promise.
            @contextlib.contextmanager
            def refuse_autocommit_block():
                raise RuntimeError(
                    "autocommit_block() commits the transaction it is in, so it cannot run inside the one transaction of --transaction-per-run; run without --transaction-per-run"
                )
                yield  # noqa: unreachable - makes this a generator

            ctx.autocommit_block = refuse_autocommit_block
        else:
            # A block commits what ran before it and runs in autocommit: a
            # failure after one cannot be called rolled back.
            blocks = []
            original = ctx.autocommit_block

            @contextlib.contextmanager
            def tracked_autocommit_block():
                blocks.append(True)
                with original():
                    yield

            ctx.autocommit_block = tracked_autocommit_block
        try:
            with Operations.context(ctx):
                fn()
        except sa_exc.DBAPIError as exc:
            answer = db_error(exc)
            answer["error"] = python_error(exc, script.path, direction)
            answer["committed_part"] = not one_transaction and bool(blocks)
            return answer
        except (Exception, SystemExit) as exc:  # noqa: BLE001 - reported
            return {"ok": False, "kind": "python", "error": python_error(exc, script.path, direction),
                    "lock_timeout": False, "committed_part": not one_transaction and bool(blocks)}
        finally:
            del ctx.autocommit_block
        return {"ok": True}


def serve(conn, env, script_dir, hello):
    worker = Worker(conn, env, script_dir, hello["driver"])
    emit(hello)
    for line in REQUESTS:
        line = line.strip()
        if not line:
            continue
        req = json.loads(line)
        if req.get("op") == "exit":
            worker.handle({"op": "rollback"})
            emit({"ok": True})
            return
        emit(worker.handle(req))


def main():
    opts = parse_args(sys.argv[1:])
    url = os.environ.pop("MP_WORKER_DATABASE_URL", None)
    if url is None:
        fatal("usage", "MP_WORKER_DATABASE_URL is not set")
    try:
        import alembic
        import sqlalchemy
        from alembic.runtime.environment import EnvironmentContext
    except ImportError as exc:
        fatal("no_alembic", "%s (Python %s at %s)" % (exc, sys.version.split()[0], sys.executable))

    try:
        config, script_dir = load_project(opts["ini"], opts["toml"], opts["script_dir"], opts["version_locations"])
        script_dir.revision_map.heads  # loads every revision module now
    except Exception as exc:  # noqa: BLE001
        tb = traceback.format_exc(limit=-3)
        fatal("load", "Alembic could not load the project: %s: %s\n%s" % (type(exc).__name__, exc, tb))

    captured, note = capture_env(config, script_dir)
    online = {k: v for k, v in captured.items() if k not in NOT_ONLINE}
    hello = {
        "worker": WORKER_VERSION,
        "ok": True,
        "alembic": alembic.__version__,
        "sqlalchemy": sqlalchemy.__version__,
        "python": sys.version.split()[0],
        "env_note": note,
        "honoured": sorted(online),
        "ignored": sorted(k for k in captured if k in NOT_ONLINE),
        "version_table": captured.get("version_table", "alembic_version"),
        "version_table_schema": captured.get("version_table_schema"),
        "has_metadata": captured.get("target_metadata") is not None,
    }

    engine, driver, is_async = connect(url)
    hello["driver"] = driver

    def run(sync_conn):
        env = EnvironmentContext(config, script_dir)
        with env:
            env.configure(connection=sync_conn, **online)
            serve(sync_conn, env, script_dir, hello)

    try:
        if is_async:
            import asyncio

            async def amain():
                async with engine.connect() as aconn:
                    await aconn.run_sync(run)
                await engine.dispose()

            asyncio.run(amain())
        else:
            with engine.connect() as conn:
                run(conn)
            engine.dispose()
    except sqlalchemy.exc.DBAPIError as exc:
        answer = db_error(exc)
        fatal("connect", answer["error"])


if __name__ == "__main__":
    main()
