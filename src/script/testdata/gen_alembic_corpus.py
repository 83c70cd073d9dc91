# Generates a randomized Alembic project (300 revision files in every header
# style the static reader supports) in the current directory. Compare what
# real Alembic reads with what mergepoint reads:
#   python gen_alembic_corpus.py
#   python dump_alembic.py "$PWD" > py.txt
#   MERGEPOINT_ALEMBIC_DIR="$PWD" cargo test --lib dump_alembic_dir -- --ignored --nocapture | grep -E "^(DUMP|PROBLEM)" > rs.txt
#   diff py.txt rs.txt
import random, os
random.seed(7)
os.makedirs("mig/versions", exist_ok=True)
open("alembic.ini","w").write("[alembic]\nscript_location = %(here)s/mig\n")
open("mig/script.py.mako","w").write("")
def q(s):
    style = random.choice(["'", '"', "r'", 'r"', "u'", "'''", '"""'])
    if style.startswith("r"):
        return style + s + style[-1]
    if style.startswith("u"):
        return style + s + "'"
    return style + s + style
def val(items, allow_scalar=True):
    k = random.choice(["none","str","tuple","list","multi","paren","concat"] if allow_scalar else ["tuple","list","multi"])
    if not items and k not in ("none",): k = random.choice(["none", "emptytuple", "emptylist"])
    if k == "none": return "None"
    if k == "emptytuple": return "()"
    if k == "emptylist": return "[]"
    if k == "str" or (len(items)==1 and k=="paren"):
        return q(items[0]) if k=="str" else "(" + q(items[0]) + ")"
    if k == "concat":
        s = items[0]; c = random.randint(1, max(1,len(s)-1))
        return q(s[:c]) + " " + q(s[c:]) if len(items)==1 else "(" + ", ".join(q(i) for i in items) + ",)"
    if k == "tuple":
        return "(" + ", ".join(q(i) for i in items) + ("," if len(items)==1 or random.random()<.5 else "") + ")"
    if k == "list":
        return "[" + ", ".join(q(i) for i in items) + "]"
    if k == "multi":
        inner = "".join("    %s,%s\n" % (q(i), random.choice(["", "  # comment ' \"", ""])) for i in items)
        return random.choice(["(", "["]) .replace("(", "(\n").replace("[","[\n") + inner + "" if False else ("(\n" + inner + ")")
    return "None"
ids = []
docs = ["plain msg", "msg with 'quotes' and \"dq\"", "  padded  \n\nsecond", "tab\\there", "caf\\xe9", "line one\nline two\n\npara", "", "\\u00e9t\\u00e9", "ends\\\\", "multi\n\n\n\nspaced", "ünï ✓ 🎉"]
for n in range(300):
    rid = "%012x" % random.getrandbits(48)
    parents = random.sample(ids, min(len(ids), random.choice([0,1,1,1,2,3])))
    labels = random.choice([[], [], ["l%d" % n], ["a%d" % n, "b%d" % n]])
    deps = random.sample(ids, min(len(ids), random.choice([0,0,0,1,2])))
    ids.append(rid)
    ann = random.random() < .5
    lines = []
    d = random.choice(docs)
    dq = "'''" if d.endswith('"') else random.choice(['"""', "'''"])
    if random.random() < .9:
        pre = random.choice(["", "# -*- coding: utf-8 -*-\n", "\n\n", "#!/usr/bin/env python\n# comment\n"])
        lines.append(pre + dq + d + dq)
    lines.append("from typing import Sequence, Union")
    lines.append("import sqlalchemy as sa")
    def a(name, v):
        if ann: return "%s: Union[str, Sequence[str], None] = %s" % (name, v)
        return "%s = %s" % (name, v)
    lines.append(("revision: str = %s" if ann else "revision = %s") % q(rid))
    lines.append(a("down_revision", val(parents)))
    if random.random() < .8: lines.append(a("branch_labels", val(labels)))
    if random.random() < .8: lines.append(a("depends_on", val(deps)))
    lines.append("\ndef upgrade():\n    revision = 'zzz'\n    x = \"\"\"\nrevision = 'yyy'\n\"\"\"\n    pass\n")
    text = "\n".join(lines) + "\n"
    if random.random() < .1: text = text.replace("\n", "\r\n")
    open("mig/versions/%s_f%d.py" % (rid, n), "w", encoding="utf-8").write(text)
