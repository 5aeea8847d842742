#!/usr/bin/env bash
# make demo must keep working: run scripts/demo on free ports with the test build's programs.
source "$DK_SRC/tests/system/lib.sh"
export DK_HTTP_PORT=$(dk_free_tcp_port) DK_BS_PORT=$(dk_free_udp_port) DK_SERVER_PORT=$(dk_free_udp_port)
export DK_DEMO_DIR=$DK_TMP/demo
timeout 240 "$DK_SRC/scripts/demo" > "$DK_TMP/demo.out" 2>&1 || { tail -40 "$DK_TMP/demo.out"; dk_fail "scripts/demo failed"; }
for want in 'lamp-1 +psk +match' 'sensor-1 +x509 +match' 'lamp-1 +registered' 'sensor-1 +registered' \
            'written \(2.04\)' 'LED state file: on=1' 'notification sensor-1 /3301/0/5700' \
            'factory reset done' 'operational.store wiped'; do
  grep -qE "$want" "$DK_TMP/demo.out" || dk_fail "demo output lacks /$want/"
done
n=$(grep -c 'notification sensor-1' "$DK_TMP/demo.out")
(( n == 3 )) || dk_fail "demo observed $n notifications, want 3"
# Nothing it started is left running.
sleep 0.5
! pgrep -f "$DK_DEMO_DIR" >/dev/null || dk_fail "demo left processes running: $(pgrep -af "$DK_DEMO_DIR")"
dk_pass "make demo: the whole lifecycle, narrated, everything stopped"
