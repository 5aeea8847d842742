#!/usr/bin/env bash
# 30 % loss with reordering on the device link: onboarding still completes.
#
# Two namespaces joined by a veth pair (169.254.1.1 gateway side,
# 169.254.1.2 device side); nftables drops 30 % of the datagrams arriving at
# either end at random; on the gateway side dk-udp-impair in front of the
# server reorders 20 % and adds 0-20 ms jitter each way. Over that link:
#  1. dk-coap-peer: DTLS PSK handshakes and block-wise GETs (mbedTLS client,
#     GnuTLS server — the device's and the gateway's backends);
#  2. the real duckling-device bootstraps over DTLS PSK from its factory
#     store, is written its server account, finishes and registers
#     (stand-in Bootstrap/LwM2M Server: dk-device-peer).
source "$DK_SRC/tests/system/lib.sh"
source "$DK_SRC/tests/system/lib-netns.sh"
source "$DK_SRC/tests/system/faults/lib-faults.sh"
dk_netns_require nft
cd "$DK_TMP"
LOSS=30
GW=169.254.1.1

dk_ns_add gw
dk_ns_add dev
dk_ns_link gw dev 1
dk_ns_link_loss gw dev $LOSS
NSGW=$(dk_ns_name gw)
NSDEV=$(dk_ns_name dev)

# reorder_proxy NAME PORT SEED: dk-udp-impair in the gateway namespace on
# $GW:PORT in front of 127.0.0.1:PORT.
reorder_proxy() {
  dk_start "$1" ip netns exec "$NSGW" "$IMPAIR" --listen "$GW:$2" --target "127.0.0.1:$2" \
    --reorder 20 --jitter 20 --seed "$3" --duration 200
  PX=$LAST_PID
  dk_listening "$1" >/dev/null
}
sum_counter() { # NAME... -> "held reordered" over several proxies
  local h=0 r=0 f
  for f in "$@"; do
    h=$((h + $(dk_counter "$f.out" up held) + $(dk_counter "$f.out" down held)))
    r=$((r + $(dk_counter "$f.out" up reordered) + $(dk_counter "$f.out" down reordered)))
  done
  echo "$h $r"
}

# ---- 1. CoAP over DTLS through the lossy link --------------------------------------
read -r -a backends <<<"$("$PEER" backends)"
srv_be=${backends[-1]}
PORT=5784
dk_start srv ip netns exec "$NSGW" "$PEER" server --backend "$srv_be" --bind 127.0.0.1 --port $PORT \
  --psk-id dev-1 --psk secretpsk
dk_listening srv >/dev/null
reorder_proxy px1 $PORT 1
# Like an application, a client that gives up (its DTLS handshake or CoAP
# exchange timed out) starts over: at most 3 attempts each.
getbig() {
  local i=$1 a
  for a in 1 2 3; do
    if dk_ns_exec dev "$PEER" client --backend mbedtls --timeout-ms 100000 --psk-id dev-1 \
      --psk secretpsk GET "coaps://$GW:$PORT/big" >"big$i.out" 2>&1; then
      echo "$a" >"big$i.attempts"
      return 0
    fi
    cp "big$i.out" "big$i.fail$a"
  done
  return 1
}
pids=()
for i in 1 2 3; do
  getbig $i &
  pids+=($!)
done
attempts=0
for i in 1 2 3; do
  wait "${pids[$((i - 1))]}" || dk_fail "block-wise GET $i over the lossy link, 3 attempts: $(cat big$i.fail*)"
  [[ $(grep -c '0123456789' "big$i.out") -ge 30 ]] || dk_fail "GET $i: wrong content"
  attempts=$((attempts + $(cat "big$i.attempts")))
done
dropped=$(( $(dk_ns_dropped dev) + $(dk_ns_dropped gw) ))
(( dropped > 0 )) || dk_fail "nftables dropped nothing"
dk_stop "$PX"
read -r held reordered < <(sum_counter px1)
dk_pass "3 DTLS handshakes + block-wise GETs (mbedtls client, $srv_be server) over $LOSS % loss in $attempts attempts: $dropped datagrams dropped, $held held back, $reordered overtaken"
dk_figure "loss_coap_dtls loss=$LOSS runs=3 attempts=$attempts dropped=$dropped reordered=$reordered ok=3"
dk_ns_drop_clear gw
dk_ns_drop_clear dev
dk_ns_link_loss gw dev $LOSS

# ---- 2. the real device onboards (stand-in servers) ---------------------------------------
DEVICE=$DK_BIN/duckling-device
FACTORY=$DK_BIN/duckling-factory
STANDIN=$DK_TESTBIN/dk-device-peer
[[ -x $DEVICE ]] || dk_skip "duckling-device not built"
BSPORT=5790
EP=$("$FACTORY" new --type LED --cred psk --out dev1 --bs-uri "coaps://$GW:$BSPORT")
label=$(cat dev1/label.txt)
bspsk=$(echo "$label" | awk -F';' '{print $7}')
[[ ${#bspsk} -eq 32 ]] || dk_fail "no PSK in the label: $label"
mkfifo bs.in
exec 7<>bs.in # commands to the stand-in (none yet); keeps its stdin open
dk_start bs ip netns exec "$NSGW" "$STANDIN" --port $BSPORT --lifetime 120 \
  --server-uri "coaps://$GW:$BSPORT" --psk "$EP:$bspsk" \
  --server-psk "op-$EP:00112233445566778899aabbccddeeff" <bs.in
dk_listening bs >/dev/null
reorder_proxy px2 $BSPORT 2
start=$SECONDS
dk_start dev ip netns exec "$NSDEV" "$DEVICE" --data "$DK_TMP/dev1" --log-level debug
DEV=$LAST_PID
dk_wait_line bs.out '^register ep=' 150
took=$((SECONDS - start))
grep -q '^bs-finish 2.04' bs.out || dk_fail "no Bootstrap-Finish 2.04: $(cat bs.out)"
bsreqs=$(grep -c '^bs-request' bs.out)
dropped=$(( $(dk_ns_dropped dev) + $(dk_ns_dropped gw) ))
kill -TERM "$DEV"
for ((i = 0; i < 300; i++)); do kill -0 "$DEV" 2>/dev/null || break; sleep 0.05; done
wait "$DEV" 2>/dev/null || true
"$DK_TESTBIN/dk-store-dump" dev1 >dump.out || dk_fail "store unusable: $(cat dump.out)"
grep -q '^/0/1 ' dump.out || dk_fail "operational store lacks the server account"
dk_stop "$PX"
read -r held reordered < <(sum_counter px2)
dk_pass "duckling-device bootstrapped (DTLS PSK) and registered over $LOSS % loss in ${took} s: $bsreqs bootstrap request(s), $dropped datagrams dropped, $reordered reordered"
dk_figure "loss_device_onboard loss=$LOSS seconds=$took bs_requests=$bsreqs dropped=$dropped reordered=$reordered server=stand-in"
echo "loss: all passed"
