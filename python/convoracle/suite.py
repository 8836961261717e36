"""An exported suite in, a folder of candidates out (what `verify-all` reads)."""

from __future__ import annotations

import json
import sys
import traceback
from pathlib import Path
from typing import Callable, Iterator, Optional

import numpy as np

from .case import Case, load_case


class Unsupported(Exception):
    """Raise from a compute function for a case the implementation cannot express;
    `run` lists it in unsupported.txt with the message as the reason."""


def cases(cases_dir: str | Path, ops: Optional[set[str]] = None) -> Iterator[Case]:
    """The cases of a folder, in manifest.json order (or sorted sub-folders with a
    case.json when there is no manifest); only `ops` when given."""
    root = Path(cases_dir)
    manifest = root / "manifest.json"
    if manifest.is_file():
        entries = json.loads(manifest.read_text(encoding="utf-8"))["cases"]
    else:
        entries = [{"name": p.parent.name} for p in sorted(root.glob("*/case.json"))]
    if not entries:
        raise FileNotFoundError(f"{root}: no manifest.json and no case folders")
    for entry in entries:
        if ops is None or entry.get("op") in ops or "op" not in entry:
            case = load_case(root / entry["name"], manifest=entry)
            if ops is None or case.op in ops:
                yield case


class Candidates:
    """A candidates folder: `<name>.npy` per case and `unsupported.txt`.

    Opening one removes the `.npy` files and `unsupported.txt` a previous run
    left there, so that a case the implementation no longer computes is
    reported missing rather than verified from a stale file.
    """

    def __init__(self, out_dir: str | Path) -> None:
        self.dir = Path(out_dir)
        self.dir.mkdir(parents=True, exist_ok=True)
        for stale in [*self.dir.glob("*.npy"), self.dir / "unsupported.txt"]:
            stale.unlink(missing_ok=True)
        self.saved = 0
        self.skipped = 0

    def save(self, case: Case, output: np.ndarray) -> Path:
        """Writes `output` as `<name>.npy`. It must have the case's dtype: a result
        computed in another precision is a finding, not something to cast away.
        Its shape is not checked here: `verify` diagnoses a wrong shape."""
        output = np.asarray(output)
        if output.dtype != case.np_dtype:
            raise TypeError(f"{case.name}: output has dtype {output.dtype}, the case is {case.dtype}")
        path = self.dir / f"{case.name}.npy"
        np.save(path, np.ascontiguousarray(output))
        self.saved += 1
        return path

    def unsupported(self, case: Case, reason: str) -> None:
        """Lists the case in unsupported.txt (`name # reason`); verify-all reports it
        as unsupported instead of failed."""
        reason = " ".join(reason.split())
        with open(self.dir / "unsupported.txt", "a", encoding="utf-8") as f:
            f.write(f"{case.name} # {reason}\n" if reason else f"{case.name}\n")
        self.skipped += 1


def run(compute: Callable[[Case], np.ndarray], argv: Optional[list[str]] = None,
        ops: Optional[set[str]] = None, label: str = "") -> int:
    """The main of a peer script: `script.py CASES_DIR CANDIDATES_DIR`.

    Calls `compute(case)` on every case (of `ops`, others are unsupported),
    saves what it returns, lists `Unsupported` cases in unsupported.txt, and
    prints any other exception (that case then has no candidate, and
    `verify-all` counts it as missing, i.e. failed). Returns the exit status.
    """
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        print("usage: CASES_DIR CANDIDATES_DIR", file=sys.stderr)
        return 2
    out = Candidates(args[1])
    errors = 0
    for case in cases(args[0]):
        try:
            if ops is not None and case.op not in ops:
                raise Unsupported(f"{case.op} is not an op of this implementation")
            out.save(case, compute(case))
        except Unsupported as e:
            out.unsupported(case, str(e))
        except Exception as e:  # one case's error must not hide the others
            errors += 1
            msg = " ".join(str(e).split())[:300]
            print(f"{case.name}: ERROR {type(e).__name__}: {msg}", file=sys.stderr)
            if "CONVORACLE_TRACEBACK" in __import__("os").environ:
                traceback.print_exc()
    print(f"{label}{' ' if label else ''}wrote {out.saved} candidates, {out.skipped} unsupported, "
          f"{errors} errors to {out.dir}")
    return 1 if errors else 0
