#!/usr/bin/env bash
# kill -9 at any moment never leaves an unusable store.
#
# The daemon runs under strace, which lists every system call that touches
# the store files (operational.store, device.key, their temporaries, the data
# directory itself). A dry run records that list for a scenario; then the
# scenario is run once per entry with strace killing the daemon (SIGKILL) on
# entry to exactly that call (inject=SYSCALL:signal=KILL:when=N, N counting
# that syscall), so every step of every store write — temporary written but
# not synced, synced but not renamed, renamed but the directory not synced,
# key made but store not, key destroyed but store not — is a crash point.
# After each crash: the store is the old one or the new one (dk-store-dump
# loads it, or there is none), factory.store is unchanged, and the daemon
# starts again and reaches its server (registering directly or bootstrapping).
# Scenarios: (A) bootstrap from factory mode, (B) a server's write of the
# Lifetime /1/1/1 (300 -> 301: the restarted device registers with lt=300 or
# lt=301 and nothing else), (C) factory reset by the button. Then (D) plain
# kill -9 at spread-out times during bootstrap.
source "$(dirname "$0")/lib.sh"
command -v strace >/dev/null || fail "strace missing"

start_peer bs --lifetime 300
make_device "$TMP/base" none "$PEER_PORT"
factory_sha=$(sha "$TMP/base/factory.store")

store_paths() {
  local d=$1
  echo -P "$d" -P "$d/operational.store" -P "$d/operational.store.tmp" \
    -P "$d/device.key" -P "$d/device.key.tmp"
}

regs() { count "$TMP/bs.out" '^register '; }
bsreqs() { count "$TMP/bs.out" '^bs-request '; }
CMDS=0  # commands sent to the peer (its command ids)
WIPES=0 # crash points that left an interrupted factory reset

# traced DIR LOG [INJECT] — the daemon under strace in the background; sets
# TPID (strace) and waits until the daemon itself runs (DPID).
traced() {
  local dir=$1 log=$2 inject=${3:-}
  local args=(-f -qq -o "$log" $(store_paths "$dir"))
  [[ -z $inject ]] || args+=(-e "inject=$inject:signal=KILL")
  strace "${args[@]}" "$DEVICE" --data "$dir" --log-level debug 2>>"$TMP/traced.log" &
  TPID=$!
  PIDS+=("$TPID")
}

alive() { kill -0 "$TPID" 2>/dev/null; }
daemon_pid() { pgrep -P "$TPID" -x duckling-device | head -n 1; }

# wait_reg_or_death N — until there are more than N registrations or the
# traced daemon died. Returns 0 when it registered.
wait_reg_or_death() {
  local before=$1 i
  for ((i = 0; i < 600; i++)); do
    [[ $(regs) -gt $before ]] && return 0
    alive || return 1
    sleep 0.05
  done
  fail "neither registered nor died"
}

wait_dead() {
  local i
  for ((i = 0; i < 200; i++)); do
    alive || { wait "$TPID" 2>/dev/null || true; return 0; }
    sleep 0.05
  done
  return 1
}

stop_traced() {
  if alive; then
    local p
    p=$(daemon_pid) || true
    [[ -z $p ]] || kill -TERM "$p" 2>/dev/null || true
    wait_dead || { kill -9 "$TPID" 2>/dev/null || true; wait_dead || true; }
  fi
}

# A factory reset a crash interrupted: the key already overwritten with zeros
# or unlinked, so the store is crypto-erased; the daemon finishes the wipe.
interrupted_wipe() {
  local dir=$1
  if [[ -f "$dir/device.key" ]]; then
    [[ -z "$(tr -d '\0' <"$dir/device.key")" ]]
  else
    [[ -f "$dir/operational.store" ]]
  fi
}

# check_after_crash DIR WHAT [wipe] — the store is loadable or absent (with
# "wipe": or left by an interrupted factory reset), factory.store intact, and
# the daemon starts and registers. Prints the registration's lt.
check_after_crash() {
  local dir=$1 what=$2 wipe=${3:-}
  if ! "$DUMP" "$dir" >"$TMP/dump"; then
    [[ $wipe == wipe ]] && interrupted_wipe "$dir" ||
      fail "$what: store unusable: $(cat "$TMP/dump")"
  fi
  [[ "$(sha "$dir/factory.store")" == "$factory_sha" ]] || fail "$what: factory.store changed"
  local before
  before=$(regs)
  "$DEVICE" --data "$dir" --log-level debug >/dev/null 2>"$TMP/restart.log" &
  local pid=$!
  PIDS+=("$pid")
  local i
  for ((i = 0; i < 400; i++)); do
    [[ $(regs) -gt $before ]] && break
    kill -0 "$pid" 2>/dev/null || { cat "$TMP/restart.log" >&2; fail "$what: daemon did not start"; }
    sleep 0.05
  done
  [[ $(regs) -gt $before ]] || fail "$what: restarted daemon did not register"
  kill -TERM "$pid"
  local st
  wait_exit "$pid" 15
st=$WAIT_ST
  [[ $st -eq 0 ]] || fail "$what: restarted daemon exit $st"
  grep -E '^register ' "$TMP/bs.out" | tail -n 1 | sed -n 's/.* lt=\([0-9]*\) .*/\1/p'
}

# kill_points LOG — "syscall N" for each traced call, N counting that syscall.
kill_points() {
  sed -nE 's/^[0-9]+ +([a-z0-9_]+)\(.*/\1/p' "$1" | awk '{ n[$1]++; print $1, n[$1] }'
}

# ---- (A) bootstrap from factory mode ----------------------------------------
cp -r "$TMP/base" "$TMP/a-dry"
traced "$TMP/a-dry" "$TMP/a-dry.trace"
wait_reg_or_death "$(regs)" || fail "dry run A died"
stop_traced
kill_points "$TMP/a-dry.trace" >"$TMP/a.points"
na=$(wc -l <"$TMP/a.points")
[[ $na -ge 8 ]] || fail "dry run A: only $na store calls: $(cat "$TMP/a-dry.trace")"
grep -q '^rename ' "$TMP/a.points" || fail "dry run A: no rename"
grep -q '^fsync ' "$TMP/a.points" || fail "dry run A: no fsync"
i=0
while read -r sc n; do
  i=$((i + 1))
  d="$TMP/a$i"
  cp -r "$TMP/base" "$d"
  traced "$d" /dev/null "$sc:when=$n"
  wait_reg_or_death "$(regs)" && fail "A$i ($sc #$n): not killed"
  wait_dead || fail "A$i: strace did not end"
  check_after_crash "$d" "A$i ($sc #$n)" >/dev/null
  rm -rf "$d"
done <"$TMP/a.points"
echo "A: $na crash points during bootstrap"

# ---- (B) a server writes the Lifetime ---------------------------------------
# An operational device (bootstrapped, stopped) to start each run from.
cp -r "$TMP/a-dry" "$TMP/opbase"
"$DUMP" "$TMP/opbase" | grep -q '^/1/1 .*c201012c' || fail "opbase: lifetime 300 not stored"
lt301=$(printf 301 | xxd -p)
scenario_b() { # DIR LOG [INJECT]: returns 0 when the write was answered
  local before
  before=$(regs)
  traced "$1" "$2" "${3:-}"
  wait_reg_or_death "$before" || return 1
  CMDS=$((CMDS + 1))
  peer_cmd bs "put /1/1/1 0 $lt301"
  local i
  for ((i = 0; i < 200; i++)); do
    grep -qE "^(response|error) $CMDS " "$TMP/bs.out" && return 0
    alive || return 1
    sleep 0.05
  done
  fail "B: the write got no answer"
}
cp -r "$TMP/opbase" "$TMP/b-dry"
scenario_b "$TMP/b-dry" "$TMP/b-dry.trace" || fail "dry run B died"
grep -qE "^response $CMDS 2\.04 " "$TMP/bs.out" || fail "B: write not 2.04"
stop_traced
"$DUMP" "$TMP/b-dry" | grep -q '^/1/1 .*c201012d' || fail "B: lifetime 301 not persisted"
kill_points "$TMP/b-dry.trace" >"$TMP/b.points"
nb=$(wc -l <"$TMP/b.points")
i=0
seen=""
while read -r sc n; do
  i=$((i + 1))
  d="$TMP/b$i"
  cp -r "$TMP/opbase" "$d"
  if scenario_b "$d" /dev/null "$sc:when=$n"; then
    wait_dead || fail "B$i ($sc #$n): not killed"
  fi
  wait_dead || true
  lt=$(check_after_crash "$d" "B$i ($sc #$n)")
  [[ $lt == 300 || $lt == 301 ]] || fail "B$i ($sc #$n): registered with lt=$lt"
  seen="$seen $lt"
  rm -rf "$d"
done <"$TMP/b.points"
[[ $seen == *300* && $seen == *301* ]] || fail "B: expected both old and new stores, saw:$seen"
echo "B: $nb crash points around a persisted write (lifetimes seen:$seen)"

# ---- (C) factory reset by the button ------------------------------------------
scenario_c() { # DIR LOG [INJECT]: 0 when the daemon registered and got the button
  local before
  before=$(regs)
  traced "$1" "$2" "${3:-}"
  wait_reg_or_death "$before" || return 1
  local p
  p=$(daemon_pid)
  [[ -n $p ]] || return 1
  kill -USR1 "$p"
}
# After the button: until the daemon died or asked to be bootstrapped again.
wait_reset_or_death() {
  local before=$1 k
  for ((k = 0; k < 300; k++)); do
    alive || return 0
    [[ $(bsreqs) -gt $before ]] && return 0
    sleep 0.05
  done
  fail "C: neither reset nor died"
}
cp -r "$TMP/opbase" "$TMP/c-dry"
b=$(bsreqs)
scenario_c "$TMP/c-dry" "$TMP/c-dry.trace" || fail "dry run C died"
wait_reset_or_death "$b"
[[ $(bsreqs) -gt $b ]] || fail "dry run C: no bootstrap after the reset"
stop_traced
grep -q '^[0-9]* *unlink' "$TMP/c-dry.trace" || fail "dry run C: no unlink"
kill_points "$TMP/c-dry.trace" >"$TMP/c.points"
nc=$(wc -l <"$TMP/c.points")
i=0
while read -r sc n; do
  i=$((i + 1))
  d="$TMP/c$i"
  cp -r "$TMP/opbase" "$d"
  b=$(bsreqs)
  if scenario_c "$d" /dev/null "$sc:when=$n"; then
    wait_reset_or_death "$b"
  fi
  stop_traced
  if ! "$DUMP" "$d" >/dev/null; then
    interrupted_wipe "$d" || fail "C$i ($sc #$n): store unusable"
    WIPES=$((WIPES + 1))
  fi
  check_after_crash "$d" "C$i ($sc #$n)" wipe >/dev/null
  [[ ! -e "$d/device.key" || -s "$d/operational.store" ]] || fail "C$i: key without store after restart"
  rm -rf "$d"
done <"$TMP/c.points"
[[ $WIPES -gt 0 ]] || fail "C: no crash point hit the middle of the wipe"
echo "C: $nc crash points during a factory reset ($WIPES left it half done; finished at restart)"

# ---- (D) kill -9 at spread-out times during bootstrap --------------------------
for t in 0 0.005 0.01 0.02 0.03 0.05 0.08 0.12 0.2 0.3; do
  d="$TMP/d$t"
  cp -r "$TMP/base" "$d"
  "$DEVICE" --data "$d" >/dev/null 2>&1 &
  pid=$!
  PIDS+=("$pid")
  sleep "$t"
  kill -9 "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  check_after_crash "$d" "D at ${t}s" >/dev/null
  rm -rf "$d"
done
echo "D: 10 timed kills"
echo "PASS"
