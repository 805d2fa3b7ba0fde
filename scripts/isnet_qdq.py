#!/usr/bin/python3
"""The pinned ISNet (fp16 weights) -> isnet-qdq, a static int8 QDQ model for ONNX Runtime's CPU
provider, and the calibration around it. Only python3-onnx and python3-numpy (Debian's): no
onnxruntime Python package; activation statistics come from `cutout calibrate`.

  float IN OUT                 fp32 weights, no Casts, the matte output only, constant Resize sizes:
                               the graph every other step starts from (runs like the original)
  instrument FLOAT OUT         FLOAT with every activation a quantised model would hold as an
                               extra output, for `cutout calibrate`
  ranges STATS OUT --method M  activation ranges from calibrate's histograms: minmax,
                               percentile:P (e.g. 99.99) or entropy (KL divergence, TensorRT's rule)
  quantize IN RANGES OUT       IN (the pinned model or FLOAT) -> the QDQ model, deterministic
  fused OPTIMIZED FLOAT        what ONNX Runtime fused: the share of Conv FLOPs in QLinearConv,
                               the Q/DQ pairs left (OPTIMIZED: a session's optimized_model_filepath)
  profile TRACE                the ten costliest nodes of an ONNX Runtime profile (JSON)

The QDQ layout follows what ONNX Runtime's QDQ transformers fuse (qdq_selector_action_transformer):
  Conv   DQ(x u8) + DQ(w s8, per channel, symmetric) + DQ(b s32, scale = s_x * s_w, zp 0) -> Conv -> Q
         -> QLinearConv. A Relu after a Conv is dropped: its Q has zero point 0, so it clamps.
  Add    -> QLinearAdd; Concat -> QLinearConcat; MaxPool and Resize keep their input's scale and
         zero point on the output, so the Q/DQ around them drop and they run on uint8.
  Every Q feeds one DQ per consumer (a DQ with several consumers does not fuse).
  Weights use 7 bits ([-64, 64], the ranges file's weight_bits): CPUs without VNNI (AVX2, e.g. AMD
  Zen 3) add u8 x s8 pairs in int16 and saturate with 8-bit weights; measured on grabcut that costs
  0.009 boundary IoU; 7 bits, exact on both, scores here what 8 bits scored on a VNNI CPU
  (docs/PERFORMANCE.md).
  The matte head (side1 Conv -> Resize -> Sigmoid) stays float: an 8-bit logit would step the alpha
  by ~0.04 near 0.5.
"""
import argparse
import hashlib
import json
import math
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OUTPUT = "output"
# Nodes that stay float whatever the ranges say (the matte head, see above).
FLOAT_HEAD = ("/side1/Conv",)


# ---------------------------------------------------------------- float graph
def _attr(node, name, default=None):
    for a in node.attribute:
        if a.name == name:
            return helper.get_attribute_value(a)
    return default


def float_graph(model):
    """fp32, Cast-free, single-output copy of the pinned ISNet with constant Resize sizes."""
    g = model.graph
    inits = {i.name: numpy_helper.to_array(i) for i in g.initializer}
    alias = {}
    for n in g.node:  # fp16 <-> fp32 casts only: the tensor is the same value
        if n.op_type == "Cast":
            alias[n.output[0]] = n.input[0]

    def real(name):
        while name in alias:
            name = alias[name]
        return name

    # The output: the tensor that the Cast to "output" read.
    out_src = real(OUTPUT)
    consts = {k: v for k, v in inits.items()}
    shapes = {g.input[0].name: [d.dim_value for d in g.input[0].type.tensor_type.shape.dim]}
    nodes = []
    for n in g.node:
        if n.op_type == "Cast":
            continue
        ins = [real(i) if i else "" for i in n.input]
        outs = [OUTPUT if o == out_src else o for o in n.output]
        op = n.op_type
        if op == "Constant":
            consts[outs[0]] = numpy_helper.to_array(_attr(n, "value"))
            continue
        if op == "Shape":
            consts[outs[0]] = np.array(shapes[ins[0]], dtype=np.int64)
            continue
        if op == "Slice" and all(i in consts for i in ins if i):
            data, starts, ends = consts[ins[0]], consts[ins[1]], consts[ins[2]]
            axes = consts[ins[3]] if len(ins) > 3 and ins[3] else np.arange(len(starts))
            steps = consts[ins[4]] if len(ins) > 4 and ins[4] else np.ones(len(starts), np.int64)
            sl = [slice(None)] * data.ndim
            for s, e, a, st in zip(starts, ends, axes, steps):
                sl[int(a)] = slice(int(s), int(min(e, 2**62)), int(st))
            consts[outs[0]] = data[tuple(sl)]
            continue
        if op == "Concat" and all(i in consts for i in ins):
            consts[outs[0]] = np.concatenate([consts[i] for i in ins], axis=_attr(n, "axis"))
            continue
        # A real operator: weights to fp32, shapes propagated.
        shp = shapes.get(ins[0])
        if op == "Conv":
            w = inits[ins[1]]
            k = w.shape[2:]
            pads = _attr(n, "pads", [0, 0, 0, 0])
            strides = _attr(n, "strides", [1, 1])
            dil = _attr(n, "dilations", [1, 1])
            sp = [(shp[2 + i] + pads[i] + pads[i + 2] - dil[i] * (k[i] - 1) - 1) // strides[i] + 1 for i in range(2)]
            shapes[outs[0]] = [shp[0], w.shape[0]] + sp
        elif op == "MaxPool":
            k = _attr(n, "kernel_shape")
            s = _attr(n, "strides", [1, 1])
            pads = _attr(n, "pads", [0, 0, 0, 0])
            rnd = math.ceil if _attr(n, "ceil_mode", 0) else math.floor
            sp = [int(rnd((shp[2 + i] + pads[i] + pads[i + 2] - k[i]) / s[i])) + 1 for i in range(2)]
            shapes[outs[0]] = shp[:2] + sp
        elif op == "Resize":
            sizes = consts[ins[3]].astype(np.int64)
            shapes[outs[0]] = [int(v) for v in sizes]
            name = outs[0] + "_sizes"
            consts[name] = sizes
            ins = [ins[0], "", "", name]
        elif op == "Concat":
            axis = _attr(n, "axis")
            shp = list(shapes[ins[0]])
            shp[axis] = sum(shapes[i][axis] for i in ins)
            shapes[outs[0]] = shp
        elif op in ("Relu", "Sigmoid", "Add"):
            shapes[outs[0]] = list(shp)
        else:
            raise SystemExit(f"isnet_qdq: unexpected operator {op} ({n.name})")
        nodes.append(helper.make_node(op, ins, outs, name=n.name, **{a.name: helper.get_attribute_value(a) for a in n.attribute}))

    # Keep what the output needs.
    producer = {o: n for n in nodes for o in n.output}
    needed, stack = set(), [OUTPUT]
    while stack:
        t = stack.pop()
        n = producer.get(t)
        if n is None or id(n) in needed:
            continue
        needed.add(id(n))
        stack.extend(i for i in n.input if i)
    nodes = [n for n in nodes if id(n) in needed]
    used = {i for n in nodes for i in n.input if i}
    initializers = []
    for name in sorted(used):
        if name in consts:
            v = consts[name]
            if v.dtype == np.float16:
                v = v.astype(np.float32)
            initializers.append(numpy_helper.from_array(v, name))
    inp = g.input[0]
    graph = helper.make_graph(nodes, "isnet-float", [inp],
                              [helper.make_tensor_value_info(OUTPUT, TensorProto.FLOAT, shapes[OUTPUT])],
                              initializers)
    for t, s in shapes.items():
        if t in used and t != inp.name:
            graph.value_info.append(helper.make_tensor_value_info(t, TensorProto.FLOAT, s))
    out = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 15)], producer_name="cutout isnet_qdq")
    out.ir_version = 8
    return out


def load_float(path):
    m = onnx.load(path)
    return m if m.producer_name == "cutout isnet_qdq" else float_graph(m)


# ---------------------------------------------------------------- which tensors get quantised
def fold_relus(nodes):
    """Conv -> Relu (the Conv's only consumer) becomes one Conv writing the Relu's output."""
    consumers = {}
    for n in nodes:
        for i in n.input:
            consumers.setdefault(i, []).append(n)
    drop, rename = set(), {}
    for n in nodes:
        if n.op_type != "Relu":
            continue
        src = n.input[0]
        users = consumers.get(src, [])
        prod = next((p for p in nodes if src in p.output), None)
        if prod is not None and prod.op_type == "Conv" and len(users) == 1:
            rename[src] = n.output[0]
            drop.add(id(n))
    out = []
    for n in nodes:
        if id(n) in drop:
            continue
        n2 = onnx.NodeProto()
        n2.CopyFrom(n)
        for k, o in enumerate(n2.output):
            if o in rename:
                n2.output[k] = rename[o]
        out.append(n2)
    relu_outputs = set(rename.values())
    return out, relu_outputs


QUANT_OPS = {"Conv", "MaxPool", "Resize", "Concat", "Add"}


def with_head(nodes, float_nodes):
    """float_nodes plus the matte head: FLOAT_HEAD and everything downstream of it."""
    out = set(float_nodes) | set(FLOAT_HEAD)
    float_tensors = {o for n in nodes if n.name in FLOAT_HEAD for o in n.output}
    for n in nodes:
        if any(i in float_tensors for i in n.input):
            out.add(n.name)
            float_tensors.update(n.output)
    return out


def quantised_tensors(nodes, float_nodes):
    """Activation tensors a QDQ model holds as uint8: inputs and outputs of the quantised ops."""
    ts = []
    seen = set()
    float_outputs = {o for n in nodes if n.name in float_nodes for o in n.output}

    def add(t):
        if t and t not in seen:
            seen.add(t)
            ts.append(t)

    for n in nodes:
        if n.op_type not in QUANT_OPS:
            continue
        if n.name in float_nodes:
            if n.input[0] not in float_outputs:
                add(n.input[0])  # a float node after a quantised one reads a DQ'd input
            continue
        for i in n.input[:1] if n.op_type in ("Conv", "MaxPool", "Resize") else n.input:
            add(i)
        add(n.output[0])
    return ts


# ---------------------------------------------------------------- instrument
def instrument(fm):
    folded, _ = fold_relus(list(fm.graph.node))  # for the names: a folded Conv writes its Relu's output
    ts = quantised_tensors(folded, with_head(folded, ()))
    g = helper.make_graph(list(fm.graph.node), "isnet-instrumented", list(fm.graph.input),
                          list(fm.graph.output) + [helper.make_tensor_value_info(t, TensorProto.FLOAT, None) for t in ts],
                          list(fm.graph.initializer))
    m = helper.make_model(g, opset_imports=list(fm.opset_import), producer_name="cutout isnet_qdq instrument")
    m.ir_version = fm.ir_version
    return m


# ---------------------------------------------------------------- ranges
def _kl_threshold(hist, edges, levels=128):
    """TensorRT's entropy calibration on a histogram of |x| starting at 0: the clip value whose
    quantisation to `levels` bins loses the least information (KL divergence)."""
    hist = hist.astype(np.float64)
    n = len(hist)
    best, best_i = np.inf, n
    for i in range(levels, n + 1, max(1, n // 512)):
        ref = hist[:i].copy()
        ref[i - 1] += hist[i:].sum()
        if ref.sum() == 0:
            continue
        # Merge i bins into `levels`, then spread each back over its non-empty bins.
        chunks = np.array_split(np.arange(i), levels)
        q = np.zeros(i)
        src = hist[:i]
        for c in chunks:
            nz = src[c] > 0
            if nz.any():
                q[c[nz]] = src[c].sum() / nz.sum()
        p = ref / ref.sum()
        qs = q.sum()
        if qs == 0:
            continue
        q = q / qs
        mask = p > 0
        kl = np.sum(p[mask] * np.log(p[mask] / np.maximum(q[mask], 1e-12)))
        if kl < best:
            best, best_i = kl, i
    return edges[best_i]


def tensor_range(st, method):
    lo, hi = st["min"], st["max"]
    hist = np.array(st["hist"], dtype=np.float64)
    if method == "minmax" or hi <= lo or hist.sum() == 0:
        return lo, hi
    edges = np.linspace(lo, hi, len(hist) + 1)
    if method.startswith("percentile:"):
        p = float(method.split(":", 1)[1]) / 100.0
        cdf = np.cumsum(hist) / hist.sum()
        top = edges[1 + int(np.searchsorted(cdf, p))] if p < 1 else hi
        bottom = edges[int(np.searchsorted(cdf, 1 - p))] if lo < 0 else lo
        return float(min(bottom, 0.0) if lo < 0 else lo), float(min(top, hi))
    if method == "entropy":
        # KL on |x|: fold the histogram at 0 (ReLU outputs are all on one side already).
        amax = max(abs(lo), abs(hi))
        bins = len(hist)
        centres = (edges[:-1] + edges[1:]) / 2
        folded, fedges = np.histogram(np.abs(centres), bins=bins, range=(0, amax), weights=hist)
        # uint8 activations: 256 levels on a one-sided (ReLU) range, 128 a side on a signed one.
        t = float(_kl_threshold(folded, fedges, 256 if lo >= 0 else 128))
        return (max(lo, -t) if lo < 0 else lo), min(hi, t)
    raise SystemExit(f"isnet_qdq: unknown method {method}")


def ranges_from_stats(stats, method):
    return {t: [float(v) for v in tensor_range(st, method)] for t, st in stats["tensors"].items()}


# ---------------------------------------------------------------- quantize
def _qparams(lo, hi):
    lo, hi = min(lo, 0.0), max(hi, 0.0)
    if hi - lo < 1e-12:
        hi = lo + 1e-6
    scale = np.float32((hi - lo) / 255.0)
    zp = int(np.clip(np.round(-lo / float(scale)), 0, 255))
    return scale, np.uint8(zp)


def quantize(fm, ranges, float_nodes=(), float_resize=False, weight_bits=8):
    """float_resize: DQ -> float Resize -> Q instead of a uint8 Resize (ONNX Runtime keeps that
    pair, so it costs a conversion each way; measured only to compare).
    weight_bits 7 (weights in [-64, 64]): on x86 without VNNI, MLAS's u8 x s8 kernel (vpmaddubsw)
    adds two products in int16 and saturates above 32767; 255 * 64 * 2 = 32640 cannot. VNNI
    accumulates in int32 and gives the same result, so a 7-bit model is exact on both."""
    wmax = {8: 127.0, 7: 64.0}[weight_bits]
    nodes, _ = fold_relus(list(fm.graph.node))
    float_nodes = with_head(nodes, float_nodes)
    inits = {i.name: numpy_helper.to_array(i) for i in fm.graph.initializer}
    ts = quantised_tensors(nodes, float_nodes)
    producer = {o: n for n in nodes for o in n.output}
    params = {}
    for t in ts:  # topological: nodes are in order, tensors were added in node order
        p = producer.get(t)
        if p is not None and p.op_type in ("MaxPool", "Resize") and p.name not in float_nodes:
            params[t] = params[p.input[0]]  # equal in and out: the Q/DQ pair drops
            continue
        if t not in ranges:
            raise SystemExit(f"isnet_qdq: no range for {t}")
        params[t] = _qparams(*ranges[t])

    new_inits, new_nodes = [], []

    def const(name, arr):
        new_inits.append(numpy_helper.from_array(arr, name))
        return name

    def per_channel(base, q, scale, zp_type):
        """Constants base_q / base_scale / base_zp (zero) and their DQ along axis 0 -> base."""
        const(base + "_q", q)
        const(base + "_scale", scale)
        const(base + "_zp", np.zeros(q.shape[0], zp_type))
        new_nodes.append(helper.make_node("DequantizeLinear", [base + "_q", base + "_scale", base + "_zp"], [base],
                                          name=base + "_DQ", axis=0))
        return base

    qname = {}
    for t in ts:
        s, z = params[t]
        const(t + "_scale", np.array(s, dtype=np.float32))
        const(t + "_zp", np.array(z, dtype=np.uint8))
        qname[t] = t + "_q"
    dq_count = {}

    def dq(t):
        k = dq_count.get(t, 0)
        dq_count[t] = k + 1
        out = f"{t}_dq{k}"
        new_nodes.append(helper.make_node("DequantizeLinear", [qname[t], t + "_scale", t + "_zp"], [out], name=out))
        return out

    def q_after(t, src):
        new_nodes.append(helper.make_node("QuantizeLinear", [src, t + "_scale", t + "_zp"], [qname[t]], name=t + "_Q"))

    graph_in = fm.graph.input[0].name
    if graph_in in params:
        q_after(graph_in, graph_in)
    used_inits = set()
    for n in nodes:
        quant = n.op_type in QUANT_OPS and n.name not in float_nodes
        if quant and n.op_type == "Resize" and not float_resize:
            # uint8 in, uint8 out, same scale and zero point: ONNX Runtime 1.29 no longer drops the
            # Q/DQ around a linear Resize (it rounds differently from float; PR 28414), so the
            # graph says it directly. The rounding differs from DQ -> Resize -> Q by < 1 step.
            attrs = {a.name: helper.get_attribute_value(a) for a in n.attribute}
            new_nodes.append(helper.make_node("Resize", [qname[n.input[0]]] + list(n.input[1:]),
                                              [qname[n.output[0]]], name=n.name, **attrs))
            used_inits.update(i for i in n.input if i in inits)
            continue
        ins = list(n.input)
        if n.op_type in QUANT_OPS or any(i in qname for i in ins):
            ins = [dq(i) if i in qname else i for i in ins]
        if n.op_type == "Conv" and quant:
            w = inits[n.input[1]].astype(np.float32)
            amax = np.abs(w.reshape(w.shape[0], -1)).max(axis=1)
            ws = np.where(amax > 0, amax / wmax, 1.0).astype(np.float32)
            wq = np.clip(np.round(w / ws.reshape(-1, 1, 1, 1)), -wmax, wmax).astype(np.int8)
            ins[1] = per_channel(n.name + "_w", wq, ws, np.int8)
            if len(n.input) > 2 and n.input[2]:
                xs = params[n.input[0]][0]
                bs = (np.float32(xs) * ws).astype(np.float32)
                b = inits[n.input[2]].astype(np.float64)
                bq = np.clip(np.round(b / bs.astype(np.float64)), -2**31, 2**31 - 1).astype(np.int32)
                ins[2] = per_channel(n.name + "_b", bq, bs, np.int32)
        else:
            used_inits.update(i for i in n.input if i in inits)
        outs = list(n.output)
        if quant:
            outs = [o + "_f" for o in outs]
        attrs = {a.name: helper.get_attribute_value(a) for a in n.attribute}
        new_nodes.append(helper.make_node(n.op_type, ins, outs, name=n.name, **attrs))
        if quant:
            q_after(n.output[0], outs[0])
    for name in sorted(used_inits):
        new_inits.append(numpy_helper.from_array(inits[name], name))
    graph = helper.make_graph(new_nodes, "isnet-qdq", list(fm.graph.input), list(fm.graph.output), new_inits)
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 15)], producer_name="cutout isnet_qdq qdq")
    m.ir_version = 8
    return m


# ---------------------------------------------------------------- reports
def conv_flops(fm):
    """Conv node name -> multiply-adds x 2, from the float graph's shapes."""
    shapes = {v.name: [d.dim_value for d in v.type.tensor_type.shape.dim] for v in fm.graph.value_info}
    shapes[OUTPUT] = [d.dim_value for d in fm.graph.output[0].type.tensor_type.shape.dim]
    inits = {i.name: i.dims for i in fm.graph.initializer}
    nodes, _ = fold_relus(list(fm.graph.node))
    relu_of = {}
    for n in fm.graph.node:
        if n.op_type == "Relu":
            relu_of[n.input[0]] = n.output[0]
    out = {}
    for n in nodes:
        if n.op_type != "Conv":
            continue
        w = inits[n.input[1]]
        o = n.output[0]
        shp = shapes.get(o) or [d for d in shapes.get(relu_of.get(o, o), [])]
        if not shp:
            shp = shapes[[k for k, v in relu_of.items() if v == o][0]]
        out[n.name] = 2 * shp[2] * shp[3] * w[0] * w[1] * w[2] * w[3]
    return out


def fused_report(opt_path, fm):
    opt = onnx.load(opt_path, load_external_data=False)
    flops = conv_flops(fm)
    total = sum(flops.values())
    ops = {}
    for n in opt.graph.node:
        ops[(n.domain or "ai.onnx") + ":" + n.op_type] = ops.get((n.domain or "ai.onnx") + ":" + n.op_type, 0) + 1
    qconv = 0
    qconv_names = set()
    for n in opt.graph.node:
        if n.op_type == "QLinearConv":
            for i in n.input:
                if i.endswith("_w_q"):
                    qconv_names.add(i[: -len("_w_q")])
    for name in qconv_names:
        qconv += flops.get(name, 0)
    float_convs = [name for name in flops if name not in qconv_names]
    left_q = [n.name for n in opt.graph.node if n.op_type == "QuantizeLinear"]
    left_dq = [n.name for n in opt.graph.node if n.op_type == "DequantizeLinear"]
    return {
        "conv_gflop_total": total / 1e9,
        "conv_gflop_qlinear": qconv / 1e9,
        "qlinear_share": qconv / total if total else 0,
        "convs": len(flops),
        "qlinear_convs": len(qconv_names),
        "float_convs": {k: flops[k] / 1e9 for k in float_convs},
        "quantize_linear_left": left_q,
        "dequantize_linear_left": left_dq,
        "op_counts": dict(sorted(ops.items())),
    }


def profile_report(trace_path, top=10):
    events = json.load(open(trace_path))
    by_node = {}
    runs = set()
    for e in events:
        if e.get("cat") != "Node" or not e.get("name", "").endswith("_kernel_time"):
            continue
        name = e["name"][: -len("_kernel_time")]
        args = e.get("args", {})
        d = by_node.setdefault(name, {"op": args.get("op_name", ""), "us": 0, "calls": 0})
        d["us"] += e.get("dur", 0)
        d["calls"] += 1
    total = sum(d["us"] for d in by_node.values())
    rows = sorted(by_node.items(), key=lambda kv: -kv[1]["us"])[:top]
    by_op = {}
    for d in by_node.values():
        by_op[d["op"]] = by_op.get(d["op"], 0) + d["us"]
    return {
        "total_ms": total / 1000,
        "top": [{"node": k, "op": v["op"], "ms": v["us"] / 1000, "share": v["us"] / total if total else 0, "calls": v["calls"]} for k, v in rows],
        "by_op_ms": {k: v / 1000 for k, v in sorted(by_op.items(), key=lambda kv: -kv[1])},
    }


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("float")
    p.add_argument("input")
    p.add_argument("output")
    p = sub.add_parser("instrument")
    p.add_argument("input")
    p.add_argument("output")
    p = sub.add_parser("ranges")
    p.add_argument("stats")
    p.add_argument("output")
    p.add_argument("--method", required=True)
    p.add_argument("--weight-bits", type=int, choices=(7, 8), default=7, help="recorded for quantize")
    p = sub.add_parser("quantize")
    p.add_argument("input")
    p.add_argument("ranges")
    p.add_argument("output")
    p.add_argument("--float-nodes", default="", help="comma-separated Conv names to keep in float")
    p.add_argument("--float-resize", action="store_true", help="DQ -> float Resize -> Q (for comparison)")
    p.add_argument("--weight-bits", type=int, choices=(7, 8), help="default: the ranges file's, else 8")
    p = sub.add_parser("fused")
    p.add_argument("optimized")
    p.add_argument("input", help="the pinned model or its float graph (for the Conv FLOPs)")
    p = sub.add_parser("profile")
    p.add_argument("trace")
    p.add_argument("--top", type=int, default=10)
    a = ap.parse_args()

    if a.cmd == "float":
        onnx.save(load_float(a.input), a.output)
    elif a.cmd == "instrument":
        onnx.save(instrument(load_float(a.input)), a.output)
    elif a.cmd == "ranges":
        stats = json.load(open(a.stats))
        r = ranges_from_stats(stats, a.method)
        doc = {"method": a.method, "calibration": stats.get("images", []), "ranges": dict(sorted(r.items())),
               "weight_bits": a.weight_bits}
        with open(a.output, "w") as f:
            json.dump(doc, f, indent=1, sort_keys=True)
            f.write("\n")
    elif a.cmd == "quantize":
        doc = json.load(open(a.ranges))
        extra = [s for s in a.float_nodes.split(",") if s] or doc.get("float_nodes", [])
        bits = a.weight_bits or doc.get("weight_bits", 8)
        m = quantize(load_float(a.input), doc["ranges"], extra, a.float_resize, bits)
        onnx.save(m, a.output)
        print(f"{a.output}: {sha256(a.output)}")
    elif a.cmd == "fused":
        print(json.dumps(fused_report(a.optimized, load_float(a.input)), indent=1))
    elif a.cmd == "profile":
        print(json.dumps(profile_report(a.trace, a.top), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
