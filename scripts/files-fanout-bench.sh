#!/usr/bin/env bash
# Does a big transfer slow the room down? The fanout workload of suda-load
# against one release server, alone and then while files go up and down:
#   scripts/files-fanout-bench.sh [SIZE_MIB] [RATE]   (default 1024, 100M)
# SIZE_MIB is the file, RATE curl's --limit-rate for each transfer (a class
# sharing a lecture video, not a benchmark of loopback; "0" for no limit).
# Prints deliveries per second (wall clock: the room as people feel it) and
# per server CPU-second for each run, and their ratios. Needs curl and
# python3; the server runs in a temp folder, removed after.
set -euo pipefail
size_mib=${1:-1024}
rate=${2:-100M}
root=$(cd "$(dirname "$0")/.." && pwd)
bin="$root/target/release/suda"
load="$root/target/release/suda-load"
[ -x "$bin" ] && [ -x "$load" ] || {
    echo "build them first: cargo build --release --bins" >&2
    exit 1
}
work=$(mktemp -d)
server=""
chat=""
mover=""
cleanup() {
    for pid in $mover $chat $server; do kill "$pid" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT
port=$((20000 + RANDOM % 20000))
"$bin" serve --bind "127.0.0.1:$port" --log-file "$work/chat.log" --rate off \
    --max-clients 300 --max-file-size "$((size_mib + 1))MiB" \
    --files-quota "$((4 * size_mib + 4))MiB" --http-timeout 60s 2>"$work/stderr" &
server=$!
for _ in $(seq 100); do grep -q "listening on" "$work/stderr" 2>/dev/null && break; sleep 0.1; done
truncate -s "${size_mib}M" "$work/big.bin"
limit=()
[ "$rate" != 0 ] && limit=(--limit-rate "$rate")

fanout() { # prints "deliveries/s deliveries/server-CPU-s"
    "$load" --addr "127.0.0.1:$port" --server-pid "$server" --only fanout --json 2>/dev/null |
        python3 -c '
import json, sys
f = next(w for w in json.load(sys.stdin)["workloads"] if w["name"] == "fanout")
print(f["deliveries_per_second"], f["deliveries_per_server_cpu_second"])'
}

alone=$(fanout)

# Someone in the room who uploads the file again and again, and downloads
# each copy, for as long as the second run lasts.
python3 - "$port" "$work" "$size_mib" ${limit[@]+"${limit[@]}"} 2>/dev/null <<'PY' &
import os, socket, subprocess, sys
port, work, limit = int(sys.argv[1]), sys.argv[2], sys.argv[4:]
s = socket.create_connection(("127.0.0.1", port))
f = s.makefile("rwb")
f.readline(); f.readline()
f.write(b"mover\n"); f.flush()
n = 0
while True:
    n += 1
    f.write(b"/upload big%d.bin\n" % n); f.flush()
    for line in f:
        line = line.decode(errors="replace")
        if line.startswith("[Server]: Upload within"):
            link = line.split()[-1]
            break
    out = subprocess.run(["curl", "-sS", *limit, "-T", os.path.join(work, "big.bin"), link],
                         capture_output=True, text=True).stdout
    urls = [w for w in out.split() if w.startswith("http://") and "/f/" in w]
    if urls:
        subprocess.run(["curl", "-sS", *limit, "-o", "/dev/null", urls[-1]],
                       stderr=subprocess.DEVNULL)
PY
mover=$!
sleep 2
during=$(fanout)
read -r alone_s alone_cpu <<<"$alone"
read -r during_s during_cpu <<<"$during"
printf 'file %d MiB, each transfer at %s\n' "$size_mib" "${rate/#0/no limit}"
printf 'fanout alone:          %.1f M deliveries/s, %.1f M per server CPU-s\n' \
    "$(echo "$alone_s / 1000000" | bc -l)" "$(echo "$alone_cpu / 1000000" | bc -l)"
printf 'fanout with transfers: %.1f M deliveries/s, %.1f M per server CPU-s\n' \
    "$(echo "$during_s / 1000000" | bc -l)" "$(echo "$during_cpu / 1000000" | bc -l)"
printf 'ratio (with / alone):  %.2f deliveries/s, %.2f per server CPU-s\n' \
    "$(echo "$during_s / $alone_s" | bc -l)" "$(echo "$during_cpu / $alone_cpu" | bc -l)"
