# Helpers for the fault tests (source after tests/system/lib.sh).
IMPAIR=${DK_TESTBIN:?}/dk-udp-impair
PEER=$DK_TESTBIN/dk-coap-peer
UDPTOOL="/usr/bin/python3 $DK_SRC/tests/system/faults/udptool.py"

# dk_skip WHY: the test cannot run here (CTest SKIP_RETURN_CODE 77).
dk_skip() { echo "SKIP: $*"; exit 77; }

# dk_start NAME CMD...: runs CMD in the background, stdout in $DK_TMP/NAME.out
# and stderr in NAME.err; sets LAST_PID and registers it for cleanup.
dk_start() {
  local name=$1
  shift
  "$@" >"$DK_TMP/$name.out" 2>"$DK_TMP/$name.err" &
  LAST_PID=$!
  DK_PIDS+=("$LAST_PID")
}

# dk_listening NAME: the port a program printed as "listening PORT".
dk_listening() {
  dk_wait_line "$DK_TMP/$1.out" '^listening [0-9]+' 10
  awk '/^listening/{print $2; exit}' "$DK_TMP/$1.out"
}

# dk_stop PID: SIGTERM and wait (bounded: SIGKILL after 5 s).
dk_stop() {
  local pid=$1 i
  kill -TERM "$pid" 2>/dev/null || return 0
  for ((i = 0; i < 100; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.05
  done
  kill -9 "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

# dk_counter FILE DIR NAME: a counter from dk-udp-impair's exit report.
dk_counter() {
  sed -n "s/^$2 .*\b$3=\([0-9]*\).*/\1/p" "$1"
}

# dk_rss_kb PID: resident set size in KiB.
dk_rss_kb() { awk '/^VmRSS:/{print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }

# dk_figure WORDS...: a line of figures for docs/reliability.md, printed and
# kept in $DK_TMP/figures.txt (scripts: cat build/asan/tmp/faults_*/figures.txt).
dk_figure() {
  echo "figure: $*"
  echo "$*" >>"$DK_TMP/figures.txt"
}
