#!/usr/bin/env bash
# Browser tests of the web UI (issue 7) against a real duckling-gateway on
# 127.0.0.1: Debian's chromium driven by playwright-core (webui.test.mjs).
# Screenshots of every step go to build/screenshots/ (DK_SCREENSHOTS).
source "$DK_SRC/tests/system/lib.sh"

command -v node >/dev/null || dk_fail "node is not installed (the machine's Node.js)"
[[ -x /usr/bin/chromium ]] || dk_fail "/usr/bin/chromium is missing: run scripts/install-deps (Debian package chromium)"

# playwright-core, jsqr and leaflet from package-lock.json. npm ci only runs
# when the lockfile changed since the last install (stamp), so reruns need no
# network; --prefer-offline uses npm's cache when it can.
cd "$DK_SRC"
want=$(sha256sum package-lock.json | cut -d' ' -f1)
if [[ $(cat node_modules/.duckling-lock 2>/dev/null) != "$want" ]]; then
  echo "# npm ci (package-lock.json changed or node_modules missing)"
  npm ci --prefer-offline --no-audit --no-fund --loglevel=error >"$DK_TMP/npm.log" 2>&1 ||
    { cat "$DK_TMP/npm.log" >&2; dk_fail "npm ci failed"; }
  echo "$want" >node_modules/.duckling-lock
fi
scripts/vendor-web --check || dk_fail "web/vendor/ is not what scripts/vendor-web makes from node_modules"
dk_pass "web/vendor/ matches node_modules (jsqr, leaflet) with licence files"

# Devices: their factory stores and labels, as the factory makes them.
bs_port=$(dk_free_udp_port)
srv_port=$(dk_free_udp_port)
for i in 1 2 3; do
  "$DK_BIN/duckling-factory" new --type LED --cred psk --out "$DK_TMP/dev$i" \
    --bs-uri "coaps://127.0.0.1:$bs_port" >/dev/null || dk_fail "duckling-factory new dev$i"
done

# A tile URL that could break out of the CSP header is refused at start.
for bad in "javascript:alert(1)" "https://x.example/';script-src *" "https://x.example/a b" "ftp://x.example/{z}"; do
  "$DK_BIN/duckling-gateway" --data "$DK_TMP/gw-bad" --http-port 0 --map-tiles "$bad" >/dev/null 2>"$DK_TMP/bad.err" &&
    dk_fail "--map-tiles '$bad' accepted"
  grep -q -- '--map-tiles' "$DK_TMP/bad.err" || dk_fail "--map-tiles '$bad': $(cat "$DK_TMP/bad.err")"
done
dk_pass "--map-tiles refuses URLs that are not plain http(s) templates"

# The gateway: web UI found in the source tree (baked in at build time), map
# tiles from a port nobody listens on, so the map must fall back to its plot.
tile_port=$(dk_free_tcp_port)
"$DK_BIN/duckling-gateway" --data "$DK_TMP/gw" --http-port 0 --bs-port "$bs_port" \
  --server-port "$srv_port" --map-tiles "http://127.0.0.1:$tile_port/{z}/{x}/{y}.png" \
  >"$DK_TMP/gw.out" 2>"$DK_TMP/gw.err" &
DK_PIDS+=($!)
dk_wait_line "$DK_TMP/gw.out" '^listening on http://' 20
grep -q "web UI: $DK_SRC/web\$" "$DK_TMP/gw.err" || dk_fail "gateway does not serve $DK_SRC/web: $(grep 'web UI' "$DK_TMP/gw.err")"
url=$(grep -oE 'http://[^ ]+/' "$DK_TMP/gw.out" | head -1)
dk_pass "gateway serves the web UI from the source tree at $url"

export DK_URL=$url DK_GW_DATA="$DK_TMP/gw" DK_TILE_ORIGIN="http://127.0.0.1:$tile_port"
export DK_DEVICES="$DK_TMP/dev1:$DK_TMP/dev2:$DK_TMP/dev3"
export DK_SCREENSHOTS=${DK_SCREENSHOTS:-$DK_SRC/build/screenshots}
export DK_PROFILE="$DK_TMP/chromium-profile"
timeout 240 node "$DK_SRC/tests/system/webui/webui.test.mjs" || dk_fail "browser tests failed (gateway log: $DK_TMP/gw.err)"
