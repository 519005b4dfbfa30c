#!/usr/bin/env python3
"""Memory per idle SMTP session: opens COUNT sessions to 127.0.0.1:PORT from many 127.x
source addresses (each reads the greeting and says EHLO, as a real client that then goes
quiet), measures the server's memory before and with them open, closes them, and prints

  <kB before> <kB with sessions> <kB per session> [<kB per session in --extra-pid>]

Memory is the resident set (RSS) of the process PID; with --tree, the proportional set
size (PSS) summed over PID and all its descendants (Postfix runs one smtpd process per
session, and RSS would count the pages they share once per process).

  idle_sessions.py --port PORT --count N --pid PID [--tree] [--extra-pid PID]

--extra-pid: a helper process whose growth (RSS) is reported apart, such as Wine's
wineserver, which keeps its own state for every socket of the processes it serves."""
import argparse
import os
import resource
import socket
import sys
import time

PER_SOURCE = 10  # sessions per client address, well under any per-client limit


def children_of():
    kids = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        kids.setdefault(ppid, []).append(int(name))
    return kids


def pss_kb(pid):
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def memory_kb(pid, tree):
    if not tree:
        return rss_kb(pid)
    pids = [pid]
    kids = children_of()
    i = 0
    while i < len(pids):
        pids.extend(kids.get(pids[i], []))
        i += 1
    return sum(pss_kb(p) for p in pids)


def source(i):
    n = i // PER_SOURCE
    return f"127.{1 + n // 250}.{n % 250}.{1 + (i % PER_SOURCE)}"


def read_reply(s):
    """Reads one whole SMTP reply (last line has a space after the code)."""
    data = b""
    while True:
        chunk = s.recv(4096)
        if not chunk:
            raise ConnectionError("closed by the server")
        data += chunk
        lines = data.split(b"\r\n")
        if len(lines) > 1 and len(lines[-2]) >= 4 and lines[-2][3:4] == b" ":
            return data


def settle(pid, tree):
    """Memory once it stops moving (sessions are set up asynchronously by the server)."""
    last = memory_kb(pid, tree)
    for _ in range(20):
        time.sleep(0.5)
        now = memory_kb(pid, tree)
        if abs(now - last) < 64:
            return now
        last = now
    return last


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--count", type=int, required=True)
    ap.add_argument("--pid", type=int, required=True)
    ap.add_argument("--tree", action="store_true")
    ap.add_argument("--extra-pid", type=int)
    a = ap.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = a.count + 64
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(want, hard), hard))

    before = settle(a.pid, a.tree)
    extra_before = rss_kb(a.extra_pid) if a.extra_pid else 0
    sessions = []
    try:
        for i in range(a.count):
            s = socket.socket()
            s.settimeout(60)
            s.bind((source(i), 0))
            s.connect(("127.0.0.1", a.port))
            sessions.append(s)
        for s in sessions:
            greeting = read_reply(s)
            if not greeting.startswith(b"220"):
                raise RuntimeError(f"greeting {greeting[:80]!r}")
            s.sendall(b"EHLO idle.bench.test\r\n")
        for s in sessions:
            if not read_reply(s).startswith(b"250"):
                raise RuntimeError("EHLO refused")
        with_sessions = settle(a.pid, a.tree)
        extra = ""
        if a.extra_pid:
            extra = f" {(rss_kb(a.extra_pid) - extra_before) / a.count:.1f}"
    finally:
        for s in sessions:
            s.close()
    print(f"{before} {with_sessions} {(with_sessions - before) / a.count:.1f}{extra}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (OSError, RuntimeError) as e:
        print(f"idle_sessions: {e}", file=sys.stderr)
        sys.exit(1)
