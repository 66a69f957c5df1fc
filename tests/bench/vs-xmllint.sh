#!/usr/bin/env bash
# Times `loket validate` against `xmllint --noout --schema` on the same 2,000
# copies of a WMO301 message, in one run, and prints the throughput ratio.
# Usage: tests/bench/vs-xmllint.sh [COPIES]   (needs xmllint and ../shared)
set -euo pipefail
cd "$(dirname "$0")/../.."
copies=${1:-2000}
xsd=../shared/reference/iwmo-3.2/xsd/WMO301.xsd
[ -f "$xsd" ] || { echo "vs-xmllint: $xsd not found" >&2; exit 2; }
command -v xmllint >/dev/null || { echo "vs-xmllint: xmllint missing (apt-get install libxml2-utils)" >&2; exit 2; }
cargo build --release --quiet
bin=target/release/loket
src=$(ls fixtures/iwmo/valid/WMO301_meerdere_producten_relatie.xml 2>/dev/null || ls fixtures/iwmo/valid/WMO301_*.xml | head -1)
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
for i in $(seq -w 1 "$copies"); do cp "$src" "$dir/m$i.xml"; done
bytes=$(( $(stat -c %s "$src") * copies ))

best() { # best of 3 wall-clock runs, in milliseconds
  local b=999999999
  for _ in 1 2 3; do
    local t0 t1
    t0=$(date +%s%N)
    "$@" >/dev/null 2>&1 || true
    t1=$(date +%s%N)
    local ms=$(( (t1 - t0) / 1000000 ))
    [ "$ms" -lt "$b" ] && b=$ms
  done
  echo "$b"
}

# Both must accept every copy, or the comparison means nothing.
"$bin" validate "$dir"/*.xml >/dev/null
xmllint --noout --schema "$xsd" "$dir"/*.xml 2>/dev/null

loket_ms=$(best "$bin" validate "$dir"/*.xml)
xmllint_ms=$(best xmllint --noout --schema "$xsd" "$dir"/*.xml)
[ "$loket_ms" -gt 0 ] || loket_ms=1
python3 - "$copies" "$bytes" "$loket_ms" "$xmllint_ms" <<'PY'
import sys
n, b, l, x = map(int, sys.argv[1:])
print(f"files: {n} copies of one WMO301 ({b/n:.0f} bytes each, {b/1e6:.2f} MB total)")
print(f"loket validate : {l:6d} ms  {n/(l/1000):9.0f} msg/s  {b/1e6/(l/1000):7.1f} MB/s  (XSD + in-message rules)")
print(f"xmllint --schema: {x:6d} ms  {n/(x/1000):9.0f} msg/s  {b/1e6/(x/1000):7.1f} MB/s  (XSD only)")
print(f"ratio: loket is {x/l:.1f}x xmllint's throughput")
PY
