#!/usr/bin/env bash
# Upload and download throughput of one large file on loopback, with the
# server's peak RSS during each, against a release build:
#   scripts/files-bench.sh [SIZE_MIB] (default 1024)
# Needs curl and python3. The server runs in a temp folder, removed after.
set -euo pipefail
size_mib=${1:-1024}
root=$(cd "$(dirname "$0")/.." && pwd)
bin="$root/target/release/suda"
[ -x "$bin" ] || { echo "build it first: cargo build --release --bin suda" >&2; exit 1; }
work=$(mktemp -d)
trap 'kill "$server" 2>/dev/null || true; rm -rf "$work"' EXIT
port=$((20000 + RANDOM % 20000))
"$bin" serve --bind "127.0.0.1:$port" --log-file "$work/chat.log" \
    --max-file-size "$((size_mib + 1))MiB" --files-quota "$((2 * size_mib + 2))MiB" \
    --http-timeout 60s 2>"$work/stderr" &
server=$!
for _ in $(seq 100); do grep -q "listening on" "$work/stderr" 2>/dev/null && break; sleep 0.1; done
truncate -s "${size_mib}M" "$work/big.bin"  # zeros, read from the page cache

link=$(python3 - "$port" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
f = s.makefile("rwb")
f.readline(); f.readline()
f.write(b"bench\n/upload big.bin\n"); f.flush()
for line in f:
    line = line.decode()
    if line.startswith("[Server]: Upload within"):
        print(line.split()[-1]); break
s.detach()
PY
)
peak() {  # prints the server's peak VmRSS (KiB) until the file $1 appears
    local max=0 v
    while [ ! -e "$1" ]; do
        v=$(awk '/VmRSS/ {print $2}' "/proc/$server/status")
        [ "$v" -gt "$max" ] && max=$v
        sleep 0.05
    done
    echo "$max"
}
idle=$(awk '/VmRSS/ {print $2}' "/proc/$server/status")
peak "$work/up.done" >"$work/up.rss" &
up=$(curl -sS -o "$work/up.out" -w '%{speed_upload} %{time_total}' -T "$work/big.bin" "$link")
touch "$work/up.done"; wait
url=$(grep -o 'http://[^ ]*' "$work/up.out" | tail -1)
peak "$work/down.done" >"$work/down.rss" &
down=$(curl -sS -o /dev/null -w '%{speed_download} %{time_total} %{size_download}' "$url")
touch "$work/down.done"; wait
read -r up_bps up_s <<<"$up"
read -r down_bps down_s down_bytes <<<"$down"
[ "$down_bytes" = "$((size_mib << 20))" ] || echo "short download: $down_bytes" >&2
printf 'file            %d MiB\n' "$size_mib"
printf 'server idle RSS %d KiB\n' "$idle"
printf 'upload          %.0f MiB/s (%.2f s), peak RSS %d KiB\n' "$(echo "$up_bps / 1048576" | bc -l)" "$up_s" "$(cat "$work/up.rss")"
printf 'download        %.0f MiB/s (%.2f s), peak RSS %d KiB\n' "$(echo "$down_bps / 1048576" | bc -l)" "$down_s" "$(cat "$work/down.rss")"
