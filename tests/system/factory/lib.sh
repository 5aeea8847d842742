# Shared helpers for the factory system tests (sourced).
set -euo pipefail
FACTORY=${DK_BIN:?}/duckling-factory
TMP=${DK_TMP:?}
rm -rf "$TMP"
mkdir -p "$TMP"

fail() {
  echo "FAIL: $*" >&2
  exit 1
}

# run EXPECTED_EXIT CMD... — runs CMD, keeps stdout in $TMP/out and stderr in
# $TMP/err, and checks the exit status.
run() {
  local want=$1
  shift
  local got=0
  "$@" >"$TMP/out" 2>"$TMP/err" || got=$?
  if [[ $got -ne $want ]]; then
    echo "--- stdout" >&2; cat "$TMP/out" >&2
    echo "--- stderr" >&2; cat "$TMP/err" >&2
    fail "'$*' exited $got, want $want"
  fi
}

# The exact stderr of the last run.
expect_err() {
  local got
  got=$(cat "$TMP/err")
  [[ "$got" == "$1" ]] || fail "stderr is '$got', want '$1'"
}

expect_err_match() {
  grep -qE "$1" "$TMP/err" || fail "stderr '$(cat "$TMP/err")' does not match /$1/"
}

mode_of() {
  stat -c %a "$1"
}

# QR decode: exactly one QR symbol, its raw text.
qr_decode() {
  zbarimg --quiet --raw -Sdisable -Sqrcode.enable "$1" 2>/dev/null
}

# The leftmost 16 bytes of a SHA-256 as hex, read from stdin.
sha256_16() {
  sha256sum | cut -c1-32
}
