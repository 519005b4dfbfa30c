#!/usr/bin/env bash
# The cost of queuing one more message against the backlog already in MailRoot\Queue, under
# Wine, in the flat layout (before issue 10) and in the hashed subfolders (queue_path.h):
#
#   tests/bench/queue_dir.sh [--tiny] QUEUE_DIR_BENCH_EXE
#
# For each backlog (0, 1,000, 10,000, 50,000 messages, each an .eml and a .state) it fills a
# fresh folder from Linux (through Wine that filling would itself be the cost measured),
# then queue_dir_bench.exe adds 200 messages and prints medians in microseconds: spool
# (create in Tmp, write, flush, move into Queue), pickup (the queue manager's
# queue_entry_load: envelope read, .state created with its first record, flushed), the
# change notification's delay (flat only: the hashed layout's queue manager hears of new
# mail from the spool in-process), and one full enumeration of the queue (the rescan, ms).
# The _cpu columns are the mean CPU time of the thread (user and kernel: under Wine the
# folder reads are its own system calls), steadier than wall time on a busy machine. --tiny: backlogs 0 and 100,
# 20 messages: proves the program runs.
set -euo pipefail
tiny=false
if [ "${1:-}" = --tiny ]; then
    tiny=true
    shift
fi
exe=${1:?usage: queue_dir.sh [--tiny] QUEUE_DIR_BENCH_EXE}
source "$(dirname "$0")/../../build/wine-env.sh"
wine_prefix_ready
sizes=(0 1000 10000 50000)
count=200
if $tiny; then
    sizes=(0 100)
    count=20
fi
root="$WINEPREFIX/drive_c/imsrelay-queue-bench"
trap 'rm -rf "$root"' EXIT

fill() { # fill LAYOUT N
    /usr/bin/python3 - "$root/Queue" "$1" "$2" <<'PY'
import os, sys
queue, layout, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
body = b"X-Sender: <a@example.com>\r\nX-Receiver: <b@example.net>\r\n\r\n" + b"x" * 900 + b"\r\n"
for i in range(n):
    folder = queue if layout == "flat" else os.path.join(queue, "%02X" % (i % 256))
    if layout != "flat" and i < 256:
        os.makedirs(folder, exist_ok=True)
    name = "%016X.%08X.%08X" % (0x1DB0000000000000 + i, 1234, i)
    with open(os.path.join(folder, name + ".eml"), "wb") as f:
        f.write(body)
    with open(os.path.join(folder, name + ".state"), "wb") as f:
        f.write(b"Q 0000000000 1 00000000\r\n")
PY
}

printf '%-7s %8s %9s %9s %10s %10s %9s %10s %7s\n' layout backlog spool_us spool_cpu pickup_us pickup_cpu notice_us rescan_ms files
for layout in flat hashed; do
    for n in "${sizes[@]}"; do
        rm -rf "$root"
        mkdir -p "$root/Tmp" "$root/Queue"
        fill "$layout" "$n"
        line=$("$WINE" "$exe" 'C:\imsrelay-queue-bench' "$layout" "$count" | tr -d '\r')
        declare -A v=()
        for pair in $line; do
            v[${pair%%=*}]=${pair#*=}
        done
        printf '%-7s %8s %9s %9s %10s %10s %9s %10s %7s\n' "$layout" "$n" "${v[spool_us]}" \
            "${v[spool_cpu_us]}" "${v[pickup_us]}" "${v[pickup_cpu_us]}" "${v[notice_us]}" \
            "${v[rescan_ms]}" "${v[files_after]}"
        expected=$(((n + count) * 2))
        if [ "${v[files_after]}" != "$expected" ]; then
            echo "queue_dir.sh: $expected files expected, the rescan saw ${v[files_after]}" >&2
            exit 1
        fi
    done
done
