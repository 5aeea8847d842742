#!/usr/bin/env bash
# System test of the gateway's REST API: the real duckling-gateway and
# duckling programs on 127.0.0.1 (a free port chosen by the kernel), curl, and
# fake-gateway (the same program with fake Bootstrap/LwM2M engines) for what
# needs a device. Env: DK_BIN, DK_TESTBIN, DK_SRC, DK_TMP.
set -uo pipefail

BIN=${DK_BIN:?}
TESTBIN=${DK_TESTBIN:?}
T=${DK_TMP:?}
rm -rf "$T"
mkdir -p "$T"

LABEL='01;EP:055192;T:LED;WIFI;WPA2-PSK:huawei_iot:5bd1f120735d1ba4e2d2149aeb891850;03;367f36ee1f5e272cfbca1ca35a73e42b;34;;'
BADSUM='01;EP:055192;T:LED;WIFI;WPA2-PSK:huawei_iot:5bd1f120735d1ba4e2d2149aeb891850;03;367f36ee1f5e272cfbca1ca35a73e42b;35;;'
psk_label() { # EP HEXKEY -> a PSK label with the right checksum
  local sum
  sum=$(printf %s "$2" | sha256sum | cut -c1-2)
  printf '01;EP:%s;T:LED;NONE;;01;%s;%s;;' "$1" "$2" "$sum"
}

failures=0
pass() { echo "ok   - $*"; }
fail() { echo "FAIL - $*"; failures=$((failures + 1)); }
check() { # DESCRIPTION COMMAND...
  local what=$1
  shift
  if "$@"; then pass "$what"; else fail "$what"; fi
}
contains() { grep -q -- "$2" "$1"; }

GW_PID=
PORT=
cleanup() {
  if [[ -n "$GW_PID" ]] && kill -0 "$GW_PID" 2>/dev/null; then
    kill -TERM "$GW_PID" 2>/dev/null
    wait "$GW_PID" 2>/dev/null
  fi
}
trap cleanup EXIT

# start_gw PROGRAM DATADIR NAME [ARGS...]: starts a gateway on a free port.
start_gw() {
  local prog=$1 dir=$2 name=$3
  shift 3
  "$prog" --data "$dir" --listen 127.0.0.1 --http-port 0 --bs-port 0 --server-port 0 "$@" \
    >"$T/$name.out" 2>"$T/$name.err" &
  GW_PID=$!
  PORT=
  for _ in $(seq 200); do
    PORT=$(sed -n 's|^listening on http://127.0.0.1:\([0-9]*\)/$|\1|p' "$T/$name.out" 2>/dev/null)
    [[ -n "$PORT" ]] && break
    kill -0 "$GW_PID" 2>/dev/null || break
    sleep 0.05
  done
  if [[ -z "$PORT" ]]; then
    echo "gateway $name did not start:"; cat "$T/$name.err"
    exit 1
  fi
  URL="http://127.0.0.1:$PORT"
}

# stop_gw SIGNAL: stops the gateway, returns its exit status.
stop_gw() {
  kill "-$1" "$GW_PID"
  wait "$GW_PID"
  local rc=$?
  GW_PID=
  return $rc
}

# api METHOD PATH [BODY [CONTENT-TYPE]]: curl with the token; body in $T/body,
# status printed.
api() {
  local method=$1 path=$2 body=${3-} ct=${4-application/json}
  local args=(-s -o "$T/body" -w '%{http_code}' -X "$method" -H "Authorization: Bearer $TOKEN")
  [[ -n "$body" ]] && args+=(-H "Content-Type: $ct" --data-binary "$body")
  curl "${args[@]}" --path-as-is "$URL$path"
}
body_has() { grep -q -- "$1" "$T/body"; }

# ---------------------------------------------------------------------------
echo "# programs: usage and exit codes"
"$BIN/duckling-gateway" --help >"$T/help" 2>&1
check "duckling-gateway --help exits 0 and documents --data" \
  bash -c "[[ $? -eq 0 ]] && grep -q -- '--data DIR' '$T/help'"
"$BIN/duckling-gateway" --version | grep -q '^duckling-gateway [0-9]'
check "duckling-gateway --version" test $? -eq 0
"$BIN/duckling-gateway" --http-port 8080 >/dev/null 2>"$T/err"
check "duckling-gateway without --data exits 2" test $? -eq 2
check "  with 'duckling-gateway: ' and the reason" grep -q '^duckling-gateway: --data DIR is required' "$T/err"
"$BIN/duckling-gateway" --data "$T/x" --approval maybe >/dev/null 2>"$T/err"
check "duckling-gateway --approval maybe exits 2" test $? -eq 2
"$BIN/duckling-gateway" --data "$T/x" --http-port 70000 >/dev/null 2>&1
check "duckling-gateway --http-port 70000 exits 2" test $? -eq 2
"$BIN/duckling" --help | grep -q 'scan --image PNG'
check "duckling --help" test $? -eq 0
"$BIN/duckling" frobnicate >/dev/null 2>&1
check "duckling without a token or a known command exits 2" test $? -eq 2
"$BIN/duckling" --token-file /dev/null frobnicate >/dev/null 2>"$T/err"
check "duckling: empty token file exits 1" test $? -eq 1

# ---------------------------------------------------------------------------
echo "# first start: data directory, token, database"
D1=$T/data1
start_gw "$BIN/duckling-gateway" "$D1" gw1
TOKEN=$(cat "$D1/admin.token")
check "token file is mode 0600" test "$(stat -c %a "$D1/admin.token")" = 600
check "token is 256 bits of hex" bash -c "[[ '$TOKEN' =~ ^[0-9a-f]{64}$ ]]"
check "token printed once at first start" grep -qx "$TOKEN" "$T/gw1.out"
check "data directory is 0700" test "$(stat -c %a "$D1")" = 700
check "database is mode 0600" test "$(stat -c %a "$D1/gateway.db")" = 600
check "database is in WAL mode" test "$(sqlite3 "$D1/gateway.db" 'PRAGMA journal_mode')" = wal
check "engines say where they listen" bash -c "grep -q '^bootstrap server listening on coaps://127.0.0.1:[0-9]*/$' '$T/gw1.out' && grep -q '^lwm2m server listening on coaps://127.0.0.1:[0-9]*/$' '$T/gw1.out'"
check "database is not readable by others" bash -c "[[ \$(stat -c %a '$D1/gateway.db-wal') == 600 ]]"
"$BIN/duckling-gateway" --data "$D1" --http-port 0 --bs-port 0 --server-port 0 >/dev/null 2>"$T/err"
check "a second gateway on the same data directory is refused (exit 1)" test $? -eq 1
check "  saying why" grep -q 'another duckling-gateway' "$T/err"

"$BIN/duckling-gateway" --data "$T/other" --listen 127.0.0.1 --http-port "$PORT" --bs-port 0 \
  --server-port 0 >/dev/null 2>"$T/err"
check "HTTP port in use: exit 1" test $? -eq 1
check "  saying so" grep -q "^duckling-gateway: HTTP on 127.0.0.1 port $PORT: cannot listen" "$T/err"

DK="$BIN/duckling --gateway $URL --token-file $D1/admin.token"

echo "# authentication"
code=$(curl -s -o "$T/body" -w '%{http_code}' "$URL/api/oob")
check "no token: 401" test "$code" = 401
check "  with a JSON error" body_has '"error":"unauthorized: no token"'
code=$(curl -s -o "$T/body" -w '%{http_code}' -H "Authorization: Bearer ${TOKEN%?}0" "$URL/api/oob")
[[ "${TOKEN: -1}" == 0 ]] && code=$(curl -s -o "$T/body" -w '%{http_code}' -H "Authorization: Bearer ${TOKEN%?}1" "$URL/api/oob")
check "wrong token: 401" test "$code" = 401
check "  wrong token named" body_has 'wrong token'
code=$(curl -s -o "$T/body" -w '%{http_code}' -H "Authorization: Basic $TOKEN" "$URL/api/pending")
check "not a Bearer token: 401" test "$code" = 401
code=$(curl -s -o "$T/body" -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
  --data-binary "{\"label\":\"$LABEL\"}" "$URL/api/oob")
check "POST without token: 401 and nothing stored" test "$code" = 401
# EventSource has no headers: the stream takes a one-time ticket, never the token.
ticket=$(curl -s -X POST -H "Authorization: Bearer $TOKEN" "$URL/api/events/ticket" | jq -r .ticket)
code=$(curl -s -o "$T/body" -w '%{http_code}' -N "$URL/api/events?ticket=$ticket" --max-time 1)
check "event stream takes a ?ticket= from POST /api/events/ticket" test "$code" = 200
code=$(curl -s -o "$T/body" -w '%{http_code}' "$URL/api/events?ticket=$ticket" --max-time 2)
check "a used ticket: 401" test "$code" = 401
code=$(curl -s -o "$T/body" -w '%{http_code}' "$URL/api/events?token=$TOKEN" --max-time 2)
check "the token in the URL is not accepted: 401" test "$code" = 401
echo "$TOKEN" | sed 's/./0/g' >"$T/wrong.token"
$BIN/duckling --gateway "$URL" --token-file "$T/wrong.token" pending >/dev/null 2>"$T/err"
check "duckling with a wrong token exits 1" test $? -eq 1
check "  printing the API's error" grep -q 'duckling: pending: unauthorized: wrong token (HTTP 401)' "$T/err"

echo "# bad input"
code=$(api POST /api/oob "{\"label\":\"$BADSUM\"}")
check "label with a bad checksum: 400" test "$code" = 400
check "  naming the field" body_has '"field":"checksum"'
check "  and the problem" body_has 'bad label: checksum'
$DK scan "$BADSUM" >/dev/null 2>"$T/err"
check "duckling scan of a mistyped label exits 1" test $? -eq 1
check "  with the field in the message" grep -q 'scan: bad label: checksum' "$T/err"
code=$(api POST /api/oob '{"label": 5}')
check "label not a string: 400" bash -c "[[ $code == 400 ]] && grep -q 'label: must be a string' '$T/body'"
code=$(api POST /api/oob '{"label": "x"')
check "broken JSON: 400" bash -c "[[ $code == 400 ]] && grep -q 'not valid JSON' '$T/body'"
code=$(api POST /api/oob "label=$LABEL" application/x-www-form-urlencoded)
check "form body: 415" test "$code" = 415
head -c 20000 /dev/zero | tr '\0' 'a' >"$T/big"
code=$(curl -s -o "$T/body" -w '%{http_code}' -X POST -H "Authorization: Bearer $TOKEN" \
  -H 'Content-Type: application/json' --data-binary @"$T/big" "$URL/api/oob")
check "oversized body: 413" test "$code" = 413
check "  with the limit named" body_has 'larger than the limit of 16384 bytes'
code=$(curl -s -o "$T/body" -w '%{http_code}' -X POST -H "Authorization: Bearer $TOKEN" \
  -H 'Content-Type: application/json' -H 'Transfer-Encoding: chunked' --data-binary @"$T/big" "$URL/api/oob")
check "oversized chunked body (no Content-Length): 413" test "$code" = 413
code=$(api GET /api/nothing)
check "unknown resource: 404" test "$code" = 404
code=$(api PATCH /api/oob)
check "wrong method: 405" test "$code" = 405
curl -s -D "$T/hdr" -o /dev/null -X PATCH -H "Authorization: Bearer $TOKEN" "$URL/api/oob"
check "  with an Allow header" grep -qi '^Allow: GET, POST' "$T/hdr"
code=$(api GET /api/devices/055192/70000)
check "LwM2M id out of range: 400" bash -c "[[ $code == 400 ]] && grep -q 'not an LwM2M id' '$T/body'"

echo "# labels (OOB records)"
code=$(api POST /api/oob "{\"label\":\"$LABEL\"}")
check "label accepted: 201" test "$code" = 201
check "  endpoint and credential type" bash -c "grep -q '\"endpoint\":\"055192\"' '$T/body' && grep -q '\"cred_type\":\"x509\"' '$T/body'"
UPPER='01;EP:055192;T:LED;WIFI;WPA2-PSK:huawei_iot:5BD1F120735D1BA4E2D2149AEB891850;03;367F36EE1F5E272CFBCA1CA35A73E42B;34;;'
code=$(api POST /api/oob "{\"label\":\"  $UPPER \"}")
check "the same label again (upper-case hex): 200, not a duplicate" test "$code" = 200
PSK1=$(psk_label psk-dev 00112233445566778899aabbccddeeff)
$DK scan "$PSK1" >"$T/out" 2>&1
check "duckling scan TEXT" grep -q 'label added: psk-dev (type LED, channel NONE, credential psk)' "$T/out"
PSK1B=$(psk_label psk-dev ffeeddccbbaa99887766554433221100)
code=$(api POST /api/oob "{\"label\":\"$PSK1B\"}")
check "a different label for a known endpoint: 409" test "$code" = 409
code=$(api GET /api/oob)
check "GET /api/oob lists both" bash -c "grep -q '\"055192\"' '$T/body' && grep -q '\"psk-dev\"' '$T/body'"
check "  never with the PSK" bash -c "! grep -q 00112233445566778899aabbccddeeff '$T/body'"
check "  with the certificate hash (public)" body_has '"cred_hash":"367f36ee1f5e272cfbca1ca35a73e42b"'
check "PSK is not in the log" bash -c "! grep -qi 00112233445566778899aabbccddeeff '$T/gw1.err'"
$DK labels >"$T/out"
check "duckling labels" bash -c "grep -q '^055192 .*LED .*WIFI .*x509' '$T/out' && grep -q '^psk-dev ' '$T/out'"
$DK --json labels >"$T/out"
check "duckling --json labels is the API's JSON" grep -q '^{"oob":\[' "$T/out"
"$TESTBIN/qrpng" "$(psk_label img-dev 0123456789abcdef0123456789abcdef)" "$T/label.png"
$DK scan --image "$T/label.png" >"$T/out" 2>&1
check "duckling scan --image PNG (zbarimg)" grep -q 'label added: img-dev' "$T/out"
$DK scan --image "$T/missing.png" >/dev/null 2>"$T/err"
check "scan --image of a missing file exits 1" test $? -eq 1
$DK delete-label img-dev >"$T/out"
check "duckling delete-label" grep -q 'img-dev: label deleted' "$T/out"
code=$(api DELETE /api/oob/img-dev)
check "DELETE a label twice: 404" test "$code" = 404
code=$(api GET /api/devices)
check "scanned devices are listed as expected" bash -c "grep -q '\"endpoint\":\"055192\",\"state\":\"expected\"' '$T/body'"
$DK pending >"$T/out"
check "duckling pending (no device asked yet: none)" grep -q 'no pending bootstrap requests' "$T/out"
$DK approve 055192 >/dev/null 2>"$T/err"
check "approve without a request exits 1 with the API's 404" grep -q 'no pending bootstrap request for 055192 (HTTP 404)' "$T/err"
$DK read 055192 /3303/0/5700 >/dev/null 2>"$T/err"
check "device operations on a device not registered: exit 1, 409" grep -q 'not registered with the LwM2M Server (HTTP 409)' "$T/err"
$DK read nobody /3/0/0 >/dev/null 2>"$T/err"
check "device operations on an unknown device: 404" grep -q 'no such device: nobody (HTTP 404)' "$T/err"
$DK status >"$T/out"
check "duckling status says what runs" grep -q 'bootstrap server: running on coaps port' "$T/out"

echo "# web UI files and path traversal"
code=$(curl -s -o "$T/body" -w '%{http_code}' -D "$T/hdr" "$URL/")
check "/ serves the placeholder page" bash -c "[[ $code == 200 ]] && grep -q 'duckling gateway' '$T/body'"
check "  as text/html" grep -qi '^Content-Type: text/html' "$T/hdr"
for p in '/../etc/passwd' '/%2e%2e/etc/passwd' '/%2E%2E%2Fetc%2Fpasswd' '/a/..%2F..%2Fetc/passwd' '/.%2e/x'; do
  code=$(curl -s -o "$T/body" -w '%{http_code}' --path-as-is "$URL$p")
  check "path traversal $p refused (400)" test "$code" = 400
done
code=$(curl -s -o "$T/body" -w '%{http_code}' --path-as-is "$URL/api/../api/oob")
check "/api/../ is not a way around the token" bash -c "[[ $code == 401 || $code == 404 ]]"

echo "# audit"
code=$(api GET '/api/audit?limit=200')
check "refused API calls are audited" body_has '"event":"api.unauthorized"'
check "refused labels are audited, naming the field" bash -c "grep -q '\"event\":\"oob.rejected\"' '$T/body' && grep -q 'label refused: bad label: checksum' '$T/body'"
check "path traversal attempts are audited" body_has '"event":"http.refused"'
check "scans are audited" body_has '"event":"oob.added"'
check "conflicting labels are audited" body_has '"event":"oob.refused"'
$DK audit --limit 3 055192 >"$T/out"
check "duckling audit EP" grep -q ' 055192 .*oob.added' "$T/out"

echo "# event stream"
curl -s -N -H "Authorization: Bearer $TOKEN" "$URL/api/events" >"$T/events" &
EV_PID=$!
sleep 0.3
api POST /api/oob "{\"label\":\"$(psk_label ev-dev 0123456789abcdef0123456789abcdef)\"}" >/dev/null
sleep 0.3
kill "$EV_PID" 2>/dev/null
wait "$EV_PID" 2>/dev/null
check "SSE stream opens with a comment" grep -q '^: duckling event stream' "$T/events"
check "SSE carries the oob event" grep -q '^event: oob' "$T/events"
check "SSE data is JSON with the endpoint" grep -q '^data: {"type":"oob","time":[0-9]*,"endpoint":"ev-dev"' "$T/events"
check "SSE carries audit events" grep -q '^event: audit' "$T/events"

echo "# static files from --www"
stop_gw TERM
check "SIGTERM: clean exit 0" test $? -eq 0
mkdir -p "$T/www/js"
echo '<!doctype html><title>ui</title>' >"$T/www/index.html"
echo 'console.log(1)' >"$T/www/js/app.js"
echo 'secret' >"$T/outside.txt"
ln -s "$T/outside.txt" "$T/www/link.txt"
mkdir -p "$T/outdir" && echo 'secret' >"$T/outdir/x.txt"
ln -s "$T/outdir" "$T/www/linkdir"
start_gw "$BIN/duckling-gateway" "$D1" gw1b --www "$T/www"
check "restart does not print the token again" bash -c "! grep -q '$TOKEN' '$T/gw1b.out'"
code=$(curl -s -o "$T/body" -w '%{http_code}' -D "$T/hdr" "$URL/js/app.js")
check "static file served" bash -c "[[ $code == 200 ]] && grep -q 'console.log' '$T/body'"
check "  with its content type" grep -qi '^Content-Type: text/javascript' "$T/hdr"
code=$(curl -s -o "$T/body" -w '%{http_code}' -D "$T/hdr" "$URL/")
check "index.html for /" bash -c "[[ $code == 200 ]] && grep -q '<title>ui' '$T/body'"
check "  with a Content-Security-Policy" grep -qi '^Content-Security-Policy' "$T/hdr"
code=$(curl -s -o "$T/body" -w '%{http_code}' "$URL/link.txt")
check "symbolic link out of the folder refused" test "$code" = 404
code=$(curl -s -o "$T/body" -w '%{http_code}' "$URL/linkdir/x.txt")
check "linked directory out of the folder refused" test "$code" = 404
code=$(curl -s -o "$T/body" -w '%{http_code}' "$URL/missing.html")
check "missing file: 404" test "$code" = 404

echo "# restart keeps records"
DK="$BIN/duckling --gateway $URL --token-file $D1/admin.token"
$DK labels >"$T/out"
check "labels survive a restart" bash -c "grep -q '^055192 ' '$T/out' && grep -q '^psk-dev ' '$T/out'"
code=$(api GET '/api/audit?limit=500')
check "audit survives a restart" bash -c "grep -q gateway.stopped '$T/body' && grep -q oob.rejected '$T/body'"
stop_gw INT
check "SIGINT: clean exit 0" test $? -eq 0

# ---------------------------------------------------------------------------
echo "# with fake engines: the hooks, suspend/resume and the CLI end to end"
D2=$T/data2
start_gw "$TESTBIN/fake-gateway" "$D2" fake --op-timeout 4
TOKEN=$(cat "$D2/admin.token")
DK="$BIN/duckling --gateway $URL --token-file $D2/admin.token"
$DK scan "$LABEL" >/dev/null
sleep 0.4
$DK pending >"$T/out"
check "scan -> the device asks -> pending" grep -q '^055192 .*x509  match  127.0.0.1:57840' "$T/out"
$DK --json pending >"$T/out"
check "pending --json" grep -q '"state":"pending","label_match":true' "$T/out"
$DK approve 055192 >"$T/out"
check "duckling approve" grep -q '055192: bootstrap request approved' "$T/out"
sleep 0.4
$DK devices >"$T/out"
check "approved -> bootstrapped -> registered, with location" grep -q '^055192 .*registered .*LED .*60.16990,24.93840' "$T/out"
$DK device 055192 >"$T/out"
check "device shows its operational PSK identity (never the key)" grep -q 'credentials:  psk, identity op-055192-1' "$T/out"
$DK read 055192 /3303/0/5700 >"$T/out"
check "read a resource (asynchronous answer)" test "$(cat "$T/out")" = 21.5
$DK read 055192 3303/0 >"$T/out"
check "read an instance (SenML-like records)" bash -c "grep -qx '/3303/0/5700 = 21.5' '$T/out' && grep -qx '/3303/0/5701 = \"Cel\"' '$T/out'"
$DK read 055192 /3/0/1 >"$T/out"
check "read answered synchronously (done() inside the call)" test "$(cat "$T/out")" = fake-model
$DK write 055192 /3311/0/5850 true >"$T/out"
check "write" grep -q '055192 /3311/0/5850: written (2.04)' "$T/out"
check "  read back" test "$($DK read 055192 /3311/0/5850)" = true
$DK exec 055192 /3/0/4 >"$T/out"
check "exec" grep -q 'executed (2.04)' "$T/out"
$DK exec 055192 /3/0/0 >/dev/null 2>"$T/err"
check "device error 4.05 reported, exit 1" grep -q 'the device answered 4.05 Method Not Allowed' "$T/err"
$DK read 055192 /3303/0/9999 >/dev/null 2>"$T/err"
check "device 4.04 -> HTTP 404" grep -q 'the device answered 4.04 Not Found (HTTP 404)' "$T/err"
start=$(date +%s%N)
$DK read 055192 /9999/0/0 >/dev/null 2>"$T/err"
rc=$?
ms=$(( ($(date +%s%N) - start) / 1000000 ))
check "a device that never answers: 504 after --op-timeout" bash -c "[[ $rc == 1 ]] && grep -q 'did not answer in time (HTTP 504)' '$T/err' && (( $ms >= 3900 && $ms < 9000 ))"

# A slow operation must not block others: it is suspended, not waited for.
( $DK read 055192 /3303/0/5601 >"$T/slow"; date +%s%N >"$T/slow.t" ) &
SLOW=$!
sleep 0.2
$DK read 055192 /3303/0/5700 >"$T/fast"
code=$(api GET /api/status)
[[ -s "$T/slow.t" ]] && slow_done=yes || slow_done=no
wait "$SLOW"
check "slow read (2.5 s) completes" test "$(cat "$T/slow")" = -5.5
check "a fast read and the API answer while a slow one waits" \
  bash -c "[[ \$(cat '$T/fast') == 21.5 && $code == 200 && $slow_done == no ]]"

timeout 10 $DK observe --count 3 055192 /3303/0/5700 >"$T/out"
check "observe prints the first value and 3 notifications" \
  bash -c "[[ \$(grep -c 'notification 055192 /3303/0/5700 = ' '$T/out') == 3 ]] && grep -q '^observing 055192 /3303/0/5700: ' '$T/out'"
timeout 10 $DK --json events --count 2 >"$T/out"
check "duckling events --json: one JSON object per line" bash -c "[[ \$(grep -c '^{\"type\":\"notification\"' '$T/out') == 2 ]]"
$DK unobserve 055192 /3303/0/5700 >"$T/out"
check "unobserve" grep -q 'no longer observed' "$T/out"
code=$(api GET /api/devices/055192)
check "latest notified value stored" body_has '"path":"/3303/0/5700","content_format":110,"value":2[2-9]'

$DK reset 055192 >"$T/out"
check "remote factory reset" grep -q 'factory reset done; its operational credentials are revoked' "$T/out"
code=$(api GET /api/devices/055192)
check "  device state reset, no active credentials" bash -c "grep -q '\"state\":\"reset\"' '$T/body' && grep -q '\"credentials\":null' '$T/body'"
check "  revoked identity kept in the database" test "$(sqlite3 "$D2/gateway.db" "SELECT revoked FROM credential WHERE psk_identity = CAST('op-055192-1' AS BLOB)")" = 1
$DK read 055192 /3303/0/5700 >/dev/null 2>"$T/err"
check "  then operations: not registered (409)" grep -q 'not registered with the LwM2M Server (HTTP 409)' "$T/err"

# A credential that does not match its label.
$DK scan "$(psk_label bad-dev 00112233445566778899aabbccddeeff)" >/dev/null
sleep 0.4
$DK pending >"$T/out"
check "mismatching credential: no pending request" bash -c "! grep -q bad-dev '$T/out'"
$DK audit bad-dev >"$T/out"
check "  refused and audited" grep -q 'bootstrap.refused .*does not match its label' "$T/out"

# Deny.
$DK scan "$(psk_label deny-dev 00112233445566778899aabbccddee00)" >/dev/null
sleep 0.4
$DK deny deny-dev >"$T/out"
check "deny" grep -q 'deny-dev: bootstrap request denied' "$T/out"
code=$(api GET /api/devices/deny-dev)
check "  denied device stays unprovisioned" bash -c "grep -q '\"state\":\"expected\"' '$T/body' && grep -q '\"credentials\":null' '$T/body' && grep -q '\"state\":\"denied\"' '$T/body'"

# Remove a device: credentials revoked. The event stream sees it all.
curl -s -N -H "Authorization: Bearer $TOKEN" "$URL/api/events" >"$T/events2" &
EV_PID=$!
sleep 0.2
$DK scan "$(psk_label rm-dev 00112233445566778899aabbccddee11)" >/dev/null
sleep 0.4
$DK approve rm-dev >/dev/null
sleep 0.6
kill "$EV_PID" 2>/dev/null
wait "$EV_PID" 2>/dev/null
check "SSE: bootstrap request" grep -q '^data: {"type":"bootstrap",.*"endpoint":"rm-dev".*"action":"requested"' "$T/events2"
check "SSE: approval" grep -q '^data: {"type":"bootstrap",.*"endpoint":"rm-dev".*"action":"approved"' "$T/events2"
check "SSE: registration" grep -q '^data: {"type":"registration",.*"endpoint":"rm-dev","action":"registered","lifetime":300' "$T/events2"
check "SSE: an engine's own event (dk_gw_event_publish)" grep -q '"endpoint":"rm-dev","action":"fake-provisioned","serial":1' "$T/events2"
check "SSE: keep-alive comments" grep -q '^: keep-alive' "$T/events2"
check "SSE: ids increase" bash -c "grep '^id: ' '$T/events2' | awk '{ if (\$2 <= last) exit 1; last = \$2 }'"
$DK remove rm-dev >"$T/out"
check "remove a device" grep -q 'rm-dev: removed; its credentials are revoked' "$T/out"
check "  its credential revoked" test "$(sqlite3 "$D2/gateway.db" "SELECT count(*) FROM credential WHERE endpoint = 'rm-dev' AND revoked = 1")" = 1

# Shutdown with a request waiting on a device: answered 503, clean exit.
stop_gw TERM
start_gw "$TESTBIN/fake-gateway" "$D2" fake2 --op-timeout 60
DK="$BIN/duckling --gateway $URL --token-file $D2/admin.token"
$DK scan "$(psk_label wait-dev 00112233445566778899aabbccddee22)" >/dev/null
sleep 0.4
$DK approve wait-dev >/dev/null
sleep 0.4
$DK read wait-dev /9999/0/0 >/dev/null 2>"$T/err" &
RD=$!
sleep 0.5
stop_gw TERM
gwrc=$?
wait "$RD"
check "shutdown with a suspended request: exit 0" test "$gwrc" = 0
check "  and the waiting client is told (503)" grep -q 'shutting down (HTTP 503)' "$T/err"

echo "# policies: auto approval, expiry"
D3=$T/data3
start_gw "$TESTBIN/fake-gateway" "$D3" auto --approval auto
DK="$BIN/duckling --gateway $URL --token-file $D3/admin.token"
$DK scan "$LABEL" >/dev/null
sleep 0.5
$DK devices >"$T/out"
check "--approval auto: scanning is the approval" grep -q '^055192 .*registered' "$T/out"
$DK audit 055192 >"$T/out"
check "  audited as policy auto" grep -q 'approved by policy auto' "$T/out"
stop_gw TERM
D4=$T/data4
start_gw "$TESTBIN/fake-gateway" "$D4" ttl --pending-ttl 2
DK="$BIN/duckling --gateway $URL --token-file $D4/admin.token"
$DK scan "$LABEL" >/dev/null
sleep 0.4
check "pending before the deadline" bash -c "$DK pending | grep -q '^055192 '"
sleep 3.2
$DK pending >"$T/out"
check "  gone after it" grep -q 'no pending bootstrap requests' "$T/out"
$DK approve 055192 >/dev/null 2>"$T/err"
check "  approval after expiry refused" test $? -eq 1
$DK audit 055192 >"$T/out"
check "  expiry audited" grep -q 'bootstrap.expired' "$T/out"
stop_gw TERM
check "fake gateway clean exit" test $? -eq 0

echo
if [[ $failures -ne 0 ]]; then
  echo "$failures check(s) failed"
  for f in "$T"/*.err; do echo "== $f"; tail -20 "$f"; done
  exit 1
fi
echo "all gateway API checks passed"
