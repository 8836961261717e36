#!/usr/bin/env python3
"""Validate PyTorch's own convolutions with convoracle, in the case's dtype.

    convoracle export CASES_DIR --dtype float32          # case folders + manifest.json
    python3 examples/python/validate_pytorch.py CASES_DIR CANDIDATES_DIR
    convoracle verify-all CASES_DIR CANDIDATES_DIR --algorithm direct

For every case listed in CASES_DIR/manifest.json this reads CASES_DIR/<name>/
(case.json and the .npy tensors, docs/case-format.md), computes the op with
PyTorch / torchvision *in the case's dtype* (float32 cases run PyTorch's
float32 kernels, float64 cases its float64 kernels) and writes
CANDIDATES_DIR/<name>.npy. The case's own output.npy is never read: the
oracle, not this script, decides whether PyTorch is right.

The torch calls are the ones that made the project's fixtures
(fixtures/torch_ops.py). Those functions were written for float64 fixtures;
this script wraps the few places where they assume float64 (the
conv_transpose2d output_size module, the backward ops) or non-negative,
symmetric padding, so that the computation stays in the case's dtype and
covers every form the exporter writes (negative padding included).

To validate your own implementation instead of PyTorch, replace `compute`
(or one of the per-op functions below) by your call; keep the loading and
the numpy.save.
"""

import argparse
import json
import sys
import traceback
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "fixtures"))

import torch_ops as T  # noqa: E402  (fixtures/torch_ops.py)

DTYPES = {"float32": np.float32, "float64": np.float64}


# --------------------------------------------------------------------------
# reading a case


def load_case(case_dir):
    """case.json and every input tensor of a case folder (output.npy is not read)."""
    spec = json.loads((case_dir / "case.json").read_text())
    dtype = spec.get("dtype")
    if dtype not in DTYPES:
        raise ValueError(f"{case_dir}/case.json: dtype {dtype!r} is not float32 or float64")
    tensors = {}
    for path in sorted(case_dir.glob("*.npy")):
        if path.stem == "output":
            continue
        a = np.load(path)
        if a.dtype.newbyteorder("=") != DTYPES[dtype]:  # big-endian is fine, converted below
            raise ValueError(f"{path}: dtype {a.dtype} is not the case's {dtype}")
        # ascontiguousarray: Fortran-order or big-endian files become native C order.
        tensors[path.stem] = torch.from_numpy(np.ascontiguousarray(a, dtype=DTYPES[dtype]))
    return spec, tensors


def geometry(spec, in_hw, k_hw):
    """stride, resolved (top, bottom, left, right) padding, dilation, groups, with defaults."""
    stride = T.pair(spec.get("stride", 1))
    dilation = T.pair(spec.get("dilation", 1))
    pads = T.resolve_padding(spec.get("padding", 0), in_hw, k_hw, stride, dilation)
    return stride, pads, dilation, int(spec.get("groups", 1))


# --------------------------------------------------------------------------
# negative padding: torch pads only by non-negative amounts


def split_padding(x, pads, mode="zeros"):
    """Apply the negative (cropping) part of `pads` to x; return (x, what torch still pads).

    The reference reads padded coordinates relative to the *uncropped* input,
    so for reflect/replicate/circular the positive sides are padded first and
    the negative sides cropped after; for zeros the order does not matter and
    the positive padding is left to torch's own conv call.
    """
    if min(pads) >= 0:
        return x, pads
    t, b, l, r = pads
    if mode != "zeros":
        x = F.pad(x, (max(l, 0), max(r, 0), max(t, 0), max(b, 0)), mode=mode)
        pads = (min(t, 0), min(b, 0), min(l, 0), min(r, 0))
        t, b, l, r = pads
    h, w = x.shape[2], x.shape[3]
    x = x[:, :, max(-t, 0):h - max(-b, 0), max(-l, 0):w - max(-r, 0)]
    return x, tuple(max(p, 0) for p in pads)


def conv2d(x, w, b, stride, pads, dilation, groups, mode="zeros", flip=False):
    x, pads = split_padding(x, pads, mode)
    return T.conv2d(x, w, b, stride, pads, dilation, groups, mode, flip)[0]


# --------------------------------------------------------------------------
# one function per op: tensors and case.json fields -> torch output


def op_conv2d(spec, t):
    x, w = t["input"], t["weight"]
    stride, pads, dil, groups = geometry(spec, x.shape[2:], w.shape[2:])
    return conv2d(x, w, t.get("bias"), stride, pads, dil, groups,
                  spec.get("padding_mode", "zeros"), bool(spec.get("flip_kernel", False)))


def op_conv_transpose2d(spec, t):
    x, w, b = t["input"], t["weight"], t.get("bias")
    stride, pads, dil, groups = geometry(spec, x.shape[2:], w.shape[2:])
    (pt, pb, pl, pr), (sh, sw), (dh, dw) = pads, stride, dil
    kh, kw = w.shape[2], w.shape[3]
    symmetric = pt == pb and pl == pr and min(pads) >= 0
    out_size = spec.get("output_size")
    if out_size is not None and symmetric:
        # PyTorch's own output_size route (torch_ops builds this module in float64).
        m = torch.nn.ConvTranspose2d(x.shape[1], w.shape[1] * groups, (kh, kw), stride=stride,
                                     padding=(pt, pl), groups=groups, bias=b is not None,
                                     dilation=dil, dtype=x.dtype)
        with torch.no_grad():
            m.weight.copy_(w)
            if b is not None:
                m.bias.copy_(b)
            return m(x, output_size=[int(v) for v in out_size])
    if out_size is not None:
        # output_size picks the output_padding that gives that size (docs/case-format.md).
        base_h = (x.shape[2] - 1) * sh - pt - pb + dh * (kh - 1) + 1
        base_w = (x.shape[3] - 1) * sw - pl - pr + dw * (kw - 1) + 1
        opad = (int(out_size[0]) - base_h, int(out_size[1]) - base_w)
    else:
        opad = T.pair(spec.get("output_padding", 0))
    if min(pads) >= 0:
        return T.conv_transpose2d(x, w, b, stride, pads, dil, groups, opad)[0]
    # Negative padding in a transposed conv grows the output: extend the full
    # (padding 0) output by zeros on those sides, crop the positive ones.
    full, _ = T.conv_transpose2d(x, w, None, stride, (0, 0, 0, 0), dil, groups, opad)
    full = F.pad(full, (max(-pl, 0), max(-pr, 0), max(-pt, 0), max(-pb, 0)))
    h, wd = full.shape[2], full.shape[3]
    y = full[:, :, max(pt, 0):h - max(pb, 0), max(pl, 0):wd - max(pr, 0)]
    return y + b.view(1, -1, 1, 1) if b is not None else y


def _grad_forward(x, w, spec, stride, pads, dil, groups):
    return conv2d(x, w, None, stride, pads, dil, groups,
                  spec.get("padding_mode", "zeros"), bool(spec.get("flip_kernel", False)))


def _plain(spec, pads):
    """Geometry torch.nn.grad.conv2d_* can express directly."""
    t, b, l, r = pads
    return (t == b and l == r and min(pads) >= 0 and spec.get("padding_mode", "zeros") == "zeros"
            and not spec.get("flip_kernel", False))


def op_conv2d_backward_input(spec, t):
    go, w = t["grad_output"], t["weight"]
    in_hw = [int(v) for v in spec["input_size"]]
    stride, pads, dil, groups = geometry(spec, in_hw, w.shape[2:])
    shape = [go.shape[0], w.shape[1] * groups] + in_hw
    if _plain(spec, pads):
        return torch.nn.grad.conv2d_input(shape, w, go, stride=stride, padding=(pads[0], pads[2]),
                                          dilation=dil, groups=groups)
    # Otherwise autograd through the forward (padding modes, flip, asymmetric
    # or negative padding), in the case's dtype (torch_ops does this in float64).
    if go.numel() == 0:  # empty batch: nothing flows back
        return torch.zeros(shape, dtype=go.dtype)
    x = torch.zeros(shape, dtype=go.dtype, requires_grad=True)
    y = _grad_forward(x, w, spec, stride, pads, dil, groups)
    return torch.autograd.grad(y, x, go)[0]


def op_conv2d_backward_weight(spec, t):
    x, go = t["input"], t["grad_output"]
    k_hw = [int(v) for v in spec["kernel_size"]]
    stride, pads, dil, groups = geometry(spec, x.shape[2:], k_hw)
    shape = [go.shape[1], x.shape[1] // groups] + k_hw
    if go.numel() == 0:  # empty batch (or empty map): no term, the gradient is zero
        return torch.zeros(shape, dtype=x.dtype)
    if _plain(spec, pads):
        return torch.nn.grad.conv2d_weight(x, shape, go, stride=stride, padding=(pads[0], pads[2]),
                                           dilation=dil, groups=groups)
    w = torch.zeros(shape, dtype=x.dtype, requires_grad=True)
    y = _grad_forward(x, w, spec, stride, pads, dil, groups)
    return torch.autograd.grad(y, w, go)[0]


def op_deform_conv2d(spec, t):
    x, w, off, mask, b = t["input"], t["weight"], t["offset"], t.get("mask"), t.get("bias")
    stride, pads, dil, _ = geometry(spec, x.shape[2:], w.shape[2:])
    pt, pb, pl, pr = pads
    if pt == pb and pl == pr and pt >= 0 and pl >= 0:
        return T.deform_conv2d(x, off, w, b, mask, stride, pads, dil)[0]
    # torchvision pads only symmetrically and never negatively. Cropping the
    # input for negative padding would zero samples that offsets move into the
    # cropped rows. Zero-padding the input (torch_ops' route) is right but
    # moves every sample coordinate by the top/left padding, and torchvision
    # rounds the coordinate `base + offset` to the input dtype, so the rounding
    # would differ from torchvision's own padding. So keep the input as it is
    # and shift the output grid: output row oy is torchvision's row oy + q with
    # symmetric padding P = q*s + top >= max(0, bottom); that samples exactly
    # the case's coordinates; the extra rows get zero offsets and are cut away.
    (sh, sw), (kh, kw), ho, wo = stride, w.shape[2:], off.shape[2], off.shape[3]
    qh = max(0, -((pt - max(pb, 0)) // sh))  # ceil((max(0, bottom) - top) / s)
    qw = max(0, -((pl - max(pr, 0)) // sw))
    ph, pw = qh * sh + pt, qw * sw + pl
    big_h = (x.shape[2] + 2 * ph - dil[0] * (kh - 1) - 1) // sh + 1
    big_w = (x.shape[3] + 2 * pw - dil[1] * (kw - 1) - 1) // sw + 1

    def grid(a):  # place a [N, *, ho, wo] map at rows qh.., columns qw.. of the big grid
        return None if a is None else F.pad(a, (qw, big_w - qw - wo, qh, big_h - qh - ho))

    y, _ = T.deform_conv2d(x, grid(off), w, b, grid(mask), stride, (ph, ph, pw, pw), dil)
    return y[:, :, qh:qh + ho, qw:qw + wo]


def op_dynamic_conv2d(spec, t):
    x, w = t["input"], t["weight"]
    stride, pads, dil, groups = geometry(spec, x.shape[2:], w.shape[3:])
    x, pads = split_padding(x, pads)
    return T.dynamic_conv2d(x, w, t["attention"], t.get("bias"), stride, pads, dil, groups)[0]


def op_depthwise_separable2d(spec, t):
    x, dw = t["input"], t["depthwise_weight"]
    stride, pads, dil, _ = geometry(spec, x.shape[2:], dw.shape[2:])
    x, pads = split_padding(x, pads)
    return T.depthwise_separable2d(x, dw, t["pointwise_weight"], t.get("depthwise_bias"),
                                   t.get("pointwise_bias"), stride, pads, dil)[0]


def op_spatially_separable2d(spec, t):
    x, vw, hw = t["input"], t["vertical_weight"], t["horizontal_weight"]
    stride, pads, dil, _ = geometry(spec, x.shape[2:], (vw.shape[2], hw.shape[3]))
    x, pads = split_padding(x, pads)
    return T.spatially_separable2d(x, vw, hw, t.get("vertical_bias"), t.get("horizontal_bias"),
                                   stride, pads, dil)[0]


def op_aspp(spec, t):
    return T.aspp(t["input"], t["weight_1x1"], t["weight_dilated"], t.get("weight_pool"),
                  t["weight_project"], [int(r) for r in spec["rates"]])[0]


OPS = {
    "conv2d": op_conv2d,
    "conv_transpose2d": op_conv_transpose2d,
    "conv2d_backward_input": op_conv2d_backward_input,
    "conv2d_backward_weight": op_conv2d_backward_weight,
    "deform_conv2d": op_deform_conv2d,
    "dynamic_conv2d": op_dynamic_conv2d,
    "depthwise_separable2d": op_depthwise_separable2d,
    "spatially_separable2d": op_spatially_separable2d,
    "aspp": op_aspp,
}


def compute(spec, tensors):
    """The implementation under test: PyTorch. Replace this to test your own."""
    op = spec.get("op")
    if op not in OPS:
        raise ValueError(f"unknown op {op!r}")
    with torch.no_grad() if not op.startswith("conv2d_backward") else torch.enable_grad():
        y = OPS[op](spec, tensors)
    out = y.detach().contiguous().numpy()
    if out.dtype != DTYPES[spec["dtype"]]:  # a wrapper bug, not something to cast away
        raise RuntimeError(f"torch computed in {out.dtype}, not the case's {spec['dtype']}")
    return out


# --------------------------------------------------------------------------


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("cases", type=Path, help="folder written by `convoracle export`")
    ap.add_argument("candidates", type=Path, help="folder to write <name>.npy into")
    ap.add_argument("--threads", type=int, default=1,
                    help="torch.set_num_threads (default 1: reproducible, polite on shared machines)")
    ap.add_argument("--no-mkldnn", action="store_true",
                    help="torch.backends.mkldnn.enabled = False: PyTorch's other CPU kernels "
                    "(NNPACK for batch >= 16 and stride 1, else im2col + GEMM)")
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    if args.no_mkldnn:
        torch.backends.mkldnn.enabled = False
    if not args.cases.is_dir():
        print(f"{args.cases}: not a folder (write one with `convoracle export DIR`)", file=sys.stderr)
        return 2
    manifest = args.cases / "manifest.json"
    if manifest.is_file():
        names = [entry["name"] for entry in json.loads(manifest.read_text())["cases"]]
    else:  # a folder of hand-made cases: every sub-folder with a case.json
        names = sorted(p.parent.name for p in args.cases.glob("*/case.json"))
    if not names:
        print(f"{args.cases}: no manifest.json and no case folders", file=sys.stderr)
        return 2
    args.candidates.mkdir(parents=True, exist_ok=True)
    written, errors = 0, 0
    for name in names:
        try:
            spec, tensors = load_case(args.cases / name)
            np.save(args.candidates / f"{name}.npy", compute(spec, tensors))
            written += 1
        except Exception as e:  # one bad case must not hide the others: report and go on
            errors += 1
            print(f"{name}: ERROR {type(e).__name__}: {e}", file=sys.stderr)
            traceback.print_exc(limit=2, file=sys.stderr)
    print(f"torch {torch.__version__}: wrote {written} candidates to {args.candidates}, "
          f"{errors} cases failed to compute")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
