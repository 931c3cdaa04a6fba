#!/usr/bin/env bash
# What can this machine's suda hold? Builds the release binaries, starts a
# local server (unless --addr is given), runs the load generator and prints
# one table. Needs a Rust toolchain and a C compiler (cargo builds ring, the
# /search client's TLS crypto, from C and assembly). `scripts/loadtest.sh --help`.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"

# Where cargo puts the binaries: CARGO_TARGET_DIR, build.target-dir in a
# .cargo/config.toml, or ./target. Asked from $root, where the build runs,
# so a relative CARGO_TARGET_DIR means the same directory to both.
target_dir() {
    local json dir
    json="$(cd "$root" && cargo metadata --format-version 1 --no-deps 2>/dev/null)" || json=""
    dir="$(printf '%s' "$json" | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')"
    if [ -z "$dir" ]; then
        dir="${CARGO_TARGET_DIR:-target}"
        case "$dir" in /*) ;; *) dir="$root/$dir" ;; esac
    fi
    printf '%s\n' "$dir"
}
target="$(target_dir)"
server_bin="$target/release/suda"
load_bin="$target/release/suda-load"

usage() {
    cat <<'EOF'
Usage: scripts/loadtest.sh [--addr HOST:PORT] [--json] [--quick] [--udp] [--tls] [--ws]
                           [--no-pin] [--server-arg ARG]... [generator flags...]

Builds the release binaries (cargo build --release --bins), starts a local
server unless --addr is given, runs the workloads of target/release/suda-load
(fanout, latency, capacity; --udp adds latency over UDP) and prints one table.
The binaries are built and run in cargo's target directory (CARGO_TARGET_DIR
if set). The flags are checked before any server starts.

Script flags:
  --addr HOST:PORT   load a server that is already running instead of starting
                     one (it must run with --rate off and a --max-clients big
                     enough; its CPU and memory are reported only if you also
                     pass --server-pid PID)
  --json             JSON on standard output instead of the table
  --quick            small sizes, a few seconds in all (a smoke test)
  --udp              also run the latency workload over UDP; a server started
                     here gets --udp if this suda has it
  --tls              every client speaks TLS; a server started here gets
                     --tls-self-signed (its pair made in a temporary folder)
                     and --sniff-wait 3s (the generator may be slow to say hello)
  --ws               every client joins over the web client's WebSocket (/ws)
  --no-pin           do not pin server and generator to different cores
  --server-arg ARG   one more flag for the server this script starts
                     (repeat it: --server-arg --max-outbuf --server-arg 4MiB)
  --pending-schedules N
                     leave N scheduled messages pending in the server before
                     the workloads (a server started here gets limits that
                     allow it); compare with a run without
  -h, --help         this help, then the generator's

When the script starts the server it runs
  target/release/suda serve --bind 127.0.0.1:<free port> --rate off
      --max-clients <largest workload + 16> --log-file none --state-file none
      (with --udp: --udp --udp-unverified-rate 100000/s)
pinned with taskset to core 0 and the generator to the other cores (when there
are two or more and taskset exists), passes the server's pid to the generator
and stops the server on exit. The generator then reports, per workload, the
server's CPU seconds (utime + stime from /proc/PID/stat) and deliveries per
server CPU second; at the end this script prints the server's total CPU time
(ticks from `getconf CLK_TCK`) and peak memory on standard error.

Every other flag goes to the generator:

EOF
}

addr=""
udp=0
tls=0
pin=1
help=0
server_args=()
gen_args=()
max_clients=0
quick=0
pending=0
# Largest number of clients a workload asks for (the room must hold them).
note_clients() {
    case "$1" in
        '' | *[!0-9]*) ;;
        *) if [ "$1" -gt "$max_clients" ]; then max_clients="$1"; fi ;;
    esac
}
need_value() {
    if [ $# -lt 2 ] || [ -z "$2" ]; then
        echo "loadtest: $1 needs a value (see --help)" >&2
        exit 2
    fi
}
while [ $# -gt 0 ]; do
    case "$1" in
        -h | --help) help=1; shift ;;
        --addr) need_value "$@"; addr="$2"; shift 2 ;;
        --addr=*) addr="${1#*=}"; shift ;;
        --udp) udp=1; gen_args+=(--udp); shift ;;
        --tls) tls=1; gen_args+=(--tls); shift ;;
        --ws) gen_args+=(--ws); shift ;;
        --no-pin) pin=0; shift ;;
        --server-arg) need_value "$@"; server_args+=("$2"); shift 2 ;;
        --server-arg=*) server_args+=("${1#*=}"); shift ;;
        --quick) quick=1; gen_args+=("$1"); shift ;;
        --pending-schedules) need_value "$@"; pending="$2"; gen_args+=("$1" "$2"); shift 2 ;;
        --fanout-clients | --latency-clients | --capacity-clients)
            need_value "$@"; note_clients "$2"; gen_args+=("$1" "$2"); shift 2 ;;
        --fanout-clients=* | --latency-clients=* | --capacity-clients=*)
            note_clients "${1#*=}"; gen_args+=("$1"); shift ;;
        *) gen_args+=("$1"); shift ;;
    esac
done

build() {
    (cd "$root" && cargo build --release --bins "$@")
}

if [ "$help" = 1 ]; then
    usage
    if [ ! -x "$load_bin" ]; then
        echo "(building the generator to show its flags...)"
        build --quiet >&2
    fi
    exec "$load_bin" --help
fi

echo "loadtest: building (cargo build --release --bins) in $target" >&2
build >&2

# Every flag the script did not take is the generator's: let it check them
# now, so a typo stops the run here (exit 2) and not after a server started.
"$load_bin" --check-args ${gen_args[@]+"${gen_args[@]}"} || exit $?

gen_pin=()
server_pin=()
cores="$(nproc 2>/dev/null || echo 1)"
if [ -z "$addr" ] && [ "$pin" = 1 ] && [ "$cores" -ge 2 ] && command -v taskset >/dev/null 2>&1; then
    server_pin=(taskset -c 0)
    gen_pin=(taskset -c "1-$((cores - 1))")
fi

workdir="$(mktemp -d "${TMPDIR:-/tmp}/suda-loadtest.XXXXXX")"
server_pid=""
gen_pid=""
stop_server() {
    if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
        kill -TERM "$server_pid" 2>/dev/null || true
        for _ in $(seq 50); do
            kill -0 "$server_pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    server_pid=""
}
cleanup() {
    if [ -n "$gen_pid" ]; then
        kill -TERM "$gen_pid" 2>/dev/null || true
        wait "$gen_pid" 2>/dev/null || true
    fi
    stop_server
    rm -rf "$workdir"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

if [ -z "$addr" ]; then
    # The largest room any workload needs (the defaults: 10 000 for
    # capacity, 500 with --quick), plus the generator's probe and slack.
    if [ "$max_clients" -lt 100 ]; then max_clients=100; fi
    if [ "$quick" = 1 ]; then default_capacity=500; else default_capacity=10000; fi
    if ! printf '%s\n' "${gen_args[@]+"${gen_args[@]}"}" | grep -q -- '^--capacity-clients'; then
        note_clients "$default_capacity"
    fi
    server_flags=(serve --bind 127.0.0.1:0 --rate off --max-clients "$((max_clients + 16))"
        --log-file none --state-file none --verbosity warn)
    if [ "$pending" -gt 0 ] 2>/dev/null; then
        server_flags+=(--max-scheduled "$pending" --max-scheduled-total "$pending")
    fi
    if [ "$udp" = 1 ]; then
        if "$server_bin" serve --help 2>/dev/null | grep -q -- '--udp'; then
            server_flags+=(--udp)
            # The workload's clients all ask for their token at once: the
            # server's guard against forged addresses (100 token replies a
            # second) would only slow the joins down, not what is measured.
            if "$server_bin" serve --help 2>/dev/null | grep -q -- '--udp-unverified-rate'; then
                server_flags+=(--udp-unverified-rate 100000/s)
            fi
        else
            echo "loadtest: this suda has no --udp yet: the UDP workload will report that" >&2
        fi
    fi
    if [ "$tls" = 1 ]; then
        # A generator with thousands of connects in flight on one core may
        # write a ClientHello later than the default 100 ms after its
        # connect; the server would take it for plaintext chat.
        server_flags+=(--tls-self-signed --tls-dir "$workdir/tls" --sniff-wait 3s)
    fi
    ${server_pin[@]+"${server_pin[@]}"} "$server_bin" "${server_flags[@]}" \
        ${server_args[@]+"${server_args[@]}"} 2>"$workdir/server.err" &
    server_pid=$!
    # The server prints its address once it listens.
    for _ in $(seq 100); do
        addr="$(sed -n 's/^suda: listening on //p' "$workdir/server.err" | head -n 1)"
        if [ -n "$addr" ] || ! kill -0 "$server_pid" 2>/dev/null; then break; fi
        sleep 0.1
    done
    if [ -z "$addr" ]; then
        echo "loadtest: the server did not start:" >&2
        cat "$workdir/server.err" >&2
        exit 1
    fi
    echo "loadtest: server pid $server_pid on $addr${server_pin[*]:+ (${server_pin[*]})}" >&2
    gen_args=(--server-pid "$server_pid" ${gen_args[@]+"${gen_args[@]}"})
fi

# In the background with `wait`, so a signal to this script is acted on at
# once (the trap stops the generator and the server) rather than after the run.
${gen_pin[@]+"${gen_pin[@]}"} "$load_bin" --addr "$addr" ${gen_args[@]+"${gen_args[@]}"} &
gen_pid=$!
set +e
wait "$gen_pid"
status=$?
set -e
gen_pid=""

if [ -n "$server_pid" ]; then
    if ! kill -0 "$server_pid" 2>/dev/null; then
        echo "loadtest: the server exited during the run; it said:" >&2
        tail -n 20 "$workdir/server.err" >&2
        status=1
    elif [ -r "/proc/$server_pid/stat" ]; then
        # Fields 14 and 15 (utime, stime), counted after the name's ')'.
        stat="$(cat "/proc/$server_pid/stat")"
        read -r -a fields <<<"${stat##*) }"
        ticks="$(getconf CLK_TCK 2>/dev/null || echo 100)"
        peak="$(sed -n 's/^VmHWM:[[:space:]]*//p' "/proc/$server_pid/status")"
        awk -v u="${fields[11]}" -v s="${fields[12]}" -v t="$ticks" -v p="$peak" 'BEGIN {
            printf "loadtest: the server used %.2f s of CPU in all (user %.2f s, system %.2f s), peak memory %s\n",
                (u + s) / t, u / t, s / t, p
        }' >&2
    fi
    if [ -s "$workdir/server.err" ] && grep -qv '^suda: \(listening on\|TLS certificate\) ' "$workdir/server.err"; then
        echo "loadtest: the server's diagnostics:" >&2
        grep -v '^suda: \(listening on\|TLS certificate\) ' "$workdir/server.err" | tail -n 20 >&2
    fi
fi
exit "$status"
