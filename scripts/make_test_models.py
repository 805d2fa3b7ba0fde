#!/usr/bin/python3
"""Writes tiny ONNX models with the signatures of the real ones, for fast tests.

Uses Debian's python3-onnx (no PyPI). Each model is one 1x1 convolution of the three input
channels, so a test can compute the exact expected output by hand:

  tiny_isnet.onnx       input  [1,3,1024,1024] -> output [1,1,1024,1024], sigmoid(8*(.25r+.5g+.25b))
                        plus a second, unused output like ISNet's side outputs
  tiny_isnet_batch.onnx the same with a dynamic batch dimension [N,3,1024,1024] (as isnet-qdq)
  tiny_inspyrenet.onnx  img    [1,3,H,W] (dynamic) -> pred [1,1,H,W], 4*(.25r+.5g+.25b)+1 (raw, no
                        sigmoid: the inspyrenet kind min-max normalises it)
  tiny_inspyrenet_384.onnx  the same with a static 384x384 input
  bad_signature.onnx    input [1,3,64,64] -> output [1,3,64,64] (three channels: not a matte)
  not_a_model.onnx      random bytes
"""
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

WEIGHTS = np.array([0.25, 0.5, 0.25], dtype=np.float32)


def conv_model(in_name, out_name, in_dims, out_dims, gain, bias, sigmoid, out_channels=1,
               extra_output=False):
    w = np.tile(WEIGHTS * gain, (out_channels, 1)).reshape(out_channels, 3, 1, 1)
    b = np.full((out_channels,), bias, dtype=np.float32)
    nodes = [helper.make_node("Conv", [in_name, "w", "b"], ["conv" if sigmoid else out_name])]
    if sigmoid:
        nodes.append(helper.make_node("Sigmoid", ["conv"], [out_name]))
    outputs = [helper.make_tensor_value_info(out_name, TensorProto.FLOAT, out_dims)]
    if extra_output:
        nodes.append(helper.make_node("Relu", ["conv"], ["side1"]))
        outputs.append(helper.make_tensor_value_info("side1", TensorProto.FLOAT, out_dims))
    graph = helper.make_graph(
        nodes, "tiny",
        [helper.make_tensor_value_info(in_name, TensorProto.FLOAT, in_dims)],
        outputs,
        [numpy_helper.from_array(w.astype(np.float32), "w"), numpy_helper.from_array(b, "b")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)],
                              producer_name="cutout-tests")
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "test_models"
    os.makedirs(out, exist_ok=True)
    models = {
        "tiny_isnet.onnx": conv_model("input", "output", [1, 3, 1024, 1024], [1, 1, 1024, 1024],
                                      8.0, 0.0, True, extra_output=True),
        "tiny_isnet_batch.onnx": conv_model("input", "output", ["N", 3, 1024, 1024],
                                            ["N", 1, 1024, 1024], 8.0, 0.0, True, extra_output=True),
        "tiny_inspyrenet.onnx": conv_model("img", "pred", [1, 3, "height", "width"],
                                           [1, 1, "height", "width"], 4.0, 1.0, False),
        "tiny_inspyrenet_384.onnx": conv_model("img", "pred", [1, 3, 384, 384], [1, 1, 384, 384],
                                               4.0, 1.0, False),
        "bad_signature.onnx": conv_model("input", "output", [1, 3, 64, 64], [1, 3, 64, 64],
                                         1.0, 0.0, True, out_channels=3),
    }
    for name, model in models.items():
        onnx.save(model, os.path.join(out, name))
    rng = np.random.default_rng(7)
    with open(os.path.join(out, "not_a_model.onnx"), "wb") as f:
        f.write(rng.integers(0, 256, 4096, dtype=np.uint8).tobytes())


if __name__ == "__main__":
    main()
