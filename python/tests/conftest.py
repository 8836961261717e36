"""Shared fixtures: the repository's case folders and, when built, the convoracle binary.

Every test module starts with `pytest.importorskip("numpy")`, so the suite is
skipped (not failed) where NumPy is missing; tests that need the binary skip
when none is found (set CONVORACLE_BIN, or `cargo build --release`).
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "python"))


def _binary():
    candidates = [os.environ.get("CONVORACLE_BIN")]
    target = os.environ.get("CARGO_TARGET_DIR")
    for base in [target and Path(target), REPO / "target"]:
        if base:
            candidates += [base / "release" / "convoracle", base / "debug" / "convoracle"]
    candidates.append(shutil.which("convoracle"))
    return next((Path(c) for c in candidates if c and Path(c).is_file()), None)


@pytest.fixture(scope="session")
def fixture_cases():
    """Every case folder under fixtures/cases (committed, made by fixtures/generate.py)."""
    return sorted(p.parent for p in (REPO / "fixtures" / "cases").glob("*/case.json"))


@pytest.fixture(scope="session")
def binary():
    b = _binary()
    if b is None:
        pytest.skip("no convoracle binary (set CONVORACLE_BIN or cargo build --release)")
    return b


@pytest.fixture(scope="session")
def export(binary, tmp_path_factory):
    """export(*flags) -> the folder `convoracle export` wrote with those flags (cached)."""
    made = {}

    def run(*flags):
        if flags not in made:
            out = tmp_path_factory.mktemp("export")
            subprocess.run([str(binary), "export", str(out), *flags], check=True,
                           stdout=subprocess.DEVNULL)
            made[flags] = out
        return made[flags]

    return run
