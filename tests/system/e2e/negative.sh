#!/usr/bin/env bash
# Issue 6's negative cases with the real programs. Each ends with the device
# holding no operational credentials (no operational.store) and an audit
# event saying why. Pending requests expire after 4 s on this gateway.
source "$(dirname "$0")/lib.sh"

gw_start gw --pending-ttl 4

# ---- no OOB record (selective bootstrap) --------------------------------------
make_device nopsk psk
make_device nox509 x509
dev_start nopsk
dev_start nox509
wait_audit "$EP_nopsk" bs.psk-unknown-identity 'no OOB record'
wait_audit "$EP_nox509" bootstrap.refused 'no OOB record'
is_pending "$EP_nopsk" && fail "unscanned device pending"
is_pending "$EP_nox509" && fail "unscanned device pending"
dev_stop nopsk || true
dev_stop nox509 || true
check_no_op_store nopsk
check_no_op_store nox509
pass "no OOB record: PSK handshake fails on the unknown identity, x509 request answered 4.03; both audited"

# ---- wrong PSK: the label scanned says another key ----------------------------
make_device wrong psk
label=$(cat "$T/wrong/label.txt")
real=$(label_field "$label" cred)
forged=$(relabel "$label" "$(printf '%032x' 0x5eed)${real:32}")
dk scan "$forged" >/dev/null || fail "scan forged label"
dev_start wrong
wait_audit "$EP_wrong" bootstrap.handshake_failed 'wrong key'
is_pending "$EP_wrong" && fail "wrong-PSK device pending"
dev_stop wrong || true
check_no_op_store wrong
pass "wrong PSK: handshake refused, audited as a wrong key, no request recorded"

# ---- a certificate whose hash is not the label's -------------------------------
make_device certa x509
make_device certb x509
label=$(cat "$T/certa/label.txt")
other=$(label_field "$(cat "$T/certb/label.txt")" cred)
dk scan "$(relabel "$label" "$other")" >/dev/null || fail "scan label with another hash"
dev_start certa
wait_audit "$EP_certa" bootstrap.refused 'does not match its label'
wait_audit "$EP_certa" bs.bootstrap-refused 'hash'
is_pending "$EP_certa" && fail "mismatching certificate pending"
dev_stop certa || true
check_no_op_store certa
pass "certificate hash not the label's: 4.03, audited (gateway and engine), nothing pending"

# ---- denied ------------------------------------------------------------------------
make_device denied psk
dk scan "$(cat "$T/denied/label.txt")" >/dev/null
dev_start denied
wait_pending "$EP_denied"
dk deny "$EP_denied" >/dev/null || fail "deny"
wait_audit "$EP_denied" bootstrap.denied
# Its next attempts are refused.
wait_audit "$EP_denied" bootstrap.refused 'denied by the user'
is_pending "$EP_denied" && fail "denied device pending again"
dk approve "$EP_denied" >/dev/null 2>&1 && fail "a denied request could be approved"
dev_stop denied || true
check_no_op_store denied
pass "denied: audited, later attempts refused, approval impossible"

# ---- approval expired ------------------------------------------------------------------
make_device late psk
dk scan "$(cat "$T/late/label.txt")" >/dev/null
dev_start late
wait_pending "$EP_late"
dev_stop late || true # no more attempts: the request can only expire
wait_audit "$EP_late" bootstrap.expired 'not approved in time' 15
dk approve "$EP_late" >"$T/late.approve" 2>&1 && fail "an expired request was approved"
grep -qE '(no pending bootstrap request|has expired).*HTTP 40[49]' "$T/late.approve" || fail "approve after expiry: $(cat "$T/late.approve")"
check_no_op_store late
pass "approval expired: audited; approving afterwards is refused (404 or 409)"

# ---- old operational credentials replayed after a reset ----------------------------
for cred in psk x509; do
  make_device "old$cred" "$cred"
  name=old$cred
  ep_var=EP_$name
  ep=${!ep_var}
  dk scan "$(cat "$T/$name/label.txt")" >/dev/null
  dev_start "$name"
  wait_pending "$ep"
  dk approve "$ep" >/dev/null
  wait_state "$ep" registered 40
  # What an attacker (or a restored backup) keeps: the operational store and its key.
  mkdir -p "$T/$name-copy"
  cp -p "$T/$name/factory.store" "$T/$name/operational.store" "$T/$name/device.key" "$T/$name-copy/"
  dk reset "$ep" >/dev/null || fail "reset $ep"
  wait_for "$T/$name.log" 'factory reset done' 15
  until_ok 10 no_op_store "$name" || fail "$name still holds its operational store"
  dev_stop "$name" || true
  # The copy tries the revoked credentials on the LwM2M Server.
  dev_start "$name-copy"
  wait_audit "$ep" server.revoked_credentials 'refused'
  state_is "$ep" registered && fail "replayed credentials registered"
  dev_stop "$name-copy" || true
  check_no_op_store "$name"
  pass "$cred: credentials replayed after a reset: DTLS handshake refused, audited"
done

# ---- REST without or with a wrong token ------------------------------------------------
URL=http://127.0.0.1:$GW_HTTP
code=$(curl -s -o "$T/body" -w '%{http_code}' "$URL/api/devices")
[[ $code == 401 ]] || fail "no token: $code"
code=$(curl -s -o "$T/body" -w '%{http_code}' -H "Authorization: Bearer $(printf '%064d' 0)" "$URL/api/devices")
[[ $code == 401 ]] || fail "wrong token: $code"
code=$(curl -s -o "$T/body" -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
  --data-binary "{\"label\":\"x\"}" "$URL/api/oob")
[[ $code == 401 ]] || fail "POST without token: $code"
printf '%064d\n' 1 >"$T/bad.token"
chmod 600 "$T/bad.token"
rc=0
"$CLI" --gateway "$URL" --token-file "$T/bad.token" devices >"$T/out" 2>&1 || rc=$?
[[ $rc == 1 ]] && grep -q '401' "$T/out" || fail "CLI with a wrong token: rc $rc, $(cat "$T/out")"
pass "REST without a token, with a wrong token, and the CLI with a wrong token: 401"

gw_stop
pass "gateway stopped cleanly"
