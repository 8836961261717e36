"""SciPy's 2-D correlations as a conv2d for convoracle, one call per (input, output) channel pair:
python3 validate_scipy.py correlate2d|fftconvolve|oaconvolve CASES_DIR CANDIDATES_DIR,
then verify-all with --algorithm direct (correlate2d) or --algorithm fft (the other two)."""
import sys

import numpy as np
import scipy
from scipy import signal

import convoracle as co

METHOD = sys.argv.pop(1)


def correlate(x, w):
    """The 'valid' cross-correlation of one padded plane with one kernel."""
    if METHOD == "correlate2d":
        return signal.correlate2d(x, w, mode="valid")
    convolve = {"fftconvolve": signal.fftconvolve, "oaconvolve": signal.oaconvolve}[METHOD]
    return convolve(x, w[::-1, ::-1], mode="valid")  # correlation = convolution, kernel flipped


def compute(c):
    if c.has("dilation"):
        raise co.Unsupported("scipy.signal has no dilated kernels")
    x, w, b = c.pad_input(c.tensors["input"]), c.tensors["weight"], c.tensors.get("bias")
    w = w[:, :, ::-1, ::-1] if c.flip_kernel else w
    (sh, sw), cg, kg = c.stride, w.shape[1], c.output_shape[1] // c.groups
    y = np.zeros(c.output_shape, c.np_dtype)
    for n, k in np.ndindex(*c.output_shape[:2]):
        g = k // kg  # output channel k sees its group's input channels
        plane = sum(correlate(x[n, g * cg + q], w[k, q]) for q in range(cg))
        y[n, k] = plane[::sh, ::sw] + (0 if b is None else b[k])
    return y


if __name__ == "__main__":
    np.seterr(all="ignore")  # the non_finite suite's NaN and inf are part of the test
    sys.exit(co.run(compute, ops={"conv2d"}, label=f"scipy {scipy.__version__} {METHOD}"))
