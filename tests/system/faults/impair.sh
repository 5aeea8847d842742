#!/usr/bin/env bash
# dk-udp-impair checked on its own: usage errors, exact counters without
# impairments, loss, duplication, reordering, delay, seeded reproducibility,
# and CoAP over DTLS (both backends, block-wise) through 30 % loss with
# reordering, duplication and jitter in both directions.
source "$DK_SRC/tests/system/lib.sh"
source "$DK_SRC/tests/system/faults/lib-faults.sh"
cd "$DK_TMP"

# ---- usage ---------------------------------------------------------------------
"$IMPAIR" --help | grep -q -- '--reorder-gap' || dk_fail "--help"
st=0; "$IMPAIR" --listen 127.0.0.1:0 2>err || st=$?
[[ $st -eq 2 ]] && grep -q 'required' err || dk_fail "missing --target: exit $st $(cat err)"
st=0; "$IMPAIR" --listen 127.0.0.1:0 --target 127.0.0.1:9 --loss 101 2>err || st=$?
[[ $st -eq 2 ]] && grep -q 'loss' err || dk_fail "--loss 101: exit $st $(cat err)"
st=0; "$IMPAIR" --listen nohost:1 --target 127.0.0.1:9 2>err || st=$?
[[ $st -eq 2 ]] || dk_fail "--listen nohost: exit $st"
dk_pass "usage errors exit 2 and name the option"

# An echo server behind every proxy below.
dk_start echo $UDPTOOL echo --seconds 120 --log "$DK_TMP/echo.log"
ECHO=$(dk_listening echo)

# proxy NAME ARGS...: a proxy to the echo server; sets PX (pid) and PXPORT.
proxy() {
  local name=$1
  shift
  dk_start "$name" "$IMPAIR" --listen 127.0.0.1:0 --target "127.0.0.1:$ECHO" --duration 60 "$@"
  PX=$LAST_PID
  PXPORT=$(dk_listening "$name")
}
# seq N GAP WAIT: numbered datagrams through the proxy; line 1 of seq.out
# is what came back, in order.
seqrun() { $UDPTOOL seq 127.0.0.1 "$PXPORT" --count "$1" --gap-ms "$2" --wait-ms "$3" >seq.out; }
got() { head -n 1 seq.out | wc -w; }
inversions() { head -n 1 seq.out | awk '{for(i=2;i<=NF;i++) if ($i+0 < $(i-1)+0) n++} END{print n+0}'; }

# ---- no impairment: exact counters --------------------------------------------------
proxy plain
seqrun 100 1 300
dk_stop "$PX"
[[ $(got) -eq 100 && $(inversions) -eq 0 ]] || dk_fail "plain: $(cat seq.out)"
for d in up down; do
  [[ $(dk_counter plain.out $d rx) == 100 && $(dk_counter plain.out $d sent) == 100 ]] ||
    dk_fail "plain counters: $(cat plain.out)"
done
grep -q '^clients=1$' plain.out || dk_fail "plain clients: $(cat plain.out)"
dk_pass "no impairment: 100 datagrams each way, in order, counters exact"

# ---- loss ---------------------------------------------------------------------------
proxy loss100 --up-loss 100
seqrun 20 1 300
dk_stop "$PX"
[[ $(got) -eq 0 && $(dk_counter loss100.out up lost) == 20 && $(dk_counter loss100.out down rx) == 0 ]] ||
  dk_fail "100 % up loss: $(cat seq.out) $(cat loss100.out)"
proxy loss30 --loss 30 --seed 7
seqrun 400 1 500
dk_stop "$PX"
lost_up=$(dk_counter loss30.out up lost)
lost_down=$(dk_counter loss30.out down lost)
(( lost_up >= 80 && lost_up <= 160 )) || dk_fail "30 % loss: up lost $lost_up of 400"
rx_down=$(dk_counter loss30.out down rx)
[[ $rx_down -eq $((400 - lost_up)) && $(got) -eq $((rx_down - lost_down)) ]] ||
  dk_fail "30 % loss: counters do not add up: $(cat loss30.out), got $(got)"
dk_pass "loss: 100 % drops all, 30 % dropped $lost_up up and $lost_down down of 400, counters add up"

# ---- seeded: the same seed loses the same datagrams ------------------------------------
for run in a b c; do
  seed=11
  [[ $run == c ]] && seed=12
  proxy "seed$run" --up-loss 30 --seed $seed
  seqrun 100 2 300
  dk_stop "$PX"
  head -n 1 seq.out >"lost.$run"
done
cmp -s lost.a lost.b || dk_fail "same seed, different losses"
cmp -s lost.a lost.c && dk_fail "different seeds, same losses"
dk_pass "same seed same losses, other seed other losses"

# ---- duplication ------------------------------------------------------------------------
proxy dup --up-dup 100
seqrun 50 1 300
dk_stop "$PX"
[[ $(got) -eq 100 && $(dk_counter dup.out up dup) == 50 && $(dk_counter dup.out up sent) == 100 ]] ||
  dk_fail "100 % dup: got $(got) $(cat dup.out)"
dk_pass "duplication: 50 sent, 100 echoed"

# ---- reordering -------------------------------------------------------------------------
proxy reorder --up-reorder 30 --seed 5
seqrun 200 2 500
dk_stop "$PX"
held=$(dk_counter reorder.out up held)
reordered=$(dk_counter reorder.out up reordered)
inv=$(inversions)
[[ $(got) -eq 200 ]] || dk_fail "reorder lost datagrams: $(got)"
(( held >= 30 && held <= 90 && reordered >= held / 2 && inv >= held / 2 )) ||
  dk_fail "reorder: held $held reordered $reordered inversions $inv"
# A held datagram also goes out when nothing overtakes it (--reorder-ms).
proxy hold --up-reorder 100 --reorder-ms 200
seqrun 1 1 600
dk_stop "$PX"
[[ $(got) -eq 1 ]] && grep -q '^rtt_ms 2[0-9][0-9] ' seq.out || dk_fail "held datagram: $(cat seq.out)"
dk_pass "reordering: $held of 200 held, $reordered overtaken, $inv inversions seen; a lone held datagram leaves after --reorder-ms"

# ---- delay and jitter ---------------------------------------------------------------------
proxy delay --delay 100 --jitter 40
seqrun 20 5 800
dk_stop "$PX"
read -r _ lo hi < <(sed -n 2p seq.out)
[[ $(got) -eq 20 ]] && (( lo >= 199 && hi <= 330 )) || dk_fail "delay: $(cat seq.out)"
dk_pass "delay 100 ms + jitter 40 ms each way: round trips $lo..$hi ms"

# ---- bounded in time ----------------------------------------------------------------------
start=$SECONDS
"$IMPAIR" --listen 127.0.0.1:0 --target "127.0.0.1:$ECHO" --duration 1 >bounded.out
(( SECONDS - start <= 3 )) && grep -q '^up rx=0 ' bounded.out || dk_fail "--duration 1: $(cat bounded.out)"
dk_pass "--duration ends the proxy and prints its counters"

# ---- CoAP over DTLS through 30 % loss, reordering, duplication, jitter ------------------------
read -r -a backends <<<"$("$PEER" backends)"
srv_be=${backends[-1]}
dk_start srv "$PEER" server --backend "$srv_be" --port 0 --psk-id dev-1 --psk secretpsk
SRV=$(dk_listening srv)
pids=()
i=0
for cli_be in "${backends[@]}"; do
  for seed in 21 22; do
    i=$((i + 1))
    dk_start "dpx$i" "$IMPAIR" --listen 127.0.0.1:0 --target "127.0.0.1:$SRV" --loss 30 \
      --reorder 20 --dup 5 --jitter 20 --seed "$((seed + 10 * i))" --duration 100
    pxs[$i]=$LAST_PID
    port=$(dk_listening "dpx$i")
    "$PEER" client --backend "$cli_be" --timeout-ms 90000 --psk-id dev-1 --psk secretpsk \
      GET "coaps://127.0.0.1:$port/big" >"big$i.out" 2>"big$i.err" &
    pids[$i]=$!
    names[$i]="$cli_be client, $srv_be server, seed $((seed + 10 * i))"
  done
done
lost=0 rx=0
for j in "${!pids[@]}"; do
  wait "${pids[$j]}" || dk_fail "${names[$j]}: /big failed: $(tail -3 "big$j.out" "big$j.err")"
  grep -q '^CODE 2.05' "big$j.out" && [[ $(grep -c '0123456789' "big$j.out") -ge 30 ]] ||
    dk_fail "${names[$j]}: wrong content"
  dk_stop "${pxs[$j]}"
  for d in up down; do
    lost=$((lost + $(dk_counter "dpx$j.out" $d lost)))
    rx=$((rx + $(dk_counter "dpx$j.out" $d rx)))
  done
  dk_pass "${names[$j]}: DTLS handshake and block-wise GET of 3000 bytes through 30 % loss ($(grep -v '^listening' "dpx$j.out" | tr '\n' ' '))"
done
dk_figure "impair_dtls_blockwise runs=${#pids[@]} datagrams=$rx lost=$lost"
echo "impair: all passed"
