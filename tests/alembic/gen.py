"""Random Alembic projects for the differential harness.

A project is a list of `Rev` records in creation order plus a few layout
choices (file naming, header style).  `generate(seed)` is a pure function of
the seed; `write_project(project, root)` writes a real Alembic project root:
alembic.ini (script_location = %(here)s), env.py, script.py.mako and one
versions/*.py per revision in one of the header styles Alembic's own
templates have produced over the years.
"""

from __future__ import annotations

import dataclasses
import os
import random
import shutil
from pathlib import Path

SHAPES = ("linear", "team", "heads", "labeled", "depends", "bases", "mixed")

LABEL_WORDS = (
    "core", "billing", "auth", "audit", "search", "orders", "shipping",
    "reports", "accounts", "catalog", "inventory", "payments", "users",
    "analytics", "notify", "tenant",
)

MESSAGES = (
    "add {t} table", "add index on {t}.created_at", "drop legacy {t} column",
    "backfill {t}", "rename {t}.name", "add {t}.status", "create {t} view",
    "split {t} into two tables", "widen {t}.id to bigint", "add fk {t} -> users",
)
ODD_MESSAGES = (
    "merge heads", "fix: 'quoted' message", 'say "hi" to {t}',
    "unicode caf\u00e9 {t}", "colon: in {t}", "100% done {t}", "tab\there {t}",
    "back\\slash {t}", "{t}",
)


@dataclasses.dataclass
class Rev:
    id: str
    parents: list[str]
    labels: list[str] = dataclasses.field(default_factory=list)
    depends_on: list[str] = dataclasses.field(default_factory=list)
    message: str = ""
    filename: str = ""
    # header rendering choices, per file
    style: str = "classic"       # classic | typed | pep604
    seq_kind: str = "tuple"      # tuple | list  (for several parents / labels / deps)
    scalar_labels: bool = False  # branch_labels = 'x' instead of ('x',)
    scalar_deps: bool = False    # depends_on = 'x' instead of ('x',)
    quote: str = "'"


@dataclasses.dataclass
class Project:
    seed: int
    shape: str
    revs: list[Rev]

    def by_id(self) -> dict[str, Rev]:
        return {r.id: r for r in self.revs}

    def labels(self) -> list[str]:
        return [l for r in self.revs for l in r.labels]

    def to_json(self) -> dict:
        return {"seed": self.seed, "shape": self.shape,
                "revs": [dataclasses.asdict(r) for r in self.revs]}

    @classmethod
    def from_json(cls, d: dict) -> "Project":
        return cls(d["seed"], d["shape"], [Rev(**r) for r in d["revs"]])


class _Gen:
    def __init__(self, seed: int, shape: str | None):
        self.rng = random.Random(seed)
        self.seed = seed
        self.shape = shape or self.rng.choice(SHAPES)
        self.revs: list[Rev] = []
        self.ids: set[str] = set()
        self.anc: dict[str, set[str]] = {}   # id -> ancestors via parents and depends_on
        r = self.rng
        # Shared prefixes make partial identifiers ambiguous now and then.
        self.stems = ["".join(r.choice("0123456789abcdef") for _ in range(r.randint(3, 5)))
                      for _ in range(r.randint(1, 3))]
        self.stem_p = r.choice((0.0, 0.2, 0.5))
        self.label_pool = list(LABEL_WORDS)
        r.shuffle(self.label_pool)
        self.style = r.choice(("classic", "typed", "pep604", "mixed"))
        self.naming = r.choice(("rev_slug", "rev_slug", "date", "number", "shuffled", "number_desc"))

    # -- primitives ---------------------------------------------------------
    def new_id(self) -> str:
        r = self.rng
        while True:
            if r.random() < self.stem_p:
                stem = r.choice(self.stems)
                rid = stem + "".join(r.choice("0123456789abcdef") for _ in range(12 - len(stem)))
            else:
                rid = "".join(r.choice("0123456789abcdef") for _ in range(12))
            if rid not in self.ids and not rid.isdigit():
                self.ids.add(rid)
                return rid

    def new_label(self) -> str | None:
        return self.label_pool.pop() if self.label_pool else None

    def add(self, parents, labels=(), deps=()) -> Rev:
        r = self.rng
        rid = self.new_id()
        t = "t%d" % (len(self.revs) + 1)
        tmpl = r.choice(ODD_MESSAGES) if r.random() < 0.1 else r.choice(MESSAGES)
        msg = tmpl.format(t=t)
        if len(parents) > 1 and r.random() < 0.7:
            msg = "merge " + ", ".join(p[:4] for p in parents)
        style = self.style if self.style != "mixed" else r.choice(("classic", "typed", "pep604"))
        rev = Rev(rid, list(parents), list(labels), list(deps), msg,
                  style=style, seq_kind=r.choice(("tuple", "tuple", "list")),
                  scalar_labels=len(labels) == 1 and r.random() < 0.3,
                  scalar_deps=len(deps) == 1 and r.random() < 0.4,
                  quote=r.choice(("'", '"')))
        a: set[str] = set()
        for p in list(parents) + [self.resolve(d) for d in deps]:
            a.add(p)
            a |= self.anc[p]
        self.anc[rid] = a
        self.revs.append(rev)
        return rev

    def resolve(self, ident: str) -> str:
        for rv in self.revs:
            if rv.id == ident or ident in rv.labels:
                return rv.id
        raise KeyError(ident)

    def tips(self) -> list[str]:
        has_child = {p for rv in self.revs for p in rv.parents}
        return [rv.id for rv in self.revs if rv.id not in has_child]

    def related(self, a: str, b: str) -> bool:
        return a == b or a in self.anc[b] or b in self.anc[a]

    def dep_target(self, child_parents: list[str]) -> str | None:
        """A revision outside the new revision's own line, or None."""
        r = self.rng
        mine: set[str] = set(child_parents)
        for p in child_parents:
            mine |= self.anc[p]
        cands = [rv for rv in self.revs if rv.id not in mine]
        if not cands or r.random() < 0.05:
            # now and then a redundant dependency on an ancestor (legal, normalised away)
            cands = [self.by_id(p) for p in mine] or cands
        if not cands:
            return None
        tgt = r.choice(cands)
        if tgt.labels and r.random() < 0.3:
            return r.choice(tgt.labels)
        return tgt.id

    def by_id(self, rid: str) -> Rev:
        for rv in self.revs:
            if rv.id == rid:
                return rv
        raise KeyError(rid)

    # -- shapes --------------------------------------------------------------
    def run(self) -> Project:
        r = self.rng
        n = r.choice((5, 6, 8, 10, 12, 15, 20, 25, 30, 40))
        n = r.randint(max(3, n // 2), n)
        p = dict(fork=0.0, merge=0.0, base=0.0, dep=0.0, label=0.0, old_fork=0.0)
        shape = self.shape
        if shape == "linear":
            pass
        elif shape == "team":
            p.update(fork=0.2, merge=0.25, old_fork=0.2)
        elif shape == "heads":
            p.update(fork=0.3, merge=0.05, old_fork=0.3)
        elif shape == "labeled":
            p.update(fork=0.15, merge=0.1, base=0.12, label=0.6)
        elif shape == "depends":
            p.update(fork=0.15, merge=0.1, base=0.1, dep=0.3, label=0.4)
        elif shape == "bases":
            p.update(fork=0.1, merge=0.15, base=0.2, label=0.2)
        else:
            p.update(fork=0.2, merge=0.15, base=0.07, dep=0.12, label=0.35, old_fork=0.2)

        first_label = [self.new_label()] if r.random() < p["label"] else []
        self.add([], labels=[l for l in first_label if l])
        while len(self.revs) < n:
            tips = self.tips()
            x = r.random()
            if x < p["merge"] and len(tips) >= 2:
                k = 3 if len(tips) >= 3 and r.random() < 0.15 else 2
                picks = r.sample(tips, k)
                if any(self.related(a, b) for a in picks for b in picks if a != b):
                    continue
                self.add(picks)
            elif x < p["merge"] + p["base"]:
                lab = self.new_label() if r.random() < p["label"] else None
                self.add([], labels=[lab] if lab else [])
            elif x < p["merge"] + p["base"] + p["fork"]:
                if r.random() < p["old_fork"]:
                    parent = r.choice(self.revs).id
                else:
                    parent = r.choice(tips)
                lab = self.new_label() if r.random() < p["label"] * 0.5 else None
                deps = []
                if r.random() < p["dep"]:
                    d = self.dep_target([parent])
                    deps = [d] if d else []
                self.add([parent], labels=[lab] if lab else [], deps=deps)
            else:
                parent = r.choice(tips)
                deps = []
                if r.random() < p["dep"]:
                    d = self.dep_target([parent])
                    if d:
                        deps.append(d)
                        if r.random() < 0.15:
                            d2 = self.dep_target([parent])
                            if d2 and d2 not in deps:
                                deps.append(d2)
                self.add([parent], deps=deps)
        self.name_files()
        return Project(self.seed, self.shape, self.revs)

    def name_files(self) -> None:
        r = self.rng
        n = len(self.revs)
        order = list(range(n))
        if self.naming == "shuffled":
            r.shuffle(order)
        elif self.naming == "number_desc":
            order.reverse()
        for pos, i in enumerate(order):
            rv = self.revs[i]
            slug = "".join(c if c.isalnum() else "_" for c in rv.message.lower())[:30].strip("_") or "rev"
            if self.naming in ("rev_slug",):
                rv.filename = "%s_%s.py" % (rv.id, slug)
            elif self.naming == "date":
                # creation-ordered dates, with some equal timestamps (ties broken by id)
                day = 1 + pos // 4
                rv.filename = "2024_03_%02d_1200-%s_%s.py" % (day, rv.id, slug)
            else:
                rv.filename = "%04d_%s.py" % (pos + 1, slug)


def generate(seed: int, shape: str | None = None) -> Project:
    return _Gen(seed, shape).run()


# ---------------------------------------------------------------------------
# writing

ALEMBIC_INI = """\
[alembic]
script_location = %(here)s
prepend_sys_path = .
sqlalchemy.url = postgresql+psycopg://postgres@127.0.0.1:5432/postgres

[loggers]
keys = root

[handlers]
keys = console

[formatters]
keys = generic

[logger_root]
level = WARNING
handlers = console

[handler_console]
class = StreamHandler
args = (sys.stderr,)
level = NOTSET
formatter = generic

[formatter_generic]
format = %(levelname)-5.5s [%(name)s] %(message)s
"""

ENV_PY = '''\
"""Alembic environment for a generated differential-test project."""
import os

from alembic import context
from sqlalchemy import engine_from_config, pool

config = context.config


def run_migrations_offline() -> None:
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    url = os.environ.get("ALEMBIC_DB_URL") or config.get_main_option("sqlalchemy.url")
    connectable = engine_from_config(
        {"sqlalchemy.url": url}, prefix="sqlalchemy.", poolclass=pool.NullPool
    )
    with connectable.connect() as connection:
        context.configure(connection=connection)
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
'''

SCRIPT_MAKO = '''\
"""${message}

Revision ID: ${up_revision}
Revises: ${down_revision | comma,n}
Create Date: ${create_date}

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
${imports if imports else ""}

# revision identifiers, used by Alembic.
revision: str = ${repr(up_revision)}
down_revision: Union[str, Sequence[str], None] = ${repr(down_revision)}
branch_labels: Union[str, Sequence[str], None] = ${repr(branch_labels)}
depends_on: Union[str, Sequence[str], None] = ${repr(depends_on)}


def upgrade() -> None:
    ${upgrades if upgrades else "pass"}


def downgrade() -> None:
    ${downgrades if downgrades else "pass"}
'''


def _lit(rev: Rev, s: str) -> str:
    q = rev.quote
    return q + s.replace("\\", "\\\\").replace(q, "\\" + q) + q


def _seq(rev: Rev, items: list[str], scalar: bool) -> str:
    if not items:
        return "None"
    if len(items) == 1 and scalar:
        return _lit(rev, items[0])
    inner = ", ".join(_lit(rev, i) for i in items)
    if rev.seq_kind == "list":
        return "[%s]" % inner
    return "(%s,)" % inner if len(items) == 1 else "(%s)" % inner


def render_revision(rev: Rev) -> str:
    down = "None" if not rev.parents else (
        _lit(rev, rev.parents[0]) if len(rev.parents) == 1 else _seq(rev, rev.parents, False))
    labels = _seq(rev, rev.labels, rev.scalar_labels)
    deps = _seq(rev, rev.depends_on, rev.scalar_deps)
    doc = rev.message.replace("\\", "\\\\").replace('"""', '\\"\\"\\"')
    revises = ", ".join(rev.parents)
    head = (
        '"""%s\n\nRevision ID: %s\nRevises: %s\nCreate Date: 2024-03-01 12:00:00.000000\n\n"""\n'
        % (doc, rev.id, revises)
    )
    if rev.style == "classic":
        ids = (
            "from alembic import op\nimport sqlalchemy as sa\n\n\n"
            "# revision identifiers, used by Alembic.\n"
            "revision = %s\ndown_revision = %s\nbranch_labels = %s\ndepends_on = %s\n"
            % (_lit(rev, rev.id), down, labels, deps)
        )
        sig_up, sig_down = "def upgrade():", "def downgrade():"
    else:
        ann = "Union[str, Sequence[str], None]" if rev.style == "typed" else "str | Sequence[str] | None"
        ids = (
            "from typing import Sequence, Union\n\nfrom alembic import op\nimport sqlalchemy as sa\n\n\n"
            "# revision identifiers, used by Alembic.\n"
            "revision: str = %s\ndown_revision: %s = %s\nbranch_labels: %s = %s\ndepends_on: %s = %s\n"
            % (_lit(rev, rev.id), ann, down, ann, labels, ann, deps)
        )
        sig_up, sig_down = "def upgrade() -> None:", "def downgrade() -> None:"
    table = "t_" + rev.id
    body = (
        "\n\n%s\n    op.execute(\"CREATE TABLE %s (id integer)\")\n\n\n"
        "%s\n    op.execute(\"DROP TABLE %s\")\n" % (sig_up, table, sig_down, table)
    )
    return head + ids + body


LAYOUTS = ("here", "subdir", "version_locations", "pyproject", "flask")


def write_project(project: Project, root: Path, extras: bool | None = None, layout: str = "here") -> Path:
    """Write `project` as an Alembic project root at `root` (replaced if present).

    layout "here": alembic.ini with `script_location = %(here)s` and versions/ next
    to it (the harness contract).  "subdir": the usual `alembic init migrations`
    shape, `script_location = %(here)s/migrations`.  "version_locations": two
    version directories, `version_locations = %(here)s/versions:%(here)s/more_versions`,
    every third file in the second one.  "pyproject": `alembic init --template
    pyproject alembic`: `[tool.alembic]` in pyproject.toml with `script_location`
    and two `version_locations` (a TOML list, the second directory listed first),
    alembic.ini with no script_location.  "flask": a Flask application root with
    Flask-Migrate's `migrations/alembic.ini`, which has no script_location (the
    oracle sets it as `flask db` does).
    """
    root = Path(root)
    if root.exists():
        shutil.rmtree(root)
    script_dir = {"subdir": root / "migrations", "flask": root / "migrations",
                  "pyproject": root / "alembic"}.get(layout, root)
    versions = script_dir / "versions"
    versions.mkdir(parents=True)
    ini = ALEMBIC_INI
    if layout == "subdir":
        ini = ini.replace("script_location = %(here)s", "script_location = %(here)s/migrations")
    elif layout == "version_locations":
        ini = ini.replace("script_location = %(here)s", "script_location = %(here)s\n"
                          "path_separator = os\n"
                          "version_locations = %(here)s/versions:%(here)s/more_versions")
        (root / "more_versions").mkdir()
    elif layout in ("pyproject", "flask"):
        ini = ini.replace("script_location = %(here)s\n", "")
    if layout == "pyproject":
        (root / "more_versions").mkdir()
        (root / "pyproject.toml").write_text(
            '[project]\nname = "generated"\nversion = "0"\n\n'
            '[tool.alembic]\nscript_location = "%(here)s/alembic"\n'
            'version_locations = ["%(here)s/more_versions", "%(here)s/alembic/versions"]\n'
            'prepend_sys_path = ["."]\n')
    (script_dir if layout == "flask" else root).joinpath("alembic.ini").write_text(ini)
    if layout == "flask":
        (root / "app.py").write_text("from flask import Flask\napp = Flask(__name__)\n")
    (script_dir / "env.py").write_text(ENV_PY)
    (script_dir / "script.py.mako").write_text(SCRIPT_MAKO)
    for i, rev in enumerate(project.revs):
        target = versions
        if layout in ("version_locations", "pyproject") and i % 3 == 2:
            target = root / "more_versions"
        (target / rev.filename).write_text(render_revision(rev), encoding="utf-8")
    if extras is None:
        extras = project.seed % 7 == 3
    if extras:
        # files that are not revisions and that Alembic ignores
        (versions / "__init__.py").write_text("")
        (versions / "README.txt").write_text("not a revision\n")
    return root


def clone_project(src: Path, dst: Path) -> Path:
    if dst.exists():
        shutil.rmtree(dst)
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("__pycache__"))
    return dst


if __name__ == "__main__":  # pragma: no cover - manual inspection
    import json
    import sys

    seed = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    pj = generate(seed)
    out = Path(sys.argv[2]) if len(sys.argv) > 2 else None
    if out:
        write_project(pj, out)
        print(out)
    else:
        json.dump(pj.to_json(), sys.stdout, indent=1)
    os.sys.exit(0)
