#!/usr/bin/env bash
# duckling-device: options, exit codes, error format, refusal to start without
# a factory store, --factory-reset offline, the gpio driver's errors.
source "$(dirname "$0")/lib.sh"

run 0 "$DEVICE" --help
grep -q '^Usage: duckling-device --data DIR' "$TMP/stdout" || fail "--help prints no usage"
grep -q 'DK_SSID' "$TMP/stdout" || fail "--help does not document the hook environment"
run 0 "$DEVICE" --version
[[ "$(cat "$TMP/stdout")" =~ ^duckling-device\ [0-9]+\.[0-9]+\.[0-9]+$ ]] || fail "--version"

# Bad usage: exit 2, "duckling-device: what: why".
run 2 "$DEVICE"
expect_err_match '^duckling-device: --data: is required$'
run 2 "$DEVICE" --data "$TMP" --bogus
expect_err_match '^duckling-device: --bogus: unknown option$'
run 2 "$DEVICE" --data
expect_err_match '^duckling-device: --data: needs a value$'
run 2 "$DEVICE" --data "$TMP" extra
expect_err_match '^duckling-device: extra: unexpected argument$'
run 2 "$DEVICE" --data "$TMP" --driver lego
expect_err_match '^duckling-device: --driver: must be sim or gpio$'
run 2 "$DEVICE" --data "$TMP" --log-level loud
expect_err_match '^duckling-device: --log-level: must be error, warn, info or debug$'
run 2 "$DEVICE" --data "$TMP" --holdoff -5
expect_err_match '^duckling-device: --holdoff: must be milliseconds'
run 2 "$DEVICE" --data "$TMP" --holdoff 12x
expect_err_match '^duckling-device: --holdoff: '
run 2 "$DEVICE" --data "$TMP" --bs-uri http://example.com
expect_err_match '^duckling-device: --bs-uri: must be coap://'
run 2 "$DEVICE" --data "$TMP" --led-line 3
expect_err_match '^duckling-device: --gpio-chip: .*need --driver gpio$'
run 2 "$DEVICE" --data "$TMP" --driver gpio --led-line 3
expect_err_match '^duckling-device: --driver: gpio needs --gpio-chip and --led-line$'
run 2 "$DEVICE" --data "$TMP" --driver gpio --gpio-chip gpiochip0 --led-line 70000
expect_err_match '^duckling-device: --led-line: must be a line offset'
run 2 "$DEVICE" --data "$TMP" --driver gpio --gpio-chip gpiochip0 --led-line 4 --button-line 4
expect_err_match '^duckling-device: --button-line: must differ from --led-line$'
run 2 "$DEVICE" --data "$TMP" --factory-reset --on-operational true
expect_err_match '^duckling-device: --factory-reset: takes only'

# No factory store: refuse to start, exit 1, say why.
mkdir -p "$TMP/empty"
run 1 "$DEVICE" --data "$TMP/empty"
expect_err_match "^duckling-device: $TMP/empty/factory.store: no such file"
# A damaged factory store is refused with the store module's reason.
make_device "$TMP/dev" none 5783
cp "$TMP/dev/factory.store" "$TMP/good.store"
printf 'garbage' >"$TMP/empty/factory.store"
run 1 "$DEVICE" --data "$TMP/empty"
expect_err_match "^duckling-device: $TMP/empty/factory.store: "
# A Bootstrap Server URI whose scheme does not fit the credential type.
run 1 "$DEVICE" --data "$TMP/dev" --bs-uri coaps://127.0.0.1:5784
expect_err_match '^duckling-device: --bs-uri: coaps://127.0.0.1:5784 does not fit the factory credential type none'

# A damaged operational store: refuse, and say how to recover.
printf 'DKSTxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx' >"$TMP/dev/operational.store"
printf 'key' >"$TMP/dev/device.key"
run 1 "$DEVICE" --data "$TMP/dev"
expect_err_match "^duckling-device: $TMP/dev/operational.store: .*--factory-reset"

# --factory-reset offline: operational store and key gone, factory store intact.
before=$(sha "$TMP/dev/factory.store")
run 0 "$DEVICE" --data "$TMP/dev" --factory-reset
[[ ! -e "$TMP/dev/operational.store" ]] || fail "--factory-reset left operational.store"
[[ ! -e "$TMP/dev/device.key" ]] || fail "--factory-reset left device.key"
[[ "$(sha "$TMP/dev/factory.store")" == "$before" ]] || fail "--factory-reset changed factory.store"
expect_err_match 'factory.store kept'
# Again: nothing to erase is fine.
run 0 "$DEVICE" --data "$TMP/dev" --factory-reset
run 1 "$DEVICE" --data "$TMP/nonexistent" --factory-reset
expect_err_match "^duckling-device: $TMP/nonexistent: not a directory$"

# The gpio driver: no real hardware here, so only its errors can be checked.
run 1 "$DEVICE" --data "$TMP/dev" --driver gpio --gpio-chip nosuchchip --led-line 17
expect_err_match '^duckling-device: --gpio-chip: nosuchchip: '
echo "PASS"
