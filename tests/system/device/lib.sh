# Shared helpers for the duckling-device system tests (sourced).
# Everything runs on 127.0.0.1 with ports the kernel picks.
set -euo pipefail
DEVICE=${DK_BIN:?}/duckling-device
FACTORY=$DK_BIN/duckling-factory
PEER=${DK_TESTBIN:?}/dk-device-peer
DUMP=$DK_TESTBIN/dk-store-dump
TMP=${DK_TMP:?}
rm -rf "$TMP"
mkdir -p "$TMP"
PIDS=()

cleanup() {
  local pid child
  for pid in "${PIDS[@]}"; do
    # Children first (a daemon under strace, a hook): by parent pid only.
    for child in $(pgrep -P "$pid" 2>/dev/null); do
      kill -9 "$child" 2>/dev/null || true
    done
    kill -9 "$pid" 2>/dev/null || true
  done
  for pid in "${PIDS[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
}
trap cleanup EXIT

fail() {
  echo "FAIL: $*" >&2
  local f
  for f in "$TMP"/*.log "$TMP"/*.out; do
    [[ -f "$f" ]] || continue
    echo "--- $f" >&2
    tail -n 40 "$f" >&2
  done
  exit 1
}

# run EXPECTED_EXIT CMD... — stdout in $TMP/stdout, stderr in $TMP/stderr.
run() {
  local want=$1
  shift
  local got=0
  "$@" >"$TMP/stdout" 2>"$TMP/stderr" || got=$?
  if [[ $got -ne $want ]]; then
    echo "--- stdout" >&2; cat "$TMP/stdout" >&2
    echo "--- stderr" >&2; cat "$TMP/stderr" >&2
    fail "'$*' exited $got, want $want"
  fi
}

expect_err_match() {
  grep -qE -- "$1" "$TMP/stderr" || fail "stderr '$(cat "$TMP/stderr")' does not match /$1/"
}

# wait_for FILE REGEX [SECONDS] — until a line of FILE matches.
wait_for() {
  local file=$1 re=$2 secs=${3:-20} i
  for ((i = 0; i < secs * 20; i++)); do
    if [[ -f "$file" ]] && grep -qE -- "$re" "$file"; then
      return 0
    fi
    sleep 0.05
  done
  fail "timed out waiting for /$re/ in $file"
}

# wait_count FILE REGEX N [SECONDS] — until at least N lines match.
wait_count() {
  local file=$1 re=$2 n=$3 secs=${4:-20} i
  for ((i = 0; i < secs * 20; i++)); do
    [[ -f "$file" && $(count "$file" "$re") -ge $n ]] && return 0
    sleep 0.05
  done
  fail "timed out waiting for $n lines /$re/ in $file"
}

# count FILE REGEX — matching lines.
count() {
  grep -cE -- "$2" "$1" || true
}

# make_device DIR [CRED] [PORT] — a factory store for a LED device whose
# Bootstrap Server is the peer on PORT (plain CoAP unless CRED says otherwise).
# Sets EP to its endpoint name.
make_device() {
  local dir=$1 cred=${2:-none} port=${3:-5783} scheme=coap
  [[ $cred == none ]] || scheme=coaps
  EP=$("$FACTORY" new --type LED --cred "$cred" --out "$dir" --bs-uri "$scheme://127.0.0.1:$port")
  [[ -f "$dir/factory.store" && -n "$EP" ]] || fail "duckling-factory made no factory.store"
}

# factory_field DIR LABEL — a line of 'duckling-factory show'.
factory_field() {
  "$FACTORY" show "$1" | sed -n "s/^$2: *//p"
}

# start_peer NAME [ARGS...] — the scripted server in the background. Commands
# go to it through $TMP/NAME.in (a FIFO kept open on fd 7 / 8); its output is
# $TMP/NAME.out. Sets PEER_PORT and PEER_PID.
start_peer() {
  local name=$1 fd
  shift
  rm -f "$TMP/$name.in" "$TMP/$name.out"
  mkfifo "$TMP/$name.in"
  "$PEER" "$@" <"$TMP/$name.in" >"$TMP/$name.out" 2>"$TMP/$name.err.log" &
  PEER_PID=$!
  PIDS+=("$PEER_PID")
  exec {fd}>"$TMP/$name.in"
  eval "PEER_FD_$name=$fd"
  wait_for "$TMP/$name.out" '^listening [0-9]+$' 10
  PEER_PORT=$(sed -n 's/^listening \([0-9]*\)$/\1/p' "$TMP/$name.out")
}

# peer_cmd NAME COMMAND — sends a command line to a peer.
peer_cmd() {
  local fdvar="PEER_FD_$1"
  echo "$2" >&"${!fdvar}"
}

# start_device NAME DIR [ARGS...] — the daemon in the background, logging at
# debug level to $TMP/NAME.log. Sets DEV_PID.
start_device() {
  local name=$1 dir=$2
  shift 2
  "$DEVICE" --data "$dir" --log-level debug "$@" >"$TMP/$name.stdout.log" 2>"$TMP/$name.log" &
  DEV_PID=$!
  PIDS+=("$DEV_PID")
}

# wait_exit PID [SECONDS] — waits for a background child of this shell to
# exit; its exit status goes to WAIT_ST.
wait_exit() {
  local pid=$1 secs=${2:-20} i
  for ((i = 0; i < secs * 20; i++)); do
    if ! kill -0 "$pid" 2>/dev/null; then
      WAIT_ST=0
      wait "$pid" || WAIT_ST=$?
      return 0
    fi
    sleep 0.05
  done
  fail "pid $pid did not exit within $secs s"
}

# The device's port as the peer saw it at its last registration.
device_port() {
  grep -E '^register ' "$TMP/$1.out" | tail -n 1 | sed -n 's/.* from 127\.0\.0\.1:\([0-9]*\) .*/\1/p'
}

sha() {
  sha256sum "$1" | cut -d' ' -f1
}
