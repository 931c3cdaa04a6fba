#!/usr/bin/env bash
# A long mixed load against the release server, sampling its memory,
# descriptors and CPU every 10 s (see RELIABILITY.md, "Soak").
# `scripts/soak.sh --duration 30m` (any humantime duration). Builds the
# release binaries, makes a self-signed certificate (openssl, else the
# server's own --tls-self-signed), starts `suda serve` on a free port with
# TLS and UDP, runs target/release/suda-soak against it and fails if a
# steady participant lost a line, a probe took over 1 s, or RSS or open
# descriptors kept growing after the warm-up. The CSV, the shared files and
# the server's stderr are kept in --out (default: a new soak-<time> folder
# under target/).
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
duration=30m
out=""
while [ $# -gt 0 ]; do
    case "$1" in
    --duration) duration="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    -h | --help)
        sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'
        echo "Usage: scripts/soak.sh [--duration 30m] [--out DIR]"
        exit 0 ;;
    *) echo "soak.sh: unknown flag $1 (try --help)" >&2; exit 2 ;;
    esac
done

cd "$root"
target="${CARGO_TARGET_DIR:-$root/target}"
case "$target" in /*) ;; *) target="$root/$target" ;; esac
out="${out:-$target/soak-$(date -u +%Y%m%dT%H%M%S)}"
mkdir -p "$out"

echo "soak.sh: building the release binaries" >&2
cargo build --release --bins --locked >&2

# Server timeouts the churners wait for: short, so every exit path comes
# round many times in a run.
idle=15s login=5s udp_idle=10s

tls_args=()
if command -v openssl >/dev/null 2>&1; then
    openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=suda-soak \
        -keyout "$out/key.pem" -out "$out/cert.pem" >/dev/null 2>&1
    tls_args=(--tls-cert "$out/cert.pem" --tls-key "$out/key.pem")
else
    tls_args=(--tls-self-signed --tls-dir "$out/tls")
fi

port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null || echo 19999)"
addr="127.0.0.1:$port"

"$target/release/suda" serve --bind "$addr" --udp "${tls_args[@]}" \
    --max-clients 60 --idle-timeout "$idle" --login-timeout "$login" --udp-idle "$udp_idle" \
    --max-outbuf 64KiB --connect-rate off --db "$out/soak.db" --log-file "$out/chat.log" \
    --files-dir "$out/files" \
    2>"$out/server.err" &
server=$!
trap 'kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true' EXIT

for _ in $(seq 100); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then break; fi
    if ! kill -0 "$server" 2>/dev/null; then
        echo "soak.sh: the server did not start:" >&2
        cat "$out/server.err" >&2
        exit 1
    fi
    sleep 0.1
done

echo "soak.sh: $duration against pid $server on $addr; samples in $out/soak.csv" >&2
status=0
"$target/release/suda-soak" run --addr "$addr" --server-pid "$server" --duration "$duration" \
    --csv "$out/soak.csv" --idle-timeout "$idle" --login-timeout "$login" --udp-idle "$udp_idle" \
    || status=$?

if ! kill -0 "$server" 2>/dev/null; then
    echo "soak.sh: the server died during the run:" >&2
    tail -20 "$out/server.err" >&2
    status=1
fi
kill -TERM "$server" 2>/dev/null || true
wait "$server" 2>/dev/null || true
trap - EXIT
echo "soak.sh: CSV $out/soak.csv" >&2
exit "$status"
