#!/usr/bin/env python3
"""A batch-dynamic copy of an ISNet graph (issue 17, dynamic batching).

The exported graphs fix the batch dimension at 1: the input and output are [1,3,H,W] and
[1,1,H,W], and every Resize names its output size as a constant [1,C,H,W]. This rewrites the
input's and the outputs' first dimension as "N" and each constant Resize size as the equivalent
scales [1,1,h/H,w/W] (exact: every ratio here is a power of two), which keeps every other node
and weight as it is. Deterministic: the same input gives the same bytes.

Usage: isnet_batch.py IN.onnx OUT.onnx
"""
import sys

import numpy as np
import onnx
from onnx import helper, numpy_helper, shape_inference


def main(src, dst):
    model = onnx.load(src)
    inferred = shape_inference.infer_shapes(model)
    shapes = {}
    for vi in list(inferred.graph.value_info) + list(inferred.graph.input) + list(inferred.graph.output):
        dims = [d.dim_value for d in vi.type.tensor_type.shape.dim]
        if dims and all(d > 0 for d in dims):
            shapes[vi.name] = dims
    graph = model.graph
    inits = {i.name: i for i in graph.initializer}
    used_elsewhere = {}
    for node in graph.node:
        for name in node.input:
            used_elsewhere[name] = used_elsewhere.get(name, 0) + 1
    patched = 0
    for node in graph.node:
        if node.op_type != "Resize" or len(node.input) < 4 or node.input[3] not in inits:
            continue
        sizes = numpy_helper.to_array(inits[node.input[3]]).astype(np.int64)
        source = shapes.get(node.input[0])
        if source is None or len(source) != 4 or sizes[0] != 1 or sizes[1] != source[1]:
            sys.exit(f"{node.name}: cannot rewrite sizes {sizes.tolist()} of input {source}")
        scales = np.array([1, 1, sizes[2] / source[2], sizes[3] / source[3]], dtype=np.float32)
        if any(int(np.floor(s * d)) != t for s, d, t in zip(scales[2:], source[2:], sizes[2:])):
            sys.exit(f"{node.name}: scales {scales.tolist()} do not give {sizes.tolist()} exactly")
        name = node.input[3] + "_as_scales"
        graph.initializer.append(numpy_helper.from_array(scales, name))
        node.input[2] = name
        del node.input[3]
        patched += 1
    # Drop the size constants nothing reads any more.
    still = {name for node in graph.node for name in node.input}
    keep = [i for i in graph.initializer if i.name in still]
    del graph.initializer[:]
    graph.initializer.extend(keep)
    for value in list(graph.input) + list(graph.output):
        dim = value.type.tensor_type.shape.dim[0]
        dim.Clear()
        dim.dim_param = "N"
    del graph.value_info[:]
    onnx.checker.check_model(model)
    onnx.save(model, dst)
    print(f"{dst}: {patched} Resize nodes take scales; batch dimension N")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
