#!/usr/bin/env bash
# Our CoAP engine against Debian's libcoap, plain UDP on 127.0.0.1, both roles.
source "$DK_SRC/tests/system/lib.sh"
peer=$DK_TESTBIN/dk-coap-peer
"$peer" server --port 0 > "$DK_TMP/server.out" 2> "$DK_TMP/server.err" &
DK_PIDS+=($!)
dk_wait_line "$DK_TMP/server.out" '^listening'
port=$(awk '/^listening/{print $2}' "$DK_TMP/server.out")
uri=coap://127.0.0.1:$port
cc() { timeout 20 coap-client-notls -B 10 "$@"; }

out=$(cc -m get "$uri/hello")
[[ "$out" == "hello world" ]] || dk_fail "GET /hello gave '$out'"
dk_pass "coap-client GET"

out=$(cc -m put -e "put-value" "$uri/store"; cc -m get "$uri/store")
[[ "$out" == "put-value" ]] || dk_fail "PUT then GET /store gave '$out'"
dk_pass "coap-client PUT"

cc -m post -e "posted" "$uri/store" >/dev/null
out=$(cc -m get "$uri/store")
[[ "$out" == "posted" ]] || dk_fail "POST then GET /store gave '$out'"
dk_pass "coap-client POST"

# Block-wise GET of 3000 bytes, in 64-byte blocks so it takes many exchanges.
cc -m get -b 64 "$uri/big" > "$DK_TMP/big.out"
expected=$(python3 -c "import sys;sys.stdout.write(''.join('\n' if i%100==99 else str(i%10) for i in range(3000)))")
[[ "$(cat "$DK_TMP/big.out")" == "$expected" ]] || dk_fail "block-wise GET /big differs ($(wc -c < "$DK_TMP/big.out") bytes)"
dk_pass "coap-client block-wise GET of 3000 bytes (Block2 szx 2)"

# A large PUT goes up by Block1.
big=$(head -c 1500 /dev/zero | tr '\0' 'x')
cc -m put -b 64 -e "$big" "$uri/store" >/dev/null
out=$(cc -m get "$uri/store")
[[ "$out" == "$big" ]] || dk_fail "Block1 PUT of 1500 bytes came back as ${#out} bytes"
dk_pass "coap-client block-wise PUT of 1500 bytes (Block1)"

# Observe: at least 3 notifications within 5 s (-s 5: observe for 5 s).
timeout 20 coap-client-notls -B 6 -s 3 -m get "$uri/obs" > "$DK_TMP/obs.out" || true
n=$(grep -o 'count [0-9]*' "$DK_TMP/obs.out" | wc -l)
(( n >= 3 )) || dk_fail "observe got $n notifications: $(cat "$DK_TMP/obs.out")"
dk_pass "coap-client observe: $n notifications"

# Unknown path and method.
out=$(cc -m get "$uri/nothing" 2>&1 || true)
[[ "$out" == *"4.04"* ]] || dk_fail "GET /nothing gave '$out'"
dk_pass "4.04 for an unknown path"

# Our engine as a client against libcoap's server.
sport=$(dk_free_udp_port)
coap-server-notls -A 127.0.0.1 -p "$sport" -v 0 > "$DK_TMP/coap-server.log" 2>&1 &
DK_PIDS+=($!)
for i in $(seq 50); do
  "$peer" client --timeout-ms 500 GET "coap://127.0.0.1:$sport/" > "$DK_TMP/c0.out" 2>&1 && break; sleep 0.1
done
grep -q '^CODE 2.05' "$DK_TMP/c0.out" || dk_fail "GET / against coap-server: $(cat "$DK_TMP/c0.out")"
grep -qi 'libcoap' "$DK_TMP/c0.out" || dk_fail "GET / body: $(cat "$DK_TMP/c0.out")"
dk_pass "our client GET against coap-server-notls"
"$peer" client GET "coap://127.0.0.1:$sport/time" > "$DK_TMP/c1.out"
grep -q '^CODE 2.05' "$DK_TMP/c1.out" || dk_fail "GET /time: $(cat "$DK_TMP/c1.out")"
"$peer" client --observe 2 GET "coap://127.0.0.1:$sport/time" > "$DK_TMP/c2.out"
n=$(grep -c '^NOTIFY' "$DK_TMP/c2.out" || true)
(( n >= 2 )) || dk_fail "observe /time: $(cat "$DK_TMP/c2.out")"
dk_pass "our client observe against coap-server-notls: $n notifications"
"$peer" client PUT "coap://127.0.0.1:$sport/example_data" "hello-from-duckling" > "$DK_TMP/c3.out"
grep -qE '^CODE 2.0[14]' "$DK_TMP/c3.out" || dk_fail "PUT /example_data: $(cat "$DK_TMP/c3.out")"
"$peer" client GET "coap://127.0.0.1:$sport/example_data" > "$DK_TMP/c4.out"
grep -q 'hello-from-duckling' "$DK_TMP/c4.out" || dk_fail "GET /example_data: $(cat "$DK_TMP/c4.out")"
dk_pass "our client PUT/GET against coap-server-notls"
echo "coap interop (notls): all passed"
