"""The resolutions of convoracle.case against the Rust side's cases: output shapes,
a NumPy recomputation from the resolved geometry, and hand-made cases with the
values of the Rust unit tests."""

import json

import pytest

np = pytest.importorskip("numpy")

import convoracle as co  # noqa: E402  (conftest puts python/ on the path)


def write_case(folder, params, **tensors):
    """A case folder from case.json fields and float32 tensors of the given shapes."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "case.json").write_text(json.dumps({"dtype": "float32", **params}))
    for role, shape in tensors.items():
        np.save(folder / f"{role}.npy", np.zeros(shape, np.float32))
    return co.load_case(folder)


def np_conv(xp, w, stride, dilation, groups, out_hw):
    """Cross-correlation of an already padded input, in float64."""
    (sh, sw), (dh, dw), (ho, wo) = stride, dilation, out_hw
    n, c = xp.shape[:2]
    k, cg, kh, kw = w.shape
    out = np.zeros((n, k, ho, wo))
    kg = k // groups
    for i in range(kh):
        for j in range(kw):
            tap = xp[:, :, i * dh:i * dh + (ho - 1) * sh + 1:sh, j * dw:j * dw + (wo - 1) * sw + 1:sw]
            for g in range(groups):
                out[:, g * kg:(g + 1) * kg] += np.einsum(
                    "nchw,kc->nkhw", tap[:, g * cg:(g + 1) * cg], w[g * kg:(g + 1) * kg, :, i, j])
    return out


def np_conv_transpose(c):
    """The full transposed output scattered from every input pixel, then the window."""
    x, w = c.tensors["input"].astype(np.float64), c.tensors["weight"].astype(np.float64)
    n, cin, h, wd = x.shape
    kg, kh, kw = w.shape[1:]
    (sh, sw), (dh, dw), g = c.stride, c.dilation, c.groups
    t, b, l, r = c.pads
    ho, wo = c.output_shape[2:]
    # room for every landing point and for the window, whichever is larger
    full = np.zeros((n, kg * g, max((h - 1) * sh + dh * (kh - 1) + 1, ho + t) + abs(t),
                     max((wd - 1) * sw + dw * (kw - 1) + 1, wo + l) + abs(l)))
    oy, ox = max(-t, 0), max(-l, 0)  # the full output's origin when negative pads grow it
    cg = cin // g
    for i in range(kh):
        for j in range(kw):
            for grp in range(g):
                contrib = np.einsum("nchw,ck->nkhw", x[:, grp * cg:(grp + 1) * cg],
                                    w[grp * cg:(grp + 1) * cg, :, i, j])
                full[:, grp * kg:(grp + 1) * kg, oy + i * dh:oy + i * dh + (h - 1) * sh + 1:sh,
                     ox + j * dw:ox + j * dw + (wd - 1) * sw + 1:sw] += contrib
    y = full[:, :, oy + t:oy + t + ho, ox + l:ox + l + wo]
    return y + c.tensors["bias"].reshape(1, -1, 1, 1) if "bias" in c.tensors else y


def recompute(c):
    """The op from the resolved case, in float64, for the ops NumPy does in a few lines."""
    t = {k: v.astype(np.float64) for k, v in c.tensors.items()}
    if c.op == "conv2d":
        w = t["weight"][:, :, ::-1, ::-1] if c.flip_kernel else t["weight"]
        y = np_conv(c.pad_input(t["input"]), w, c.stride, c.dilation, c.groups, c.output_shape[2:])
        return y + t["bias"].reshape(1, -1, 1, 1) if "bias" in t else y
    if c.op == "conv2d_backward_weight":
        # dw[k, c', i, j] = sum grad_output[n, k] * x_pad[n, c, tap (i, j)]: a conv over n.
        xp, go = c.pad_input(t["input"]), t["grad_output"]
        kh, kw = c.kernel_hw
        out = np.zeros(c.output_shape)
        cg, kg = xp.shape[1] // c.groups, go.shape[1] // c.groups
        (sh, sw), (dh, dw), (ho, wo) = c.stride, c.dilation, go.shape[2:]
        for i in range(kh):
            for j in range(kw):
                tap = xp[:, :, i * dh:i * dh + (ho - 1) * sh + 1:sh, j * dw:j * dw + (wo - 1) * sw + 1:sw]
                for g in range(c.groups):
                    out[g * kg:(g + 1) * kg, :, i, j] = np.einsum(
                        "nkhw,nchw->kc", go[:, g * kg:(g + 1) * kg], tap[:, g * cg:(g + 1) * cg])
        return out[:, :, ::-1, ::-1] if c.flip_kernel else out
    if c.op == "conv_transpose2d":
        return np_conv_transpose(c)
    return None


def test_every_fixture_resolves_to_its_output_shape(fixture_cases):
    assert len(fixture_cases) > 200
    for folder in fixture_cases:
        c = co.load_case(folder)
        out = np.load(folder / "output.npy")
        assert out.shape == c.output_shape, folder.name
        assert out.dtype == c.np_dtype, folder.name


def recomputed(folders):
    """Recomputes every finite case of `folders` that `recompute` covers; returns the
    ops and features it checked."""
    checked = set()
    for folder in folders:
        c = co.load_case(folder)
        if not all(np.isfinite(a).all() for a in c.tensors.values()):
            continue
        y = recompute(c)
        if y is None:
            continue
        expected = np.load(folder / "output.npy").astype(np.float64)
        tol = 1e-4 if c.dtype == "float32" else 1e-10
        np.testing.assert_allclose(y, expected, rtol=tol, atol=tol, err_msg=folder.name)
        checked.add(c.op)
        checked.update(c.features)
    return checked


def test_fixtures_recomputed_from_the_resolved_geometry(fixture_cases):
    """pads (words, sides), padding modes, flip, output_padding and output_size:
    a NumPy recomputation from the helper's resolution matches output.npy."""
    assert {"conv2d", "conv_transpose2d", "conv2d_backward_weight", "padding_word",
            "padding_mode", "asymmetric_padding", "flip_kernel", "dilation", "groups",
            "output_size", "output_padding"} <= recomputed(fixture_cases)


def test_exported_suite_recomputed_and_shaped(export):
    """The same on an exported suite (negative padding included), and the output
    shape of every op."""
    root = export("--dtype", "float64", "--cases", "300", "--seed", "7")
    folders = sorted(p.parent for p in root.glob("*/case.json"))
    for folder in folders:
        assert np.load(folder / "output.npy").shape == co.load_case(folder).output_shape
    assert {"conv2d", "conv_transpose2d", "conv2d_backward_weight", "negative_padding",
            "padding_word", "padding_mode", "asymmetric_padding"} <= recomputed(folders)


def test_same_words_put_the_odd_pad_on_opposite_sides():
    # reference/src/spec/geometry.rs: in 5, k 4, stride 2 -> out 3, total 3.
    assert co.resolve_padding("same_upper", (5, 5), (4, 4), (2, 2), (1, 1)) == (1, 2, 1, 2)
    assert co.resolve_padding("same", (5, 5), (4, 4), (2, 2), (1, 1)) == (1, 2, 1, 2)
    assert co.resolve_padding("same_lower", (5, 5), (4, 4), (2, 2), (1, 1)) == (2, 1, 2, 1)
    assert co.resolve_padding("valid", (5, 5), (4, 4), (2, 2), (1, 1)) == (0, 0, 0, 0)
    # a stride larger than the kernel: no padding needed, never negative
    assert co.resolve_padding("same", (6, 6), (1, 1), (3, 3), (1, 1)) == (0, 0, 0, 0)
    # the explicit forms
    assert co.resolve_padding([1, -2], (5, 5), (3, 3), (1, 1), (1, 1)) == (1, 1, -2, -2)
    sides = {"top": 0, "bottom": 2, "left": 1, "right": 3}
    assert co.resolve_padding(sides, (5, 5), (3, 3), (1, 1), (1, 1)) == (0, 2, 1, 3)


def test_hand_made_cases(tmp_path):
    c = write_case(tmp_path / "a", {"op": "conv2d", "stride": [2, 1], "padding": "same_lower",
                                    "dilation": [1, 2], "padding_mode": "reflect"},
                   input=(1, 2, 5, 6), weight=(3, 2, 4, 2))
    assert c.pads == (2, 1, 1, 1) and c.output_shape == (1, 3, 3, 6)
    assert c.torch_padding is None and c.torch_pad == (1, 1, 2, 1)
    assert c.torch_pad_mode == "reflect" and c.onnx_pads == [2, 1, 1, 1]
    assert c.onnx_attributes()["auto_pad"] == "SAME_LOWER"
    assert c.onnx_attributes(auto_pad=False)["pads"] == [2, 1, 1, 1]
    assert c.features == {"padding_word", "asymmetric_padding", "padding_mode", "non_square",
                          "dilation"}
    t = write_case(tmp_path / "t", {"op": "conv_transpose2d", "stride": 2, "padding": 1,
                                    "output_size": [8, 6]},
                   input=(1, 2, 4, 3), weight=(2, 2, 3, 3), bias=(2,))
    # (4-1)*2 - 2 + 3 = 7 -> output_padding 1; (3-1)*2 - 2 + 3 = 5 -> 1
    assert t.output_padding == (1, 1) and t.output_shape == (1, 2, 8, 6)
    assert t.features == {"output_size", "output_padding", "bias"}
    assert t.onnx_attributes()["output_padding"] == [1, 1]
    d = write_case(tmp_path / "d", {"op": "deform_conv2d", "groups": 2},
                   input=(1, 4, 5, 5), weight=(2, 2, 3, 3), offset=(1, 36, 3, 3),
                   mask=(1, 18, 3, 3))
    assert d.offset_groups == 2 and d.onnx_attributes()["offset_group"] == 2
    assert [a.shape if a is not None else None for a in d.onnx_inputs] == [
        (1, 4, 5, 5), (2, 2, 3, 3), (1, 36, 3, 3), None, (1, 18, 3, 3)]
    assert d.features == {"groups", "mask"}
    d = write_case(tmp_path / "ds", {"op": "deform_conv2d", "padding": "same"},
                   input=(1, 1, 4, 4), weight=(1, 1, 2, 2), offset=(1, 8, 4, 4))
    assert "auto_pad" not in d.onnx_attributes() and d.onnx_attributes()["pads"] == [0, 0, 1, 1]


def test_pad_input_follows_the_padding_modes(tmp_path):
    x = np.arange(4.0).reshape(1, 1, 1, 4)
    for mode, row in [("reflect", [2, 1, 0, 1, 2, 3, 2]), ("replicate", [0, 0, 0, 1, 2, 3, 3]),
                      ("circular", [2, 3, 0, 1, 2, 3, 0]), ("zeros", [0, 0, 0, 1, 2, 3, 0])]:
        c = write_case(tmp_path / mode, {"op": "conv2d", "padding_mode": mode,
                                         "padding": {"top": 0, "bottom": 0, "left": 2, "right": 1}},
                       input=(1, 1, 1, 4), weight=(1, 1, 1, 1))
        assert c.pad_input(x)[0, 0, 0].tolist() == row, mode
    # a negative side crops after the other side is padded
    c = write_case(tmp_path / "crop", {"op": "conv2d", "padding_mode": "reflect",
                                       "padding": {"top": 0, "bottom": 0, "left": 2, "right": -1}},
                   input=(1, 1, 1, 4), weight=(1, 1, 1, 1))
    assert c.pad_input(x)[0, 0, 0].tolist() == [2, 1, 0, 1, 2]
    assert c.has("negative_padding") and not c.has("flip_kernel")


@pytest.mark.parametrize("params, message", [
    ({"op": "conv2d", "strides": 1}, "do not belong"),
    ({"op": "conv2d", "stride": 1.0}, "expected an integer"),
    ({"op": "conv_transpose2d", "padding": "same"}, "explicit padding only"),
    ({"op": "conv2d", "padding": "same_middle"}, "unknown padding word"),
    ({"op": "conv_transpose2d", "output_padding": 2}, r"not in \[0"),
])
def test_refuses_what_rust_refuses(tmp_path, params, message):
    with pytest.raises(co.CaseError, match=message):
        write_case(tmp_path / "bad", params, input=(1, 1, 4, 4), weight=(1, 1, 3, 3))


def test_missing_fields_and_wrong_ranks_are_case_errors(tmp_path):
    with pytest.raises(co.CaseError, match="field 'input_size' is missing"):
        write_case(tmp_path / "a", {"op": "conv2d_backward_input"},
                   grad_output=(1, 1, 2, 2), weight=(1, 1, 3, 3))
    with pytest.raises(co.CaseError, match="shapes do not fit"):
        write_case(tmp_path / "b", {"op": "conv2d"}, input=(1, 4, 4), weight=(1, 1, 3, 3))


def test_a_wrong_dtype_is_refused(tmp_path):
    (tmp_path / "case.json").write_text('{"op": "conv2d", "dtype": "float32"}')
    np.save(tmp_path / "input.npy", np.zeros((1, 1, 3, 3)))  # float64
    np.save(tmp_path / "weight.npy", np.zeros((1, 1, 3, 3), np.float32))
    with pytest.raises(co.CaseError, match="is not the case's float32"):
        co.load_case(tmp_path)
