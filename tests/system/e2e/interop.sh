#!/usr/bin/env bash
# Independent peers against the gateway's Bootstrap Server (issue 6):
#  - Debian's coap-client-openssl posting /bs?ep=EP with the label's PSK
#    (-u EP -k PSK): pending, accepted (2.04) once approved, refused with a
#    wrong key;
#  - coap-client-gnutls with a raw public key (-M): the rpk label's hash is
#    checked (duckling-device uses mbedTLS, which has no RFC 7250 raw public
#    keys, so an independent GnuTLS peer stands in for an rpk device);
#  - a credential type 00 device (duckling-device) over --nosec's plain ports.
source "$(dirname "$0")/lib.sh"
command -v coap-client-openssl >/dev/null || fail "coap-client-openssl missing (libcoap3-bin)"
command -v coap-client-gnutls >/dev/null || fail "coap-client-gnutls missing (libcoap3-bin)"

gw_start gw --nosec --bs-nosec-port 0 --server-nosec-port 0
GW_BS_PLAIN=$(sed -n 's/^bootstrap_nosec=//p' "$GW_DATA/ports")

# label EP CREDTYPE CREDHEX: a label with a valid checksum.
label() {
  local cs
  cs=$(printf %s "$3" | sha256sum | cut -c1-2)
  printf '01;EP:%s;T:LED;NONE;;%s;%s;%s;;' "$1" "$2" "$3" "$cs"
}
# coap_post CLIENT EP ARGS...: POST /bs?ep=EP; prints the response code
# ("2.04", "5.03", "4.03") or "none" when no response came.
coap_post() {
  local client=$1 ep=$2
  shift 2
  local out
  out=$(timeout 20 "$client" -v 7 -B 4 "$@" -m post "coaps://127.0.0.1:$GW_BS/bs?ep=$ep" 2>&1 || true)
  echo "$out" >>"$T/coap-client.log"
  sed -n 's/.*t:ACK c:\([0-9]\.[0-9][0-9]\) .*/\1/p' <<<"$out" | head -1 | grep . || echo none
}

# ---- coap-client-openssl, PSK ------------------------------------------------------
# libcoap's -k takes the key as text: the label carries a 16-byte PSK that
# happens to be printable.
PSK=duckling-interop
EP=interop-psk
dk scan "$(label "$EP" 01 "$(printf %s "$PSK" | od -An -tx1 | tr -d ' \n')")" >/dev/null
code=$(coap_post coap-client-openssl "$EP" -u "$EP" -k "$PSK")
[[ $code == 5.03 ]] || fail "first request: $code, want 5.03 (pending)"
is_pending "$EP" || fail "not pending"
code=$(coap_post coap-client-openssl "$EP" -u "$EP" -k wrong-key-123456)
[[ $code == none ]] || fail "wrong key answered $code"
wait_audit "$EP" bootstrap.handshake_failed 'wrong key'
dk approve "$EP" >/dev/null || fail "approve"
code=$(coap_post coap-client-openssl "$EP" -u "$EP" -k "$PSK")
[[ $code == 2.04 ]] || fail "approved request: $code, want 2.04"
wait_audit "$EP" credentials.issued 'PSK'
# coap-client is no LwM2M client: the writes that follow fail and what was
# issued for them is withdrawn.
wait_audit "$EP" bootstrap.failed
wait_audit "$EP" credentials.revoked 'failed bootstrap'
code=$(coap_post coap-client-openssl "$EP" -u "$EP" -k wrong-key-123456)
[[ $code == none ]] || fail "wrong key after approval answered $code"
pass "coap-client-openssl PSK: 5.03 pending, 2.04 once approved, wrong key refused in the handshake (audited)"

# ---- coap-client-gnutls, raw public key --------------------------------------------------
openssl ecparam -name prime256v1 -genkey -noout -out "$T/rpk.pem" 2>/dev/null
openssl ecparam -name prime256v1 -genkey -noout -out "$T/other.pem" 2>/dev/null
hash=$(openssl pkey -in "$T/rpk.pem" -pubout -outform DER | sha256sum | cut -c1-32)
EP=interop-rpk
dk scan "$(label "$EP" 02 "$hash")" >/dev/null
# -n: the client has no anchor for the gateway's certificate (as a device in
# factory mode: its trust in the Bootstrap Server comes from the label).
code=$(coap_post coap-client-gnutls "$EP" -M "$T/other.pem" -n)
[[ $code == 4.03 ]] || fail "another key: $code, want 4.03"
wait_audit "$EP" bs.bootstrap-refused 'hash differs'
is_pending "$EP" && fail "another key made a request"
code=$(coap_post coap-client-gnutls "$EP" -M "$T/rpk.pem" -n)
[[ $code == 5.03 ]] || fail "the label's key: $code, want 5.03"
[[ $(dk --json pending | jq -r --arg ep "$EP" '.pending[] | select(.endpoint == $ep) | .peer_cred_type') == rpk ]] ||
  fail "pending request not rpk"
dk approve "$EP" >/dev/null || fail "approve rpk"
code=$(coap_post coap-client-gnutls "$EP" -M "$T/rpk.pem" -n)
[[ $code == 2.04 ]] || fail "approved rpk request: $code"
wait_audit "$EP" credentials.issued 'certificate'
pass "coap-client-gnutls RPK: another key 4.03 (audited), the label's key pending, 2.04 once approved (a certificate is issued)"

# ---- credential type 00 over the plain ports -----------------------------------------------
make_device nosec none
dk scan "$(cat "$T/nosec/label.txt")" >/dev/null
"$DEVICE" --data "$T/nosec" --bs-uri "coap://127.0.0.1:$GW_BS_PLAIN" --log-level debug \
  >>"$T/nosec.log" 2>&1 &
DEV_PID[nosec]=$!
PIDS+=("${DEV_PID[nosec]}")
# A plain peer must not use a secure label's endpoint.
code=$(timeout 10 coap-client-notls -v 7 -B 3 -m post "coap://127.0.0.1:$GW_BS_PLAIN/bs?ep=interop-psk" 2>&1 |
  sed -n 's/.*t:ACK c:\([0-9]\.[0-9][0-9]\) .*/\1/p' | head -1)
[[ $code == 4.03 ]] || fail "plain request for a PSK label: '$code', want 4.03"
wait_pending "$EP_nosec"
dk approve "$EP_nosec" >/dev/null
wait_state "$EP_nosec" registered 40
dk read "$EP_nosec" /3303/0/5700 >/dev/null || fail "read nosec device"
dev_stop nosec || true
pass "credential type 00: plain bootstrap and registration under --nosec; plain requests for secure labels refused"

gw_stop
pass "gateway stopped cleanly"
