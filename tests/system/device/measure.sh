#!/usr/bin/env bash
# Figures for issue 5 (not part of make check: valgrind needs the normal,
# non-sanitized build): `size` of duckling-device and its heap peak under
# valgrind massif through bootstrap, registration and ten notifications, in
# NoSec mode and in DTLS (PSK) mode against the scripted peer.
#
#   tests/system/device/measure.sh [BUILD_DIR]     (default: build)
#
# Prints the figures and the commands used; keeps massif files and ms_print
# output in BUILD_DIR/tmp/device_measure/.
set -euo pipefail
SRC=$(cd "$(dirname "$0")/../../.." && pwd)
BUILD=$(cd "${1:-$SRC/build}" && pwd)
export DK_BIN=$BUILD/bin DK_TESTBIN=$BUILD/tests/bin DK_TMP=$BUILD/tmp/device_measure
source "$(dirname "$0")/lib.sh"
command -v valgrind >/dev/null || fail "valgrind missing"

echo "== size (x86-64, $(cd "$SRC" && git rev-parse --short HEAD 2>/dev/null || echo '?'))"
echo "\$ size $DEVICE"
size "$DEVICE"

# measure MODE CRED [PEER ARGS...]
measure() {
  local mode=$1 cred=$2
  shift 2
  local peer_args=("$@")
  local dir="$TMP/$mode"
  # The factory store needs the peer's port and the peer needs the device's
  # PSK: make the device with a placeholder port, then point it at the peer.
  make_device "$dir" "$cred" 9
  if [[ $cred == psk ]]; then
    local psk
    psk=$(cut -d';' -f7 "$dir/label.txt")
    peer_args+=(--psk "$EP:$psk" --server-psk "srv-$EP:$(head -c 16 /dev/urandom | xxd -p)")
  fi
  start_peer "peer_$mode" --lifetime 600 "${peer_args[@]}"
  local scheme=coap
  [[ $cred == none ]] || scheme=coaps
  local out="$TMP/massif.$mode.out"
  local cmd=(valgrind --tool=massif --massif-out-file="$out" "$DEVICE" --data "$dir"
             --bs-uri "$scheme://127.0.0.1:$PEER_PORT" --log-level warn)
  echo
  echo "== heap, $mode"
  echo "\$ ${cmd[*]}"
  "${cmd[@]}" >"$TMP/$mode.stdout.log" 2>"$TMP/$mode.log" &
  local vpid=$!
  PIDS+=("$vpid")
  wait_for "$TMP/peer_$mode.out" '^register ' 120
  peer_cmd "peer_$mode" 'attr /3303/0/5700 pmin=1&pmax=1'
  peer_cmd "peer_$mode" 'observe /3303/0/5700'
  local i
  for ((i = 0; i < 600; i++)); do
    [[ $(count "$TMP/peer_$mode.out" '^notify 2 ') -ge 10 ]] && break
    sleep 0.1
  done
  [[ $(count "$TMP/peer_$mode.out" '^notify 2 ') -ge 10 ]] || fail "$mode: fewer than 10 notifications"
  kill -TERM "$vpid"
  wait_exit "$vpid" 60
  grep -q '^deregister ' "$TMP/peer_$mode.out" || fail "$mode: no de-registration"
  ms_print "$out" >"$TMP/ms_print.$mode.txt"
  # Peak of heap bytes asked for (useful) and with allocator overhead (total).
  awk -F= '/^mem_heap_B/ { h = $2 } /^mem_heap_extra_B/ { if (h > mh) mh = h;
           if (h + $2 > mt) mt = h + $2 } END { printf "heap peak: %d B useful, %d B with allocator overhead\n", mh, mt }' "$out"
  echo "(ms_print: $TMP/ms_print.$mode.txt)"
  sed -n '/^    KB$/,/^Number of snapshots/p' "$TMP/ms_print.$mode.txt" | head -n 25
  kill -TERM "$PEER_PID" 2>/dev/null || true
}

measure nosec none
measure dtls psk
