#!/usr/bin/env python3
"""Join `convoracle bench --csv` results with `measure_peers.py` results and
print, per shapes file and row, our time beside each peer's and the ratio
peer/ours (above 1: we are faster), then the geometric mean per file.

Both CSVs must come from the same machine in the same session: the ratios of
runs on different machines or days mean nothing.

    convoracle bench --shapes benches/shapes/resnet50.csv --backend direct \
        --threads 1 --csv ours.csv
    OMP_NUM_THREADS=1 python3 benches/peers/measure_peers.py \
        --shapes benches/shapes/resnet50.csv --csv peers.csv
    python3 benches/peers/compare.py --ours ours.csv --peers peers.csv \
        --shapes benches/shapes/resnet50.csv

Several `--ours` / `--peers` files (repeated runs, say ours, peers, ours,
peers interleaved on a noisy machine) are joined by keeping, per row and
implementation, the smallest median of the runs: the same rule for ours and
the peers, so neither side gets its best run alone.

Standard library only.
"""

import argparse
import csv
import math
import os
import sys


def read_times(path):
    """(name, backend, threads, dtype) -> median ms, for rows with a time."""
    times = {}
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            try:
                ms = float(row["median_ms"])
            except (KeyError, ValueError):
                continue
            key = (row["name"], row["backend"], row["threads"], row["dtype"])
            times[key] = min(ms, times.get(key, ms))
    return times


def merge_best(into, times):
    """Adds `times` to `into`, keeping the smaller median per key."""
    for key, ms in times.items():
        into[key] = min(ms, into.get(key, ms))


def rows_of(shapes_path):
    """The row names of a shapes file, in file order."""
    with open(shapes_path, newline="") as f:
        return [row["name"] for row in csv.DictReader(f)]


def geomean(values):
    values = [v for v in values if v > 0]
    if not values:
        return None
    return math.exp(sum(math.log(v) for v in values) / len(values))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ours", required=True, action="append",
                        help="a `convoracle bench --csv` file; repeat for several")
    parser.add_argument("--peers", required=True, action="append",
                        help="a `measure_peers.py --csv` file; repeat for several")
    parser.add_argument("--shapes", required=True, action="append",
                        help="a shapes file whose rows to compare; repeat for several")
    parser.add_argument("--backend", default="direct",
                        help="our backend to compare (default direct)")
    parser.add_argument("--threads", default="1", help="thread count (default 1)")
    parser.add_argument("--dtype", default="float32", help="dtype (default float32)")
    parser.add_argument("--markdown", action="store_true",
                        help="print Markdown tables instead of aligned text")
    args = parser.parse_args()

    ours, peers = {}, {}
    for path in args.ours:
        merge_best(ours, read_times(path))
    for path in args.peers:
        merge_best(peers, read_times(path))
    peer_names = sorted({key[1] for key in peers})
    if not peer_names:
        sys.exit("compare.py: no peer times in " + ", ".join(args.peers))

    for shapes in args.shapes:
        title = os.path.basename(shapes)
        names = rows_of(shapes)
        present = [p for p in peer_names
                   if any((n, p, args.threads, args.dtype) in peers for n in names)]
        ratios = {p: [] for p in present}
        lines = []
        for name in names:
            mine = ours.get((name, args.backend, args.threads, args.dtype))
            cells = [name, f"{mine:.3f}" if mine else "-"]
            for p in present:
                theirs = peers.get((name, p, args.threads, args.dtype))
                cells.append(f"{theirs:.3f}" if theirs else "-")
                if mine and theirs:
                    ratios[p].append(theirs / mine)
                    cells.append(f"{theirs / mine:.2f}")
                else:
                    cells.append("-")
            lines.append(cells)
        header = ["row", f"{args.backend} ms"]
        for p in present:
            header += [f"{p} ms", f"{p}/ours"]
        footer = ["geometric mean", ""]
        for p in present:
            g = geomean(ratios[p])
            footer += ["", f"{g:.2f}" if g else "-"]
        print(f"\n{title} ({args.backend}, {args.threads} thread(s), {args.dtype})")
        table = [header] + lines + [footer]
        if args.markdown:
            print("| " + " | ".join(header) + " |")
            print("|" + "---|" * len(header))
            for cells in lines + [footer]:
                print("| " + " | ".join(cells) + " |")
        else:
            widths = [max(len(r[i]) for r in table) for i in range(len(header))]
            for cells in table:
                print("  ".join(c.ljust(w) for c, w in zip(cells, widths)))


if __name__ == "__main__":
    main()
