#!/usr/bin/env bash
# kill -9 at every system call of a store write: the store is always the old
# or the new one, and the next write works.
#
# The store layer (dk_store_ops_save through dk-store-tool, the factory store
# through duckling-factory) runs under strace, which lists the system calls on
# the store's files and directory; then the write is repeated once per call
# with strace sending SIGKILL on entry to exactly that call
# (inject=SYSCALL:signal=KILL:when=N). Also: the order of the calls is the
# one a power cut needs (data fsynced before the rename, directory fsynced
# after), and kill -9 at random times during a stream of 512 KiB saves.
# (tests/system/device/kill9.sh does the same for the running duckling-device.)
source "$DK_SRC/tests/system/lib.sh"
source "$DK_SRC/tests/system/faults/lib-faults.sh"
command -v strace >/dev/null || dk_skip "strace missing"
TOOL=$DK_TESTBIN/dk-store-tool
FACTORY=$DK_BIN/duckling-factory
cd "$DK_TMP"
D=$DK_TMP # absolute: strace -P matches files created later by absolute path

store_paths() {
  local d=$1
  echo -P "$d" -P "$d/operational.store" -P "$d/operational.store.tmp" \
    -P "$d/device.key" -P "$d/device.key.tmp" -P "$d/factory.store" -P "$d/factory.store.tmp"
}
kill_points() { # TRACE -> "syscall N" per traced call
  sed -nE 's/^[0-9]+ +([a-z0-9_]+)\(.*/\1/p' "$1" | awk '{ n[$1]++; print $1, n[$1] }'
}
# The calls that make a write durable, in the order a power cut needs.
check_order() { # TRACE WHAT
  local seq
  seq=$(sed -nE 's/^[0-9]+ +(openat|rename)\((AT_FDCWD, )?"([^"]*)".*/\1 \3/p
                 s/^[0-9]+ +(write|fsync)\(.*/\1/p' "$1" |
    awk '{ if (NF > 1) { n = split($2, a, "/"); print $1 " " a[n] } else print $1 }' | tr '\n' ',')
  [[ $seq =~ openat\ $2\.tmp,write,fsync,rename\ $2\.tmp,openat\ [^,]*,fsync ]] ||
    dk_fail "$2: write, fsync, rename, directory fsync not in that order: $seq"
}

total=0
tally() { sort seen | uniq -c | awk '{ c = $1; $1 = ""; printf "%s%s ×%s", sep, substr($0, 2), c; sep = ", " }'; }
# scenario NAME BASE CMD... : dry run, then one killed run per call. CMD gets
# the directory as {}. After each kill, verify DIR runs.
scenario() {
  local name=$1 base=$2
  shift 2
  local cmd=("$@") dir
  rm -rf "$D/$name-dry"
  cp -a "$base" "$D/$name-dry"
  strace -f -qq -o "$name.trace" $(store_paths "$D/$name-dry") "${cmd[@]//\{\}/$D/$name-dry}" \
    >/dev/null || dk_fail "$name: dry run failed"
  kill_points "$name.trace" >"$name.points"
  local n i=0
  n=$(wc -l <"$name.points")
  (( n >= 5 )) || dk_fail "$name: only $n store calls traced: $(cat "$name.trace")"
  while read -r sc k; do
    i=$((i + 1))
    dir="$D/$name-$i"
    rm -rf "$dir"
    cp -a "$base" "$dir"
    st=0
    strace -f -qq -o /dev/null -e "inject=$sc:signal=KILL:when=$k" \
      "${cmd[@]//\{\}/$dir}" >/dev/null 2>&1 || st=$?
    [[ $st -ne 0 ]] || dk_fail "$name: not killed at $sc #$k"
    verify "$dir" "$name at $sc #$k"
    rm -rf "$dir"
  done <"$name.points"
  total=$((total + n))
  KP=$n
}

# ---- 1. operational store: generation 1 replaced by generation 2 --------------------
mkdir base1
"$TOOL" save "$D/base1" 1 >/dev/null
verify() { # DIR WHAT: the old or the new generation, and the next save works
  local out
  out=$("$TOOL" load "$1") || dk_fail "$2: store unusable: $out"
  [[ $out == "gen 1" || $out == "gen 2" ]] || dk_fail "$2: $out"
  echo "$out" >>seen
  "$TOOL" save "$1" 3 >/dev/null || dk_fail "$2: the next save fails"
  [[ $("$TOOL" load "$1") == "gen 3" ]] || dk_fail "$2: the next save did not stick"
}
: >seen
scenario ops base1 "$TOOL" save {} 2
check_order ops.trace operational.store
grep -q 'gen 1' seen && grep -q 'gen 2' seen || dk_fail "replace: expected both generations: $(sort seen | uniq -c)"
dk_pass "operational store replace: $KP kill points, each left gen 1 or gen 2 ($(tally))"
KPOPS=$KP

# ---- 2. the first save (factory mode to operational: the key is made too) ------------
mkdir base0
verify() {
  local out
  out=$("$TOOL" load "$1") || dk_fail "$2: store unusable: $out"
  [[ $out == none || $out == "gen 1" ]] || dk_fail "$2: $out"
  echo "$out" >>seen
  "$TOOL" save "$1" 3 >/dev/null || dk_fail "$2: the next save fails"
  [[ $("$TOOL" load "$1") == "gen 3" ]] || dk_fail "$2: the next save did not stick"
}
: >seen
scenario first base0 "$TOOL" save {} 1
check_order first.trace device.key
check_order first.trace operational.store
dk_pass "first save (device key + store): $KP kill points, each left no store or gen 1 ($(tally))"
KPFIRST=$KP

# ---- 3. the factory store, written by duckling-factory ---------------------------------------
mkdir basef
verify() {
  local out
  out=$("$TOOL" factory "$1") || dk_fail "$2: factory.store unusable: $out"
  [[ $out == none || $out == factory\ * ]] || dk_fail "$2: $out"
  echo "${out%% *}" >>seen
}
: >seen
scenario factory basef "$FACTORY" new --endpoint kill-test --type LED --cred psk --out {}
check_order factory.trace factory.store
dk_pass "duckling-factory new: $KP kill points, each left no factory.store or a whole one ($(tally))"
KPFACT=$KP

# ---- 4. kill -9 at random times during a stream of large saves --------------------------------
mkdir stream
"$TOOL" save "$D/stream" 1 524288 >/dev/null
kills=0
RANDOM=8
for ((r = 0; r < 30; r++)); do
  before=$("$TOOL" load "$D/stream") || dk_fail "stream: $before"
  g=${before#gen }
  ( for ((k = 1; k <= 50; k++)); do "$TOOL" save "$D/stream" $((g + k)) 524288 >/dev/null || exit 1; done ) &
  pid=$!
  sleep "0.0$((RANDOM % 90 + 10))"
  # The save running now (the subshell's child), then the subshell: both ours.
  kill -9 $(pgrep -P "$pid") "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  after=$("$TOOL" load "$D/stream") || dk_fail "stream kill $r: $after"
  ga=${after#gen }
  (( ga >= g && ga <= g + 50 )) || dk_fail "stream kill $r: gen $g then $after"
  kills=$((kills + 1))
done
dk_pass "$kills kill -9 at random times during 512 KiB saves: always a whole generation"

dk_figure "store_kill_points ops_replace=$KPOPS first_save=$KPFIRST factory=$KPFACT total=$total random_kills=$kills"
echo "store_kill: all passed"
