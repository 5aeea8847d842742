#!/usr/bin/env bash
# Captures one PSK handshake + one CoAP exchange on loopback and checks with
# tshark that it dissects as DTLS 1.2 with TLS_PSK_WITH_AES_128_CCM_8, then
# prints the figures (datagrams, bytes, per-record overhead).
source "$DK_SRC/tests/system/lib.sh"
peer=$DK_TESTBIN/dk-coap-peer
cd "$DK_TMP"
if ! tshark -D 2>/dev/null | grep -qw lo; then
  echo "SKIP: tshark cannot capture on lo here (needs root or capture rights)"; exit 0
fi
"$peer" server --port 0 --psk-id dev-1 --psk secretpsk-1234567 > srv.out 2> srv.err &
DK_PIDS+=($!)
dk_wait_line srv.out '^listening'
port=$(awk '/^listening/{print $2}' srv.out)
tshark -i lo -f "udp port $port" -w cap.pcapng -q 2> tshark.err &
tpid=$!; DK_PIDS+=($tpid)
dk_wait_line tshark.err 'Capturing on' 20
sleep 1 # the capture starts a moment after tshark says so
"$peer" client --psk-id dev-1 --psk secretpsk-1234567 GET "coaps://127.0.0.1:$port/hello" > c.out
grep -q 'hello world' c.out || dk_fail "client: $(cat c.out)"
sleep 0.5
kill -INT $tpid; wait $tpid 2>/dev/null || true
dis() { tshark -r cap.pcapng -d "udp.port==$port,dtls" "$@" 2>/dev/null; }
dis -Y dtls.handshake.type -T fields -e dtls.handshake.type > types.txt
# 1 ClientHello, 3 HelloVerifyRequest, 2 ServerHello, 14 ServerHelloDone, 16 ClientKeyExchange, 20 Finished
for t in 1 3 2 14 16; do grep -qw "$t" types.txt || dk_fail "handshake message type $t missing: $(tr '\n' ' ' < types.txt)"; done
suite=$(dis -Y 'dtls.handshake.type == 2' -T fields -e dtls.handshake.ciphersuite | head -1)
[[ "$suite" == "0xc0a8" ]] || dk_fail "negotiated suite $suite, want 0xc0a8 (TLS_PSK_WITH_AES_128_CCM_8)"
ver=$(dis -Y 'dtls.handshake.type == 2' -T fields -e dtls.handshake.version | head -1)
[[ "$ver" == "0xfefd" ]] || dk_fail "ServerHello version $ver, want 0xfefd (DTLS 1.2)"
dis -Y 'dtls.record.content_type == 23' -T fields -e frame.len > app.txt
[[ -s app.txt ]] || dk_fail "no application data records"
dk_pass "PSK handshake dissects as DTLS 1.2 with TLS_PSK_WITH_AES_128_CCM_8"
# Figures: handshake datagrams/bytes (UDP payload), app record overhead.
hs=$(dis -Y 'dtls && !(dtls.record.content_type == 23) && !(dtls.record.content_type == 21)' -T fields -e udp.length | awk '{n++; b+=$1-8} END{print n, b}')
rec=$(dis -Y 'dtls.record.content_type == 23' -T fields -e dtls.record.length | head -1)
coap=$(dis -Y 'dtls.record.content_type == 23' -T fields -e udp.length | head -1)
echo "figures: psk handshake datagrams/bytes (UDP payload): $hs; first app record: record length $rec, UDP payload $((coap-8)), CoAP bytes $((rec - 16)), DTLS overhead $((coap - 8 - (rec - 16))) (13 header + 8 nonce + 8 tag)"
