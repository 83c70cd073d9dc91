# mergepoint's renderer of an Alembic project's own script.py.mako
# (embedded in the mergepoint binary, written to a temporary file and run
# with the project's Python in the project root).
#
# Reads one JSON request on stdin, loads the project with Alembic's own
# ScriptDirectory, renders <script dir>/script.py.mako into `dest` with the
# arguments Alembic's ScriptDirectory.generate_revision passes, runs the
# project's post_write_hooks on the file as Alembic does, and prints one
# JSON reply on stdout: {"ok": true, "hooks": N}, {"no_template": PATH} or
# {"error": KIND, "message": TEXT}.
import datetime
import json
import os
import sys
import traceback


def reply(**kw):
    sys.stdout.write(json.dumps(kw) + "\n")
    sys.stdout.flush()


def main():
    req = json.load(sys.stdin)
    try:
        from alembic import util
        from alembic.script import write_hooks
        from alembic.script import revision as revmod
    except ImportError as exc:
        return reply(error="no_alembic", message="%s (Python %s at %s)" % (exc, sys.version.split()[0], sys.executable))
    try:
        config, script = load_project(req.get("ini"), req.get("toml"), req["script_dir"], req.get("version_locations"))
    except Exception as exc:  # noqa: BLE001
        return reply(error="load", message="Alembic could not load the project: %s: %s" % (type(exc).__name__, exc))
    template = os.path.join(script.dir, "script.py.mako")
    if not os.path.isfile(template):
        return reply(no_template=template)

    def scalar(items):
        return revmod.tuple_rev_as_scalar(tuple(items)) if items else None

    kw = dict(
        up_revision=req["id"],
        down_revision=scalar(req["parents"]),
        branch_labels=util.to_tuple(req["branch_labels"] or None),
        depends_on=scalar(req["depends_on"]),
        create_date=datetime.datetime.fromisoformat(req["created"]),
        comma=util.format_as_comma,
        message=req["message"],
        # What `alembic revision` adds (RevisionContext.template_args).
        config=config,
    )
    if req.get("upgrades"):
        kw["upgrades"] = req["upgrades"]
    if req.get("downgrades"):
        kw["downgrades"] = req["downgrades"]
    try:
        util.template_to_file(template, req["dest"], script.output_encoding, **kw)
    except Exception as exc:  # noqa: BLE001
        tb = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)[-3:])
        return reply(error="render", message="%s did not render: %s: %s\n%s" % (template, type(exc).__name__, exc, tb))
    hooks = getattr(script, "hooks", None)
    if hooks:
        try:
            write_hooks._run_hooks(req["dest"], hooks)
        except Exception as exc:  # noqa: BLE001
            return reply(error="hook", message="a post_write_hooks hook failed on %s: %s: %s" % (req["dest"], type(exc).__name__, exc))
    reply(ok=True, hooks=len(hooks) if hooks else 0)


if __name__ == "__main__":
    main()
