"""Real Alembic, driven in-process: the oracle of the differential harness.

Everything here calls Alembic's public-ish Python API the way its `command`
module does, but keeps one ScriptDirectory per project (loading the revision
files once) and captures offline SQL in a buffer instead of spawning
`alembic`.  Run under PYTHONHASHSEED=0: Alembic orders a revision's
normalised dependencies through a Python set of strings.
"""

from __future__ import annotations

import io
import re
import traceback
import warnings
from pathlib import Path

from alembic import command  # noqa: F401  (imported for its side effects / parity)
from alembic.config import Config
from alembic.runtime.environment import EnvironmentContext
from alembic.script import ScriptDirectory

RUNNING = re.compile(r"^-- Running (.*)$", re.M)


def load(root: Path) -> tuple[Config, ScriptDirectory]:
    """The project at `root` as the `alembic` command (or `flask db`) reads it:
    alembic.ini and pyproject.toml's [tool.alembic]; for a Flask application root
    (only migrations/alembic.ini), Flask-Migrate's config: that ini with
    script_location set to migrations/."""
    root = Path(root)
    flask_ini = root / "migrations" / "alembic.ini"
    if not (root / "alembic.ini").exists() and flask_ini.exists():
        cfg = Config(str(flask_ini), stdout=io.StringIO())
        cfg.set_main_option("script_location", str(root / "migrations"))
    else:
        toml = root / "pyproject.toml"
        kw = {"toml_file": str(toml)} if toml.exists() else {}
        cfg = Config(str(root / "alembic.ini"), stdout=io.StringIO(), **kw)
    script = ScriptDirectory.from_config(cfg)
    script.revision_map._revision_map  # force loading now, so errors surface here
    return cfg, script


def rev_obj(script: ScriptDirectory, rev) -> dict:
    """The fields `mergepoint heads/history --json` reports, Alembic's view."""
    return {
        "revision": rev.revision,
        "parents": list(rev._versioned_down_revisions),
        "branch_labels": sorted(rev.branch_labels),         # propagated, as `alembic heads` shows
        "declared_branch_labels": sorted(rev._orig_branch_labels),
        "depends_on": list(rev.dependencies or ()) if isinstance(rev.dependencies, tuple)
        else ([rev.dependencies] if rev.dependencies else []),
        "message": rev.doc,
        "is_head": rev.is_head,
        "is_branchpoint": rev.is_branch_point,
        "is_mergepoint": rev.is_merge_point,
        "children": sorted(rev.nextrev),
    }


def graph_answers(script: ScriptDirectory) -> dict:
    heads = [rev_obj(script, r) for r in script.get_revisions(script.get_heads())]
    history = [rev_obj(script, r) for r in script.walk_revisions()]
    branches = [h for h in history if h["is_branchpoint"]]
    return {"heads": heads, "history": history, "branches": branches}


def _run_offline(cfg: Config, script: ScriptDirectory, upgrade: bool, spec: str) -> dict:
    """`alembic upgrade|downgrade SPEC --sql`, mirroring alembic.command."""
    buf = io.StringIO()
    res: dict = {"ok": False, "steps": [], "error": None, "warnings": [], "sql": ""}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            starting_rev = None
            revision = spec
            if ":" in spec:
                starting_rev, revision = spec.split(":", 2)
            elif not upgrade:
                raise _Reject("downgrade with --sql requires <fromrev>:<torev>")

            def fn(rev, context):
                if upgrade:
                    steps = script._upgrade_revs(revision, rev)
                else:
                    steps = script._downgrade_revs(revision, rev)
                # the complete plan, before any step runs
                res["plan"] = [s.short_log for s in steps]
                return steps

            with EnvironmentContext(
                cfg, script, fn=fn, as_sql=True,
                starting_rev=starting_rev, destination_rev=revision,
            ) as env:
                env.configure(url="postgresql://", literal_binds=True, output_buffer=buf)
                with env.begin_transaction():
                    env.run_migrations()
            res["ok"] = True
        except Exception as e:  # any refusal, including Alembic's own crashes
            res["error"] = "%s: %s" % (type(e).__name__, e)
            res["error_type"] = type(e).__name__
            res["frames"] = [f.name for f in traceback.extract_tb(e.__traceback__)]
            if upgrade and isinstance(e, AssertionError) and "_collect_upgrade_revisions" in res["frames"]:
                # `is_revision()` refused what the relative walk produced: None
                # (walked off the graph) or the string "base" (walked down to base)
                try:
                    cur = script.get_revision(starting_rev).revision if starting_rev not in (None, "", "base") else ()
                    tgt = script.revision_map._parse_upgrade_target(cur, revision, True)
                    res["walk_result"] = ["base" if t == "base" else (t.revision if t is not None else None) for t in tgt]
                except Exception:
                    pass
    res["warnings"] = [str(w.message) for w in caught]
    out = buf.getvalue()
    res["sql"] = out
    res["steps"] = RUNNING.findall(out) if res["ok"] else []
    return res


class _Reject(Exception):
    pass


def upgrade_sql(cfg, script, spec: str) -> dict:
    return _run_offline(cfg, script, True, spec)


def downgrade_sql(cfg, script, spec: str) -> dict:
    return _run_offline(cfg, script, False, spec)


def history_range(script: ScriptDirectory, spec: str) -> dict:
    """`alembic history -r SPEC` order (no database, so no `current`)."""
    try:
        if ":" not in spec:
            raise _Reject("History range requires [start]:[end], [start]:, or :[end]")
        base, head = spec.strip().split(":")
        ids = [r.revision for r in script.walk_revisions(base=base or "base", head=head or "heads")]
        return {"ok": True, "ids": ids, "error": None}
    except Exception as e:
        return {"ok": False, "ids": [], "error": "%s: %s" % (type(e).__name__, e)}


def current_heads(url: str) -> list[str]:
    """`alembic current` against a live database (no script needed)."""
    from alembic.runtime.migration import MigrationContext
    from sqlalchemy import create_engine, pool

    eng = create_engine(url, poolclass=pool.NullPool)
    try:
        with eng.connect() as conn:
            return sorted(MigrationContext.configure(conn).get_current_heads())
    finally:
        eng.dispose()


def online_plan(script: ScriptDirectory, upgrade: bool, target: str, current: tuple) -> dict:
    """The steps `alembic upgrade|downgrade TARGET` would run on a database whose
    version table holds `current` (what command.upgrade/downgrade plan online)."""
    res: dict = {"ok": False, "steps": [], "error": None, "warnings": []}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            steps = (script._upgrade_revs if upgrade else script._downgrade_revs)(target, current)
            res["steps"] = [s.short_log for s in steps]
            res["ok"] = True
        except Exception as e:
            res["error"] = "%s: %s" % (type(e).__name__, e)
            res["error_type"] = type(e).__name__
    res["warnings"] = [str(w.message) for w in caught]
    return res


def command_text(cfg: Config, name: str, *args, **kwargs) -> str:
    """What `alembic NAME ...` prints (Alembic's own command, its stdout
    captured), or the error it raises as `error: ...`."""
    from alembic import command

    # A stream with an encoding: Alembic writes through it (without one it
    # falls back to ASCII and prints "?" for "é", as no terminal would).
    raw = io.BytesIO()
    cfg.stdout = io.TextIOWrapper(raw, encoding="utf-8", newline="")
    try:
        getattr(command, name)(cfg, *args, **kwargs)
    except Exception as e:  # a refusal is an answer too
        return "error: %s" % e
    cfg.stdout.flush()
    return raw.getvalue().decode("utf-8")
