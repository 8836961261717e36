"""PyTorch / torchvision as a convoracle peer, in the case's dtype:
python3 validate_pytorch.py CASES_DIR CANDIDATES_DIR, then verify-all."""
import sys

import torch
import torch.nn.functional as F
from torchvision.ops import deform_conv2d

import convoracle as co


def conv(c, x, w, b=None, groups=None):
    """conv2d with the case's geometry: torch's own padding when it can say it, else F.pad."""
    pad = c.torch_padding if c.padding_mode == "zeros" else None
    if pad is None:
        x, pad = F.pad(x, c.torch_pad, c.torch_pad_mode), 0
    w = w.flip(-2, -1) if c.flip_kernel else w
    return F.conv2d(x, w, b, c.stride, pad, c.dilation, groups or c.groups)


def grad(c, forward, wrt_shape, go):
    """A backward op through autograd: d(forward(v) . grad_output) / dv."""
    v = torch.zeros(wrt_shape, dtype=go.dtype, requires_grad=True)
    return torch.autograd.grad(forward(v), v, go)[0]


def compute(c):
    t = {k: torch.from_numpy(v) for k, v in c.tensors.items()}
    x, w, b = t.get("input"), t.get("weight"), t.get("bias")
    if c.op in ("conv_transpose2d", "deform_conv2d") and c.torch_padding is None:
        raise co.Unsupported(f"torch's {c.op} pads symmetrically, non-negatively: {c.pads}")
    if c.op == "conv2d":
        y = conv(c, x, w, b)
    elif c.op == "conv_transpose2d":
        y = F.conv_transpose2d(x, w, b, c.stride, c.torch_padding, c.output_padding, c.groups,
                               c.dilation)
    elif c.op == "conv2d_backward_input":
        y = grad(c, lambda v: conv(c, v, w), c.output_shape, t["grad_output"])
    elif c.op == "conv2d_backward_weight":
        y = grad(c, lambda v: conv(c, x, v), c.output_shape, t["grad_output"])
    elif c.op == "deform_conv2d":
        y = deform_conv2d(x, t["offset"], w, b, c.stride, c.torch_padding, c.dilation,
                          t.get("mask"))
    elif c.op == "dynamic_conv2d":  # CondConv: each sample's kernel is its mixture of experts
        a = t["attention"]
        ws, bs = torch.einsum("ne,ekchw->nkchw", a, w), None if b is None else a @ b
        y = torch.stack([conv(c, x[n:n + 1], ws[n], None if b is None else bs[n])[0]
                         for n in range(len(x))]) if len(x) else x.new_zeros(c.output_shape)
    elif c.op == "depthwise_separable2d":
        y = conv(c, x, t["depthwise_weight"], t.get("depthwise_bias"), groups=x.shape[1])
        y = F.conv2d(y, t["pointwise_weight"], t.get("pointwise_bias"))
    elif c.op == "spatially_separable2d":
        (pt, pb, pl, pr), (sh, sw), (dh, dw) = c.pads, c.stride, c.dilation
        y = F.conv2d(F.pad(x, (0, 0, pt, pb)), t["vertical_weight"], t.get("vertical_bias"),
                     (sh, 1), 0, (dh, 1))
        y = F.conv2d(F.pad(y, (pl, pr)), t["horizontal_weight"], t.get("horizontal_bias"),
                     (1, sw), 0, (1, dw))
    elif c.op == "aspp":
        branches = [F.conv2d(x, t["weight_1x1"])] + [
            F.conv2d(x, wd, padding=r, dilation=r) for r, wd in zip(c.rates, t["weight_dilated"])]
        if "weight_pool" in t:
            pooled = F.conv2d(x.mean((2, 3), keepdim=True), t["weight_pool"])
            branches.append(pooled.expand(-1, -1, *x.shape[2:]))
        y = F.conv2d(torch.cat(branches, 1), t["weight_project"])
    return y.detach().numpy()  # in the dtype torch computed in: save() checks it


if __name__ == "__main__":
    torch.set_num_threads(1)
    sys.exit(co.run(compute, label=f"torch {torch.__version__}"))
