#!/usr/bin/env python3
"""Waits for one thing a benchmark times, polling fast enough (20 ms) not to blur it, and
prints the wall-clock time (seconds since the epoch) at which it was seen.

  wait_until.py port PORT TIMEOUT            something accepts connections on 127.0.0.1:PORT
  wait_until.py line FILE TEXT COUNT TIMEOUT  FILE has at least COUNT lines containing TEXT
  wait_until.py files DIR COUNT TIMEOUT       DIR holds at least COUNT files (a sink's dumps)

Exit status 1 when TIMEOUT seconds pass first."""
import os
import socket
import sys
import time

POLL = 0.02


def port_open(port):
    s = socket.socket()
    s.settimeout(1)
    try:
        s.connect(("127.0.0.1", port))
        return True
    except OSError:
        return False
    finally:
        s.close()


def lines_with(path, text):
    try:
        with open(path, "r", errors="replace") as f:
            return sum(1 for line in f if text in line)
    except OSError:
        return 0


def files_in(path):
    try:
        with os.scandir(path) as entries:
            return sum(1 for _ in entries)
    except OSError:
        return 0


def main(argv):
    if len(argv) == 4 and argv[1] == "port":
        ready = lambda: port_open(int(argv[2]))  # noqa: E731
        timeout = float(argv[3])
    elif len(argv) == 6 and argv[1] == "line":
        path, text, count = argv[2], argv[3], int(argv[4])
        ready = lambda: lines_with(path, text) >= count  # noqa: E731
        timeout = float(argv[5])
    elif len(argv) == 5 and argv[1] == "files":
        path, count = argv[2], int(argv[3])
        ready = lambda: files_in(path) >= count  # noqa: E731
        timeout = float(argv[4])
    else:
        print(__doc__, file=sys.stderr)
        return 2
    deadline = time.monotonic() + timeout
    while not ready():
        if time.monotonic() > deadline:
            return 1
        time.sleep(POLL)
    print(f"{time.time():.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
