"""ONNX Runtime (Conv, ConvTranspose, DeformConv; one-node models built with onnx.helper)
as a convoracle peer: python3 validate_onnxruntime.py CASES_DIR CANDIDATES_DIR."""
import sys

import onnxruntime as ort
from onnx import helper
from onnxruntime.capi.onnxruntime_pybind11_state import (Fail, InvalidArgument, InvalidGraph,
                                                         NotImplemented)

import convoracle as co


def compute(c):
    lacking = sorted(c.features & {"padding_mode", "flip_kernel", "negative_padding"})
    if c.onnx_op is None or lacking:  # ONNX pads are >= 0; it has no padding modes, no flip
        raise co.Unsupported(f"ONNX has no {c.op if c.onnx_op is None else ', '.join(lacking)}")
    names = ["X", "W", "offset", "B", "mask"] if c.onnx_op == "DeformConv" else ["X", "W", "B"]
    feeds = {n: a for n, a in zip(names, c.onnx_inputs) if a is not None}
    inputs = [n if n in feeds else "" for n in names]  # "" for an absent optional input...
    while not inputs[-1]:
        inputs.pop()  # ...and none at the end
    elem = helper.np_dtype_to_tensor_dtype(c.tensors["input"].dtype)
    node = helper.make_node(c.onnx_op, inputs, ["Y"], **c.onnx_attributes(auto_pad=True))
    graph = helper.make_graph(
        [node], c.name, [helper.make_tensor_value_info(n, elem, a.shape) for n, a in feeds.items()],
        [helper.make_tensor_value_info("Y", elem, None)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 22)])
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    try:
        session = ort.InferenceSession(model.SerializeToString(), options,
                                       providers=["CPUExecutionProvider"])
        return session.run(None, feeds)[0]
    except (Fail, InvalidArgument, InvalidGraph, NotImplemented) as e:  # a limitation: listed
        raise co.Unsupported(f"onnxruntime refused: {str(e).split('Status Message: ')[-1][:200]}")


if __name__ == "__main__":
    ort.set_default_logger_severity(4)  # refusals go to unsupported.txt, not the log
    sys.exit(co.run(compute, label=f"onnxruntime {ort.__version__}"))
