"""One case folder (docs/case-format.md) as a typed, resolved object.

Every resolution here copies the Rust side: padding forms and words
(reference/src/spec/geometry.rs `ConvGeometry::resolve`), `output_size` to
`output_padding` (reference/src/spec/shapes.rs), the output shapes, and the
feature flags of `convoracle export --exclude` (src/problem_features.rs).
The Rust reader stays the judge of a case's validity; this module reads what
`convoracle export` and the fixtures write and refuses what it does not
understand rather than guessing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple, Optional

import numpy as np

DTYPES = {"float32": np.float32, "float64": np.float64}

# The op's tensors: (required, optional), as OpKind::roles in reference/src/spec/op.rs.
ROLES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "conv2d": (("input", "weight"), ("bias",)),
    "conv_transpose2d": (("input", "weight"), ("bias",)),
    "deform_conv2d": (("input", "weight", "offset"), ("mask", "bias")),
    "dynamic_conv2d": (("input", "weight", "attention"), ("bias",)),
    "depthwise_separable2d": (("input", "depthwise_weight", "pointwise_weight"),
                              ("depthwise_bias", "pointwise_bias")),
    "spatially_separable2d": (("input", "vertical_weight", "horizontal_weight"),
                              ("vertical_bias", "horizontal_bias")),
    "aspp": (("input", "weight_1x1", "weight_dilated", "weight_project"), ("weight_pool",)),
    "conv2d_backward_input": (("grad_output", "weight"), ()),
    "conv2d_backward_weight": (("input", "grad_output"), ()),
}

_GEOMETRY = ("stride", "padding", "dilation", "groups")
_ZEROS = _GEOMETRY + ("padding_mode",)
_CONV = _ZEROS + ("flip_kernel",)
# The fields each op takes besides op, dtype, description (src/case/json.rs `fields_of`).
FIELDS: dict[str, tuple[str, ...]] = {
    "conv2d": _CONV,
    "conv_transpose2d": _GEOMETRY + ("output_padding", "output_size"),
    "deform_conv2d": _ZEROS,
    "dynamic_conv2d": _ZEROS,
    "depthwise_separable2d": _ZEROS,
    "spatially_separable2d": _ZEROS,
    "aspp": ("rates",),
    "conv2d_backward_input": _CONV + ("input_size",),
    "conv2d_backward_weight": _CONV + ("kernel_size",),
}

PADDING_WORDS = ("valid", "same", "same_upper", "same_lower")
PADDING_MODES = ("zeros", "reflect", "replicate", "circular")

# The names `convoracle export --exclude` takes (src/problem_features.rs).
FEATURES = ("flip_kernel", "padding_mode", "negative_padding", "padding_word",
            "asymmetric_padding", "non_square", "dilation", "groups", "output_size",
            "output_padding", "empty", "bias", "mask")

Pads = tuple[int, int, int, int]
Pair = tuple[int, int]


class CaseError(ValueError):
    """A case folder this module cannot read (names the file and field)."""


class _Conv(NamedTuple):
    """One resolved convolution of an op (ConvShape's fields the features read)."""

    pads: Pads
    stride: Pair
    dilation: Pair
    kernel: Pair
    groups: int
    output_padding: Pair


def _int(value: Any, where: str, minimum: Optional[int] = None) -> int:
    # bool is an int in Python; JSON true is not an integer.
    if isinstance(value, bool) or not isinstance(value, int):
        raise CaseError(f"{where}: expected an integer, found {value!r}")
    if minimum is not None and value < minimum:
        raise CaseError(f"{where}: must be at least {minimum}, found {value}")
    return value


def _pair(value: Any, where: str, minimum: int, single: bool = True) -> Pair:
    """An integer (both axes, when `single`) or [h, w]."""
    if isinstance(value, list) and len(value) == 2:
        return (_int(value[0], where, minimum), _int(value[1], where, minimum))
    if single and not isinstance(value, list):
        v = _int(value, where, minimum)
        return (v, v)
    raise CaseError(f"{where}: expected {'an integer or ' if single else ''}[h, w], found {value!r}")


def explicit_pads(value: Any, where: str = "padding") -> Optional[Pads]:
    """(top, bottom, left, right) of an explicit padding form; None for a word."""
    if isinstance(value, str):
        if value not in PADDING_WORDS:
            raise CaseError(f"{where}: unknown padding word {value!r}")
        return None
    if isinstance(value, dict):
        if sorted(value) != ["bottom", "left", "right", "top"]:
            raise CaseError(f"{where}: give exactly top, bottom, left, right, found {sorted(value)}")
        return tuple(_int(value[s], f"{where}.{s}") for s in ("top", "bottom", "left", "right"))
    if isinstance(value, list):
        ph, pw = _pair(value, where, minimum=-(2**63), single=False)
        return (ph, ph, pw, pw)
    p = _int(value, where)
    return (p, p, p, p)


def resolve_padding(value: Any, input_hw: Pair, kernel_hw: Pair, stride: Pair,
                    dilation: Pair) -> Pads:
    """Any padding form, words included, as four explicit pads (top, bottom, left, right).

    The `same` words: per axis, out = ceil(in / s), total = max(0, (out-1)*s +
    d*(k-1)+1 - in); same_upper puts floor(total/2) before, same_lower after.
    """
    pads = explicit_pads(value)
    if pads is not None:
        return pads
    if value == "valid":
        return (0, 0, 0, 0)
    sides = []
    for i, k, s, d in zip(input_hw, kernel_hw, stride, dilation):
        out = -(-i // s)
        total = max(0, (out - 1) * s + d * (k - 1) + 1 - i)
        small, large = total // 2, total - total // 2
        sides += [small, large] if value in ("same", "same_upper") else [large, small]
    return tuple(sides)


def forward_size(size: int, before: int, after: int, kernel: int, stride: int,
                 dilation: int) -> int:
    """floor((in + before + after - (d*(k-1)+1)) / s) + 1, or an error when the kernel does not fit."""
    padded, extent = size + before + after, dilation * (kernel - 1) + 1
    if padded < extent:
        raise CaseError(f"padding: the kernel (extent {extent}) is larger than the padded input ({padded})")
    return (padded - extent) // stride + 1


@dataclass(eq=False)
class Case:
    """A case folder, read and resolved.

    `tensors` holds the op's own tensors (not output.npy) as native C-order
    arrays of the case's dtype. Geometry fields are resolved: `pads` is
    (top, bottom, left, right) with padding words resolved against the
    input and kernel sizes; `output_padding` is resolved from `output_size`.
    For `conv2d_backward_*` the geometry is the forward conv's. For `aspp`
    (no geometry fields) they hold their defaults.
    """

    path: Path
    name: str
    op: str
    dtype: str
    params: dict[str, Any]
    tensors: dict[str, np.ndarray]
    stride: Pair = (1, 1)
    dilation: Pair = (1, 1)
    groups: int = 1
    pads: Pads = (0, 0, 0, 0)
    padding_word: Optional[str] = None
    padding_mode: str = "zeros"
    flip_kernel: bool = False
    output_padding: Pair = (0, 0)
    output_size: Optional[Pair] = None
    input_hw: Pair = (0, 0)
    kernel_hw: Pair = (0, 0)
    offset_groups: int = 0
    rates: tuple[int, ...] = ()
    output_shape: tuple[int, ...] = ()
    features: frozenset[str] = frozenset()
    manifest: dict[str, Any] = field(default_factory=dict)

    # ---- general -----------------------------------------------------
    @property
    def np_dtype(self) -> type:
        """numpy.float32 or numpy.float64."""
        return DTYPES[self.dtype]

    @property
    def description(self) -> str:
        """case.json's free-text description ('' when absent)."""
        return self.params.get("description", "")

    def has(self, *features: str) -> bool:
        """True when the case has any of these features (names of FEATURES)."""
        unknown = set(features) - set(FEATURES)
        if unknown:
            raise ValueError(f"unknown features {sorted(unknown)}; the features are {FEATURES}")
        return bool(self.features.intersection(features))

    def pad_input(self, x: np.ndarray) -> np.ndarray:
        """x [..., H, W] extended by `pads` with the padding mode; negative pads crop.

        Positive sides are padded first (reflect, replicate and circular read
        coordinates of the uncropped input), then negative sides are cropped.
        """
        t, b, l, r = self.pads
        mode = {"zeros": "constant", "reflect": "reflect", "replicate": "edge",
                "circular": "wrap"}[self.padding_mode]
        width = [(0, 0)] * (x.ndim - 2) + [(max(t, 0), max(b, 0)), (max(l, 0), max(r, 0))]
        y = np.pad(x, width, mode=mode)
        h, w = y.shape[-2:]
        return y[..., max(-t, 0):h - max(-b, 0), max(-l, 0):w - max(-r, 0)]

    # ---- PyTorch -----------------------------------------------------
    @property
    def torch_padding(self) -> Optional[Pair]:
        """(ph, pw) for torch's `padding=` argument, or None when torch cannot say
        it (asymmetric or negative pads: use `torch_pad` with F.pad instead)."""
        t, b, l, r = self.pads
        return (t, l) if t == b and l == r and min(self.pads) >= 0 else None

    @property
    def torch_pad(self) -> Pads:
        """The pads in torch.nn.functional.pad's order (left, right, top, bottom)."""
        t, b, l, r = self.pads
        return (l, r, t, b)

    @property
    def torch_pad_mode(self) -> str:
        """The padding mode as F.pad names it ('constant', 'reflect', 'replicate', 'circular')."""
        return "constant" if self.padding_mode == "zeros" else self.padding_mode

    # ---- ONNX --------------------------------------------------------
    @property
    def onnx_pads(self) -> list[int]:
        """The pads in ONNX order [top, left, bottom, right] (x1_begin, x2_begin, x1_end, x2_end)."""
        t, b, l, r = self.pads
        return [t, l, b, r]

    @property
    def onnx_auto_pad(self) -> Optional[str]:
        """'SAME_UPPER', 'SAME_LOWER' or 'VALID' for a padding word, else None (explicit pads)."""
        return {None: None, "valid": "VALID", "same": "SAME_UPPER", "same_upper": "SAME_UPPER",
                "same_lower": "SAME_LOWER"}[self.padding_word]

    @property
    def onnx_op(self) -> Optional[str]:
        """The ONNX operator of this op (Conv, ConvTranspose, DeformConv), or None."""
        return {"conv2d": "Conv", "conv_transpose2d": "ConvTranspose",
                "deform_conv2d": "DeformConv"}.get(self.op)

    def onnx_attributes(self, auto_pad: bool = True) -> dict[str, Any]:
        """Attributes of `onnx_op`: kernel_shape, strides, dilations, group, and
        `auto_pad` for a padding word (Conv only, when `auto_pad`: DeformConv has
        no such attribute) or explicit `pads`; output_padding for ConvTranspose,
        offset_group for DeformConv."""
        a: dict[str, Any] = {"kernel_shape": list(self.kernel_hw), "strides": list(self.stride),
                             "dilations": list(self.dilation), "group": self.groups}
        if auto_pad and self.onnx_auto_pad is not None and self.op == "conv2d":
            a["auto_pad"] = self.onnx_auto_pad
        else:
            a["pads"] = self.onnx_pads
        if self.op == "conv_transpose2d":
            a["output_padding"] = list(self.output_padding)
        if self.op == "deform_conv2d":
            a["offset_group"] = self.offset_groups
        return a

    @property
    def onnx_inputs(self) -> list[Optional[np.ndarray]]:
        """The tensors in the ONNX operator's input order, None for an absent optional one:
        Conv/ConvTranspose (X, W, B), DeformConv (X, W, offset, B, mask)."""
        t = self.tensors
        if self.op == "deform_conv2d":
            return [t["input"], t["weight"], t["offset"], t.get("bias"), t.get("mask")]
        return [t["input"], t["weight"], t.get("bias")]


def _read_tensor(path: Path, dtype: str) -> np.ndarray:
    a = np.load(path, allow_pickle=False)
    if a.dtype.kind != "f" or a.dtype.itemsize != np.dtype(DTYPES[dtype]).itemsize:
        raise CaseError(f"{path}: dtype {a.dtype} is not the case's {dtype}")
    return np.ascontiguousarray(a, dtype=DTYPES[dtype])  # native byte order, C order


def load_case(path: str | Path, manifest: Optional[dict[str, Any]] = None) -> Case:
    """Reads the case folder `path`: case.json and the op's tensors (never output.npy)."""
    path = Path(path)
    where = path / "case.json"
    try:
        params = json.loads(where.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise CaseError(f"{where}: {e}") from e
    op, dtype = params.get("op"), params.get("dtype")
    if op not in ROLES:
        raise CaseError(f"{where}: field `op`: unknown op {op!r} (the ops are {', '.join(ROLES)})")
    if dtype not in DTYPES:
        raise CaseError(f"{where}: field `dtype`: expected float32 or float64, found {dtype!r}")
    unknown = set(params) - {"op", "dtype", "description"} - set(FIELDS[op])
    if unknown:
        raise CaseError(f"{where}: fields {sorted(unknown)} do not belong to op `{op}`; "
                        f"it takes {', '.join(FIELDS[op])}")
    required, optional = ROLES[op]
    tensors = {}
    for role in required + optional:
        file = path / f"{role}.npy"
        if file.is_file():
            tensors[role] = _read_tensor(file, dtype)
        elif role in required:
            raise CaseError(f"{file}: missing; op `{op}` needs {', '.join(r + '.npy' for r in required)}")
    case = Case(path=path, name=path.name, op=op, dtype=dtype, params=params, tensors=tensors,
                manifest=manifest or {})
    try:
        _resolve(case, str(where))
    except CaseError:
        raise
    except KeyError as e:  # the tensors are all there: a required field is not
        raise CaseError(f"{where}: field {e} is missing (op `{op}` needs it)") from e
    except (IndexError, ValueError, TypeError) as e:
        raise CaseError(f"{where}: the tensors' shapes do not fit op `{op}` ({e})") from e
    return case


def _resolve(c: Case, where: str) -> None:
    """Fills the resolved geometry, output shape and features of `c`."""
    p, t = c.params, c.tensors
    shape = {role: tuple(a.shape) for role, a in t.items()}
    if c.op == "aspp":
        c.rates = tuple(_int(r, f"{where}: rates", 1) for r in p["rates"])
        n, _, h, w = shape["input"]
        c.input_hw = (h, w)
        c.output_shape = (n, shape["weight_project"][0], h, w)
        convs = [_Conv((r, r, r, r), (1, 1), (r, r), (3, 3), 1, (0, 0)) for r in c.rates]
        c.features = _features(c, convs)
        return
    c.stride = _pair(p.get("stride", 1), f"{where}: stride", 1)
    c.dilation = _pair(p.get("dilation", 1), f"{where}: dilation", 1)
    c.groups = _int(p.get("groups", 1), f"{where}: groups", 1)
    c.padding_mode = p.get("padding_mode", "zeros")
    if c.padding_mode not in PADDING_MODES:
        raise CaseError(f"{where}: padding_mode: unknown mode {c.padding_mode!r}")
    c.flip_kernel = p.get("flip_kernel", False)
    if not isinstance(c.flip_kernel, bool):
        raise CaseError(f"{where}: flip_kernel: expected true or false")
    padding = p.get("padding", 0)
    if isinstance(padding, str):
        if c.op == "conv_transpose2d":
            raise CaseError(f"{where}: padding: conv_transpose2d takes explicit padding only")
        explicit_pads(padding, f"{where}: padding")  # checks the word
        c.padding_word = padding

    if c.op == "conv_transpose2d":
        _resolve_transposed(c, where, shape)
        return
    # The input and kernel sizes the padding words are resolved against.
    if c.op == "conv2d_backward_input":
        c.input_hw = _pair(p["input_size"], f"{where}: input_size", 1, single=False)
    else:
        c.input_hw = shape["input"][2:4]
    c.kernel_hw = {
        "conv2d_backward_weight": lambda: _pair(p["kernel_size"], f"{where}: kernel_size", 1,
                                                single=False),
        "dynamic_conv2d": lambda: shape["weight"][3:5],
        "depthwise_separable2d": lambda: shape["depthwise_weight"][2:4],
        "spatially_separable2d": lambda: (shape["vertical_weight"][2],
                                          shape["horizontal_weight"][3]),
    }.get(c.op, lambda: shape["weight"][2:4])()
    c.pads = resolve_padding(padding, c.input_hw, c.kernel_hw, c.stride, c.dilation)
    ho, wo = (forward_size(c.input_hw[a], c.pads[2 * a], c.pads[2 * a + 1], c.kernel_hw[a],
                           c.stride[a], c.dilation[a]) for a in (0, 1))
    conv = _Conv(c.pads, c.stride, c.dilation, c.kernel_hw, c.groups, (0, 0))
    convs = [conv]
    if c.op in ("conv2d", "deform_conv2d"):
        c.output_shape = (shape["input"][0], shape["weight"][0], ho, wo)
    if c.op == "deform_conv2d":
        c.offset_groups = shape["offset"][1] // (2 * c.kernel_hw[0] * c.kernel_hw[1])
    elif c.op == "dynamic_conv2d":
        c.output_shape = (shape["input"][0], shape["weight"][1], ho, wo)
    elif c.op == "depthwise_separable2d":
        convs = [conv._replace(groups=shape["input"][1]),
                 _Conv((0, 0, 0, 0), (1, 1), (1, 1), (1, 1), 1, (0, 0))]
        c.output_shape = (shape["input"][0], shape["pointwise_weight"][0], ho, wo)
    elif c.op == "spatially_separable2d":
        (sh, sw), (dh, dw), (kh, kw), (pt, pb, pl, pr) = c.stride, c.dilation, c.kernel_hw, c.pads
        convs = [_Conv((pt, pb, 0, 0), (sh, 1), (dh, 1), (kh, 1), 1, (0, 0)),
                 _Conv((0, 0, pl, pr), (1, sw), (1, dw), (1, kw), 1, (0, 0))]
        c.output_shape = (shape["input"][0], shape["horizontal_weight"][0], ho, wo)
    elif c.op == "conv2d_backward_input":
        n = shape["grad_output"][0]
        c.output_shape = (n, shape["weight"][1] * c.groups) + c.input_hw
    elif c.op == "conv2d_backward_weight":
        c.output_shape = (shape["grad_output"][1], shape["input"][1] // c.groups) + c.kernel_hw
    c.features = _features(c, convs)


def _resolve_transposed(c: Case, where: str, shape: dict[str, tuple[int, ...]]) -> None:
    """conv_transpose2d: output size, and output_size resolved to output_padding."""
    p = c.params
    c.pads = explicit_pads(p.get("padding", 0), f"{where}: padding")
    n, _, h, w = shape["input"]
    c.input_hw, c.kernel_hw = (h, w), shape["weight"][2:4]
    if "output_size" in p:
        c.output_size = _pair(p["output_size"], f"{where}: output_size", 1, single=False)
    requested = _pair(p.get("output_padding", 0), f"{where}: output_padding", 0)
    out, opad = [], []
    for a in (0, 1):
        limit = max(c.stride[a], c.dilation[a])
        smallest = ((c.input_hw[a] - 1) * c.stride[a] - c.pads[2 * a] - c.pads[2 * a + 1]
                    + c.dilation[a] * (c.kernel_hw[a] - 1) + 1)
        extra = requested[a] if c.output_size is None else c.output_size[a] - smallest
        if not 0 <= extra < limit or smallest + extra < 1:
            raise CaseError(f"{where}: output_padding/output_size: {extra} on axis {a} is not "
                            f"in [0, max(stride, dilation) = {limit})")
        out.append(smallest + extra)
        opad.append(extra)
    c.output_padding = tuple(opad)
    c.output_shape = (n, shape["weight"][1] * c.groups, out[0], out[1])
    conv = _Conv(c.pads, c.stride, c.dilation, c.kernel_hw, c.groups, c.output_padding)
    c.features = _features(c, [conv])


def _features(c: Case, convs: list[_Conv]) -> frozenset[str]:
    """Feature::present of src/problem_features.rs, for each feature."""
    f = set()
    conv_like = c.op in ("conv2d", "conv2d_backward_input", "conv2d_backward_weight")
    if conv_like and c.flip_kernel:
        f.add("flip_kernel")
    if conv_like and c.padding_mode != "zeros":
        f.add("padding_mode")
    if any(min(g.pads) < 0 for g in convs):
        f.add("negative_padding")
    if c.padding_word is not None:
        f.add("padding_word")
    if any(g.pads[0] != g.pads[1] or g.pads[2] != g.pads[3] for g in convs):
        f.add("asymmetric_padding")
    if any(g.stride[0] != g.stride[1] or g.dilation[0] != g.dilation[1]
           or g.kernel[0] != g.kernel[1] for g in convs):
        f.add("non_square")
    if any(g.dilation != (1, 1) for g in convs):
        f.add("dilation")
    if c.op == "depthwise_separable2d" or any(g.groups > 1 for g in convs):
        f.add("groups")
    if c.output_size is not None:
        f.add("output_size")
    if any(g.output_padding != (0, 0) for g in convs):
        f.add("output_padding")
    if any(0 in a.shape for a in c.tensors.values()):
        f.add("empty")
    if any(r in c.tensors for r in ("bias", "depthwise_bias", "pointwise_bias",
                                    "vertical_bias", "horizontal_bias")):
        f.add("bias")
    if "mask" in c.tensors:
        f.add("mask")
    return frozenset(f)
