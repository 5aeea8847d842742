# Shared helpers for system tests (source it). Every wait is bounded.
set -euo pipefail
: "${DK_TMP:?}"
rm -rf "$DK_TMP"; mkdir -p "$DK_TMP"
DK_PIDS=()
dk_cleanup() { for p in "${DK_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap dk_cleanup EXIT
dk_fail() { echo "FAIL: $*" >&2; exit 1; }
dk_pass() { echo "ok - $*"; }
# dk_wait_line FILE REGEX [SECONDS]: waits until FILE has a line matching REGEX.
dk_wait_line() {
  local f=$1 re=$2 t=${3:-10} i
  for ((i = 0; i < t * 20; i++)); do grep -qE "$re" "$f" 2>/dev/null && return 0; sleep 0.05; done
  dk_fail "timed out waiting for /$re/ in $f: $(tail -5 "$f" 2>/dev/null)"
}
# dk_free_udp_port: a UDP port nobody listens on right now.
dk_free_udp_port() { python3 -c 'import socket;s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM);s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
dk_free_tcp_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
