#!/usr/bin/env bash
# duckling-device over DTLS (mbedTLS, PSK): bootstrap with the factory PSK
# (identity = endpoint name), a server account with its own PSK written by the
# Bootstrap Server, registration and a Read over that second session,
# de-registration; a device whose PSK the server does not know is refused and
# keeps retrying; keys never reach the log.
source "$(dirname "$0")/lib.sh"

make_device "$TMP/dev" psk 9
bs_psk=$(cut -d';' -f7 "$TMP/dev/label.txt")
[[ $bs_psk =~ ^[0-9a-f]{32}$ ]] || fail "no PSK in the label: $(cat "$TMP/dev/label.txt")"
srv_psk=$(head -c 16 /dev/urandom | xxd -p)
start_peer bs --lifetime 300 --psk "$EP:$bs_psk" --server-psk "srv-$EP:$srv_psk"
uri="coaps://127.0.0.1:$PEER_PORT"

start_device d1 "$TMP/dev" --bs-uri "$uri"
wait_for "$TMP/bs.out" '^register ' 30
grep -qxE "dtls up 127\.0\.0\.1:[0-9]+ identity=$EP" "$TMP/bs.out" || fail "no DTLS session with the bootstrap identity"
grep -qxE "dtls up 127\.0\.0\.1:[0-9]+ identity=srv-$EP" "$TMP/bs.out" || fail "no DTLS session with the server identity"
grep -qE '^bs-finish 2\.04$' "$TMP/bs.out" || fail "no Bootstrap-Finish"
run 0 "$DUMP" "$TMP/dev"
grep -qiE "^/0/1 .*$srv_psk" "$TMP/stdout" || fail "the server PSK is not in the operational store"

peer_cmd bs 'get /3/0/0 0'
wait_for "$TMP/bs.out" '^response 1 ' 10
grep -qE "^response 1 2\.05 cf=0 hex=$(printf duckling | xxd -p)$" "$TMP/bs.out" ||
  fail "Read over DTLS: $(grep '^response 1' "$TMP/bs.out")"

kill -TERM "$DEV_PID"
wait_exit "$DEV_PID" 15
[[ $WAIT_ST -eq 0 ]] || fail "SIGTERM exit status $WAIT_ST"
grep -qxF 'deregister /rd/1' "$TMP/bs.out" || fail "no de-registration over DTLS"
for k in "$bs_psk" "$srv_psk"; do
  ! grep -qiF "$k" "$TMP/d1.log" || fail "a PSK is in the log"
done

# Restart: straight to the LwM2M Server over DTLS with the stored credentials.
start_device d2 "$TMP/dev" --bs-uri "$uri"
wait_for "$TMP/bs.out" 'at /rd/2 ' 30
[[ $(count "$TMP/bs.out" '^bs-request') -eq 1 ]] || fail "bootstrapped again after restart"
kill -TERM "$DEV_PID"
wait_exit "$DEV_PID" 15

# A device the Bootstrap Server has no key for: the handshake fails, the
# device backs off and tries again; it never gets as far as CoAP.
make_device "$TMP/stranger" psk 9
start_device d3 "$TMP/stranger" --bs-uri "$uri"
wait_count "$TMP/d3.log" 'bootstrap failed' 2 20
grep -qF "dtls unknown-identity $EP" "$TMP/bs.out" || fail "the peer saw no unknown identity"
! grep -q "bs-request ep=$EP" "$TMP/bs.out" || fail "a device without the key reached CoAP"
[[ ! -e "$TMP/stranger/operational.store" ]] || fail "a refused device has an operational store"
kill -TERM "$DEV_PID"
wait_exit "$DEV_PID" 15
[[ $WAIT_ST -eq 0 ]] || fail "SIGTERM in factory mode: exit status $WAIT_ST"
echo "PASS"
