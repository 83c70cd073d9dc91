#!/usr/bin/env python3
"""Record real Alembic's answers on random revision graphs.

Feeds random DAGs straight into Alembic's RevisionMap (no files) and writes
what it answers: heads, bases, history order, upgrade/downgrade step order
between many pairs of points, and identifier resolution (or the fact that
Alembic rejects it). tests/graph_oracle.rs replays every case against our
graph core. Regenerate with:

    PYTHONHASHSEED=0 target/alembic-venv/bin/python tests/oracle/make_oracle.py 60 > tests/oracle/alembic_oracle.json

(60 plain graphs plus 60 dense ones; any count works for a local soak.)
"""
import json
import random
import sys
import warnings

from alembic.script.revision import Revision, RevisionMap
import alembic

warnings.simplefilter("ignore")

# Shape knobs, switched per seed: "dense" graphs make merges, dependencies
# and branch labels common.
MERGE_RATE = DEP_RATE = LABEL_RATE = 0.0


def set_profile(dense):
    global MERGE_RATE, DEP_RATE, LABEL_RATE
    MERGE_RATE, DEP_RATE, LABEL_RATE = (0.6, 0.3, 0.2) if dense else (0.8, 0.1, 0.08)


def make_graph(rng, n):
    ids = sorted("%012x" % rng.getrandbits(48) for _ in range(n))
    rng.shuffle(ids)  # creation order differs from load (sorted) order
    spec = []
    labels_used = 0
    for i, rid in enumerate(ids):
        if i == 0 or rng.random() < 0.08:
            parents = []
        else:
            k = 1 if rng.random() < MERGE_RATE else rng.choice([2, 2, 3])
            parents = sorted(set(rng.sample(ids[:i], min(k, i))))
            # favour recent parents so chains form
            if k == 1 and rng.random() < 0.7:
                parents = [ids[i - 1]]
        deps = []
        if i > 2 and rng.random() < DEP_RATE:
            cand = [d for d in ids[:i] if d not in parents]
            if cand:
                deps = [rng.choice(cand)]
        labels = []
        if rng.random() < LABEL_RATE:
            labels = ["lbl%d" % labels_used]
            labels_used += 1
        spec.append({"id": rid, "parents": parents, "depends_on": deps, "branch_labels": labels})
    spec.sort(key=lambda r: r["id"])  # load order = sorted file names
    return spec


def build(spec):
    revs = [
        Revision(r["id"], tuple(r["parents"]) or None,
                 dependencies=tuple(r["depends_on"]) or None,
                 branch_labels=tuple(r["branch_labels"]) or None)
        for r in spec
    ]
    return RevisionMap(lambda: revs)


def attempt(fn):
    try:
        return {"ok": fn()}
    except Exception as e:  # Alembic rejects it: record that (and why)
        return {"err": type(e).__name__ + ": " + str(e)}


def ids(revs):
    return [r.revision for r in revs if r is not None]


def main():
    seeds = int(sys.argv[1]) if len(sys.argv) > 1 else 150
    cases = []
    for seed in list(range(seeds)) + list(range(100000, 100000 + seeds)):
        set_profile(seed >= 100000)
        rng = random.Random(seed)
        spec = make_graph(rng, rng.randint(2, 18))
        m = build(spec)
        try:
            m.heads
        except Exception as e:
            continue
        all_ids = [r["id"] for r in spec]
        labels = [l for r in spec for l in r["branch_labels"]]
        case = {"seed": seed, "revisions": spec}
        case["heads"] = list(m.heads)
        case["real_heads"] = list(m._real_heads)
        case["bases"] = list(m.bases)
        case["history"] = attempt(lambda: ids(m.iterate_revisions("heads", "base", inclusive=True, assert_relative_length=False)))
        case["labels"] = {r: sorted(m.get_revision(r).branch_labels) for r in all_ids}
        points = ["base", "heads", "head"] + rng.sample(all_ids, min(4, len(all_ids)))
        points += [l + "@head" for l in labels] + [l + "@base" for l in labels] + labels
        points += ["+1", "-1", "+2"] + [a[:5] + "-1" for a in rng.sample(all_ids, min(2, len(all_ids)))]
        points += [a[:4] for a in rng.sample(all_ids, min(3, len(all_ids)))] + [all_ids[0][:1]]
        case["resolve"] = {p: attempt(lambda p=p: ids(m.get_revisions(p))) for p in points}
        plans = []
        starts = [()] + [(h,) for h in m.heads] + [tuple(m.heads)] + [(a,) for a in rng.sample(all_ids, min(3, len(all_ids)))]
        for cur in starts:
            for dest in points:
                up = attempt(lambda: [r.revision for r in reversed(list(m.iterate_revisions(dest, cur, implicit_base=True)))])
                down = attempt(lambda: [r.revision for r in m.iterate_revisions(cur, dest, select_for_downgrade=True)])
                plans.append({"current": list(cur), "target": dest, "upgrade": up, "downgrade": down})
        case["plans"] = plans
        ranges = ["base:heads", "%s:heads" % all_ids[0], "base:%s" % all_ids[-1], "%s:%s" % (all_ids[0], all_ids[-1])]
        case["history_ranges"] = {
            r: attempt(lambda r=r: ids(m.iterate_revisions(r.split(":")[1], r.split(":")[0], inclusive=True, assert_relative_length=False)))
            for r in ranges
        }
        cases.append(case)
    json.dump({"alembic": alembic.__version__, "cases": cases}, sys.stdout, indent=None, separators=(",", ":"))


main()
