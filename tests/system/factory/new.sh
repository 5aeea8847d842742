#!/usr/bin/env bash
# duckling-factory new: every credential type, files and modes, QR images
# decoded by zbarimg, label hashes recomputed with openssl, CA signing,
# oob check, show, and refusal of damaged stores.
source "$(dirname "$0")/lib.sh"

check_common() {
  local d=$1
  for f in factory.store label.txt label.png label.svg; do
    [[ -f "$d/$f" ]] || fail "$d/$f missing"
  done
  # Everything that carries a PSK or a private key is private.
  for f in factory.store label.txt label.png label.svg; do
    [[ $(mode_of "$d/$f") == 600 ]] || fail "$d/$f has mode $(mode_of "$d/$f")"
  done
  local label
  label=$(cat "$d/label.txt")
  [[ "$(qr_decode "$d/label.png")" == "$label" ]] || fail "$d/label.png does not decode to label.txt"
  [[ "$(qr_decode "$d/label.svg")" == "$label" ]] || fail "$d/label.svg does not decode to label.txt"
  # The SVG prints the text under the code (XML-escaped, in lines).
  local printed
  printed=$(sed -n 's/^<text [^>]*>\(.*\)<\/text>$/\1/p' "$d/label.svg" | tr -d '\n' |
            sed 's/&lt;/</g; s/&gt;/>/g; s/&quot;/"/g; s/&amp;/\&/g')
  [[ "$printed" == "$label" ]] || fail "$d/label.svg text '$printed' is not the label"
  # The PNG is taller than wide: the text is under the code.
  local w h
  read -r w h < <(file "$d/label.png" | sed -n 's/.* \([0-9]*\) x \([0-9]*\),.*/\1 \2/p')
  [[ $h -gt $w ]] || fail "$d/label.png ${w}x${h} has no room for the text"
  run 0 "$FACTORY" oob parse "$label"
  run 0 "$FACTORY" oob check "$d"
  grep -q 'label matches the factory store' "$TMP/out" || fail "oob check output"
}

field() { # field N of the label (1-based, ';'-separated; no escapes in generated labels)
  cut -d';' -f"$1" "$2/label.txt"
}

# --- none: plain coap, empty cred-value, checksum of the empty string.
run 0 "$FACTORY" new --type LED --cred none --channel none --out "$TMP/none"
ep=$(cat "$TMP/out")
[[ "$ep" =~ ^dk-[0-9a-f]{16}$ ]] || fail "generated endpoint '$ep'"
check_common "$TMP/none"
[[ "$(cat "$TMP/none/label.txt")" == "01;EP:$ep;T:LED;NONE;;00;;e3;;" ]] || fail "none label: $(cat "$TMP/none/label.txt")"
run 0 "$FACTORY" show "$TMP/none"
grep -q '^bootstrap server: *coap://127.0.0.1:5783$' "$TMP/out" || fail "none: default URI"

# --- psk: 128-bit PSK in the label, identity = endpoint, setup AP.
run 0 "$FACTORY" new --endpoint 'lamp-0042' --type LED --cred psk --ap-ssid 'setup net' --out "$TMP/psk"
check_common "$TMP/psk"
[[ $(field 2 "$TMP/psk") == "EP:lamp-0042" ]] || fail "psk endpoint"
[[ $(field 5 "$TMP/psk") =~ ^WPA2-PSK:setup\ net:[0-9a-f]{32}$ ]] || fail "psk AP: $(field 5 "$TMP/psk")"
[[ $(field 6 "$TMP/psk") == 01 && $(field 7 "$TMP/psk") =~ ^[0-9a-f]{32}$ ]] || fail "psk value"
# checksum = first byte of SHA-256 of the value text, computed independently
[[ $(field 8 "$TMP/psk") == $(printf '%s' "$(field 7 "$TMP/psk")" | sha256sum | cut -c1-2) ]] ||
  fail "psk checksum"
run 0 "$FACTORY" show "$TMP/psk"
grep -q '^bootstrap server: *coaps://127.0.0.1:5784$' "$TMP/out" || fail "psk: default URI"
# show never prints a secret
for secret in "$(field 7 "$TMP/psk")" "$(field 5 "$TMP/psk" | cut -d: -f3)"; do
  ! grep -qi "$secret" "$TMP/out" || fail "show printed a secret"
done
# An existing device is never overwritten.
run 1 "$FACTORY" new --type LED --cred psk --out "$TMP/psk"
expect_err "duckling-factory: $TMP/psk/factory.store: already exists (a device was made here before)"

# --- rpk: label hash = SHA-256 of the SubjectPublicKeyInfo, by openssl.
run 0 "$FACTORY" new --type SENSOR --cred rpk --bs-uri coaps://[::1]:15784 --out "$TMP/rpk"
check_common "$TMP/rpk"
[[ $(mode_of "$TMP/rpk/pubkey.der") == 644 ]] || fail "pubkey.der mode"
want=$(openssl pkey -pubin -inform DER -in "$TMP/rpk/pubkey.der" -outform DER | sha256_16)
[[ $(field 6 "$TMP/rpk") == 02 && $(field 7 "$TMP/rpk") == "$want" ]] ||
  fail "rpk hash $(field 7 "$TMP/rpk") != openssl $want"
openssl pkey -pubin -inform DER -in "$TMP/rpk/pubkey.der" -noout -text | grep -q 'prime256v1' ||
  fail "rpk key is not P-256"
run 0 "$FACTORY" show "$TMP/rpk"
grep -q '^bootstrap server: *coaps://\[::1\]:15784$' "$TMP/out" || fail "rpk: --bs-uri"

# --- x509, self-signed: CN = endpoint, hash of the DER certificate.
run 0 "$FACTORY" new --type LED --cred x509 --out "$TMP/x509"
ep=$(cat "$TMP/out")
check_common "$TMP/x509"
want=$(openssl x509 -in "$TMP/x509/cert.pem" -outform DER | sha256_16)
[[ $(field 6 "$TMP/x509") == 03 && $(field 7 "$TMP/x509") == "$want" ]] ||
  fail "x509 hash $(field 7 "$TMP/x509") != openssl $want"
cmp -s <(openssl x509 -in "$TMP/x509/cert.pem" -outform DER) "$TMP/x509/cert.der" || fail "PEM and DER differ"
[[ "$(openssl x509 -in "$TMP/x509/cert.pem" -noout -subject -nameopt RFC2253)" == "subject=CN=$ep" ]] ||
  fail "x509 subject"
openssl x509 -in "$TMP/x509/cert.pem" -noout -text | grep -q 'ecdsa-with-SHA256' || fail "x509 signature alg"
# The self-signature is valid; the certificate is not a CA.
openssl verify -check_ss_sig -CAfile "$TMP/x509/cert.pem" "$TMP/x509/cert.pem" >/dev/null 2>&1 ||
  fail "self-signature does not verify"
openssl x509 -in "$TMP/x509/cert.pem" -noout -ext basicConstraints | grep -q 'CA:FALSE' || fail "CA:FALSE"

# --- x509 signed by a manufacturer CA (made by openssl).
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 \
  -subj '/C=FI/O=Duckling Test/CN=Duckling Test Manufacturer CA' \
  -keyout "$TMP/ca.key" -out "$TMP/ca.pem" 2>/dev/null
run 0 "$FACTORY" new --endpoint 'factory,line 7' --type LED --cred x509 \
  --ca "$TMP/ca.pem" --ca-key "$TMP/ca.key" --out "$TMP/x509ca"
check_common "$TMP/x509ca"
openssl verify -CAfile "$TMP/ca.pem" "$TMP/x509ca/cert.pem" >"$TMP/verify" 2>&1 ||
  fail "openssl verify: $(cat "$TMP/verify")"
[[ "$(openssl x509 -in "$TMP/x509ca/cert.pem" -noout -subject -nameopt RFC2253)" == 'subject=CN=factory\,line 7' ]] ||
  fail "CA-signed subject: $(openssl x509 -in "$TMP/x509ca/cert.pem" -noout -subject -nameopt RFC2253)"
want=$(openssl x509 -in "$TMP/x509ca/cert.pem" -outform DER | sha256_16)
[[ $(field 7 "$TMP/x509ca") == "$want" ]] || fail "CA-signed hash"
# A key that is not the CA's is refused.
openssl ecparam -name prime256v1 -genkey -noout -out "$TMP/other.key" 2>/dev/null
run 1 "$FACTORY" new --type LED --cred x509 --ca "$TMP/ca.pem" --ca-key "$TMP/other.key" --out "$TMP/bad"
expect_err "duckling-factory: $TMP/other.key: does not belong to the CA certificate $TMP/ca.pem"
# A leaf certificate is not a CA.
run 1 "$FACTORY" new --type LED --cred x509 --ca "$TMP/x509ca/cert.pem" --ca-key "$TMP/ca.key" --out "$TMP/bad"
expect_err_match 'not a CA certificate'

# --- escaping of ; : \ in endpoint, type and SSID, through QR and back.
run 0 "$FACTORY" new --endpoint 'a;b:c\d' --type 'T;1:\' --cred psk --ap-ssid 'w;i:f\i' --out "$TMP/esc"
check_common "$TMP/esc"
label=$(cat "$TMP/esc/label.txt")
[[ "$label" == '01;EP:a\;b\:c\\d;T:T\;1\:\\;WIFI;WPA2-PSK:w\;i\:f\\i:'* ]] || fail "escaped label: $label"
run 0 "$FACTORY" oob parse "$label"
jq -e '.endpoint == "a;b:c\\d" and .type == "T;1:\\" and .channel_credentials.ssid == "w;i:f\\i"' \
  "$TMP/out" >/dev/null || fail "escaped fields: $(cat "$TMP/out")"

# --- oob check notices a label that does not belong to the store.
cp "$TMP/psk/label.txt" "$TMP/esc/label.txt"
run 1 "$FACTORY" oob check "$TMP/esc"
expect_err "duckling-factory: oob check: $TMP/esc/label.txt does not match the factory store"
printf 'garbage\n' >"$TMP/esc/label.txt"
run 1 "$FACTORY" oob check "$TMP/esc"
expect_err_match '^duckling-factory: oob: version: '
cp "$TMP/rpk/pubkey.der" "$TMP/x509/cert.der"
run 1 "$FACTORY" oob check "$TMP/x509"
expect_err "duckling-factory: oob check: $TMP/x509/cert.der does not match the factory store"

# --- damaged stores are refused with a clear reason, never half-read.
store=$TMP/psk/factory.store
cp "$store" "$TMP/good.store"
size=$(stat -c %s "$store")
printf '\x55' | dd of="$store" bs=1 seek=$((size / 2)) conv=notrunc status=none
run 1 "$FACTORY" show "$TMP/psk"
expect_err "duckling-factory: $store: integrity check failed (SHA-256 mismatch): file is corrupt"
[[ ! -s "$TMP/out" ]] || fail "show printed something from a corrupt store"
head -c $((size - 5)) "$TMP/good.store" >"$store"
run 1 "$FACTORY" show "$TMP/psk"
expect_err "duckling-factory: $store: truncated file"
cp "$TMP/psk/label.png" "$store"
run 1 "$FACTORY" show "$TMP/psk"
expect_err "duckling-factory: $store: not a duckling store file (bad magic)"
: >"$store"
run 1 "$FACTORY" oob check "$TMP/psk"
expect_err "duckling-factory: $store: empty file"
cp "$TMP/good.store" "$store"
printf '\x02' | dd of="$store" bs=1 seek=4 conv=notrunc status=none
run 1 "$FACTORY" show "$TMP/psk"
expect_err "duckling-factory: $store: unsupported store format version"
cp "$TMP/good.store" "$store"
run 0 "$FACTORY" show "$TMP/psk"
run 1 "$FACTORY" show "$TMP/nowhere"
expect_err "duckling-factory: $TMP/nowhere/factory.store: no such file"
echo "factory_new: ok"
