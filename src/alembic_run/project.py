# Shared by mergepoint's embedded Python scripts (the online worker, the
# import driver and the template renderer): each is written out with this
# prelude in front of it.
import contextlib as _contextlib
import os as _os
import sys as _sys
import traceback as _traceback


def load_project(ini, toml, script_dir, version_locations):
    """Alembic's (Config, ScriptDirectory) of the project, read as the
    alembic command reads it: alembic.ini, then pyproject.toml's
    [tool.alembic] (Alembic 1.16+); where neither sets script_location, the
    script directory mergepoint located (Flask-Migrate's migrations/, as
    `flask db` sets it). Without either file: the script directory and the
    version locations given."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    if ini or toml:
        config = Config(ini, **({"toml_file": toml} if toml else {}))
        get = getattr(config, "get_alembic_option", config.get_main_option)
        if get("script_location") is None:
            config.set_main_option("script_location", script_dir)
        return config, ScriptDirectory.from_config(config)
    config = Config()
    config.set_main_option("script_location", script_dir)
    _sys.path.insert(0, _os.getcwd())
    return config, ScriptDirectory(script_dir, version_locations=version_locations or None)


def run_env_offline(config, script_dir):
    """Runs the project's env.py once in offline mode with
    context.configure() captured and run_migrations() a no-op (no connection
    is opened by it). Returns (kwargs captured, failure): failure is None
    when it ran, else "Type: message (env.py line N)"."""
    from alembic.runtime.environment import EnvironmentContext

    captured = {}

    def configure(**kw):
        captured.update(kw)

    # Patched on the instance, not in a subclass: Alembic installs the
    # `alembic.context` module proxy from the instance's attributes, for
    # EnvironmentContext itself only.
    env = EnvironmentContext(config, script_dir, as_sql=True)
    env.configure = configure
    env.begin_transaction = lambda *a, **kw: _contextlib.nullcontext()
    env.run_migrations = lambda *a, **kw: None
    env.is_offline_mode = lambda: True
    try:
        with env:
            script_dir.run_env()
    except BaseException as exc:  # noqa: BLE001 - reported, then defaults
        if isinstance(exc, KeyboardInterrupt):
            raise
        where = ""
        for f in _traceback.extract_tb(exc.__traceback__):
            if _os.path.basename(f.filename) == "env.py":
                where = " (env.py line %d)" % f.lineno
        return captured, "%s: %s%s" % (type(exc).__name__, " ".join(str(exc).split()), where)
    return captured, None
