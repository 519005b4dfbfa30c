#!/usr/bin/env python3
"""Turns the raw figures of run-smtp-bench into its one table.

  table.py ROWS.tsv RESULTS.tsv TITLE

ROWS.tsv:    id, label, unit, "higher" or "lower" (which is better), one row per line
RESULTS.tsv: id, server ("imsrelay" or "postfix"), run number, value or "-" (not measured)

Each figure is the median of its runs; the ratio is imsrelay/Postfix taken run by run (the
two servers are measured back to back within each run) and then the median of those."""
import statistics
import sys


def read_tsv(path):
    with open(path) as f:
        return [line.rstrip("\n").split("\t") for line in f if line.strip()]


def fmt(v):
    if v is None:
        return "-"
    a = abs(v)
    if a >= 100:
        return f"{v:,.0f}"
    if a >= 10:
        return f"{v:.1f}"
    return f"{v:.2f}"


def spread(values):
    if not values:
        return "-"
    return f"{fmt(min(values.values()))}..{fmt(max(values.values()))}"


def main(rows_path, results_path, title):
    rows = read_tsv(rows_path)
    runs = {}
    for rid, server, run, value in read_tsv(results_path):
        if value != "-":
            runs.setdefault((rid, server), {})[int(run)] = float(value)
    header = ["", "unit", "imsrelay", "Postfix", "imsrelay/Postfix", "runs", "imsrelay min..max",
              "Postfix min..max"]
    table = [header]
    for rid, label, unit, better in rows:
        ims = runs.get((rid, "imsrelay"), {})
        pf = runs.get((rid, "postfix"), {})
        # A ratio of a negative or zero figure (a cost lost in the noise) says nothing.
        ratios = [ims[r] / pf[r] for r in ims if r in pf and ims[r] > 0 and pf[r] > 0]
        ratio = statistics.median(ratios) if ratios else None
        ratio_text = "-" if ratio is None else f"{ratio:.2f}"
        if ratio is not None:
            ahead = ratio >= 1 if better == "higher" else ratio <= 1
            ratio_text += "" if ahead else " (behind)"
        table.append([label, unit + ("" if better == "higher" else ", lower is better"),
                      fmt(statistics.median(ims.values()) if ims else None),
                      fmt(statistics.median(pf.values()) if pf else None),
                      ratio_text, str(max(len(ims), len(pf))), spread(ims), spread(pf)])
    widths = [max(len(r[i]) for r in table) for i in range(len(header))]
    print(title)
    for n, r in enumerate(table):
        cells = [r[0].ljust(widths[0]), r[1].ljust(widths[1])]
        cells += [r[i].rjust(widths[i]) for i in range(2, len(header))]
        print("  ".join(cells).rstrip())
        if n == 0:
            print("  ".join("-" * w for w in widths))
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 4:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    sys.exit(main(*sys.argv[1:]))
