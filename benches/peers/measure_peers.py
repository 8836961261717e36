#!/usr/bin/env python3
"""Time the peers (ONNX Runtime, PyTorch/torchvision, SciPy) on the layer shapes
in benches/shapes/*.csv, so convoracle's own backends can be compared with them
in the same run on the same machine.

    python3 benches/peers/measure_peers.py --shapes benches/shapes/resnet50.csv \
        [--shapes ...] [--peers onnxruntime,torch,scipy] [--threads 1] \
        [--dtype float32|float64] [--only SUBSTR] [--csv OUT.csv] [--repeats N]

For every row and peer: build the op once (model, weights, inputs), run it for
warm-up, then time --repeats samples and keep the median per call. The CSV has
the columns `name,op,backend,threads,dtype,median_ms,gflops,note`; a row that a
peer cannot run gets an empty time and a note saying why. Versions, the CPU
model and the settings go to a sidecar JSON (OUT.meta.json beside OUT.csv).
See benches/peers/README.md.
"""

import argparse
import csv
import datetime
import gc
import json
import math
import os
import platform
import re
import statistics
import sys
import time

COLUMNS = ["name", "op", "backend", "threads", "dtype", "median_ms", "gflops", "note"]
ALL_PEERS = ["onnxruntime", "torch", "scipy"]
INT_COLUMNS = [
    "n", "c_in", "h", "w", "c_out", "kh", "kw", "stride_h", "stride_w", "pad_h", "pad_w",
    "dilation_h", "dilation_w", "groups", "output_padding_h", "output_padding_w",
]
OPT_INT_COLUMNS = ["offset_groups", "mask", "experts", "mid_channels"]
KNOWN_OPS = {
    "conv2d", "conv_transpose2d", "conv2d_backward_input", "conv2d_backward_weight",
    "deform_conv2d", "dynamic_conv2d", "depthwise_separable2d", "spatially_separable2d", "aspp",
}
# The precedence of the peer whose output the others are checked against.
CHECK_ORDER = ["torch", "onnxruntime", "scipy.correlate2d", "scipy.fftconvolve", "scipy.oaconvolve"]


def log(msg):
    print(msg, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- arguments, environment


def parse_args(argv):
    p = argparse.ArgumentParser(
        description="Time ONNX Runtime, PyTorch and SciPy on convoracle's layer shapes.")
    p.add_argument("--shapes", action="append", required=True, metavar="CSV",
                   help="a shapes file (benches/shapes/*.csv); repeat for several")
    p.add_argument("--peers", default=",".join(ALL_PEERS),
                   help="comma-separated subset of %s (default: all)" % ",".join(ALL_PEERS))
    p.add_argument("--threads", type=int, default=1, help="threads for every peer (default 1)")
    p.add_argument("--dtype", default="float32",
                   help="float32 or float64, or both comma-separated (default float32)")
    p.add_argument("--only", metavar="SUBSTR", help="only rows whose name or op contains SUBSTR")
    p.add_argument("--csv", metavar="OUT.csv", help="write the CSV here (default: stdout)")
    p.add_argument("--repeats", type=int, default=7, help="timed samples per row and peer (default 7)")
    p.add_argument("--warmup", type=int, default=2, help="untimed calls before timing (default 2)")
    p.add_argument("--min-sample-ms", type=float, default=10.0,
                   help="a timed sample loops the call until it lasts at least this long; "
                        "the per-call time is the sample over the loop count (default 10)")
    p.add_argument("--row-budget-s", type=float, default=30.0,
                   help="fewer repeats (at least 1) for a call so slow that the repeats "
                        "would take longer than this (default 30)")
    p.add_argument("--seed", type=int, default=0, help="seed of the random inputs (default 0)")
    a = p.parse_args(argv)
    a.peers = [s.strip() for s in a.peers.split(",") if s.strip()]
    bad = [s for s in a.peers if s not in ALL_PEERS]
    if bad:
        p.error("unknown peer(s) %s; known: %s" % (",".join(bad), ",".join(ALL_PEERS)))
    a.dtypes = [s.strip() for s in a.dtype.split(",") if s.strip()]
    bad = [s for s in a.dtypes if s not in ("float32", "float64")]
    if bad or not a.dtypes:
        p.error("--dtype must be float32 or float64 (or both, comma-separated)")
    if a.threads < 1 or a.repeats < 1 or a.warmup < 0:
        p.error("--threads and --repeats must be >= 1, --warmup >= 0")
    return a


def configure_environment(threads):
    """Before numpy, torch or onnxruntime is imported: thread counts for the
    OpenMP/MKL/OpenBLAS pools, and no OpenBLAS core-type override (set on some
    machines for old OpenBLAS builds; it slows a current numpy). This changes
    only this process's environment."""
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = str(threads)
    removed = {}
    for var in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):
        if var in os.environ:
            removed[var] = os.environ.pop(var)
    return removed


# --------------------------------------------------------------------------- shapes


class Row:
    def __init__(self, d, source):
        self.source = source
        self.name = d["name"].strip()
        self.op = d["op"].strip()
        for c in INT_COLUMNS:
            setattr(self, c, int(d[c]))
        for c in OPT_INT_COLUMNS:
            v = (d.get(c) or "").strip()
            setattr(self, c, int(v) if v else None)
        rates = (d.get("rates") or "").split()
        self.rates = [int(r) for r in rates]

    # forward conv output size of this row's geometry
    @property
    def out_hw(self):
        def o(size, k, s, p, d):
            return (size + 2 * p - d * (k - 1) - 1) // s + 1
        return (o(self.h, self.kh, self.stride_h, self.pad_h, self.dilation_h),
                o(self.w, self.kw, self.stride_w, self.pad_w, self.dilation_w))

    @property
    def transposed_out_hw(self):
        def o(size, k, s, p, d, op):
            return (size - 1) * s - 2 * p + d * (k - 1) + op + 1
        return (o(self.h, self.kh, self.stride_h, self.pad_h, self.dilation_h, self.output_padding_h),
                o(self.w, self.kw, self.stride_w, self.pad_w, self.dilation_w, self.output_padding_w))


def read_shapes(paths, only):
    rows = []
    for path in paths:
        with open(path, newline="") as f:
            for d in csv.DictReader(f):
                if not d.get("name"):
                    continue
                r = Row(d, path)
                if only and only not in r.name and only not in r.op:
                    continue
                rows.append(r)
    return rows


def flops(r):
    """2 per multiply-add of the direct definition (benches/shapes/README.md)."""
    n, c, k, g = r.n, r.c_in, r.c_out, r.groups
    taps = r.kh * r.kw
    ho, wo = r.out_hw
    conv = 2 * n * k * (c // g) * taps * ho * wo
    if r.op in ("conv2d", "conv2d_backward_input", "conv2d_backward_weight", "deform_conv2d"):
        return conv
    if r.op == "conv_transpose2d":
        return 2 * n * c * (k // g) * taps * r.h * r.w
    if r.op == "dynamic_conv2d":
        # aggregation of the E expert kernels per sample, then the conv
        return 2 * n * r.experts * k * (c // g) * taps + conv
    if r.op == "depthwise_separable2d":
        return 2 * n * c * taps * ho * wo + 2 * n * k * c * ho * wo
    if r.op == "spatially_separable2d":
        m = r.mid_channels
        return 2 * n * m * c * r.kh * ho * r.w + 2 * n * k * m * r.kw * ho * wo
    if r.op == "aspp":
        b, hw, nr = r.mid_channels, r.h * r.w, len(r.rates)
        f = 2 * n * b * c * hw  # 1x1 branch
        f += nr * 2 * n * b * c * 9 * hw  # 3x3 dilated branches (padding = rate)
        f += 2 * n * c * hw + 2 * n * b * c  # pooling (mean as a multiply-add by 1/(H*W)) + its 1x1
        f += 2 * n * k * b * (nr + 2) * hw  # projection of the concatenation
        return f
    raise ValueError("unknown op %r" % r.op)


def make_data(r, dtype, np, seed):
    """The same inputs for every peer: standard normal data, weights scaled by
    1/sqrt(fan-in), offsets in [-2, 2], masks in [0, 1], attention a softmax."""
    rng = np.random.default_rng(seed)

    def normal(shape, scale=1.0):
        return (rng.standard_normal(shape) * scale).astype(dtype)

    n, c, k, g, kh, kw = r.n, r.c_in, r.c_out, r.groups, r.kh, r.kw
    ho, wo = r.out_hw
    wscale = 1.0 / math.sqrt(max(1, (c // g) * kh * kw))
    x = lambda: normal((n, c, r.h, r.w))
    d = {}
    if r.op == "conv2d":
        d["x"], d["w"] = x(), normal((k, c // g, kh, kw), wscale)
    elif r.op == "conv_transpose2d":
        d["x"], d["w"] = x(), normal((c, k // g, kh, kw), 1.0 / math.sqrt((k // g) * kh * kw))
    elif r.op == "conv2d_backward_input":
        d["w"], d["gy"] = normal((k, c // g, kh, kw), wscale), normal((n, k, ho, wo))
    elif r.op == "conv2d_backward_weight":
        d["x"], d["gy"] = x(), normal((n, k, ho, wo))
    elif r.op == "deform_conv2d":
        og = r.offset_groups or 1
        d["x"], d["w"] = x(), normal((k, c // g, kh, kw), wscale)
        d["offset"] = rng.uniform(-2.0, 2.0, (n, 2 * og * kh * kw, ho, wo)).astype(dtype)
        if r.mask:
            d["mask"] = rng.uniform(0.0, 1.0, (n, og * kh * kw, ho, wo)).astype(dtype)
    elif r.op == "dynamic_conv2d":
        e = r.experts
        d["x"], d["experts"] = x(), normal((e, k, c // g, kh, kw), wscale)
        logits = rng.standard_normal((n, e))
        a = np.exp(logits - logits.max(axis=1, keepdims=True))
        d["attn"] = (a / a.sum(axis=1, keepdims=True)).astype(dtype)
    elif r.op == "depthwise_separable2d":
        d["x"] = x()
        d["wd"] = normal((c, 1, kh, kw), 1.0 / math.sqrt(kh * kw))
        d["wp"] = normal((k, c, 1, 1), 1.0 / math.sqrt(c))
    elif r.op == "spatially_separable2d":
        m = r.mid_channels
        d["x"] = x()
        d["wv"] = normal((m, c, kh, 1), 1.0 / math.sqrt(c * kh))
        d["wh"] = normal((k, m, 1, kw), 1.0 / math.sqrt(m * kw))
    elif r.op == "aspp":
        b, nr = r.mid_channels, len(r.rates)
        d["x"] = x()
        d["w1"] = normal((b, c, 1, 1), 1.0 / math.sqrt(c))
        d["wd"] = normal((nr, b, c, 3, 3), 1.0 / math.sqrt(9 * c))
        d["wpool"] = normal((b, c, 1, 1), 1.0 / math.sqrt(c))
        d["wproj"] = normal((k, b * (nr + 2), 1, 1), 1.0 / math.sqrt(b * (nr + 2)))
    else:
        raise ValueError("unknown op %r" % r.op)
    return d


# --------------------------------------------------------------------------- timing


class Skip(Exception):
    """A peer cannot run a row; the message is the note."""


def measure(fn, args):
    """Warm up, calibrate a loop count so a sample lasts >= --min-sample-ms,
    time --repeats samples (fewer for very slow calls), return the median
    seconds per call, the last output and a note."""
    notes = []
    t0 = time.perf_counter()
    out = fn()
    est = time.perf_counter() - t0
    # one call past a second is its own warm-up
    for _ in range(max(0, args.warmup - 1) if est < 1.0 else 0):
        t0 = time.perf_counter()
        out = fn()
        est = min(est, time.perf_counter() - t0)
    min_sample = args.min_sample_ms / 1e3
    inner = 1 if est >= min_sample else max(1, math.ceil(min_sample / max(est, 1e-9)))
    repeats = args.repeats
    if est * inner * repeats > args.row_budget_s:
        repeats = max(1, int(args.row_budget_s / (est * inner)))
        notes.append("repeats cut to %d (%.2f s per call)" % (repeats, est))
    samples = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(inner):
            out = fn()
        samples.append((time.perf_counter() - t0) / inner)
    med = statistics.median(samples)
    # the spread tells whether the machine was busy during the samples
    notes.insert(0, "min %.4g ms, max %.4g ms over %d x %d calls"
                 % (min(samples) * 1e3, max(samples) * 1e3, repeats, inner))
    return med, out, notes


# --------------------------------------------------------------------------- PyTorch


class TorchPeer:
    name = "torch"

    def __init__(self, threads):
        import torch
        import torch.nn.functional as F
        self.torch, self.F = torch, F
        torch.set_num_threads(threads)
        try:
            torch.set_num_interop_threads(1)
        except RuntimeError:
            pass
        try:
            import torchvision
            import torchvision.ops
            self.tv = torchvision
            self.tv_error = None
        except Exception as e:  # noqa: BLE001 - any import failure just disables deform rows
            self.tv, self.tv_error = None, "%s: %s" % (type(e).__name__, e)
        self.versions = {"torch": torch.__version__,
                         "torchvision": self.tv.__version__ if self.tv else None,
                         "torch_num_threads": torch.get_num_threads(),
                         "torch_num_interop_threads": torch.get_num_interop_threads(),
                         "torch_mkldnn_available": torch.backends.mkldnn.is_available(),
                         "torch_mkldnn_enabled": torch.backends.mkldnn.enabled}
        try:
            self.versions["torch_cpu_capability"] = torch.backends.cpu.get_cpu_capability()
        except Exception:  # noqa: BLE001
            pass

    def plans(self, r, d):
        """Yields (backend, fn, note) or (backend, None, why)."""
        torch, F = self.torch, self.F
        t = {key: torch.from_numpy(v) for key, v in d.items()}
        stride, pad, dil = (r.stride_h, r.stride_w), (r.pad_h, r.pad_w), (r.dilation_h, r.dilation_w)
        g = r.groups
        note = ""
        if r.op == "conv2d":
            x, w = t["x"], t["w"]
            fn = lambda: F.conv2d(x, w, None, stride, pad, dil, g)
        elif r.op == "conv_transpose2d":
            x, w = t["x"], t["w"]
            op = (r.output_padding_h, r.output_padding_w)
            fn = lambda: F.conv_transpose2d(x, w, None, stride, pad, op, g, dil)
        elif r.op == "conv2d_backward_input":
            w, gy = t["w"], t["gy"]
            size = (r.n, r.c_in, r.h, r.w)
            fn = lambda: torch.nn.grad.conv2d_input(size, w, gy, stride, pad, dil, g)
            note = "torch.nn.grad.conv2d_input"
        elif r.op == "conv2d_backward_weight":
            x, gy = t["x"], t["gy"]
            wshape = (r.c_out, r.c_in // g, r.kh, r.kw)
            fn = lambda: torch.nn.grad.conv2d_weight(x, wshape, gy, stride, pad, dil, g)
            note = "torch.nn.grad.conv2d_weight"
        elif r.op == "deform_conv2d":
            if self.tv is None:
                yield ("torch", None, "torchvision not importable (%s)" % self.tv_error)
                return
            dc = self.tv.ops.deform_conv2d
            x, w, off, mask = t["x"], t["w"], t["offset"], t.get("mask")
            fn = lambda: dc(x, off, w, None, stride, pad, dil, mask)
            note = "torchvision.ops.deform_conv2d (%s)" % ("v2, mask" if mask is not None else "v1")
        elif r.op == "dynamic_conv2d":
            x, ex, a = t["x"], t["experts"], t["attn"]
            n, c, k, e = r.n, r.c_in, r.c_out, r.experts
            ho, wo = r.out_hw
            flat = ex.reshape(e, -1)
            wshape = (n * k, c // g, r.kh, r.kw)
            xs = (1, n * c, r.h, r.w)

            def fn():
                wagg = torch.mm(a, flat).reshape(wshape)
                return F.conv2d(x.reshape(xs), wagg, None, stride, pad, dil, n * g).reshape(n, k, ho, wo)
            note = "attention x experts (mm), then one conv with the batch folded into groups"
        elif r.op == "depthwise_separable2d":
            x, wd, wp = t["x"], t["wd"], t["wp"]
            c = r.c_in
            fn = lambda: F.conv2d(F.conv2d(x, wd, None, stride, pad, dil, c), wp)
            note = "depthwise conv2d then 1x1 conv2d"
        elif r.op == "spatially_separable2d":
            x, wv, wh = t["x"], t["wv"], t["wh"]
            fn = lambda: F.conv2d(F.conv2d(x, wv, None, (r.stride_h, 1), (r.pad_h, 0), (r.dilation_h, 1)),
                                  wh, None, (1, r.stride_w), (0, r.pad_w), (1, r.dilation_w))
            note = "kh x 1 conv2d then 1 x kw conv2d"
        elif r.op == "aspp":
            x, w1, wd, wpool, wproj = t["x"], t["w1"], t["wd"], t["wpool"], t["wproj"]
            rates, size = r.rates, (r.h, r.w)

            def fn():
                branches = [F.conv2d(x, w1)]
                for i, rate in enumerate(rates):
                    branches.append(F.conv2d(x, wd[i], None, 1, rate, rate))
                pooled = F.conv2d(F.adaptive_avg_pool2d(x, 1), wpool)
                branches.append(F.interpolate(pooled, size=size, mode="bilinear", align_corners=False))
                return F.conv2d(torch.cat(branches, dim=1), wproj)
            note = "1x1, 3x3 dilated per rate, pool+1x1+upsample; cat; 1x1 projection"
        else:
            yield ("torch", None, "op %s not known to this script" % r.op)
            return
        torch_ = torch

        def run():
            with torch_.no_grad():
                return fn()
        yield ("torch", run, note)

    def to_numpy(self, out):
        return out.numpy()


# --------------------------------------------------------------------------- ONNX Runtime


class OrtPeer:
    name = "onnxruntime"
    OPSET = 22  # DeformConv is in opset 19+ (22 adds types)

    def __init__(self, threads):
        import onnx
        import onnxruntime as ort
        from onnx import helper, numpy_helper, TensorProto
        self.onnx, self.ort, self.helper, self.nh, self.TP = onnx, ort, helper, numpy_helper, TensorProto
        self.threads = threads
        ort.set_default_logger_severity(3)
        self.versions = {"onnxruntime": ort.__version__, "onnx": onnx.__version__,
                         "onnx_opset_used": self.OPSET,
                         "onnxruntime_providers": ort.get_available_providers()}
        try:
            self.versions["onnxruntime_build"] = ort.get_build_info()
        except Exception:  # noqa: BLE001
            pass

    def session(self, nodes, inputs, inits, out_name, dtype):
        """A single-graph model: `inputs` {name: array} are graph inputs,
        `inits` {name: array} constant initializers."""
        h, nh = self.helper, self.nh
        elem = self.TP.FLOAT if dtype == "float32" else self.TP.DOUBLE
        gin = [h.make_tensor_value_info(k, elem, list(v.shape)) for k, v in inputs.items()]
        gout = [h.make_tensor_value_info(out_name, elem, None)]
        ini = [nh.from_array(v, k) for k, v in inits.items()]
        graph = h.make_graph(nodes, "peer", gin, gout, ini)
        model = h.make_model(graph, opset_imports=[h.make_opsetid("", self.OPSET)],
                             producer_name="convoracle-measure-peers")
        model.ir_version = 10
        so = self.ort.SessionOptions()
        so.graph_optimization_level = self.ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        so.intra_op_num_threads = self.threads
        so.inter_op_num_threads = 1
        so.execution_mode = self.ort.ExecutionMode.ORT_SEQUENTIAL
        try:
            sess = self.ort.InferenceSession(model.SerializeToString(), so,
                                             providers=["CPUExecutionProvider"])
        except Exception as e:  # noqa: BLE001
            msg = short_error(e)
            missing = re.search(r"Could not find an implementation for (\S+)", str(e))
            if missing:
                msg = "ONNX Runtime's CPU provider has no %s kernel for %s (NOT_IMPLEMENTED)" % (
                    dtype, missing.group(1).split(" ")[0])
            raise Skip(msg)
        # Inputs and the output bound once (IOBinding): a run allocates nothing
        # and copies nothing, as a plan with caller-owned buffers.
        try:
            first = sess.run([out_name], inputs)[0]
        except Exception as e:  # noqa: BLE001
            raise Skip(short_error(e))
        binding = sess.io_binding()
        for k, v in inputs.items():
            binding.bind_cpu_input(k, v)
        # OrtValue.ortvalue_from_numpy borrows the array's memory: the closure
        # keeps the array (and the bound inputs) alive.
        out_array = self.np.empty_like(first)
        out = self.ort.OrtValue.ortvalue_from_numpy(out_array)
        binding.bind_ortvalue_output(out_name, out)
        ro = self.ort.RunOptions()
        keep = (inputs, out_array)

        def run():
            sess.run_with_iobinding(binding, ro)
            assert keep
            return out_array
        return run

    def plans(self, r, d, dtype):
        h = self.helper
        np = self.np
        k2 = [r.kh, r.kw]
        strides, dil = [r.stride_h, r.stride_w], [r.dilation_h, r.dilation_w]
        pads = [r.pad_h, r.pad_w, r.pad_h, r.pad_w]
        g = r.groups
        note = ""

        def conv(i, w, o, kernel, **kw):
            return h.make_node("Conv", [i, w], [o], kernel_shape=kernel, **kw)

        if r.op == "conv2d":
            nodes = [conv("X", "W", "Y", k2, strides=strides, pads=pads, dilations=dil, group=g)]
            inputs, inits = {"X": d["x"]}, {"W": d["w"]}
        elif r.op == "conv_transpose2d":
            nodes = [h.make_node("ConvTranspose", ["X", "W"], ["Y"], kernel_shape=k2, strides=strides,
                                 pads=pads, dilations=dil, group=g,
                                 output_padding=[r.output_padding_h, r.output_padding_w])]
            inputs, inits = {"X": d["x"]}, {"W": d["w"]}
        elif r.op == "conv2d_backward_input":
            # dL/dx = ConvTranspose(dy, W) with the forward geometry; the
            # output padding recovers the forward input size exactly.
            ho, wo = r.out_hw
            oph = r.h - ((ho - 1) * r.stride_h - 2 * r.pad_h + r.dilation_h * (r.kh - 1) + 1)
            opw = r.w - ((wo - 1) * r.stride_w - 2 * r.pad_w + r.dilation_w * (r.kw - 1) + 1)
            nodes = [h.make_node("ConvTranspose", ["GY", "W"], ["Y"], kernel_shape=k2, strides=strides,
                                 pads=pads, dilations=dil, group=g, output_padding=[oph, opw])]
            inputs, inits = {"GY": d["gy"]}, {"W": d["w"]}
            note = "ConvTranspose(dy, W) = input gradient (W constant)"
        elif r.op == "conv2d_backward_weight":
            if g != 1:
                yield ("onnxruntime", None, "weight gradient with groups > 1 not expressed as an ORT graph")
                return
            # dW[k, c, i, j] = sum_{n, oy, ox} dy[n, k, oy, ox] x_pad[n, c, oy*s - p + i*d, ...]:
            # a conv of x^T (C, N, H, W) by dy^T (K, N, Ho, Wo) with stride d and
            # dilation s, then sliced to kh x kw and transposed to (K, C, kh, kw).
            ho, wo = r.out_hw
            nodes = [
                h.make_node("Transpose", ["X"], ["Xt"], perm=[1, 0, 2, 3]),
                h.make_node("Transpose", ["GY"], ["GYt"], perm=[1, 0, 2, 3]),
                conv("Xt", "GYt", "Z", [ho, wo], strides=dil, pads=pads, dilations=strides),
                h.make_node("Slice", ["Z", "starts", "ends", "axes"], ["Zs"]),
                h.make_node("Transpose", ["Zs"], ["Y"], perm=[1, 0, 2, 3]),
            ]
            inputs = {"X": d["x"], "GY": d["gy"]}
            inits = {"starts": np.array([0, 0], np.int64), "ends": np.array([r.kh, r.kw], np.int64),
                     "axes": np.array([2, 3], np.int64)}
            note = "Conv(x^T, dy^T) with stride/dilation swapped, Slice, Transpose (no constant weight)"
        elif r.op == "deform_conv2d":
            ins = ["X", "W", "OFF", "", "MASK"] if r.mask else ["X", "W", "OFF"]
            nodes = [h.make_node("DeformConv", ins, ["Y"], kernel_shape=k2, strides=strides, pads=pads,
                                 dilations=dil, group=g, offset_group=r.offset_groups or 1)]
            inputs = {"X": d["x"], "OFF": d["offset"]}
            if r.mask:
                inputs["MASK"] = d["mask"]
            inits = {"W": d["w"]}
            note = "DeformConv (%s)" % ("v2, mask" if r.mask else "v1")
        elif r.op == "dynamic_conv2d":
            n, c, k, e = r.n, r.c_in, r.c_out, r.experts
            ho, wo = r.out_hw
            nodes = [
                h.make_node("MatMul", ["A", "WE"], ["Wagg"]),
                h.make_node("Reshape", ["Wagg", "wshape"], ["Wg"]),
                h.make_node("Reshape", ["X", "xshape"], ["Xg"]),
                conv("Xg", "Wg", "Yg", k2, strides=strides, pads=pads, dilations=dil, group=n * g),
                h.make_node("Reshape", ["Yg", "yshape"], ["Y"]),
            ]
            inputs = {"X": d["x"], "A": d["attn"]}
            inits = {"WE": np.ascontiguousarray(d["experts"].reshape(e, -1)),
                     "wshape": np.array([n * k, c // g, r.kh, r.kw], np.int64),
                     "xshape": np.array([1, n * c, r.h, r.w], np.int64),
                     "yshape": np.array([n, k, ho, wo], np.int64)}
            note = "MatMul(attention, experts), Conv with the batch folded into groups (dynamic weight)"
        elif r.op == "depthwise_separable2d":
            nodes = [conv("X", "WD", "T", k2, strides=strides, pads=pads, dilations=dil, group=r.c_in),
                     conv("T", "WP", "Y", [1, 1])]
            inputs, inits = {"X": d["x"]}, {"WD": d["wd"], "WP": d["wp"]}
            note = "depthwise Conv then 1x1 Conv"
        elif r.op == "spatially_separable2d":
            nodes = [conv("X", "WV", "T", [r.kh, 1], strides=[r.stride_h, 1], pads=[r.pad_h, 0, r.pad_h, 0],
                          dilations=[r.dilation_h, 1]),
                     conv("T", "WH", "Y", [1, r.kw], strides=[1, r.stride_w], pads=[0, r.pad_w, 0, r.pad_w],
                          dilations=[1, r.dilation_w])]
            inputs, inits = {"X": d["x"]}, {"WV": d["wv"], "WH": d["wh"]}
            note = "kh x 1 Conv then 1 x kw Conv"
        elif r.op == "aspp":
            b, nr = r.mid_channels, len(r.rates)
            nodes = [conv("X", "W1", "B0", [1, 1])]
            inits = {"W1": d["w1"]}
            for i, rate in enumerate(r.rates):
                inits["WD%d" % i] = np.ascontiguousarray(d["wd"][i])
                nodes.append(conv("X", "WD%d" % i, "B%d" % (i + 1), [3, 3], pads=[rate] * 4,
                                  dilations=[rate, rate]))
            pool = "B%d" % (nr + 1)
            nodes += [h.make_node("GlobalAveragePool", ["X"], ["P"]),
                      conv("P", "WPOOL", "P1", [1, 1]),
                      h.make_node("Expand", ["P1", "pshape"], [pool]),
                      h.make_node("Concat", ["B%d" % i for i in range(nr + 2)], ["CAT"], axis=1),
                      conv("CAT", "WPROJ", "Y", [1, 1])]
            inits.update({"WPOOL": d["wpool"], "WPROJ": d["wproj"],
                          "pshape": np.array([r.n, b, r.h, r.w], np.int64)})
            inputs = {"X": d["x"]}
            note = "Conv 1x1, Conv 3x3 dilated per rate, GlobalAveragePool+Conv+Expand; Concat; Conv 1x1"
        else:
            yield ("onnxruntime", None, "op %s not known to this script" % r.op)
            return
        try:
            run = self.session(nodes, inputs, inits, "Y", dtype)
        except Skip as e:
            yield ("onnxruntime", None, str(e))
            return
        yield ("onnxruntime", run, note)

    def to_numpy(self, out):
        return out


def short_error(e):
    msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
    msg = msg.replace("[ONNXRuntimeError] : ", "")
    return "%s: %s" % (type(e).__name__, msg[:200])


# --------------------------------------------------------------------------- SciPy


class ScipyPeer:
    name = "scipy"

    def __init__(self, threads):
        import scipy
        import scipy.signal
        self.signal = scipy.signal
        self.threads = threads
        self.versions = {"scipy": scipy.__version__}

    @staticmethod
    def applicable(r):
        """Single-channel or depthwise (multiplier 1) conv2d, stride 1, dilation 1."""
        if r.op != "conv2d":
            return "not a plain conv2d (op %s)" % r.op
        single = r.c_in == 1 and r.c_out == 1 and r.groups == 1
        depthwise = r.groups == r.c_in == r.c_out
        if not (single or depthwise):
            return "not single-channel or depthwise (C_in %d, C_out %d, groups %d)" % (r.c_in, r.c_out, r.groups)
        if (r.stride_h, r.stride_w) != (1, 1):
            return "stride %dx%d (scipy.signal computes every output)" % (r.stride_h, r.stride_w)
        if (r.dilation_h, r.dilation_w) != (1, 1):
            return "dilation %dx%d" % (r.dilation_h, r.dilation_w)
        return None

    @staticmethod
    def mode(r):
        """The scipy mode that matches the row's padding, and the crop of a
        'full' result when none does."""
        def axis(k, p):
            if p == 0:
                return "valid"
            if p == k - 1:
                return "full"
            if k % 2 == 1 and p == (k - 1) // 2:
                return "same"
            return None
        mh, mw = axis(r.kh, r.pad_h), axis(r.kw, r.pad_w)
        if mh is not None and mh == mw:
            return mh, None
        ho, wo = r.out_hw
        return "full", (slice(r.kh - 1 - r.pad_h, r.kh - 1 - r.pad_h + ho),
                        slice(r.kw - 1 - r.pad_w, r.kw - 1 - r.pad_w + wo))

    def plans(self, r, d, dtype):
        why = self.applicable(r)
        if why:
            yield ("scipy", None, "not applicable: " + why)
            return
        np = self.np
        sig = self.signal
        x, w = d["x"], d["w"]
        n, c = r.n, r.c_in
        ho, wo = r.out_hw
        mode, crop = self.mode(r)
        # conv2d is a cross-correlation: fftconvolve/oaconvolve get the flipped
        # kernel (flipped once here, outside the timing); correlate2d the kernel.
        flipped = np.ascontiguousarray(w[:, 0, ::-1, ::-1])
        kern = np.ascontiguousarray(w[:, 0])
        how = "mode=%s%s" % (mode, ", cropped" if crop else "")
        if self.threads > 1:
            how += "; single-threaded"
        crop3 = (slice(None),) + crop if crop else None

        def batched(f):
            # one call per sample: the channel axis is broadcast, each channel
            # convolved with its own kernel (axes = the two spatial axes); for
            # these shapes this beats a Python loop over the channels
            def run():
                out = np.empty((n, c, ho, wo), dtype)
                for i in range(n):
                    y = f(x[i], flipped, mode=mode, axes=(-2, -1))
                    out[i] = y[crop3] if crop else y
                return out
            return run

        def per_channel():
            def run():
                out = np.empty((n, c, ho, wo), dtype)
                for i in range(n):
                    for j in range(c):
                        y = sig.correlate2d(x[i, j], kern[j], mode=mode, boundary="fill", fillvalue=0)
                        out[i, j] = y[crop] if crop else y
                return out
            return run
        yield ("scipy.fftconvolve", batched(sig.fftconvolve), "channels in one call (axes), " + how)
        yield ("scipy.oaconvolve", batched(sig.oaconvolve), "channels in one call (axes), " + how)
        yield ("scipy.correlate2d", per_channel(), "per channel, " + how)

    def to_numpy(self, out):
        return out


# --------------------------------------------------------------------------- machine


def cpu_info():
    info = {"processor": platform.processor(), "machine": platform.machine(),
            "logical_cpus": os.cpu_count()}
    try:
        with open("/proc/cpuinfo") as f:
            text = f.read()
        first = text.split("\n\n")[0]
        fields = {}
        for line in first.splitlines():
            if ":" in line:
                k, v = line.split(":", 1)
                fields[k.strip()] = v.strip()
        info["model_name"] = fields.get("model name")
        for k in ("vendor_id", "cpu family", "model", "stepping", "microcode", "cpu MHz", "cache size"):
            if k in fields:
                info[k.replace(" ", "_")] = fields[k]
        flags = set(fields.get("flags", "").split())
        info["simd_flags"] = sorted(f for f in flags if f.startswith(("avx", "fma", "sse4", "amx")))
        info["hypervisor"] = "hypervisor" in flags
    except OSError:
        info["model_name"] = None
    return info


def loadavg():
    try:
        with open("/proc/loadavg") as f:
            return f.read().split()[:3]
    except OSError:
        return None


def meta_path(csv_path):
    base = csv_path[:-4] if csv_path.endswith(".csv") else csv_path
    return base + ".meta.json"


# --------------------------------------------------------------------------- main


def rel_diff(np, a, ref):
    a = np.asarray(a, dtype=np.float64)
    ref = np.asarray(ref, dtype=np.float64)
    if a.shape != ref.shape:
        return None
    scale = float(np.max(np.abs(ref))) or 1.0
    return float(np.max(np.abs(a - ref))) / scale


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    removed_env = configure_environment(args.threads)

    import numpy as np
    rows = read_shapes(args.shapes, args.only)
    unknown = sorted({r.op for r in rows} - KNOWN_OPS)
    if unknown:
        log("warning: rows with unknown ops %s are written with a note" % ", ".join(unknown))

    peers, skipped = [], {}
    classes = {"onnxruntime": OrtPeer, "torch": TorchPeer, "scipy": ScipyPeer}
    for name in args.peers:
        try:
            peer = classes[name](args.threads)
            peer.np = np
            peers.append(peer)
        except Exception as e:  # noqa: BLE001 - a missing peer is skipped, never a crash
            skipped[name] = "%s: %s" % (type(e).__name__, e)
            log("peer %s skipped (not importable): %s" % (name, skipped[name]))
    if not peers:
        log("no peer importable; install: pip install onnxruntime onnx torch torchvision scipy numpy")

    versions = {"python": platform.python_version(), "numpy": np.__version__}
    for p in peers:
        versions.update(p.versions)
    try:
        import threadpoolctl
        pools = threadpoolctl.threadpool_info()
    except Exception:  # noqa: BLE001
        pools = None
    meta = {
        "script": "benches/peers/measure_peers.py",
        "argv": sys.argv[1:] if argv is None else argv,
        "started": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "threads": args.threads, "dtypes": args.dtypes, "repeats": args.repeats,
        "warmup": args.warmup, "min_sample_ms": args.min_sample_ms, "seed": args.seed,
        "shapes": args.shapes, "peers_run": [p.name for p in peers], "peers_skipped": skipped,
        "versions": versions, "cpu": cpu_info(), "platform": platform.platform(),
        "env": {k: os.environ.get(k) for k in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")},
        "env_removed_for_this_process": removed_env,
        "threadpools": pools, "loadavg_start": loadavg(),
    }

    out_f = open(args.csv, "w", newline="") if args.csv else sys.stdout
    writer = csv.writer(out_f)
    writer.writerow(COLUMNS)
    out_f.flush()
    log("cpu: %s; threads %d; %s" % (meta["cpu"].get("model_name"), args.threads,
                                    ", ".join("%s %s" % kv for kv in versions.items()
                                              if kv[0] in ("numpy", "scipy", "torch", "torchvision",
                                                           "onnx", "onnxruntime"))))

    for dtype in args.dtypes:
        for r in rows:
            results = []  # (backend, median_s or None, note, output or None)
            if r.op not in KNOWN_OPS:
                for p in peers:
                    results.append((p.name, None, "op %s not known to this script" % r.op, None))
            else:
                try:
                    data = make_data(r, dtype, np, args.seed)
                    fl = flops(r)
                except Exception as e:  # noqa: BLE001
                    data, fl = None, None
                    for p in peers:
                        results.append((p.name, None, "bad row: %s" % short_error(e), None))
                for p in peers if data is not None else []:
                    try:
                        gen = p.plans(r, data) if p.name == "torch" else p.plans(r, data, dtype)
                        for backend, fn, note in gen:
                            if fn is None:
                                results.append((backend, None, note, None))
                                continue
                            try:
                                med, out, extra = measure(fn, args)
                                out = p.to_numpy(out)
                                results.append((backend, med, "; ".join(([note] if note else []) + extra), out))
                            except Exception as e:  # noqa: BLE001
                                results.append((backend, None, "failed: %s" % short_error(e), None))
                            fn = None
                            gc.collect()
                    except Exception as e:  # noqa: BLE001
                        results.append((p.name, None, "failed: %s" % short_error(e), None))
            # cross-check the outputs against one peer's (the same inputs went to all)
            ref = None
            for want in CHECK_ORDER:
                ref = next((x for x in results if x[0] == want and x[3] is not None), None)
                if ref:
                    break
            tol = 1e-3 if dtype == "float32" else 1e-9
            for backend, med, note, out in results:
                if ref is not None and out is not None and backend != ref[0]:
                    diff = rel_diff(np, out, ref[3])
                    if diff is None:
                        check = "MISMATCH: shape %s vs %s %s" % (np.shape(out), ref[0], np.shape(ref[3]))
                    else:
                        check = "max|diff|/max|ref| %.1e vs %s%s" % (diff, ref[0], " MISMATCH" if diff > tol else "")
                    note = "; ".join(s for s in (note, check) if s)
                ms = "" if med is None else "%.6g" % (med * 1e3)
                gf = "" if med is None or not fl else "%.6g" % (fl / med / 1e9)
                writer.writerow([r.name, r.op, backend, args.threads, dtype, ms, gf, note])
                log("%-28s %-22s %-8s %10s ms %9s GFLOP/s  %s" % (r.name, backend, dtype, ms or "-", gf or "-", note))
            out_f.flush()
            results = data = None
            gc.collect()

    meta["loadavg_end"] = loadavg()
    meta["finished"] = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    if args.csv:
        out_f.close()
        with open(meta_path(args.csv), "w") as f:
            json.dump(meta, f, indent=1, default=str)
            f.write("\n")
        log("wrote %s and %s" % (args.csv, meta_path(args.csv)))
    else:
        log("# meta " + json.dumps(meta, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
