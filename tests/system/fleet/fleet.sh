#!/usr/bin/env bash
# duckling-fleet onboards a batch of PSK and x509 devices and devices it made
# itself (labels loaded through the CLI) against duckling-gateway with policy
# auto, keeps them registered with Updates, and reports what the harness parses.
set -euo pipefail
: "${DK_BIN:?}" "${DK_TMP:?}"
T=$DK_TMP
rm -rf "$T"
mkdir -p "$T"
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT
fail() {
  echo "FAIL: $*" >&2
  for f in "$T"/*.err "$T"/*.out; do [[ -f $f ]] && { echo "--- $f"; tail -n 20 "$f"; } >&2; done
  exit 1
}

# Usage errors.
rc=0; "$DK_BIN/duckling-fleet" >/dev/null 2>&1 || rc=$?
[[ $rc -eq 2 ]] || fail "no arguments: exit $rc, want 2"
rc=0; "$DK_BIN/duckling-fleet" --factory x --backend nope >/dev/null 2>&1 || rc=$?
[[ $rc -eq 2 ]] || fail "bad backend: exit $rc, want 2"
"$DK_BIN/duckling-fleet" --help | grep -q -- '--psk-devices' || fail "--help"

mkdir -m 700 "$T/gw"
"$DK_BIN/duckling-gateway" --data "$T/gw" --approval auto --http-port 0 --bs-port 0 \
  --server-port 0 --www none --log-level warn >"$T/gw.out" 2>"$T/gw.err" &
PIDS+=($!)
for ((i = 0; i < 100; i++)); do [[ -s $T/gw/ports ]] && break; sleep 0.1; done
HTTP=$(sed -n 's/^http=//p' "$T/gw/ports")
BS=$(sed -n 's/^bootstrap=//p' "$T/gw/ports")
[[ -n $HTTP && -n $BS ]] || fail "gateway did not start"
dk() { "$DK_BIN/duckling" --gateway "http://127.0.0.1:$HTTP" --token-file "$T/gw/admin.token" "$@"; }
for ((i = 0; i < 100; i++)); do dk status >/dev/null 2>&1 && break; sleep 0.1; done

for cred in psk x509; do
  "$DK_BIN/duckling-factory" batch --count 4 --type LED --cred "$cred" --channel none \
    --bs-uri "coaps://127.0.0.1:$BS" --out "$T/$cred" >/dev/null || fail "factory batch $cred"
  for d in "$T/$cred"/*/; do dk scan "$(cat "$d/label.txt")" >/dev/null || fail "scan"; done
  "$DK_BIN/duckling-fleet" --factory "$T/$cred" --concurrency 2 --timeout 120 \
    >"$T/$cred.out" 2>"$T/$cred.err" || fail "fleet $cred exited $?"
  grep -qx 'ready 4' "$T/$cred.out" || fail "$cred: no 'ready 4'"
  grep -qE '^onboarded 4 [0-9.]+ [0-9.]+$' "$T/$cred.out" || fail "$cred: not all onboarded"
  echo "ok - $cred: $(grep ^onboarded "$T/$cred.out")"
done
[[ $(dk --json devices | jq '[.devices[] | select(.state == "registered")] | length') -eq 8 ]] ||
  fail "the gateway does not list 8 registered devices: $(dk devices)"

# Devices made by the fleet: labels out, loaded, then "go"; a short hold
# with Updates every 0.3 s (lifetime 300 s, 1 per mille).
coproc FLEET { "$DK_BIN/duckling-fleet" --psk-devices 3 --labels "$T/labels.txt" \
  --bs-uri "coaps://127.0.0.1:$BS" --wait-go --hold 2 --update-pm 1 2>"$T/own.err"; }
PIDS+=("$FLEET_PID")
read -r -t 30 line <&"${FLEET[0]}" || fail "no ready line"
[[ $line == 'ready 3' ]] || fail "ready line: $line"
[[ $(wc -l <"$T/labels.txt") -eq 3 ]] || fail "labels file"
while read -r label; do dk scan "$label" >/dev/null || fail "scan $label"; done <"$T/labels.txt"
echo go >&"${FLEET[1]}"
out=$(timeout 120 cat <&"${FLEET[0]}") || true
grep -qE '^onboarded 3 ' <<<"$out" || fail "own devices: $out"
hold=$(grep -E '^hold ' <<<"$out") || fail "no hold line: $out"
read -r _ secs updates rate retrans timeouts <<<"$hold"
((updates >= 3)) || fail "too few Updates in the hold: $hold"
grep -qE '^rss [0-9]+$' <<<"$out" || fail "no rss line"
echo "ok - own PSK devices onboarded, $updates Updates in $secs s"
echo "PASS"
