#!/usr/bin/env python3
"""loket's whole EN 16931 verdict against the official artefact's, document by document.

`cargo test --test en16931` checks every assertion of the CEN unit tests and
writes loket's complete verdict per test document (every rule it reported,
fatal and warning) to target/en16931-verdicts.json. This script runs the
official validation artefact (the CEN XSLT, with SaxonC-HE) on the same
documents and compares the two verdicts rule by rule: a rule the artefact
reports that loket does not is missed, a rule loket reports that the
artefact does not is false, a rule both report with another flag is a flag
difference. It prints the figures per rule family and fails on any
difference not listed in KNOWN (one per line, as printed), and on a listed
one that is gone, so the list only shrinks.

Usage: en16931.py SHARED_REFERENCE_UBL VERDICTS_JSON [KNOWN]
"""
import collections
import json
import os
import re
import sys
import tempfile

from saxonche import PySaxonProcessor

ref, verdicts_file = sys.argv[1], sys.argv[2]
known = set()
if len(sys.argv) > 3 and os.path.exists(sys.argv[3]):
    known = {l.strip() for l in open(sys.argv[3], encoding="utf-8") if l.strip() and not l.startswith("#")}
mine = json.load(open(verdicts_file, encoding="utf-8"))


def documents():
    """(name, text) of every test document, named as tests/en16931.rs names them."""
    for folder in ("Invoice-unit-UBL", "CreditNote-unit-UBL"):
        d = os.path.join(ref, "en16931-tests", folder)
        for f in sorted(os.listdir(d)):
            if not f.endswith(".xml"):
                continue
            text = open(os.path.join(d, f), encoding="utf-8").read()
            for n, m in enumerate(re.finditer(r"<test\b[^>]*>(.*?)</test>", text, re.S), 1):
                body = m.group(1)
                end = body.index("</assert>") + len("</assert>")
                yield f"{folder}/{f[:-4]}-{n}.xml", body[end:].strip()


def family(rule):
    return re.sub(r"-\d+$", "", rule)


counts = collections.defaultdict(lambda: [0, 0, 0, 0])  # official, missed, false, flag
diffs = []
with PySaxonProcessor(license=False) as proc, tempfile.TemporaryDirectory() as tmp:
    xslt = proc.new_xslt30_processor().compile_stylesheet(
        stylesheet_file=os.path.join(ref, "rules", "EN16931-UBL-validation.xslt"))
    n = 0
    for name, doc in documents():
        n += 1
        path = os.path.join(tmp, "doc.xml")
        open(path, "w", encoding="utf-8").write(doc)
        svrl = xslt.transform_to_string(source_file=path) or ""
        official = {}
        for a in re.findall(r"<svrl:failed-assert\b[^>]*>", svrl):
            rid = re.search(r'\bid="([^"]+)"', a)
            flag = re.search(r'\bflag="([^"]+)"', a)
            if rid:
                official[rid.group(1)] = flag.group(1) if flag else "fatal"
        v = mine.get(name)
        if v is None:
            sys.exit(f"en16931: {name} is not in {verdicts_file}")
        ours = {r: "fatal" for r in v["fatal"]}
        ours.update({r: "warning" for r in v["warning"]})
        for r, f in official.items():
            c = counts[family(r)]
            c[0] += 1
            if r not in ours:
                c[1] += 1
                diffs.append(f"{name}: missed {r}")
            elif ours[r] != f:
                c[3] += 1
                diffs.append(f"{name}: {r} is {ours[r]}, officially {f}")
        for r in ours:
            if r not in official:
                counts[family(r)][2] += 1
                diffs.append(f"{name}: false {r}")

print(f"EN 16931 full verdicts on {n} CEN test documents, loket against the official artefact:")
print(f"{'family':<10} {'official':>9} {'missed':>7} {'false':>6} {'flag':>5}")
tot = [0, 0, 0, 0]
for fam in sorted(counts):
    c = counts[fam]
    tot = [a + b for a, b in zip(tot, c)]
    print(f"{fam:<10} {c[0]:>9} {c[1]:>7} {c[2]:>6} {c[3]:>5}")
print(f"{'total':<10} {tot[0]:>9} {tot[1]:>7} {tot[2]:>6} {tot[3]:>5}")
new = [d for d in diffs if d not in known]
gone = sorted(known - set(diffs))
print(f"differences: {len(diffs)} ({len(known)} known)")
if new:
    print("\n".join(new[:50]))
    sys.exit(f"en16931: {len(new)} differences from the official verdicts not in the known list")
if gone:
    print("\n".join(gone[:50]))
    sys.exit(f"en16931: {len(gone)} known differences are gone; take them out of the known list")
