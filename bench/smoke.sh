#!/usr/bin/env bash
# bench/run --quick: it runs, prints its table and writes results.json whose
# every figure has the six fields, with a value or a "not measured" reason.
set -euo pipefail
: "${DK_SRC:?}" "${DK_BUILD:?}"
out=$DK_BUILD/bench/results.json
rm -f "$out"
"$DK_SRC/bench/run" "$DK_BUILD" --quick >"$DK_BUILD/bench-smoke.out"
grep -q '^x509_onboarding_crypto_limit_1core ' "$DK_BUILD/bench-smoke.out" ||
  { echo "FAIL: no table"; cat "$DK_BUILD/bench-smoke.out"; exit 1; }
jq -e '.figures | length > 0' "$out" >/dev/null || { echo "FAIL: no figures"; exit 1; }
bad=$(jq -r '.figures[] | select((keys | sort) != ["conditions","met","name","target","unit","value"]
  or (.value == null and (.conditions | startswith("not measured: ") | not))
  or (.value != null and (.value | type) != "number")
  or (.met != null and (.met | type) != "boolean")) | .name' "$out")
[[ -z "$bad" ]] || { echo "FAIL: malformed figures: $bad"; exit 1; }
for op in ecdh sign verify; do
  v=$(jq -r ".figures[] | select(.name == \"gnutls_p256_${op}_rate_1core\") | .value" "$out")
  awk -v v="$v" 'BEGIN { exit !(v > 10) }' || { echo "FAIL: $op rate $v"; exit 1; }
done
echo "PASS"
