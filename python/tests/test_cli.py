"""The helper against the convoracle binary: the feature flags against
`export --exclude`, and candidates and unsupported.txt through `verify-all`."""

import json
import subprocess

import pytest

np = pytest.importorskip("numpy")

import convoracle as co  # noqa: E402


@pytest.mark.parametrize("feature", co.FEATURES)
def test_features_select_what_export_exclude_leaves_out(export, feature):
    """The catalogue is fixed, so `--exclude F` keeps exactly the catalogue cases
    whose features (computed here) lack F; the generated ones it redraws lack it too."""
    full = {c.name: c for c in co.cases(export("--suite", "catalogue"))}
    assert any(feature in c.features for c in full.values())
    kept = {c.name for c in co.cases(export("--suite", "catalogue", "--exclude", feature))}
    assert kept == {n for n, c in full.items() if feature not in c.features}
    for c in co.cases(export("--suite", "generated", "--exclude", feature)):
        assert feature not in c.features, c.name


def test_ops_filter_and_manifest(export):
    root = export("--ops", "conv2d,deform_conv2d")
    ops = {c.op for c in co.cases(root)}
    assert ops == {"conv2d", "deform_conv2d"}
    only = list(co.cases(root, ops={"deform_conv2d"}))
    assert only and all(c.op == "deform_conv2d" and c.manifest["name"] == c.name for c in only)


def test_candidates_and_unsupported_reach_verify_all(binary, export, tmp_path):
    root = export("--suite", "catalogue", "--dtype", "float64")
    out_dir = tmp_path / "candidates"
    (out_dir).mkdir()
    np.save(out_dir / "stale.npy", np.zeros(1))  # a previous run's file is removed

    def compute(case):
        if case.has("flip_kernel"):
            raise co.Unsupported("no true convolution here")
        if case.op != "conv2d":
            raise RuntimeError("not implemented")  # printed; verify-all: missing
        return np.load(case.path / "output.npy")  # a perfect implementation

    assert co.run(compute, [str(root), str(out_dir)]) == 1
    assert not (out_dir / "stale.npy").exists()
    with pytest.raises(TypeError, match="dtype float32"):
        co.Candidates(tmp_path / "other").save(next(co.cases(root)), np.zeros(1, np.float32))
    result = subprocess.run([str(binary), "verify-all", str(root), str(out_dir), "--json",
                             "--no-diagnosis"], capture_output=True, text=True)
    entries = {e["case"]: e for e in json.loads(result.stdout)["cases"]}
    for c in co.cases(root):
        want = ("unsupported" if c.has("flip_kernel")
                else "pass" if c.op == "conv2d" else "missing")
        assert entries[c.name]["status"] == want, c.name
    reasons = {e["error"] for e in entries.values() if e["status"] == "unsupported"}
    assert reasons == {"no true convolution here"}
