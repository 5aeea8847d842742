#!/usr/bin/env bash
# duckling-device driven by Debian's coap-client-notls acting as its LwM2M
# Server: Read /3/0 (TLV, SenML JSON, SenML CBOR bytes), Write /3311/0/5850
# and /5851 (the LED state file follows), Discover, Write-Attributes and
# Observe with pmin/pmax. The scripted peer bootstraps and registers the
# device and exits; coap-client then sends from the server's own address
# (-a 127.0.0.1 -p PORT), which is the only one the device answers.
source "$(dirname "$0")/lib.sh"
command -v coap-client-notls >/dev/null || fail "coap-client-notls missing (libcoap3-bin)"

start_peer srv --lifetime 600 --exit-after register
port=$PEER_PORT
make_device "$TMP/dev" none "$port"
start_device d1 "$TMP/dev"
wait_for "$TMP/srv.out" '^register ' 20
wait "$PEER_PID" || fail "peer exit status"
dp=$(device_port srv)
[[ -n "$dp" ]] || fail "no device port in: $(cat "$TMP/srv.out")"
dev="coap://127.0.0.1:$dp"

# coap [ARGS...] URI-PATH — one request from the server's address; the
# response payload is in $TMP/resp.
coap() {
  local path=${*: -1}
  local args=("${@:1:$#-1}")
  rm -f "$TMP/resp"
  local i
  # The port is free again only once the previous coap-client has closed it.
  for i in 1 2 3 4 5; do
    if coap-client-notls -a 127.0.0.1 -p "$port" -B 10 -o "$TMP/resp" "${args[@]}" \
      "$dev$path" >"$TMP/coap.out" 2>"$TMP/coap.err"; then
      touch "$TMP/resp"
      return 0
    fi
    grep -qi 'bind\|address already in use' "$TMP/coap.err" || break
    sleep 0.2
  done
  fail "coap-client ${args[*]} $path: $(cat "$TMP/coap.err" "$TMP/coap.out")"
}
hexof() { xxd -p "$1" | tr -d '\n'; }
str_hex() { printf '%s' "$1" | xxd -p | tr -d '\n'; }

# Read /3/0 as TLV: manufacturer (id 0) "duckling", model (1) "LED", serial
# (2) the endpoint name, each a resource TLV with its exact header bytes.
coap -A 11542 /3/0
tlv=$(hexof "$TMP/resp")
[[ $tlv == *"c80008$(str_hex duckling)"* ]] || fail "TLV lacks /3/0/0: $tlv"
[[ $tlv == *"c301$(str_hex LED)"* ]] || fail "TLV lacks /3/0/1: $tlv"
[[ $tlv == *"c802$(printf '%02x' ${#EP})$(str_hex "$EP")"* ]] || fail "TLV lacks /3/0/2: $tlv"
# Read without Accept: TLV too (more than one resource).
coap /3/0
[[ $(hexof "$TMP/resp") == *"c80008$(str_hex duckling)"* ]] || fail "default format is not TLV"
# SenML JSON.
coap -A 110 /3/0
jq -e --arg ep "$EP" '.[0].bn == "/3/0/" and (map(select(.n == "0"))[0].vs == "duckling")
  and (map(select(.n == "2"))[0].vs == $ep)' "$TMP/resp" >/dev/null ||
  fail "SenML JSON: $(cat "$TMP/resp")"
# SenML CBOR: an array whose records carry the same strings.
coap -A 112 /3/0
cbor=$(hexof "$TMP/resp")
[[ $cbor == 8* || $cbor == 9f* ]] || fail "SenML CBOR is not an array: $cbor"
[[ $cbor == *"68$(str_hex duckling)"* ]] || fail "SenML CBOR lacks the manufacturer: $cbor"
# A single resource as plain text.
coap -A 0 /3/0/0
[[ $(cat "$TMP/resp") == duckling ]] || fail "text read: $(cat "$TMP/resp")"
# Sensors read plausible values.
coap -A 0 /3303/0/5700
t=$(cat "$TMP/resp")
awk -v t="$t" 'BEGIN { exit !(t > 15 && t < 30) }' || fail "temperature $t"
coap -A 0 /3301/0/5700
l=$(cat "$TMP/resp")
awk -v l="$l" 'BEGIN { exit !(l >= 0 && l < 1000) }' || fail "illuminance $l"

# Write the LED: on, then dimmer 75; the state file follows atomically.
coap -m put -t 0 -e 1 /3311/0/5850
wait_for "$TMP/dev/led.state" '^on=1 dimmer=[0-9]+$' 5
coap -m put -t 0 -e 75 /3311/0/5851
wait_for "$TMP/dev/led.state" '^on=1 dimmer=75$' 5
coap -A 0 /3311/0/5851
[[ $(cat "$TMP/resp") == 75 ]] || fail "dimmer reads $(cat "$TMP/resp")"
grep -q 'LED on, dimmer 75%' "$TMP/d1.log" || fail "the LED change is not logged"
coap -m put -t 0 -e 0 /3311/0/5850
wait_for "$TMP/dev/led.state" '^on=0 dimmer=75$' 5
# A bad value is refused and changes nothing.
coap-client-notls -a 127.0.0.1 -p "$port" -B 10 -m put -t 0 -e banana "$dev/3311/0/5851" \
  >"$TMP/coap.out" 2>&1 || true
grep -q '4\.00' "$TMP/coap.out" || fail "bad dimmer not refused with 4.00: $(cat "$TMP/coap.out")"
grep -qx 'on=0 dimmer=75' "$TMP/dev/led.state" || fail "a refused write changed the LED"

# Discover.
coap -A 40 /3311/0
disc=$(cat "$TMP/resp")
[[ $disc == *'</3311/0/5850>'* && $disc == *'</3311/0/5851>'* ]] || fail "Discover: $disc"

# Write-Attributes pmin=1, pmax=2 on the temperature, then observe it for 7 s:
# a notification at least every 2 s and never two within 1 s.
coap -m put '/3303/0/5700?pmin=1&pmax=2'
coap -s 7 -w -A 0 /3303/0/5700
n=$(grep -cE '^[0-9]+(\.[0-9]+)?$' "$TMP/resp" || true)
[[ $n -ge 4 && $n -le 9 ]] || fail "observe for 7 s gave $n values: $(cat "$TMP/resp")"
echo "observe: $n values in 7 s"

# Stop: the peer comes back on the server's port and sees the de-registration.
start_peer srv2 --port "$port"
kill -TERM "$DEV_PID"
wait_exit "$DEV_PID" 15
st=$WAIT_ST
[[ $st -eq 0 ]] || fail "SIGTERM: exit status $st"
grep -qxF 'deregister /rd/1' "$TMP/srv2.out" || fail "no de-registration"

# What the server wrote survives a restart: the LED comes back as it was
# left (off, dimmer 75), and the temperature's attributes still hold.
rm "$TMP/dev/led.state"
start_device d2 "$TMP/dev"
wait_for "$TMP/srv2.out" 'at /rd/1 ' 20
wait_for "$TMP/dev/led.state" '^on=0 dimmer=75$' 5
peer_cmd srv2 'discover /3303/0/5700'
wait_for "$TMP/srv2.out" '^response 1 ' 10
grep -qE "^response 1 2\.05 cf=40 hex=.*$(printf 'pmin=1' | xxd -p)" "$TMP/srv2.out" ||
  fail "attributes lost: $(grep '^response 1' "$TMP/srv2.out")"
kill -TERM "$DEV_PID"
wait_exit "$DEV_PID" 15
echo "PASS"
