#!/usr/bin/env bash
# The onboarding life cycle of issue 6, end to end with the real programs:
# label scanned -> device bootstraps -> pending -> approve -> registered ->
# read temperature -> write the light -> observe -> remote reset -> device
# back in factory mode -> onboarded again. Usage: flow.sh psk|x509
source "$(dirname "$0")/lib.sh"
CRED=${1:?psk or x509}

# The psk device is a WIFI one: the bootstrap also writes the home network
# (/12) from the gateway's options.
if [[ $CRED == psk ]]; then
  gw_start gw --home-ssid duckling-home --home-psk 'correct horse battery'
  make_device d "$CRED" wifi
else
  gw_start gw
  make_device d "$CRED"
fi
EP=$EP_d

# Scan: psk from the label text, x509 from its QR code image (zbarimg).
if [[ $CRED == x509 ]]; then
  dk scan --image "$T/d/label.png" >"$T/scan.out" || fail "scan --image"
else
  dk scan "$(cat "$T/d/label.txt")" >"$T/scan.out" || fail "scan"
fi
grep -q "label added: $EP" "$T/scan.out" || fail "scan output: $(cat "$T/scan.out")"
[[ $(dev_state "$EP") == expected ]] || fail "scanned device not 'expected'"
pass "$CRED: label scanned, device expected"

dev_start d --on-operational "env | grep '^DK_' | sort >'$T/operational.env'"
wait_pending "$EP"
check_no_op_store d
[[ $(dk --json pending | jq -r '.pending[0].peer_cred_type') == "$CRED" ]] || fail "pending cred type"
[[ $(dk --json pending | jq -r '.pending[0].label_match') == true ]] || fail "label_match"
pass "$CRED: device asked to be bootstrapped: pending, nothing written to it"

dk approve "$EP" >/dev/null || fail "approve"
wait_state "$EP" registered 40
wait_audit "$EP" bootstrap.finished
wait_audit "$EP" server.registered
[[ -s "$T/d/operational.store" ]] || fail "no operational store after bootstrap"
dk --json device "$EP" >"$T/dev.json"
if [[ $CRED == psk ]]; then
  jq -e '.credentials.kind == "psk" and (.credentials.psk_identity | startswith("dk-"))' \
    "$T/dev.json" >/dev/null || fail "operational PSK not listed: $(cat "$T/dev.json")"
else
  jq -e '.credentials.kind == "x509"' "$T/dev.json" >/dev/null || fail "certificate not listed"
  grep -q "TLS-ECDHE-ECDSA" "$T/d.log" || fail "device did not use a certificate with the server"
fi
jq -e '.registration.lifetime > 0 and (.registration.objects | test("</3303/0>"))' "$T/dev.json" \
  >/dev/null || fail "registration details: $(cat "$T/dev.json")"
pass "$CRED: approved -> bootstrapped -> registered with operational credentials"

if [[ $CRED == psk ]]; then
  [[ $(dk --json read "$EP" /12/0/5 | jq -r .value) == duckling-home ]] || fail "home SSID not in /12/0/5"
  wait_for "$T/operational.env" '^DK_SSID=duckling-home$' 10
  grep -qx 'DK_PSK=correct horse battery' "$T/operational.env" || fail "hook without the home PSK"
  pass "$CRED: WIFI device got the home network (/12/0) and its operational hook ran with it"
fi

# Read the temperature.
t=$(dk read "$EP" /3303/0/5700) || fail "read temperature"
[[ $t =~ ^-?[0-9]+(\.[0-9]+)?$ ]] || fail "temperature '$t'"
dk --json read "$EP" /3303/0 >"$T/inst.json" || fail "read /3303/0"
jq -e '.value | map(select(.n == "/3303/0/5701" and .v == "Cel")) | length == 1' "$T/inst.json" \
  >/dev/null || fail "instance read: $(cat "$T/inst.json")"
pass "$CRED: read temperature $t and the whole Temperature instance"

# Write the light.
dk write "$EP" /3311/0/5850 true >/dev/null || fail "write light"
wait_for "$T/d/led.state" '^on=1' 5
[[ $(dk read "$EP" /3311/0/5850) == true ]] || fail "light read back"
dk write "$EP" /3311/0/5851 40 >/dev/null || fail "write dimmer"
wait_for "$T/d/led.state" 'dimmer=40' 5
dk write "$EP" /3311/0/5850 false >/dev/null || fail "write light off"
wait_for "$T/d/led.state" '^on=0' 5
pass "$CRED: wrote the light on, dimmer 40, off (LED state file follows)"

# Observe: the first value and two notifications.
timeout 30 "$CLI" --gateway "http://127.0.0.1:$GW_HTTP" --token-file "$GW_DATA/admin.token" \
  observe --count 2 "$EP" /3303/0/5700 >"$T/observe.out" 2>&1 || fail "observe: $(cat "$T/observe.out")"
grep -q "^observing $EP /3303/0/5700: " "$T/observe.out" || fail "observe first value"
[[ $(grep -c "notification $EP /3303/0/5700 = " "$T/observe.out") -ge 2 ]] || fail "notifications"
dk --json device "$EP" | jq -e '.values | map(select(.path == "/3303/0/5700")) | length == 1' \
  >/dev/null || fail "latest value not kept"
dk unobserve "$EP" /3303/0/5700 >/dev/null || fail "unobserve"
pass "$CRED: observed the temperature (2 notifications streamed, latest value kept), unobserved"

# Remote reset: the device forgets, the gateway revokes.
dk reset "$EP" >"$T/reset.out" || fail "reset: $(cat "$T/reset.out")"
grep -q "credentials are revoked" "$T/reset.out" || fail "reset output"
wait_for "$T/d.log" 'factory reset done' 15
until_ok 10 no_op_store d || fail "operational store still there after the reset"
wait_audit "$EP" credentials.revoked 'remote factory reset'
dk --json device "$EP" | jq -e '.credentials == null or .credentials.revoked == true' >/dev/null ||
  fail "credentials not revoked: $(dk --json device "$EP")"
pass "$CRED: remote reset: device back in factory mode, its credentials revoked"

# It asks again: a new approval is needed.
wait_pending "$EP"
check_no_op_store d
dk approve "$EP" >/dev/null || fail "second approve"
wait_state "$EP" registered 40
t=$(dk read "$EP" /3303/0/5700) || fail "read after re-onboarding"
[[ $(dk --json audit --limit 200 "$EP" | jq '[.audit[] | select(.event == "credentials.issued")] | length') == 2 ]] ||
  fail "two credential issues expected"
pass "$CRED: onboarded again after a second approval (new credentials), read $t"

# Clean shutdown: the device de-registers, the gateway exits 0.
dev_stop d || fail "device exit status"
wait_state "$EP" offline 10
gw_stop
pass "$CRED: device de-registered (offline), gateway stopped cleanly"
