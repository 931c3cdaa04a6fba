#!/usr/bin/env bash
# Crash safety: 20 rounds (--rounds N) of start the release server with a
# database, load it (scheduled messages and chat), kill -9 at a random
# moment, restart. Fails if the server does not come back or its store
# does not open, if a scheduled message acknowledged more than a second
# before a kill never arrives, or if one arrives twice (RELIABILITY.md,
# "kill -9"). Keeps its files in --out (default target/crashloop-<time>).
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
rounds=20
out=""
while [ $# -gt 0 ]; do
    case "$1" in
    --rounds) rounds="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    -h | --help)
        sed -n '2,7p' "$0" | sed 's/^# \{0,1\}//'
        echo "Usage: scripts/crashloop.sh [--rounds 20] [--out DIR]"
        exit 0 ;;
    *) echo "crashloop.sh: unknown flag $1 (try --help)" >&2; exit 2 ;;
    esac
done

cd "$root"
target="${CARGO_TARGET_DIR:-$root/target}"
case "$target" in /*) ;; *) target="$root/$target" ;; esac
out="${out:-$target/crashloop-$(date -u +%Y%m%dT%H%M%S)}"
mkdir -p "$out"
: >"$out/ledger" ; : >"$out/seen" ; : >"$out/kills"

echo "crashloop.sh: building the release binaries" >&2
cargo build --release --bins --locked >&2

port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null || echo 19998)"
addr="127.0.0.1:$port"
server=""
load=""
cleanup() {
    [ -n "$load" ] && kill "$load" 2>/dev/null || true
    [ -n "$server" ] && kill -9 "$server" 2>/dev/null || true
}
trap cleanup EXIT

start_server() {
    "$target/release/suda" serve --bind "$addr" --db "$out/suda.db" --log-file "$out/chat.log" \
        --connect-rate off --rate 20/s --burst 40 --max-scheduled 200 --max-scheduled-per-ip 1000 \
        2>>"$out/server.err" &
    server=$!
    for _ in $(seq 100); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 0; fi
        if ! kill -0 "$server" 2>/dev/null; then
            echo "crashloop.sh: the server did not start (store did not open?):" >&2
            tail -20 "$out/server.err" >&2
            return 1
        fi
        sleep 0.1
    done
    echo "crashloop.sh: the server did not listen within 10 s" >&2
    return 1
}

restarts=0
for round in $(seq "$rounds"); do
    start_server
    restarts=$((restarts + 1))
    "$target/release/suda-soak" crash-load --addr "$addr" --round "$round" \
        --ledger "$out/ledger" --seen "$out/seen" 2>>"$out/load.err" &
    load=$!
    # A random moment 1.5 to 8 s into the round.
    sleep "$(awk -v r="$RANDOM" 'BEGIN { printf "%.2f", 1.5 + (r % 650) / 100 }')"
    kill -9 "$server"
    echo "kill $(date +%s%3N)" >>"$out/kills"
    wait "$server" 2>/dev/null || true
    server=""
    wait "$load" 2>/dev/null || true
    load=""
    echo "crashloop.sh: round $round: killed; $(wc -l <"$out/ledger") acknowledged, $(wc -l <"$out/seen") received so far" >&2
done

# The last start: everything still pending comes due while a listener waits.
start_server
"$target/release/suda-soak" crash-drain --addr "$addr" --seen "$out/seen" --wait 20s
kill -TERM "$server"
wait "$server" 2>/dev/null || true
server=""
trap - EXIT
echo "crashloop.sh: $rounds kills, $((restarts + 1)) starts, every one came up with its store" >&2
"$target/release/suda-soak" crash-check --ledger "$out/ledger" --seen "$out/seen" --kills "$out/kills"
