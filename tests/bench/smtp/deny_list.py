#!/usr/bin/env python3
"""Writes the large deny list both servers get, the same networks in each one's syntax:

  deny.cidr      Postfix cidr table, every line REJECTing relaying
  deny-K.reg     for K = 1..VARIANTS: a regedit /s file (REGEDIT4) setting RelayDenyList
                 alone (one registry change, one reload to time); variant K differs from the
                 others in its last line, so each import is a real change

  deny_list.py LINES DIR VARIANTS

Half the lines are /24 networks, half single hosts, all in 11.0.0.0/8 and up, so that the
load's client (127.0.0.1) is on none of them: every lookup is a miss, the common case and
the one that costs a linear table the most."""
import sys

KEY = r"HKEY_LOCAL_MACHINE\SYSTEM\CurrentControlSet\Services\MSExchangeIMC\Parameters"


def networks(lines):
    """(dotted net, prefix length) pairs, all distinct."""
    out = []
    for i in range(lines):
        if i % 2 == 0:
            n = (11 << 24) + (i // 2) * 256  # 11.0.0.0/24, 11.0.1.0/24, ...
            out.append((n, 24))
        else:
            n = (60 << 24) + (i // 2) * 7 + 1  # scattered hosts from 60.0.0.1
            out.append((n, 32))
    return out


def dotted(n):
    return ".".join(str((n >> s) & 255) for s in (24, 16, 8, 0))


def mask(prefix):
    return dotted((0xFFFFFFFF << (32 - prefix)) & 0xFFFFFFFF)


def reg_file(path, lines):
    data = b"".join(line.encode("ascii") + b"\0" for line in lines) + b"\0"
    per_line = 24  # bytes per text line, as regedit's own exports wrap them
    chunks = [data[i:i + per_line].hex(",") for i in range(0, len(data), per_line)]
    with open(path, "w", newline="\r\n") as f:
        f.write("REGEDIT4\n\n[" + KEY + "]\n")
        f.write('"RelayDenyList"=hex(7):' + ",\\\n  ".join(chunks) + "\n\n")


def main(count, folder, variants):
    nets = networks(count)
    with open(f"{folder}/deny.cidr", "w") as f:
        for n, p in nets:
            f.write(f"{dotted(n)}/{p}\tREJECT 5.7.1 relaying prohibited\n")
    lines = [f"{dotted(n)};{mask(p)}" if p == 24 else dotted(n) for n, p in nets]
    for k in range(1, variants + 1):
        lines[-1] = f"12.0.0.{k}"
        reg_file(f"{folder}/deny-{k}.reg", lines)
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 4:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    sys.exit(main(int(sys.argv[1]), sys.argv[2], int(sys.argv[3])))
