#!/usr/bin/env python3
"""Strictness check: loket's structure verdict must equal the official XSD's.

Takes valid messages (the project's fixtures and the official examples),
makes deterministic single mutations of them (delete, duplicate or swap an
element, change a value, move an element to another namespace, add an
attribute), and runs both the official validator (xmllint with the official
XSD, via ../shared/tools/validate-istandaard) and `loket validate --json` on
every mutant. Any mutant the XSD rejects must be rejected by loket on its
structure, and any mutant the XSD accepts must have no structure finding.

Usage: strictness.py LOKET_BIN OUT_DIR SOURCE_XML...
"""
import json
import os
import random
import re
import subprocess
import sys

TOOL = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "tools", "validate-istandaard")

VALUES = ["", " ", "X", "2023-02-29", "2023-13-01", "2024-02-29", "2023-01-01Z", "12:00:00+01:00",
          "99999999999", "-1", "0", "1.5", "abc", "00", "01", "1", "12345678", "1234567", "999999999",
          "AB", "NL", "9999XX", "1234 AB", "x" * 201, "C", "D", "24:00:00", "3", "2", "414"]


def mutate(text, rng):
    lines = text.split("\n")
    elem_lines = [i for i, l in enumerate(lines) if re.match(r"\s*<[\w]+:[\w]+>", l) and "Bericht>" not in l]
    simple = [i for i in elem_lines if re.match(r"\s*<([\w]+:[\w]+)>[^<]*</\1>\s*$", lines[i])]
    op = rng.randrange(6)
    if op == 0 and simple:  # delete a simple element
        i = rng.choice(simple)
        del lines[i]
    elif op == 1 and simple:  # duplicate a simple element
        i = rng.choice(simple)
        lines.insert(i, lines[i])
    elif op == 2 and len(simple) > 1:  # swap two neighbouring simple elements
        i = rng.randrange(len(simple) - 1)
        a, b = simple[i], simple[i + 1]
        lines[a], lines[b] = lines[b], lines[a]
    elif op == 3 and simple:  # change a value
        i = rng.choice(simple)
        lines[i] = re.sub(r">[^<]*<", ">" + rng.choice(VALUES).replace("&", "&amp;") + "<", lines[i], count=1)
    elif op == 4 and elem_lines:  # move an element to the other namespace prefix
        i = rng.choice(simple or elem_lines)
        m = re.match(r"(\s*)<([\w]+):([\w]+)>(.*)</\2:\3>(\s*)$", lines[i])
        if not m:
            return None
        prefixes = re.findall(r'xmlns:(\w+)=', text)
        other = [p for p in prefixes if p != m.group(2)]
        if not other:
            return None
        p = other[0]
        lines[i] = f"{m.group(1)}<{p}:{m.group(3)}>{m.group(4)}</{p}:{m.group(3)}>{m.group(5)}"
    elif op == 5 and elem_lines:  # add an attribute
        i = rng.choice(elem_lines)
        lines[i] = re.sub(r"<([\w]+:[\w]+)>", r'<\1 soort="x">', lines[i], count=1)
    else:
        return None
    return "\n".join(lines)


def main():
    loket, out = sys.argv[1], sys.argv[2]
    sources = [s for s in sys.argv[3:] if "/iwmo/valid/WMO30" not in s or re.search(r"WMO30[157]_", s)]
    # Only messages with an official XSD can be compared (no iWmo retours).
    sources = [s for s in sources if not re.search(r"WMO3(02|06|08|16|18|20|25)_", s)]
    os.makedirs(out, exist_ok=True)
    rng = random.Random(20261128)
    files = []
    per = max(1, 1600 // max(1, len(sources)))
    for src in sources:
        text = open(src, encoding="utf-8").read()
        made = 0
        tries = 0
        while made < per and tries < per * 4:
            tries += 1
            m = mutate(text, rng)
            if m is None or m == text:
                continue
            path = os.path.join(out, f"m{len(files):05d}.xml")
            open(path, "w", encoding="utf-8").write(m)
            files.append((path, src))
            made += 1
    paths = [p for p, _ in files]
    xsd = subprocess.run([TOOL] + paths, capture_output=True, text=True)
    xsd_ok = {}
    for line in xsd.stdout.splitlines():
        if line.startswith("ok "):
            xsd_ok[line[3:].strip()] = True
        elif line.startswith("FAIL "):
            xsd_ok[line[5:].split(":")[0].strip()] = False
    res = subprocess.run([loket, "validate", "--json"] + paths, capture_output=True, text=True)
    reports = json.loads(res.stdout)
    loket_ok = {}
    for r in reports:
        structural = r.get("error") is not None or any(f["level"] == "structure" for f in r["findings"])
        loket_ok[r["file"]] = not structural
    missed, extra = [], []
    for p, src in files:
        if p not in xsd_ok:
            print(f"no XSD verdict for {p}", file=sys.stderr)
            sys.exit(2)
        if not xsd_ok[p] and loket_ok[p]:
            missed.append((p, src))
        if xsd_ok[p] and not loket_ok[p]:
            extra.append((p, src))
    rejected = sum(1 for v in xsd_ok.values() if not v)
    print(f"strictness: {len(files)} mutants of {len(sources)} messages; XSD rejects {rejected}; "
          f"loket misses {len(missed)}; loket rejects beyond the XSD {len(extra)}")
    for p, src in (missed + extra)[:20]:
        kind = "MISSED" if (p, src) in missed else "EXTRA"
        print(f"  {kind} {p} (from {src})")
        subprocess.run(["diff", src, p])
    sys.exit(1 if missed or extra else 0)


if __name__ == "__main__":
    main()
