# Prints every revision real Alembic reads from the project at argv[1]
# (which has an alembic.ini), one line each, in load order. See
# gen_alembic_corpus.py for the comparison with mergepoint.
import sys, json
from alembic.config import Config
from alembic.script import ScriptDirectory
cfg = Config(sys.argv[1] + "/alembic.ini")
s = ScriptDirectory.from_config(cfg)
def l(x):
    if x is None: return ""
    if isinstance(x, str): return x
    return ",".join(x)
for sc in s._load_revisions():
    print("DUMP %s|%s|%s|%s|%s|%s" % (sc.path.split("/")[-1], sc.revision, l(sc.down_revision), l(sc._orig_branch_labels), l(sc.dependencies), json.dumps(sc.doc, ensure_ascii=False)))
