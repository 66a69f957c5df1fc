#!/usr/bin/env bash
# Conformance against the official material in ../shared:
#  1. every message loket serializes for its fixtures (re-emitted messages and
#     generated retourberichten) validates against the official XSD;
#  2. `loket validate` accepts every official iWmo example;
#  3. loket's structure verdict equals the official XSD's on ~1,500 mutants.
#  Also: every declaration, start and stop the engine generated in the
#  scenario tests (written to target/emitted by `cargo test`) validates, and
#  every invoice and credit note they generated (target/emitted/ubl) passes
#  ../shared/tools/validate-ubl (UBL 2.1 XSD and the EN 16931 XSLT);
#  `loket validate` accepts every official UBL example.
#  5. EN 16931: every assertion of the CEN unit tests agrees with loket's
#     verdict (tests/en16931.rs, figures per rule family), and loket's whole
#     verdict on each test document equals the official artefact's
#     (.ci/en16931.py).
set -euo pipefail
cd "$(dirname "$0")/.."
shared=../shared
[ -d "$shared/reference" ] || { echo "conformance: $shared/reference is missing" >&2; exit 2; }
# The debug binary is already built by `cargo test`; a release build here
# would double CI's compile time for checks that take seconds.
cargo build --quiet
bin=target/debug/loket
out=target/conformance
rm -rf "$out"
mkdir -p "$out/parsed" "$out/retour" "$out/mutants"

for f in fixtures/iwmo/valid/*.xml fixtures/ijw/valid/*.xml; do
  "$bin" parse --emit xml "$f" > "$out/parsed/$(basename "$f")"
done
n_retour=0
for f in fixtures/iwmo/valid/*.xml fixtures/ijw/valid/*.xml fixtures/iwmo/invalid/*.xml fixtures/ijw/invalid/*.xml; do
  name=$(basename "$f" .xml)
  # A retour of a retour, or an unusable file, has no answer: exit 2 is expected there.
  if "$bin" retour --dagtekening 2026-11-02 "$f" > "$out/retour/$name.retour.xml" 2>/dev/null; then
    n_retour=$((n_retour + 1))
  else
    rm -f "$out/retour/$name.retour.xml"
  fi
done
echo "conformance: re-emitted $(ls "$out/parsed" | wc -l) messages, generated $n_retour retourberichten"
"$shared/tools/validate-istandaard" "$out"/parsed/*.xml "$out"/retour/*.xml | tail -n 1

emitted=target/emitted
if [ -n "$(ls "$emitted"/WMO*.xml "$emitted"/JW*.xml 2>/dev/null)" ]; then
  echo "conformance: $(ls "$emitted"/WMO*.xml "$emitted"/JW*.xml 2>/dev/null | wc -l) messages the engine generated in the scenario tests (323, 305, 307)"
  "$shared/tools/validate-istandaard" $(ls "$emitted"/WMO*.xml "$emitted"/JW*.xml 2>/dev/null) | tail -n 1
  # UBL invoices and credit notes the tests wrote: UBL 2.1 XSD plus EN 16931.
  ubl=$(ls "$emitted"/Invoice*.xml "$emitted"/CreditNote*.xml 2>/dev/null || true)
  if [ -n "$ubl" ]; then
    echo "conformance: $(echo "$ubl" | wc -l) UBL documents the tests generated"
    "$shared/tools/validate-ubl" $ubl | tail -n 3
  fi
else
  echo "conformance: no generated messages in $emitted (run the tests with LOKET_EMIT_DIR set)" >&2
  exit 1
fi

if [ -n "$(ls "$emitted"/ubl/*.xml 2>/dev/null)" ]; then
  echo "conformance: $(ls "$emitted"/ubl/*.xml | wc -l) invoices and credit notes generated in the tests (UBL 2.1, EN 16931)"
  "$shared/tools/validate-ubl" "$emitted"/ubl/*.xml | tail -n 1
else
  echo "conformance: no generated invoices in $emitted/ubl (run the tests with LOKET_EMIT_DIR set)" >&2
  exit 1
fi

stuf=$emitted/stuf
if [ -n "$(ls "$stuf"/*.xml 2>/dev/null)" ]; then
  echo "conformance: $(ls "$stuf"/*.xml | wc -l) StUF-GGk envelopes (Di01, Du01 of both editions, Fo01) the tests wrote or received"
  "$shared/tools/validate-istandaard" "$stuf"/*.xml | tail -n 1
else
  echo "conformance: no StUF-GGk envelopes in $stuf (run the tests with LOKET_CONFORMANCE_DIR set)" >&2
  exit 1
fi

echo "conformance: loket validate on the official iWmo and UBL examples"
"$bin" validate "$shared"/reference/iwmo-3.2/examples/*.xml
"$bin" validate "$shared"/reference/ubl/examples/*.xml

python3 .ci/strictness.py "$bin" "$out/mutants" fixtures/iwmo/valid/*.xml fixtures/ijw/valid/*.xml "$shared"/reference/iwmo-3.2/examples/*.xml
echo "conformance: EN 16931, the CEN unit tests through loket's rules"
cargo test --quiet --test en16931 -- --nocapture 2>&1 | grep -v '^running\|^test result\|^$'
python3 .ci/en16931.py "$shared/reference/ubl" target/en16931-verdicts.json .ci/en16931-known-diff.txt
# Every step above exits non-zero on failure (set -e); reaching here means all five passed.
echo "conformance: 5 passed, 0 failed"
