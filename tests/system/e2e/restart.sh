#!/usr/bin/env bash
# The gateway restarted mid-life (issue 6): approvals and registrations
# survive, and so do the admin token and the CA (devices' certificates stay
# valid). The ports stay the same across the restart (devices keep the
# Server URI the bootstrap gave them).
source "$(dirname "$0")/lib.sh"

free_udp() { python3 -c 'import socket;s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM);s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
free_tcp() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
PORTS=(--http-port "$(free_tcp)" --bs-port "$(free_udp)" --server-port "$(free_udp)")

gw_start gw "${PORTS[@]}"
token=$(cat "$GW_DATA/admin.token")
ca=$(sha256sum <"$GW_DATA/ca.crt")

# A: approved, but not bootstrapped before the restart.
make_device a psk
dk scan "$(cat "$T/a/label.txt")" >/dev/null
dev_start a
wait_pending "$EP_a"
dev_stop a || true
dk approve "$EP_a" >/dev/null || fail "approve a"
check_no_op_store a

# B: registered before the restart.
make_device b x509
dk scan "$(cat "$T/b/label.txt")" >/dev/null
dev_start b
wait_pending "$EP_b"
dk approve "$EP_b" >/dev/null
wait_state "$EP_b" registered 40
dk read "$EP_b" /3303/0/5700 >/dev/null || fail "read b before the restart"
loc=$(dk --json device "$EP_b" | jq -r '.registration.location')
pass "before the restart: a approved (not running), b registered at $loc"

gw_stop
gw_start gw "${PORTS[@]}"
[[ $(cat "$GW_DATA/admin.token") == "$token" ]] || fail "admin token changed"
[[ $(sha256sum <"$GW_DATA/ca.crt") == "$ca" ]] || fail "CA changed"
grep -q '1 of 1 registrations restored' "$T/gw.err" || fail "registration not restored"
[[ $(dev_state "$EP_b") == registered ]] || fail "b not registered after the restart"
[[ $(dk --json device "$EP_b" | jq -r '.registration.location') == "$loc" ]] || fail "location changed"
[[ $(dev_state "$EP_a") == approved ]] || fail "a's approval lost ($(dev_state "$EP_a"))"
rc=0
dk read "$EP_b" /3303/0/5700 >"$T/read.out" 2>&1 || rc=$?
[[ $rc == 1 ]] && grep -q 'not been heard from since the gateway restarted.*HTTP 503' "$T/read.out" ||
  fail "read b before it is back: rc $rc, $(cat "$T/read.out")"
pass "after the restart: token and CA kept, b's registration restored ($loc), a still approved; b is not reachable until it updates (503 at once, no timeout)"

# Another gateway cannot take the ports of this one (no shared UDP ports).
for opt in --bs-port --server-port; do
  port=$GW_BS
  [[ $opt == --server-port ]] && port=$GW_SRV
  rc=0
  other=(--bs-port 0 --server-port 0 "$opt" "$port")
  "$GATEWAY" --data "$T/other" --http-port 0 "${other[@]}" >"$T/other.out" 2>"$T/other.err" || rc=$?
  [[ $rc == 1 ]] && grep -q "port $port: cannot bind (port in use?)" "$T/other.err" ||
    fail "second gateway on $opt $port: rc $rc, $(cat "$T/other.err")"
done
pass "a second gateway on the same UDP ports exits 1 (port in use)"

# A comes: provisioned without a new approval.
dev_start a
wait_state "$EP_a" registered 40
is_pending "$EP_a" && fail "a asked for approval again"
[[ $(dk --json audit --limit 100 "$EP_a" | jq '[.audit[] | select(.event == "bootstrap.approved")] | length') == 1 ]] ||
  fail "a approved more than once"
dk read "$EP_a" /3303/0/5700 >/dev/null || fail "read a"
pass "a bootstrapped and registered on its approval from before the restart"

# B: its DTLS session died with the old process. It comes back on a fresh
# handshake with the same certificate (the CA and the issued credential
# survived); a device restart forces that here rather than waiting for its
# CoAP timeouts.
dev_stop b || true
mv "$T/b.log" "$T/b-before.log"
dev_start b
wait_for "$T/b.log" 'registered with server 1' 40
new_location() { [[ $(dk --json device "$EP_b" | jq -r '.registration.location') != "$loc" ]]; }
until_ok 10 new_location || fail "b's new registration not recorded"
wait_state "$EP_b" registered 10
dk read "$EP_b" /3303/0/5700 >/dev/null || fail "read b after the restart"
[[ $(dk --json audit --limit 100 "$EP_b" | jq '[.audit[] | select(.event == "credentials.issued")] | length') == 1 ]] ||
  fail "b got new credentials"
pass "b back with the credentials issued before the restart, read works"

dev_stop a || true
dev_stop b || true
gw_stop
pass "clean shutdown"
