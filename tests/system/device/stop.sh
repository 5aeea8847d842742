#!/usr/bin/env bash
# Stopping when the server is gone: SIGTERM still exits 0 after a bounded
# wait for the de-registration (the engine's 10 s plus 2 s), and a second
# SIGTERM exits at once. SIGTERM in factory mode exits at once.
source "$(dirname "$0")/lib.sh"

start_peer bs --lifetime 300
make_device "$TMP/dev" none "$PEER_PORT"
start_device d1 "$TMP/dev"
wait_for "$TMP/bs.out" 'at /rd/1 ' 20
kill -9 "$PEER_PID"
t0=$(date +%s%N)
kill -TERM "$DEV_PID"
wait_exit "$DEV_PID" 20
ms=$((($(date +%s%N) - t0) / 1000000))
[[ $WAIT_ST -eq 0 ]] || fail "exit status $WAIT_ST"
[[ $ms -ge 9000 && $ms -le 11500 ]] || fail "stopped after $ms ms, want the engine's bound (10 s)"
grep -q 'de-registration from server 1: timed out' "$TMP/d1.log" ||
  fail "the failed de-registration is not logged"
echo "bounded stop: $ms ms"

# A second SIGTERM does not wait. (The server is gone, so the restarted
# device waits for its registration; a registration in flight is abandoned
# at once on stop, so hold the daemon in the de-registration with a peer
# that registers it and then vanishes.)
start_peer bs2 --lifetime 300 --exit-after register
rm -rf "$TMP/dev1"
make_device "$TMP/dev1" none "$PEER_PORT"
start_device d2 "$TMP/dev1"
wait_for "$TMP/bs2.out" 'at /rd/1 ' 20
wait "$PEER_PID" || true
kill -TERM "$DEV_PID"
wait_for "$TMP/d2.log" 'De-register from server 1 sent' 5
t0=$(date +%s%N)
kill -TERM "$DEV_PID"
wait_exit "$DEV_PID" 5
ms=$((($(date +%s%N) - t0) / 1000000))
[[ $WAIT_ST -eq 0 ]] || fail "second SIGTERM: exit status $WAIT_ST"
[[ $ms -le 2000 ]] || fail "second SIGTERM took $ms ms"

# Factory mode with no Bootstrap Server answering: SIGTERM exits at once.
rm -rf "$TMP/dev2"
make_device "$TMP/dev2" none "$PEER_PORT"
start_device d3 "$TMP/dev2"
wait_for "$TMP/d3.log" 'Bootstrap-Request sent' 10
t0=$(date +%s%N)
kill -TERM "$DEV_PID"
wait_exit "$DEV_PID" 5
ms=$((($(date +%s%N) - t0) / 1000000))
[[ $WAIT_ST -eq 0 ]] || fail "factory mode SIGTERM: exit status $WAIT_ST"
[[ $ms -le 2000 ]] || fail "factory mode SIGTERM took $ms ms"
echo "PASS"
