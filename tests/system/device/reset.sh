#!/usr/bin/env bash
# Factory reset three ways — the button (SIGUSR1), a server's Execute /3/0/5
# and `--factory-reset` offline — each leaves no operational store and no
# device key, keeps factory.store byte for byte, and the device bootstraps
# again. The peer refuses the bootstrap right after each online reset so the
# wiped state can be looked at before the device bootstraps once more.
source "$(dirname "$0")/lib.sh"

# Bootstrap-Requests: 1 ok; after SIGUSR1: 2 refused, 3 ok; after Execute:
# 4 refused, 5 ok; after --factory-reset: 6 ok; after the interrupted one: 7 ok.
start_peer bs --lifetime 300 --bs-plan ok,refuse,ok,refuse,ok,ok,ok
make_device "$TMP/dev" none "$PEER_PORT"
factory_sha=$(sha "$TMP/dev/factory.store")
start_device d1 "$TMP/dev" --on-factory-mode 'echo factory >>"$DK_DATA/modes"' \
  --on-operational 'echo operational >>"$DK_DATA/modes"'
wait_for "$TMP/bs.out" 'at /rd/1 ' 20
[[ -f "$TMP/dev/operational.store" ]] || fail "no operational store after bootstrap"

wiped() {
  [[ ! -e "$TMP/dev/operational.store" ]] || fail "$1: operational.store still there"
  [[ ! -e "$TMP/dev/device.key" ]] || fail "$1: device.key still there"
  ! ls "$TMP/dev"/*.tmp >/dev/null 2>&1 || fail "$1: temporary files left"
  [[ "$(sha "$TMP/dev/factory.store")" == "$factory_sha" ]] || fail "$1: factory.store changed"
  run 0 "$DUMP" "$TMP/dev"
  [[ "$(cat "$TMP/stdout")" == none ]] || fail "$1: store still loads"
}

# 1. The button.
kill -USR1 "$DEV_PID"
wait_for "$TMP/bs.out" '^deregister /rd/1$' 10
wait_for "$TMP/bs.out" '^bs-request .* refused$' 10
wiped SIGUSR1
grep -q 'SIGUSR1 (button): factory reset' "$TMP/d1.log" || fail "button press not logged"
wait_for "$TMP/bs.out" 'at /rd/2 ' 20
[[ $(count "$TMP/bs.out" '^bs-finish 2\.04$') -eq 2 ]] || fail "no second bootstrap"

# 2. Execute /3/0/5 from the server.
peer_cmd bs 'post /3/0/5'
wait_for "$TMP/bs.out" '^response 1 2\.04 ' 10
wait_for "$TMP/bs.out" '^deregister /rd/2$' 10
wait_count "$TMP/bs.out" '^bs-request .* refused$' 2 10
wiped "Execute /3/0/5"
wait_for "$TMP/bs.out" 'at /rd/3 ' 20
kill -TERM "$DEV_PID"
wait_exit "$DEV_PID" 15; [[ $WAIT_ST -eq 0 ]] || fail "SIGTERM exit status"
wait_for "$TMP/bs.out" '^deregister /rd/3$' 5

# The hooks followed the modes: factory, operational, three times.
want=$'factory\noperational\nfactory\noperational\nfactory\noperational'
[[ "$(cat "$TMP/dev/modes")" == "$want" ]] || fail "hook runs: $(cat "$TMP/dev/modes")"

# 3. Offline.
run 0 "$DEVICE" --data "$TMP/dev" --factory-reset
wiped --factory-reset
start_device d2 "$TMP/dev"
wait_for "$TMP/bs.out" 'at /rd/4 ' 20
[[ $(count "$TMP/bs.out" '^bs-finish 2\.04$') -eq 4 ]] || fail "no bootstrap after --factory-reset"
kill -TERM "$DEV_PID"
wait_exit "$DEV_PID" 15; [[ $WAIT_ST -eq 0 ]] || fail "SIGTERM exit status"

# 4. A reset a power cut interrupted after the key was destroyed: the store
# without its key is finished off at the next start, which bootstraps.
rm "$TMP/dev/device.key"
start_device d3 "$TMP/dev"
wait_for "$TMP/bs.out" 'at /rd/5 ' 20
grep -q 'finishing an interrupted factory reset' "$TMP/d3.log" || fail "interrupted reset not noticed"
[[ $(count "$TMP/bs.out" '^bs-finish 2\.04$') -eq 5 ]] || fail "no bootstrap after the interrupted reset"
kill -TERM "$DEV_PID"
wait_exit "$DEV_PID" 15; [[ $WAIT_ST -eq 0 ]] || fail "SIGTERM exit status"
echo "PASS"
