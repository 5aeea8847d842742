# End-to-end helpers (issue 6): the real duckling-gateway, duckling-factory,
# duckling-device and duckling CLI on 127.0.0.1. Sourced by the e2e scripts.
# shellcheck shell=bash
set -euo pipefail
: "${DK_BIN:?}" "${DK_TMP:?}" "${DK_SRC:?}"
GATEWAY=$DK_BIN/duckling-gateway
DEVICE=$DK_BIN/duckling-device
FACTORY=$DK_BIN/duckling-factory
CLI=$DK_BIN/duckling
T=$DK_TMP
rm -rf "$T"
mkdir -p "$T"
PIDS=()
declare -A DEV_PID=()
GW_PID=
T0=$SECONDS

cleanup() {
  local p
  for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
}
trap cleanup EXIT

fail() {
  echo "FAIL: $*" >&2
  local f
  for f in "$T"/*.log "$T"/*.err; do
    [[ -f "$f" ]] || continue
    echo "--- $f (last 30 lines)" >&2
    tail -n 30 "$f" >&2
  done
  exit 1
}
pass() { printf 'ok - %s (%ds)\n' "$*" $((SECONDS - T0)); }

# until_ok SECONDS CMD...: runs CMD every 0.2 s until it succeeds.
until_ok() {
  local secs=$1 i
  shift
  for ((i = 0; i < secs * 5; i++)); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.2
  done
  return 1
}

# wait_for FILE REGEX [SECONDS]
wait_for() {
  local f=$1 re=$2 secs=${3:-20}
  until_ok "$secs" grep -qE -- "$re" "$f" || fail "timed out waiting for /$re/ in $f"
}

# ---- gateway --------------------------------------------------------------

# gw_start NAME [OPTIONS...]: a gateway with data directory $T/NAME (kept
# across restarts), ports from the options or free ones. Sets GW_DATA,
# GW_HTTP, GW_BS, GW_SRV.
gw_start() {
  local name=$1
  shift
  GW_DATA=$T/$name
  mkdir -p "$GW_DATA"
  chmod 700 "$GW_DATA"
  rm -f "$GW_DATA/ports"
  local args=(--data "$GW_DATA" --http-port 0 --bs-port 0 --server-port 0 --op-timeout 10)
  "$GATEWAY" "${args[@]}" "$@" >>"$T/$name.out" 2>>"$T/$name.err" &
  GW_PID=$!
  PIDS+=("$GW_PID")
  until_ok 20 test -s "$GW_DATA/ports" || fail "gateway $name did not start"
  GW_HTTP=$(sed -n 's/^http=//p' "$GW_DATA/ports")
  GW_BS=$(sed -n 's/^bootstrap=//p' "$GW_DATA/ports")
  GW_SRV=$(sed -n 's/^server=//p' "$GW_DATA/ports")
  until_ok 10 dk status || fail "gateway $name does not answer on HTTP port $GW_HTTP"
}

# gw_stop: SIGTERM, waits, checks exit 0 (ASan builds also report leaks here).
gw_stop() {
  local rc=0
  kill -TERM "$GW_PID"
  wait "$GW_PID" || rc=$?
  [[ $rc -eq 0 ]] || fail "gateway exited $rc"
  GW_PID=
}

dk() { "$CLI" --gateway "http://127.0.0.1:$GW_HTTP" --token-file "$GW_DATA/admin.token" "$@"; }

# audit_has EP EVENT [REGEX]: the audit log has EVENT for EP (detail
# matching REGEX).
audit_has() {
  local ep=$1 ev=$2 re=${3:-.}
  dk --json audit --limit 500 "$ep" |
    jq -e --arg ev "$ev" --arg re "$re" '.audit | map(select(.event == $ev and (.detail | test($re)))) | length > 0' \
      >/dev/null
}
wait_audit() {
  until_ok "${4:-20}" audit_has "$1" "$2" "${3:-.}" ||
    fail "no audit event $2 /${3:-.}/ for $1: $(dk audit --limit 15 2>&1)"
}

# dev_state EP: the device's state as the gateway sees it.
dev_state() { dk --json device "$1" | jq -r '.state'; }
state_is() { [[ "$(dev_state "$1")" == "$2" ]]; }
wait_state() { until_ok "${3:-30}" state_is "$1" "$2" || fail "$1 not $2 (is $(dev_state "$1" 2>&1))"; }
is_pending() { dk --json pending | jq -e --arg ep "$1" '.pending | map(select(.endpoint == $ep)) | length == 1' >/dev/null; }
wait_pending() { until_ok "${2:-30}" is_pending "$1" || fail "$1 never became pending: $(dk pending 2>&1)"; }

# ---- devices -----------------------------------------------------------------

# make_device NAME CRED [CHANNEL]: a device made by the factory in $T/NAME
# (channel none by default); EP_<NAME> set.
make_device() {
  local name=$1 cred=$2 channel=${3:-none}
  "$FACTORY" new --type LED --cred "$cred" --channel "$channel" --out "$T/$name" \
    >"$T/$name.factory" 2>&1 ||
    fail "duckling-factory new --cred $cred: $(cat "$T/$name.factory")"
  printf -v "EP_$name" '%s' "$(label_field "$(cat "$T/$name/label.txt")" ep)"
}

# label_field TEXT ep|cred: fields of an OOB label.
label_field() {
  case $2 in
    ep) sed -n 's/^01;EP:\([^;]*\);.*/\1/p' <<<"$1" ;;
    cred) awk -F';' '{print $(NF-3)}' <<<"$1" ;;
  esac
}

# relabel TEXT CREDHEX: the same label with another credential value and a
# checksum that fits it (what a forged or mistaken label looks like).
relabel() {
  local text=$1 hex=$2
  local cs
  cs=$(printf %s "$hex" | sha256sum | cut -c1-2)
  awk -F';' -v OFS=';' -v h="$hex" -v c="$cs" '{ $(NF-3) = h; $(NF-2) = c; print }' <<<"$text"
}

# dev_start NAME [OPTIONS...]: runs duckling-device on $T/NAME against our
# Bootstrap Server; log in $T/NAME.log.
dev_start() {
  local name=$1
  shift
  "$DEVICE" --data "$T/$name" --bs-uri "coaps://127.0.0.1:$GW_BS" --log-level debug "$@" \
    >>"$T/$name.log" 2>&1 &
  DEV_PID[$name]=$!
  PIDS+=("${DEV_PID[$name]}")
}

dev_stop() {
  local name=$1 rc=0
  kill -TERM "${DEV_PID[$name]}" 2>/dev/null || true
  wait "${DEV_PID[$name]}" || rc=$?
  unset "DEV_PID[$name]"
  return $rc
}

# The device holds no operational credentials: no operational store.
no_op_store() { [[ ! -e "$T/$1/operational.store" ]]; }
check_no_op_store() { no_op_store "$1" || fail "$1 holds operational credentials (operational.store)"; }
