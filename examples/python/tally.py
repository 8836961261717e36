"""Per-op counts of a `convoracle verify-all --json` run:
convoracle verify-all CASES CANDIDATES --json | python3 tally.py CASES"""
import collections
import json
import sys

import convoracle as co

ops = {c.name: c.op for c in co.cases(sys.argv[1])}
counts = collections.defaultdict(collections.Counter)
for entry in json.load(sys.stdin)["cases"]:
    status = {"warn": "pass", "missing": "fail", "unusable": "fail"}.get(entry["status"], entry["status"])
    counts[ops[entry["case"]]][status] += 1
for op in sorted(counts):
    c = counts[op]
    print(f"{op}: {c['pass']} passed, {c['fail']} failed, {c['unsupported']} unsupported")
