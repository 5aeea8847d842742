#!/usr/bin/env bash
# Hostile input: whatever arrives, the programs stay up, their memory stays
# bounded, they still serve good peers, and nothing is granted.
#  1. UDP: malformed CoAP, DTLS garbage, random bytes and ClientHellos from 256
#     source ports at CoAP/DTLS servers on our stack (dk-coap-peer: the
#     GnuTLS backend the gateway uses, mbedTLS, NoSec) — stand-ins for the
#     gateway's Bootstrap and LwM2M Server ports;
#  2. a ClientHello flood from thousands of source ports at the GnuTLS DTLS
#     server: cookies keep it stateless (memory flat), and good clients
#     complete their handshakes during the flood;
#  3. the real duckling-device, registered over DTLS PSK (stand-in server):
#     garbage at its UDP port from foreign ports, and DTLS garbage forged
#     with its server's address (raw socket, root only); it stays registered
#     and answers its server;
#  4. the real duckling-gateway's HTTP API: bad and mutated JSON, oversized
#     bodies, path tricks, bad tokens, malformed requests, idle connections
#     (httphostile.py); nothing created, memory bounded.
source "$DK_SRC/tests/system/lib.sh"
source "$DK_SRC/tests/system/faults/lib-faults.sh"
cd "$DK_TMP"
SEED=${DK_SEED:-1}
hostile_udp=0

# rss_ok PID BEFORE_KB LIMIT_KB WHAT
rss_ok() {
  local now
  now=$(dk_rss_kb "$1")
  (( now - $2 <= $3 )) || dk_fail "$4: RSS grew from $2 to $now KiB"
  echo "$now"
}

# ---- 1. UDP garbage at CoAP/DTLS servers ----------------------------------------------------
read -r -a backends <<<"$("$PEER" backends)"
for be in "${backends[@]}" nosec; do
  if [[ $be == nosec ]]; then
    dk_start "srv-$be" "$PEER" server --port 0
    scheme=coap creds=()
  else
    dk_start "srv-$be" "$PEER" server --backend "$be" --port 0 --psk-id dev-1 --psk secretpsk
    scheme=coaps creds=(--backend mbedtls --psk-id dev-1 --psk secretpsk)
  fi
  pid=$LAST_PID
  port=$(dk_listening "srv-$be")
  "$PEER" client "${creds[@]}" GET "$scheme://127.0.0.1:$port/hello" >/dev/null ||
    dk_fail "$be: good client before"
  rss0=$(dk_rss_kb "$pid")
  $UDPTOOL spray 127.0.0.1 "$port" --count 6000 --kind mix --sources 256 --seed "$SEED" \
    --rate 20000 >"spray-$be.out"
  sent=$(awk '/^sent/{print $2}' "spray-$be.out")
  hostile_udp=$((hostile_udp + sent))
  kill -0 "$pid" 2>/dev/null || dk_fail "$be server died: $(tail -3 "srv-$be.err")"
  "$PEER" client "${creds[@]}" GET "$scheme://127.0.0.1:$port/hello" >good.out ||
    dk_fail "$be: good client after the garbage: $(cat good.out)"
  rss1=$(rss_ok "$pid" "$rss0" 4096 "$be server")
  dk_pass "$be server: $sent hostile datagrams from 256 ports ($(tail -1 "spray-$be.out")); still serves; RSS $rss0 -> $rss1 KiB"
  dk_stop "$pid"
done

# ---- 2. ClientHello flood ------------------------------------------------------------------------
be=${backends[-1]}
dk_start flood-srv "$PEER" server --backend "$be" --port 0 --psk-id dev-1 --psk secretpsk
pid=$LAST_PID
port=$(dk_listening flood-srv)
"$PEER" client --backend mbedtls --psk-id dev-1 --psk secretpsk GET "coaps://127.0.0.1:$port/hello" >/dev/null
rss0=$(dk_rss_kb "$pid")
FLOOD=40000
$UDPTOOL spray 127.0.0.1 "$port" --count $FLOOD --kind clienthello --sources 4000 --rate 4000 \
  --seed "$SEED" --max-seconds 40 >flood.out &
fpid=$!
sleep 1
ok=0 maxrss=$rss0
start=$SECONDS
for i in 1 2 3 4 5; do
  t0=$(date +%s%N)
  if "$PEER" client --backend mbedtls --timeout-ms 8000 --psk-id dev-1 --psk secretpsk \
    GET "coaps://127.0.0.1:$port/hello" >"during$i.out" 2>&1; then
    ok=$((ok + 1))
    echo "handshake+GET $(( ($(date +%s%N) - t0) / 1000000 )) ms" >>during.times
  fi
  r=$(dk_rss_kb "$pid")
  (( r > maxrss )) && maxrss=$r
done
still_flooding=0
kill -0 "$fpid" 2>/dev/null && still_flooding=1
wait "$fpid"
sent=$(awk '/^sent/{print $2}' flood.out)
answers=$(awk '/^answers/{print $2}' flood.out)
kill -0 "$pid" 2>/dev/null || dk_fail "flooded server died"
(( ok == 5 && still_flooding )) || dk_fail "during the flood $ok of 5 good handshakes (flood running: $still_flooding)"
(( maxrss - rss0 <= 2048 )) || dk_fail "flood: RSS grew from $rss0 to $maxrss KiB"
rss1=$(rss_ok "$pid" "$rss0" 2048 "flooded server")
hostile_udp=$((hostile_udp + sent))
dk_pass "ClientHello flood: $sent from 4000 ports, $answers HelloVerifyRequests back; 5 of 5 good handshakes during it ($(tr '\n' ' ' <during.times)); RSS $rss0 -> max $maxrss KiB"
dk_figure "clienthello_flood sent=$sent ports=4000 hvr=$answers good_during=$ok rss_kb=$rss0..$maxrss"
dk_stop "$pid"

# ---- 3. the real device -----------------------------------------------------------------------
DEVICE=$DK_BIN/duckling-device
STANDIN=$DK_TESTBIN/dk-device-peer
if [[ -x $DEVICE && -x $STANDIN ]]; then
  mkfifo bs.in
  exec 7<>bs.in
  # The stand-in's port is fixed so the factory store can name it first.
  BSPORT=$(dk_free_udp_port)
  EP=$("$DK_BIN/duckling-factory" new --type LED --cred psk --out dev --bs-uri "coaps://127.0.0.1:$BSPORT")
  bspsk=$(awk -F';' '{print $7}' dev/label.txt)
  # (stdin straight on the background command: bash gives a background job
  # /dev/null unless the redirection is its own)
  "$STANDIN" --port "$BSPORT" --lifetime 120 --server-uri "coaps://127.0.0.1:$BSPORT" \
    --psk "$EP:$bspsk" --server-psk "op-$EP:00112233445566778899aabbccddeeff" <bs.in >bs.out 2>bs.err &
  DK_PIDS+=($!)
  dk_listening bs >/dev/null
  dk_start dev "$DEVICE" --data "$DK_TMP/dev" --log-level info
  dev=$LAST_PID
  dk_wait_line bs.out '^register ep=' 30
  regs0=$(grep -c '^register ' bs.out)
  ports=$(ss -H -uanp | grep "pid=$dev," | awk '{print $4}' | sed 's/.*://' | sort -u)
  [[ -n $ports ]] || dk_fail "no UDP port of the device found"
  rss0=$(dk_rss_kb "$dev")
  spoofed=0
  for p in $ports; do
    $UDPTOOL spray 127.0.0.1 "$p" --count 3000 --kind mix --sources 64 --seed "$SEED" >>dev-spray.out
    hostile_udp=$((hostile_udp + 3000))
    if [[ $(id -u) -eq 0 ]]; then
      for kind in dtls random; do
        $UDPTOOL spray 127.0.0.1 "$p" --count 1000 --kind $kind --spoof "127.0.0.1:$BSPORT" \
          --seed "$SEED" >>dev-spray.out
        spoofed=$((spoofed + 1000))
      done
    fi
  done
  hostile_udp=$((hostile_udp + spoofed))
  kill -0 "$dev" 2>/dev/null || dk_fail "the device died: $(tail -5 dev.err)"
  echo "get /3/0/0" >&7
  dk_wait_line bs.out '^response 1 2\.05 ' 20
  sleep 0.5
  regs1=$(grep -c '^register ' bs.out)
  [[ $regs1 -eq $regs0 ]] || dk_fail "the device registered again ($regs0 -> $regs1): its session was broken"
  rss1=$(rss_ok "$dev" "$rss0" 2048 "device")
  dk_pass "duckling-device (port(s) $(echo $ports)): 3000 hostile datagrams from 64 foreign ports and $spoofed forged from its server's address; still registered once, answers its server, RSS $rss0 -> $rss1 KiB"
  dk_stop "$dev"
else
  echo "note: duckling-device not built, device part skipped"
fi

# ---- 4. the gateway's HTTP API ----------------------------------------------------------------------
mkdir gw
dk_start gw "$DK_BIN/duckling-gateway" --data "$DK_TMP/gw" --http-port 0 --no-bootstrap --no-server
gw=$LAST_PID
dk_wait_line gw.out '^listening on http://127.0.0.1:[0-9]+/$' 10
HTTP=$(sed -n 's|^listening on http://127.0.0.1:\([0-9]*\)/$|\1|p' gw.out)
rss0=$(dk_rss_kb "$gw")
/usr/bin/python3 "$DK_SRC/tests/system/faults/httphostile.py" 127.0.0.1 "$HTTP" "$(cat gw/admin.token)" \
  --seed "$SEED" --rounds 400 >http.out || dk_fail "hostile HTTP: $(grep -E 'FAIL' http.out | head -5)"
kill -0 "$gw" 2>/dev/null || dk_fail "the gateway died"
rss1=$(rss_ok "$gw" "$rss0" 8192 "gateway")
nhttp=$(awk '/^total/{print $2}' http.out)
audits=$(curl -s -H "Authorization: Bearer $(cat gw/admin.token)" "http://127.0.0.1:$HTTP/api/audit?limit=1000" |
  grep -o '"event":"[a-z.]*"' | sort | uniq -c | tr -s ' ' | tr '\n' ';')
dk_pass "gateway HTTP: $nhttp hostile requests ($(grep -v '^total' http.out | tr '\n' ';')); nothing created; RSS $rss0 -> $rss1 KiB; audit: $audits"
dk_figure "hostile udp_datagrams=$hostile_udp http_requests=$nhttp"
echo "hostile: all passed"
