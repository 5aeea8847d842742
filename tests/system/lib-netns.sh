# Network namespaces for system tests (source after tests/system/lib.sh).
#
# A test makes its own namespaces and veth links with link-local addresses
# (169.254.0.0/16) that exist only inside those namespaces, adds nftables
# random-drop rules on a link, runs programs inside with dk_ns_exec, and
# everything is removed on exit (trap), whatever happened. Without root or
# without `ip netns` / `nft` the test prints one SKIP line and exits 77
# (CTest SKIP_RETURN_CODE).
#
#   dk_netns_require [nft]            SKIP unless namespaces (and nft) work
#   dk_ns_add NAME                    namespace $DK_NS_PREFIX-NAME, lo up
#   dk_ns_link A B N                  veth pair A<->B: A gets 169.254.N.1/24,
#                                     B 169.254.N.2/24; device names in
#                                     LINK_DEV_A / LINK_DEV_B
#   dk_ns_exec NAME CMD...            runs CMD inside namespace NAME
#   dk_ns_drop NAME DEV PERCENT       drops PERCENT % of what arrives on DEV
#                                     in namespace NAME (nftables numgen
#                                     random, counted); dropping on arrival
#                                     keeps senders free of EPERM errors
#   dk_ns_link_loss A B PERCENT       both ends of the last dk_ns_link A B
#   dk_ns_drop_clear NAME             removes those rules
#   dk_ns_dropped NAME                packets the rules dropped so far
#   dk_ns_pids NAME                   processes running inside NAME
set -euo pipefail
DK_NS_PREFIX="dkt$$"
DK_NS_LIST=()
DK_NS_TABLE=dkfault

dk_skip() { echo "SKIP: $*"; exit 77; }

dk_netns_require() {
  [[ $(id -u) -eq 0 ]] || dk_skip "network namespaces need root (running as uid $(id -u))"
  command -v ip >/dev/null || dk_skip "no ip command (iproute2)"
  local probe="${DK_NS_PREFIX}-probe"
  ip netns add "$probe" 2>/dev/null || dk_skip "ip netns add does not work here"
  ip netns del "$probe" 2>/dev/null || true
  if [[ ${1:-} == nft ]]; then
    command -v nft >/dev/null || dk_skip "no nft command (nftables)"
  fi
  dk_netns_reap
}

# Namespaces left by an earlier run of a test that was killed before its trap
# ran (dkt<pid>-*, pid gone) are removed; never someone else's.
dk_netns_reap() {
  local ns pid
  for ns in $(ip netns list 2>/dev/null | awk '{print $1}'); do
    [[ $ns =~ ^dkt([0-9]+)- ]] || continue
    pid=${BASH_REMATCH[1]}
    [[ $pid == "$$" ]] && continue
    kill -0 "$pid" 2>/dev/null || ip netns del "$ns" 2>/dev/null || true
  done
}

dk_ns_name() { echo "${DK_NS_PREFIX}-$1"; }

dk_ns_add() {
  local ns
  ns=$(dk_ns_name "$1")
  ip netns add "$ns"
  DK_NS_LIST+=("$ns")
  ip -n "$ns" link set lo up
}

dk_ns_link() {
  local a=$1 b=$2 n=$3
  LINK_DEV_A="dk$$a$n"
  LINK_DEV_B="dk$$b$n"
  LINK_DEV_A=${LINK_DEV_A:0:15}
  LINK_DEV_B=${LINK_DEV_B:0:15}
  ip link add "$LINK_DEV_A" netns "$(dk_ns_name "$a")" type veth peer name "$LINK_DEV_B" \
    netns "$(dk_ns_name "$b")"
  ip -n "$(dk_ns_name "$a")" addr add "169.254.$n.1/24" dev "$LINK_DEV_A"
  ip -n "$(dk_ns_name "$b")" addr add "169.254.$n.2/24" dev "$LINK_DEV_B"
  ip -n "$(dk_ns_name "$a")" link set "$LINK_DEV_A" up
  ip -n "$(dk_ns_name "$b")" link set "$LINK_DEV_B" up
}

dk_ns_exec() {
  local ns
  ns=$(dk_ns_name "$1")
  shift
  ip netns exec "$ns" "$@"
}

dk_ns_drop() {
  local name=$1 dev=$2 pct=$3
  dk_ns_exec "$name" nft -f - <<EOF
table inet $DK_NS_TABLE {
  chain in {
    type filter hook input priority 0; policy accept;
    iifname "$dev" numgen random mod 100 < $pct counter drop
  }
}
EOF
}

# dk_ns_link_loss A B PERCENT: the link made by dk_ns_link A B loses PERCENT %
# each way (dropped on arrival, so senders see no error, as on a radio link).
dk_ns_link_loss() {
  dk_ns_drop "$1" "$LINK_DEV_A" "$3"
  dk_ns_drop "$2" "$LINK_DEV_B" "$3"
}

dk_ns_drop_clear() {
  dk_ns_exec "$1" nft delete table inet "$DK_NS_TABLE" 2>/dev/null || true
}

dk_ns_dropped() {
  dk_ns_exec "$1" nft list table inet "$DK_NS_TABLE" 2>/dev/null |
    sed -n 's/.*counter packets \([0-9]*\).*/\1/p' | awk '{s += $1} END {print s + 0}'
}

dk_ns_pids() { ip netns pids "$(dk_ns_name "$1")" 2>/dev/null || true; }

# Kills what still runs inside our namespaces (all of it started by this
# test), then deletes them; the veth pairs and nftables tables go with them.
dk_netns_cleanup() {
  local ns pid
  for ns in "${DK_NS_LIST[@]}"; do
    for pid in $(ip netns pids "$ns" 2>/dev/null); do
      kill -9 "$pid" 2>/dev/null || true
    done
  done
  for ns in "${DK_NS_LIST[@]}"; do
    ip netns del "$ns" 2>/dev/null || true
  done
  DK_NS_LIST=()
}
trap 'dk_netns_cleanup; dk_cleanup' EXIT
trap 'exit 130' INT TERM
