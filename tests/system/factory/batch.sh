#!/usr/bin/env bash
# duckling-factory batch: a production run of 1,000 devices never repeats an
# endpoint or a key; the manifest holds no secret and its hashes are right.
source "$(dirname "$0")/lib.sh"

start=$(date +%s)
run 0 "$FACTORY" batch --count 1000 --type LED --cred rpk --out "$TMP/run"
echo "batch of 1000 rpk devices: $(($(date +%s) - start)) s ($FACTORY)"
m=$TMP/run/manifest.csv
[[ "$(head -n 1 "$m")" == "endpoint,type,cred,cred_hash,label_sha256" ]] || fail "manifest header"
[[ $(tail -n +2 "$m" | wc -l) -eq 1000 ]] || fail "manifest rows"
[[ $(find "$TMP/run" -mindepth 1 -maxdepth 1 -type d | wc -l) -eq 1000 ]] || fail "device dirs"
# Unique endpoints, keys (public key hashes) and setup AP PSKs.
[[ $(tail -n +2 "$m" | cut -d, -f1 | sort -u | wc -l) -eq 1000 ]] || fail "repeated endpoint"
[[ $(tail -n +2 "$m" | cut -d, -f4 | sort -u | wc -l) -eq 1000 ]] || fail "repeated key hash"
cat "$TMP"/run/dk-*/label.txt >"$TMP/labels"
[[ $(wc -l <"$TMP/labels") -eq 1000 ]] || fail "labels"
[[ $(cut -d';' -f5 "$TMP/labels" | cut -d: -f3 | sort -u | wc -l) -eq 1000 ]] || fail "repeated AP PSK"
[[ $(cat "$TMP"/run/dk-*/pubkey.der | sha256sum) != "" ]]
[[ $(for f in "$TMP"/run/dk-*/pubkey.der; do sha256sum <"$f"; done | sort -u | wc -l) -eq 1000 ]] ||
  fail "repeated public key"
# Every endpoint has >= 48 random bits: dk- and 16 hex digits.
! tail -n +2 "$m" | cut -d, -f1 | grep -vqE '^dk-[0-9a-f]{16}$' || fail "endpoint format"
# The manifest rows agree with the labels, and no secret is in it.
while IFS=, read -r ep type cred hash lsha; do
  d=$TMP/run/$ep
  [[ $type == LED && $cred == rpk ]] || fail "row $ep"
  [[ $(cut -d';' -f7 "$d/label.txt") == "$hash" ]] || fail "$ep: manifest hash != label"
  [[ $(printf '%s' "$(cat "$d/label.txt")" | sha256sum | cut -d' ' -f1) == "$lsha" ]] || fail "$ep: label_sha256"
done < <(tail -n +2 "$m")
! grep -qF -f <(cut -d';' -f5 "$TMP/labels" | cut -d: -f3) "$m" || fail "manifest holds an AP PSK"
# Hashes recomputed by openssl for a sample spread over the run.
for ep in $(tail -n +2 "$m" | cut -d, -f1 | awk 'NR % 97 == 1'); do
  want=$(openssl pkey -pubin -inform DER -in "$TMP/run/$ep/pubkey.der" -outform DER | sha256_16)
  grep -q "^$ep,LED,rpk,$want," "$m" || fail "$ep: openssl hash $want not in manifest"
done
# Every store of the run loads and matches its label (a sample, oob check is one process each).
for ep in $(tail -n +2 "$m" | cut -d, -f1 | awk 'NR % 199 == 1'); do
  run 0 "$FACTORY" oob check "$TMP/run/$ep"
done

# PSK run: PSKs are never repeated either.
run 0 "$FACTORY" batch --count 300 --type LED --cred psk --channel none --out "$TMP/psk"
cat "$TMP"/psk/dk-*/label.txt >"$TMP/psklabels"
[[ $(cut -d';' -f7 "$TMP/psklabels" | sort -u | wc -l) -eq 300 ]] || fail "repeated PSK"
! cut -d';' -f7 "$TMP/psklabels" | grep -vqE '^[0-9a-f]{32}$' || fail "PSK is not 128-bit"
[[ $(tail -n +2 "$TMP/psk/manifest.csv" | cut -d, -f4 | sort -u) == "" ]] || fail "PSK in manifest"
! grep -qF -f <(cut -d';' -f7 "$TMP/psklabels") "$TMP/psk/manifest.csv" || fail "manifest holds a PSK"

# x509 run with a CA: every certificate verifies and hashes as labelled.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 \
  -subj '/O=Duckling Test/CN=Batch CA' -keyout "$TMP/ca.key" -out "$TMP/ca.pem" 2>/dev/null
run 0 "$FACTORY" batch --count 20 --type LED --cred x509 --ca "$TMP/ca.pem" --ca-key "$TMP/ca.key" --out "$TMP/x509"
openssl verify -CAfile "$TMP/ca.pem" "$TMP"/x509/dk-*/cert.pem >"$TMP/verify" 2>&1 || fail "verify: $(cat "$TMP/verify")"
[[ $(grep -c ': OK$' "$TMP/verify") -eq 20 ]] || fail "not all 20 certificates verify"
while IFS=, read -r ep _ _ hash _; do
  [[ $(openssl x509 -in "$TMP/x509/$ep/cert.pem" -outform DER | sha256_16) == "$hash" ]] || fail "$ep: x509 hash"
done < <(tail -n +2 "$TMP/x509/manifest.csv")
echo "factory_batch: ok"
