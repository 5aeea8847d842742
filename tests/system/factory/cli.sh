#!/usr/bin/env bash
# duckling-factory: options, exit codes, error format, oob parse, qr.
source "$(dirname "$0")/lib.sh"

seed='01;EP:055192;T:LED;WIFI;WPA2-PSK:huawei_iot:5bd1f120735d1ba4e2d2149aeb891850;03;367f36ee1f5e272cfbca1ca35a73e42b;34;;'

# --help, --version
run 0 "$FACTORY" --help
grep -q '^Usage: duckling-factory' "$TMP/out" || fail "--help prints no usage"
run 0 "$FACTORY" --version
[[ "$(cat "$TMP/out")" =~ ^duckling-factory\ [0-9]+\.[0-9]+\.[0-9]+$ ]] || fail "--version: $(cat "$TMP/out")"
run 0 "$FACTORY" new --help
grep -q 'batch --count N' "$TMP/out" || fail "new --help"

# Bad usage exits 2 with "duckling-factory: <what>: <why>".
run 2 "$FACTORY"
expect_err_match '^duckling-factory: command: missing'
run 2 "$FACTORY" --bogus
expect_err_match '^duckling-factory: options: unknown option'
run 2 "$FACTORY" frobnicate
expect_err_match '^duckling-factory: frobnicate: unknown command'
run 2 "$FACTORY" new --type LED --out "$TMP/x"
expect_err_match '^duckling-factory: new: --type, --cred and --out are required'
run 2 "$FACTORY" new --type LED --cred certificate --out "$TMP/x"
expect_err_match '^duckling-factory: --cred: must be none, psk, rpk or x509'
run 2 "$FACTORY" new --type LED --cred psk --channel lora --out "$TMP/x"
expect_err_match '^duckling-factory: --channel: '
run 2 "$FACTORY" new --type LED --cred none --bs-uri coaps://h:5784 --out "$TMP/x"
expect_err_match '^duckling-factory: --bs-uri: must be coap://'
run 2 "$FACTORY" new --type LED --cred psk --bs-uri coap://h:5783 --out "$TMP/x"
expect_err_match '^duckling-factory: --bs-uri: must be coaps://'
run 2 "$FACTORY" new --type LED --cred psk --ca a.pem --ca-key a.key --out "$TMP/x"
expect_err_match '^duckling-factory: --ca: only with --cred x509'
run 2 "$FACTORY" new --type LED --cred x509 --ca a.pem --out "$TMP/x"
expect_err_match '^duckling-factory: --ca: --ca and --ca-key go together'
run 2 "$FACTORY" new --type LED --cred psk --channel none --ap-ssid s --out "$TMP/x"
expect_err_match '^duckling-factory: --ap-ssid: needs --channel wifi'
run 2 "$FACTORY" new --type "$(printf 'L\tED')" --cred psk --out "$TMP/x"
expect_err_match '^duckling-factory: --type: '
run 2 "$FACTORY" new --endpoint "$(printf '%065d' 0)" --type LED --cred psk --out "$TMP/x"
expect_err_match '^duckling-factory: --endpoint: '
run 2 "$FACTORY" batch --type LED --cred psk --out "$TMP/x"
expect_err_match '^duckling-factory: batch: --count is required'
run 2 "$FACTORY" batch --count 0 --type LED --cred psk --out "$TMP/x"
expect_err_match '^duckling-factory: batch: --count must be'
run 2 "$FACTORY" oob
run 2 "$FACTORY" oob frob x
[[ ! -e "$TMP/x" ]] || fail "bad usage created output"

# A missing CA file is a runtime failure (exit 1), not usage.
run 1 "$FACTORY" new --type LED --cred x509 --ca "$TMP/nope.pem" --ca-key "$TMP/nope.key" --out "$TMP/x"
expect_err_match "^duckling-factory: $TMP/nope.pem: not a readable certificate"

# oob parse: the seed vector as JSON.
run 0 "$FACTORY" oob parse "$seed"
jq -e '.version == 1 and .endpoint == "055192" and .type == "LED" and .channel == "WIFI"
       and .channel_credentials.security == "WPA2-PSK"
       and .channel_credentials.ssid == "huawei_iot"
       and .channel_credentials.psk == "5bd1f120735d1ba4e2d2149aeb891850"
       and .cred_type == "x509" and .cred_type_code == "03"
       and .cred_value == "367f36ee1f5e272cfbca1ca35a73e42b"' "$TMP/out" >/dev/null ||
  fail "oob parse JSON: $(cat "$TMP/out")"
# From stdin, with surrounding white space.
printf '  %s\n' "$seed" | "$FACTORY" oob parse - >"$TMP/out2" || fail "oob parse -"
cmp -s "$TMP/out" "$TMP/out2" || fail "oob parse - differs"

# oob parse errors: exit 1 and exactly "duckling-factory: oob: <field>: <why>".
bad_value=${seed/367f36ee/367f36ef}
run 1 "$FACTORY" oob parse "$bad_value"
expect_err 'duckling-factory: oob: checksum: does not match the credential value (typing error?)'
run 1 "$FACTORY" oob parse "${seed/;34;;/;35;;}"
expect_err 'duckling-factory: oob: checksum: does not match the credential value (typing error?)'
run 1 "$FACTORY" oob parse "${seed/01;EP/02;EP}"
expect_err 'duckling-factory: oob: version: unsupported version (only 01 is known)'
run 1 "$FACTORY" oob parse "${seed%;}"
expect_err "duckling-factory: oob: end: message does not end with ';;'"
run 1 "$FACTORY" oob parse "${seed/;WIFI;/;LORA;}"
expect_err 'duckling-factory: oob: channel: is not one of WIFI, BLE, ZIGBEE, NONE'
run 1 "$FACTORY" oob parse "${seed/EP:055192/EP:05:5192}"
expect_err "duckling-factory: oob: endpoint: contains ':' that is not escaped as '\\:'"
run 1 "$FACTORY" oob parse "${seed/;03;/;07;}"
expect_err 'duckling-factory: oob: cred-type: is not 00, 01, 02 or 03'
run 1 "$FACTORY" oob parse "${seed/WPA2-PSK:huawei_iot:5bd1/WPA2-PSK:huawei_iot:zbd1}"
expect_err 'duckling-factory: oob: channel-credentials: PSK is not hexadecimal'
cs=$(printf '0011' | sha256sum | cut -c1-2)
run 1 "$FACTORY" oob parse "01;EP:a;T:b;NONE;;01;0011;$cs;;"
expect_err 'duckling-factory: oob: cred-value: wrong length for cred-type 01 (PSK of 16 to 32 bytes)'
run 1 "$FACTORY" oob parse '01;EP:a;;'
expect_err 'duckling-factory: oob: type: is missing'

# qr: a terminal QR code that reads back.
run 0 "$FACTORY" qr --ascii "$seed"
tail -n 1 "$TMP/out" | grep -qxF "$seed" || fail "qr prints no text under the code"
lines=$(($(wc -l <"$TMP/out") - 1))
[[ $lines -eq 53 ]] || fail "qr --ascii: $lines rows, want 45 + 2*4"
# Turn the ASCII art into a PBM image and decode it with zbarimg.
head -n "$lines" "$TMP/out" | awk -v n="$lines" 'BEGIN { print "P1"; print n*4, n*4 }
  { row = ""; for (i = 1; i <= length($0); i += 2) { px = substr($0, i, 2) == "##" ? "1" : "0";
      row = row px " " px " " px " " px " " } for (k = 0; k < 4; k++) print row }' >"$TMP/qr.pbm"
[[ "$(qr_decode "$TMP/qr.pbm")" == "$seed" ]] || fail "terminal QR does not decode to the text"
run 0 "$FACTORY" qr "$seed"
grep -q '█' "$TMP/out" || fail "qr: no UTF-8 blocks"
run 1 "$FACTORY" qr ''
echo "factory_cli: ok"
