#!/usr/bin/env python3
"""How well `auto` chooses: joins `bench` CSVs (rows of `direct`, `fft` and,
if timed, `auto`) with the estimates of `examples/auto_choices.rs`, and
prints per row the measured times, the estimates, and whether auto is
within 10% of the faster backend (auto's own time when the CSVs have it,
else the time of the backend the estimates pick).

    cargo run --release --example auto_choices -- benches/shapes/*.csv > choices.csv
    convoracle bench --shapes F.csv --backend direct,fft,auto --csv bench.csv
    python3 benches/auto_accuracy.py [--by-choice] choices.csv bench*.csv

With --by-choice, timed `auto` rows are ignored and the time of the
backend the estimates pick counts: on a noisy machine auto's own run is
a third sample of the chosen backend, and its noise is not the model's.
"""
import csv
import math
import sys


def main() -> None:
    args = sys.argv[1:]
    by_choice = "--by-choice" in args
    args = [a for a in args if a != "--by-choice"]
    choices = {r["name"]: r for r in csv.DictReader(open(args[0]))}
    times: dict[str, dict[str, float]] = {}
    for path in args[1:]:
        for r in csv.DictReader(open(path)):
            if r["median_ms"] and not (by_choice and r["backend"] == "auto"):
                times.setdefault(r["name"], {})[r["backend"]] = float(r["median_ms"])
    rows = within = 0
    print(f"{'name':32} {'direct':>9} {'fft':>9} {'est d':>9} {'est f':>9} {'d err':>6} {'f err':>6} choice  ok")
    for name, t in times.items():
        c = choices.get(name)
        if c is None or "direct" not in t:
            continue
        best = min(t.values() if "auto" not in t else [v for k, v in t.items() if k != "auto"])
        chosen = c["chosen"]
        # Timed auto rows are the measure; otherwise the time of the
        # backend the estimates pick.
        chosen_ms = t["auto"] if "auto" in t else t.get(chosen, math.inf)
        ok = chosen_ms <= 1.1 * best
        rows += 1
        within += ok
        est_d = float(c["direct_ms"]) if c["direct_ms"] else math.nan
        est_f = float(c["fft_ms"]) if c["fft_ms"] else math.nan
        err = lambda est, k: f"{est / t[k]:6.2f}" if k in t and not math.isnan(est) else "     -"
        print(f"{name:32} {t['direct']:9.2f} {t.get('fft', math.nan):9.2f} {est_d:9.2f} {est_f:9.2f} "
              f"{err(est_d, 'direct')} {err(est_f, 'fft')} {chosen:6}  {'yes' if ok else 'NO'}")
    print(f"auto's choice within 10% of the faster backend on {within} of {rows} rows "
          f"({100.0 * within / max(rows, 1):.0f}%)")


if __name__ == "__main__":
    main()
