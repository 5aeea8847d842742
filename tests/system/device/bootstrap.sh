#!/usr/bin/env bash
# duckling-device against the scripted peer: client-initiated bootstrap
# (Delete, Write /0 /1 /12, Finish), registration, hooks with their
# environment, de-registration on SIGTERM, and a restart that registers from
# the operational store without bootstrapping again.
source "$(dirname "$0")/lib.sh"

ssid='home$(touch pwned);`touch pwned2`'
wifi_psk='correct-horse-battery-staple-42'
start_peer bs --lifetime 300 --wifi-ssid "$ssid" --wifi-psk "$wifi_psk"
make_device "$TMP/dev" none "$PEER_PORT"
ep=$EP

hooks=(--on-factory-mode 'env | grep ^DK_ | sort >"$DK_DATA/factory.env"'
       --on-operational 'env | grep ^DK_ | sort >"$DK_DATA/operational.env"; echo ran >>"$DK_DATA/operational.count"')
cd "$TMP"
start_device d1 "$TMP/dev" "${hooks[@]}"
wait_for "$TMP/bs.out" '^register ' 20

# The peer saw the whole bootstrap, in order, then the registration.
grep -E '^(bs-|register)' "$TMP/bs.out" | cut -d' ' -f1-2 >"$TMP/seq"
cat >"$TMP/want" <<EOF
bs-request ep=$ep
bs-delete /
bs-write /0/1
bs-write /1/1
bs-write /12/0
bs-finish 2.04
register ep=$ep
EOF
diff -u "$TMP/want" "$TMP/seq" || fail "bootstrap sequence differs"
grep -qE '^bs-delete / 2\.02$' "$TMP/bs.out" || fail "Bootstrap-Delete not 2.02"
[[ $(count "$TMP/bs.out" '^bs-write /[0-9/]+ 2\.04$') -eq 3 ]] || fail "Bootstrap-Writes not 2.04"
reg=$(grep -E '^register ' "$TMP/bs.out")
[[ "$reg" =~ \ lt=300\ lwm2m=1\.1\ b=U\  ]] || fail "registration query: $reg"
[[ "$reg" =~ \ at\ /rd/1\  ]] || fail "registration location: $reg"
for obj in '</1/1>' '</3/0>' '</3311/0>' '</3303/0>' '</3301/0>' '</6/0>' '</12/0>'; do
  [[ "$reg" == *"$obj"* ]] || fail "object list lacks $obj: $reg"
done
[[ "$reg" != *'</0/'* ]] || fail "the Security object must not be listed: $reg"

# The operational store: encrypted, mode 0600, holds what the bootstrap wrote.
[[ -f "$TMP/dev/operational.store" && -f "$TMP/dev/device.key" ]] || fail "no operational store"
[[ $(stat -c %a "$TMP/dev/operational.store") == 600 ]] || fail "operational.store mode"
[[ $(stat -c %a "$TMP/dev/device.key") == 600 ]] || fail "device.key mode"
! grep -qaF "127.0.0.1:$PEER_PORT" "$TMP/dev/operational.store" || fail "operational.store in the clear"
run 0 "$DUMP" "$TMP/dev"
grep -qE '^/0/1 ' "$TMP/stdout" || fail "store lacks /0/1: $(cat "$TMP/stdout")"
grep -qE '^/1/1 ' "$TMP/stdout" || fail "store lacks /1/1"
grep -qE '^/12/0 ' "$TMP/stdout" || fail "store lacks /12/0"
grep -qiF "$(printf 'coap://127.0.0.1:%s' "$PEER_PORT" | xxd -p | tr -d '\n')" "$TMP/stdout" ||
  fail "store lacks the server URI"

# Hooks: factory mode got the setup access point, operational the home Wi-Fi,
# both through the environment; the shell never saw the SSID as code.
wait_for "$TMP/dev/operational.env" 'DK_PSK=' 10
ap_ssid=$(factory_field "$TMP/dev" 'setup AP SSID')
grep -qxF "DK_MODE=factory" "$TMP/dev/factory.env" || fail "factory hook: DK_MODE"
grep -qxF "DK_ENDPOINT=$ep" "$TMP/dev/factory.env" || fail "factory hook: DK_ENDPOINT"
grep -qxF "DK_AP_SSID=$ap_ssid" "$TMP/dev/factory.env" || fail "factory hook: DK_AP_SSID"
grep -qE '^DK_AP_PSK=[0-9a-f]{32}$' "$TMP/dev/factory.env" || fail "factory hook: DK_AP_PSK"
grep -qxF "DK_MODE=operational" "$TMP/dev/operational.env" || fail "operational hook: DK_MODE"
grep -qxF "DK_SSID=$ssid" "$TMP/dev/operational.env" || fail "operational hook: DK_SSID"
grep -qxF "DK_PSK=$wifi_psk" "$TMP/dev/operational.env" || fail "operational hook: DK_PSK"
[[ ! -e "$TMP/pwned" && ! -e "$TMP/dev/pwned" && ! -e "$TMP/pwned2" ]] || fail "the SSID ran as shell code"
# Secrets never reach the log.
! grep -qF "$wifi_psk" "$TMP/d1.log" || fail "the Wi-Fi PSK is in the log"
ap_psk=$(sed -n 's/^DK_AP_PSK=//p' "$TMP/dev/factory.env")
! grep -qiF "$ap_psk" "$TMP/d1.log" || fail "the setup AP PSK is in the log"

# The LED state file exists from the start (restored state: off).
wait_for "$TMP/dev/led.state" '^on=[01] dimmer=[0-9]+$' 5

# SIGTERM: de-register (the peer sees DELETE /rd/1), then exit 0.
kill -TERM "$DEV_PID"
wait_exit "$DEV_PID" 15
st=$WAIT_ST
[[ $st -eq 0 ]] || fail "SIGTERM: exit status $st"
grep -qxF 'deregister /rd/1' "$TMP/bs.out" || fail "no de-registration seen"
grep -q 'de-registered from server 1' "$TMP/d1.log" || fail "log lacks the de-registration"

# Restart: registers straight from the operational store, no bootstrap.
start_device d2 "$TMP/dev" "${hooks[@]}"
wait_for "$TMP/bs.out" 'at /rd/2 ' 20
[[ $(count "$TMP/bs.out" '^bs-request') -eq 1 ]] || fail "bootstrapped again after a restart"
wait_for "$TMP/dev/operational.count" '' 5
for i in $(seq 1 40); do
  [[ $(wc -l <"$TMP/dev/operational.count") -ge 2 ]] && break
  sleep 0.05
done
[[ $(wc -l <"$TMP/dev/operational.count") -eq 2 ]] || fail "operational hook did not run at start"

# The server moves the device to another Wi-Fi: the operational hook runs
# again with the new SSID, and the change is persisted.
peer_cmd bs "put /12/0/5 0 $(printf 'new-net' | xxd -p)"
wait_for "$TMP/bs.out" '^response 1 2\.04 ' 10
wait_for "$TMP/dev/operational.env" '^DK_SSID=new-net$' 10
grep -qxF "DK_PSK=$wifi_psk" "$TMP/dev/operational.env" || fail "PSK lost after the SSID change"
"$DUMP" "$TMP/dev" | grep -qi "^/12/0 .*$(printf 'new-net' | xxd -p)" || fail "new SSID not persisted"

# Execute /3/0/4 (Reboot): 2.04, then the daemon starts afresh (same pid,
# exec of itself) and registers again from its store.
peer_cmd bs 'post /3/0/4'
wait_for "$TMP/bs.out" '^response 2 2\.04 ' 10
wait_for "$TMP/bs.out" 'at /rd/3 ' 20
kill -0 "$DEV_PID" || fail "the daemon is gone after Reboot"
grep -q 'reboot requested by a server: restarting' "$TMP/d2.log" || fail "reboot not logged"
[[ $(count "$TMP/bs.out" '^bs-request') -eq 1 ]] || fail "bootstrapped after Reboot"

kill -INT "$DEV_PID"
wait_exit "$DEV_PID" 15
st=$WAIT_ST
[[ $st -eq 0 ]] || fail "SIGINT: exit status $st"
grep -qxF 'deregister /rd/3' "$TMP/bs.out" || fail "no de-registration after SIGINT"
echo "PASS"
