#!/usr/bin/env bash
# CoAP over DTLS: our transport (both backends where built) against Debian's
# libcoap clients and servers (OpenSSL and GnuTLS builds) on 127.0.0.1.
source "$DK_SRC/tests/system/lib.sh"
peer=$DK_TESTBIN/dk-coap-peer
read -r -a backends <<< "$("$peer" backends)"
cd "$DK_TMP"

# Keys and certificates: a CA, a server and a client certificate (P-256).
ossl() { openssl "$@" 2>/dev/null; }
ossl ecparam -name prime256v1 -genkey -noout -out ca.key
ossl req -x509 -new -key ca.key -subj /CN=test-ca -days 30 -out ca.pem
for who in server client; do
  ossl ecparam -name prime256v1 -genkey -noout -out $who.key
  ossl req -new -key $who.key -subj /CN=$who -out $who.csr
  ossl x509 -req -in $who.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 30 -out $who.pem
  ossl x509 -in $who.pem -outform DER -out $who.der
  ossl ec -in $who.key -outform DER -out $who.key.der
  # libcoap wants the RPK file as a PEM holding the EC private key.
done
ossl x509 -in ca.pem -outform DER -out ca.der

start_server() { # args: backend, then dk-coap-peer DTLS options
  local be=$1; shift
  : > srv.out
  "$peer" server --backend "$be" --port 0 "$@" > srv.out 2> srv.err &
  DK_PIDS+=($!)
  SRV_PID=$!
  dk_wait_line srv.out '^listening'
  PORT=$(awk '/^listening/{print $2}' srv.out)
}
stop_server() { kill "$SRV_PID" 2>/dev/null || true; wait "$SRV_PID" 2>/dev/null || true; }

for be in "${backends[@]}"; do
  # PSK
  start_server "$be" --psk-id dev-1 --psk secretpsk
  for lib in openssl gnutls; do
    out=$(timeout 20 coap-client-$lib -B 10 -u dev-1 -k secretpsk -m get "coaps://127.0.0.1:$PORT/hello" 2>&1)
    [[ "$out" == *"hello world"* ]] || dk_fail "$be server, coap-client-$lib PSK: '$out'"
    out=$(timeout 20 coap-client-$lib -B 5 -u dev-1 -k wrongpsk -m get "coaps://127.0.0.1:$PORT/hello" 2>&1 || true)
    [[ "$out" != *"hello world"* ]] || dk_fail "$be server accepted a wrong PSK from coap-client-$lib"
    out=$(timeout 20 coap-client-$lib -B 5 -u nobody -k secretpsk -m get "coaps://127.0.0.1:$PORT/hello" 2>&1 || true)
    [[ "$out" != *"hello world"* ]] || dk_fail "$be server accepted an unknown identity from coap-client-$lib"
    # Block-wise over DTLS.
    n=$(timeout 20 coap-client-$lib -B 10 -b 256 -u dev-1 -k secretpsk -m get "coaps://127.0.0.1:$PORT/big" | wc -c)
    (( n >= 3000 )) || dk_fail "$be server, coap-client-$lib block-wise over DTLS: $n bytes"
    dk_pass "$be server: coap-client-$lib PSK (good key served, wrong key and unknown identity refused, block-wise)"
  done
  stop_server

  # Certificates, client certificate required and validated against the CA.
  start_server "$be" --cert server.der --key server.key.der --ca ca.der
  for lib in openssl gnutls; do
    out=$(timeout 20 coap-client-$lib -B 10 -c client.pem -j client.key -C ca.pem -R ca.pem -m get "coaps://127.0.0.1:$PORT/hello" 2>&1)
    [[ "$out" == *"hello world"* ]] || dk_fail "$be server, coap-client-$lib certificate: '$out'"
    dk_pass "$be server: coap-client-$lib with X.509 certificates"
  done
  stop_server
done

if [[ " ${backends[*]} " == *" gnutls "* ]]; then
  # Raw public keys (RFC 7250): GnuTLS backend only.
  start_server gnutls --rpk --cert server.der --key server.key.der --pin-any
  out=$(timeout 20 coap-client-gnutls -B 10 -M client.key -m get "coaps://127.0.0.1:$PORT/hello" 2>&1)
  [[ "$out" == *"hello world"* ]] || dk_fail "gnutls server, coap-client-gnutls RPK: '$out'"
  dk_pass "gnutls server: coap-client-gnutls with a raw public key"
  stop_server
fi

# start_libcoap_server LIB ARGS...: libcoap serves coap on port-1 and coaps on
# port; both must be free, so retry on other ports if it cannot bind.
start_libcoap_server() {
  local lib=$1; shift
  local try
  for try in 1 2 3 4 5 6 7 8; do
    sport=$(dk_free_udp_port)
    coap-server-$lib -A 127.0.0.1 -p $((sport - 1)) "$@" -v 0 > s-$lib.log 2>&1 &
    pid=$!
    sleep 0.3
    if kill -0 $pid 2>/dev/null; then DK_PIDS+=($pid); return 0; fi
  done
  dk_fail "coap-server-$lib would not start: $(cat s-$lib.log)"
}

# Our client against libcoap's DTLS servers.
for be in "${backends[@]}"; do
  for lib in openssl gnutls; do
    start_libcoap_server $lib -k secretpsk -h dev-1
    # libcoap's server listens for coaps on port+1.
    ok=0
    for i in $(seq 30); do
      if "$peer" client --backend "$be" --timeout-ms 3000 --psk-id dev-1 --psk secretpsk GET "coaps://127.0.0.1:$sport/" > c.out 2>&1; then ok=1; break; fi
      sleep 0.2
    done
    ((ok)) && grep -qi libcoap c.out || dk_fail "our $be client PSK against coap-server-$lib: $(cat c.out)"
    if "$peer" client --backend "$be" --timeout-ms 3000 --psk-id dev-1 --psk wrong GET "coaps://127.0.0.1:$sport/" > c.out 2>&1; then
      dk_fail "our $be client got an answer with a wrong PSK from coap-server-$lib"
    fi
    kill $pid; wait $pid 2>/dev/null || true
    dk_pass "our $be client PSK against coap-server-$lib (and a wrong key fails)"
    start_libcoap_server $lib -c server.pem -j server.key -C ca.pem
    ok=0
    for i in $(seq 30); do
      if "$peer" client --backend "$be" --timeout-ms 3000 --cert client.der --key client.key.der --ca ca.der GET "coaps://127.0.0.1:$sport/" > c.out 2>&1; then ok=1; break; fi
      sleep 0.2
    done
    ((ok)) && grep -qi libcoap c.out || dk_fail "our $be client certificate against coap-server-$lib: $(cat c.out)"
    kill $pid; wait $pid 2>/dev/null || true
    dk_pass "our $be client with X.509 certificates against coap-server-$lib"
  done
done
echo "coap interop (dtls): all passed"
