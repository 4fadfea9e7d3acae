#!/usr/bin/env python3
"""Prints the QDQ structure of an ONNX file (any QDQ model, not only DenseNet).

    model/dump_qdq.py FILE [--nodes [N]] [--tensor NAME]

What a reader that strips QDQ into per-edge quantization needs to know:

1. header: opset, IR, graph inputs/outputs with dtypes, node counts,
   initializer bytes per dtype, where the constant DequantizeLinear nodes sit
   in the node order;
2. patterns: every float op (neither QuantizeLinear nor DequantizeLinear) as
   a signature with the names left out (op and attributes; per input: an
   activation through a Q->DQ pair, a quantized constant through a lone DQ, a
   float constant or a float tensor; the output: into a QuantizeLinear, float
   into another op, or a graph output), grouped and counted, with the first
   node of each group;
3. scales and zero points: per-channel axes, weight zero points and value
   ranges, activation zero points, Q/DQ pairs sharing parameters, the int32
   biases' scale against input_scale x weight_scale, Concat output scales
   against their inputs', ops whose output reuses their input's parameters;
4. with --nodes: every float op in file order, one line each (the first N).
"""
import argparse
import collections
import os

import numpy as np
import onnx
from onnx import helper, numpy_helper

QDQ = ("QuantizeLinear", "DequantizeLinear")
DTYPE = {onnx.TensorProto.FLOAT: "f32", onnx.TensorProto.UINT8: "u8", onnx.TensorProto.INT8: "i8",
         onnx.TensorProto.INT32: "i32", onnx.TensorProto.INT64: "i64", onnx.TensorProto.FLOAT16: "f16",
         onnx.TensorProto.UINT16: "u16", onnx.TensorProto.INT16: "i16"}
SHOWN_ATTRS = ("kernel_shape", "strides", "pads", "group", "axis", "transB", "transA", "ceil_mode", "epsilon")


class Graph:
    def __init__(self, model):
        self.model = model
        g = model.graph
        self.g = g
        self.init = {i.name: i for i in g.initializer}
        self.arrays = {}
        self.producer = {o: n for n in g.node for o in n.output}
        self.consumers = collections.defaultdict(list)
        for n in g.node:
            for i in n.input:
                if i:
                    self.consumers[i].append(n)
        self.outputs = {o.name for o in g.output}
        self.inputs = {i.name for i in g.input if i.name not in self.init}

    def array(self, name):
        if name not in self.arrays:
            self.arrays[name] = numpy_helper.to_array(self.init[name])
        return self.arrays[name]

    def qparams(self, qdq):
        """(scale array, zero-point array or None, axis) of a Q or DQ node."""
        scale = self.array(qdq.input[1])
        zp = self.array(qdq.input[2]) if len(qdq.input) > 2 and qdq.input[2] else None
        axis = next((a.i for a in qdq.attribute if a.name == "axis"), 1)
        return scale, zp, axis

    def is_const_dq(self, n):
        return n.op_type == "DequantizeLinear" and n.input[0] in self.init

    # --- what a float op's input and output are ----------------------------
    def describe_input(self, name):
        """(kind, detail dict): 'act' (Q->DQ), 'qconst' (lone DQ of an initializer),
        'fconst' (float initializer), 'float' (float activation), 'graph' (graph input)."""
        if name in self.init:
            a = self.array(name)
            return "fconst", {"dtype": str(a.dtype), "shape": list(a.shape)}
        p = self.producer.get(name)
        if p is None:
            return "graph", {}
        if p.op_type == "DequantizeLinear":
            scale, zp, axis = self.qparams(p)
            if self.is_const_dq(p):
                q = self.array(p.input[0])
                return "qconst", {"dtype": DTYPE.get(onnx.helper.np_dtype_to_tensor_dtype(q.dtype), str(q.dtype)),
                                  "shape": list(q.shape), "per_channel": scale.size > 1, "axis": axis,
                                  "zp0": zp is None or not zp.any(), "min": int(q.min()), "max": int(q.max()),
                                  "dq": p}
            q = self.producer.get(p.input[0])
            zp_dtype = DTYPE.get(onnx.helper.np_dtype_to_tensor_dtype(zp.dtype), str(zp.dtype)) if zp is not None else "?"
            return "act", {"dtype": zp_dtype, "zp": int(zp.flat[0]) if zp is not None else 0,
                           "scale": float(scale.flat[0]), "per_channel": scale.size > 1, "dq": p, "q": q,
                           "from": self.producer.get(q.input[0]).op_type if q is not None and q.op_type == "QuantizeLinear"
                           and self.producer.get(q.input[0]) is not None else
                           ("graph input" if q is not None and q.input[0] in self.inputs else "?")}
        return "float", {"from": p.op_type}

    def describe_output(self, name):
        cons = self.consumers.get(name, [])
        kinds = []
        if name in self.outputs:
            kinds.append(("graph output", {}))
        for c in cons:
            if c.op_type == "QuantizeLinear":
                scale, zp, _ = self.qparams(c)
                kinds.append(("Q", {"dtype": DTYPE.get(onnx.helper.np_dtype_to_tensor_dtype(zp.dtype), "?"),
                                    "zp": int(zp.flat[0]), "scale": float(scale.flat[0]), "q": c}))
            else:
                kinds.append(("float", {"to": c.op_type}))
        return kinds


def attrs(n):
    out = []
    for a in n.attribute:
        if a.name in SHOWN_ATTRS:
            v = helper.get_attribute_value(a)
            if a.name == "kernel_shape":
                out.append("k" + "x".join(map(str, v)))
            elif a.name == "strides":
                out.append("s" + "x".join(map(str, v)))
            elif a.name == "pads":
                out.append("p" + ",".join(map(str, v)))
            elif a.name == "epsilon":
                out.append(f"eps={v:.0e}")
            else:
                out.append(f"{a.name}={v}")
    return " ".join(out)


def input_sig(kind, d, role):
    if kind == "act":
        zp = "zp=0" if d["zp"] == 0 else "zp!=0"
        return f"{role}=DQ({d['dtype']},{zp})<-Q<-{d['from']}"
    if kind == "qconst":
        pc = f"per-channel axis={d['axis']}" if d["per_channel"] else "per-tensor"
        return f"{role}=DQ(const {d['dtype']} {pc}{', zp=0' if d['zp0'] else ', zp!=0'})"
    if kind == "fconst":
        return f"{role}=f32 const"
    if kind == "graph":
        return f"{role}=graph input f32"
    return f"{role}=f32<-{d['from']}"


def output_sig(kinds):
    parts = []
    for k, d in kinds:
        if k == "Q":
            parts.append(f"Q({d['dtype']},{'zp=0' if d['zp'] == 0 else 'zp!=0'})")
        elif k == "float":
            parts.append(f"f32->{d['to']}")
        else:
            parts.append("graph output f32")
    return " + ".join(sorted(set(parts))) or "(unused)"


ROLES = {"Conv": ("x", "w", "b"), "Gemm": ("x", "w", "b"),
         "BatchNormalization": ("x", "scale", "bias", "mean", "var")}


def signature(G, n):
    roles = ROLES.get(n.op_type, ())
    ins = []
    for i, name in enumerate(n.input):
        if not name:
            continue
        role = roles[i] if i < len(roles) else f"in{i}" if n.op_type != "Concat" else "in"
        ins.append(input_sig(*G.describe_input(name), role))
    if n.op_type == "Concat":
        # Concat: inputs collapsed (their count varies).
        ins = [f"{len(n.input)} x {s}" for s in sorted(set(ins))] if len(set(ins)) == 1 else \
            [f"{c} x {s}" for s, c in sorted(collections.Counter(ins).items())]
    a = attrs(n)
    return f"{n.op_type}{' [' + a + ']' if a else ''}({'; '.join(ins)}) -> {output_sig(G.describe_output(n.output[0]))}"


def header(G, path):
    m, g = G.model, G.g
    print(f"{path}: {os.path.getsize(path)} bytes, IR {m.ir_version}, opsets "
          + ", ".join(f"{o.domain or 'ai.onnx'} {o.version}" for o in m.opset_import))
    for v, what in ((g.input, "input"), (g.output, "output")):
        for t in v:
            if t.name in G.init:
                continue
            tt = t.type.tensor_type
            dims = [d.dim_param or d.dim_value for d in tt.shape.dim]
            print(f"  graph {what} {t.name}: {DTYPE.get(tt.elem_type, tt.elem_type)} {dims}")
    counts = collections.Counter(n.op_type for n in g.node)
    print(f"  {len(g.node)} nodes: " + ", ".join(f"{k} {v}" for k, v in counts.most_common()))
    by = collections.Counter()
    for i in g.initializer:
        by[DTYPE.get(i.data_type, i.data_type)] += G.array(i.name).nbytes
    print("  initializers: " + ", ".join(f"{k} {v / 1e6:.2f} MB" for k, v in by.most_common()))
    const_dq = [i for i, n in enumerate(g.node) if G.is_const_dq(n)]
    first_other = next((i for i, n in enumerate(g.node) if not G.is_const_dq(n)), len(g.node))
    print(f"  {len(const_dq)} DequantizeLinear of initializers (weights, biases); the first {first_other} nodes "
          f"of the file are such DQs{' (all of them: sorted first)' if first_other == len(const_dq) else ''}")
    acts_q = [n for n in g.node if n.op_type == "QuantizeLinear"]
    acts_dq = [n for n in g.node if n.op_type == "DequantizeLinear" and not G.is_const_dq(n)]
    print(f"  {len(acts_q)} QuantizeLinear, {len(acts_dq)} DequantizeLinear of activations")


def patterns(G):
    groups = collections.OrderedDict()
    for n in G.g.node:
        if n.op_type in QDQ:
            continue
        s = signature(G, n)
        groups.setdefault(s, []).append(n.name or n.output[0])
    print(f"\nPatterns ({len(groups)}): count, signature, first node")
    for s, names in groups.items():
        print(f"  {len(names):4d}  {s}\n        e.g. {names[0]}")


def params(G):
    g = G.g
    print("\nScales and zero points")
    # Weights and biases (constant DQs).
    w = collections.Counter()
    for n in g.node:
        if not G.is_const_dq(n):
            continue
        q = G.array(n.input[0])
        scale, zp, axis = G.qparams(n)
        users = ", ".join(sorted({f"{c.op_type}.{['x', 'w', 'b'][list(c.input).index(n.output[0])]}"
                                   if c.op_type in ("Conv", "Gemm") else c.op_type for c in G.consumers[n.output[0]]}))
        key = (users, str(q.dtype), "per-channel" if scale.size > 1 else "per-tensor",
               axis if scale.size > 1 else "-", "zp all 0" if zp is None or not zp.any() else "zp != 0")
        w[key + (int(q.min()), int(q.max()))] += 1
    merged = {}
    for (users, dt, pc, axis, zp, lo, hi), c in w.items():
        k = (users, dt, pc, axis, zp)
        plo, phi, pc_ = merged.get(k, (lo, hi, 0))
        merged[k] = (min(plo, lo), max(phi, hi), pc_ + c)
    for (users, dt, pc, axis, zp), (lo, hi, c) in merged.items():
        print(f"  constants for {users}: {c} x {dt}, {pc}" + (f" axis {axis}" if pc == "per-channel" else "")
              + f", {zp}, values in [{lo}, {hi}]")

    # Activations: zero points, sharing.
    qs = [n for n in g.node if n.op_type == "QuantizeLinear"]
    zps = collections.Counter()
    for q in qs:
        scale, zp, _ = G.qparams(q)
        src = G.producer.get(q.input[0])
        zps[(src.op_type if src else "graph input", int(zp.flat[0]) == 0, str(zp.dtype))] += 1
    for (op, z0, dt), c in sorted(zps.items()):
        print(f"  QuantizeLinear after {op}: {c} x {dt}, zero point {'0' if z0 else '!= 0'}")
    pairs = collections.Counter()
    for q in qs:
        cons = G.consumers[q.output[0]]
        ok = all(c.op_type == "DequantizeLinear" and c.input[1:] == q.input[1:] for c in cons)
        pairs[(len(cons), ok)] += 1
    for (k, ok), c in pairs.items():
        print(f"  {c} QuantizeLinear feed {k} DequantizeLinear each, {'with the same scale/zp tensors' if ok else 'OTHER PARAMETERS'}")
    dq_fan = collections.Counter(len(G.consumers[n.output[0]]) for n in g.node
                                 if n.op_type == "DequantizeLinear" and not G.is_const_dq(n))
    print("  activation DequantizeLinear fan-out (consumers: count): "
          + ", ".join(f"{k}: {v}" for k, v in sorted(dq_fan.items())))

    # Ops whose output Q reuses the input's scale/zp tensors.
    same = collections.Counter()
    for n in g.node:
        if n.op_type in QDQ:
            continue
        ki, di = G.describe_input(n.input[0])
        outs = [d for k, d in G.describe_output(n.output[0]) if k == "Q"]
        if ki == "act" and outs:
            same[(n.op_type, outs[0]["q"].input[1] == di["dq"].input[1])] += 1
    for (op, s), c in sorted(same.items()):
        print(f"  {op}: its output's Q {'reuses the scale/zp tensors of its input' if s else 'has its own scale/zp'}: {c}")

    # Bias scales.
    bad, total = 0, 0
    for n in g.node:
        if n.op_type not in ("Conv", "Gemm") or len(n.input) < 3:
            continue
        kb, db = G.describe_input(n.input[2])
        kx, dx = G.describe_input(n.input[0])
        kw, dw = G.describe_input(n.input[1])
        if kb != "qconst" or kx != "act" or kw != "qconst":
            continue
        total += 1
        sb = G.qparams(db["dq"])[0]
        sw = G.qparams(dw["dq"])[0]
        if not np.allclose(sb, dx["scale"] * sw, rtol=1e-6, atol=0):
            bad += 1
    if total:
        print(f"  int32 biases: {total}, scale == input scale x weight scale (per channel): "
              f"{'all' if bad == 0 else f'{total - bad} (others differ)'}")

    # Concat: output scale vs inputs' scales.
    wid = collections.Counter()
    for n in g.node:
        if n.op_type != "Concat":
            continue
        ins = [G.describe_input(i) for i in n.input]
        outs = [d for k, d in G.describe_output(n.output[0]) if k == "Q"]
        if not outs or any(k != "act" for k, _ in ins):
            continue
        so = outs[0]["scale"]
        smax = max(d["scale"] for _, d in ins)
        eq = sum(1 for _, d in ins if d["q"].input[1] == outs[0]["q"].input[1])
        wid[("== max input scale" if np.isclose(so, smax, rtol=1e-6) else
             ">= max input scale" if so >= smax else "< max input scale", eq > 0)] += 1
    for (rel, shared), c in sorted(wid.items()):
        print(f"  Concat output scale {rel}: {c}" + (" (shares the Q parameter tensors of an input)" if shared else
                                                      " (own Q parameter tensors)"))

    ranges = [(G.qparams(q)[0].item(), int(G.qparams(q)[1].item())) for q in qs]
    sc = np.array([s for s, _ in ranges])
    print(f"  activation scales: min {sc.min():.3g}, median {np.median(sc):.3g}, max {sc.max():.3g}")


def nodes(G, limit):
    print("\nFloat ops in file order")
    k = 0
    for n in G.g.node:
        if n.op_type in QDQ:
            continue
        parts = []
        for name in n.input:
            if not name:
                continue
            kind, d = G.describe_input(name)
            if kind == "act":
                parts.append(f"{d['dtype']}(s={d['scale']:.4g},zp={d['zp']})")
            elif kind == "qconst":
                parts.append(f"{d['dtype']}{d['shape']}" + (f"/ch{d['axis']}" if d["per_channel"] else ""))
            elif kind == "fconst":
                parts.append(f"f32const{d['shape']}")
            else:
                parts.append("f32")
        outs = []
        for kd, d in G.describe_output(n.output[0]):
            outs.append(f"Q {d['dtype']}(s={d['scale']:.4g},zp={d['zp']})" if kd == "Q" else
                        f"f32->{d['to']}" if kd == "float" else "graph output")
        print(f"  {n.name or n.output[0]}: {n.op_type}({', '.join(parts)}) -> {', '.join(outs)}")
        k += 1
        if limit and k >= limit:
            break


def tensor(G, name):
    for n in G.g.node:
        if n.op_type in QDQ and (n.input[0] == name or n.output[0] == name or n.name == name):
            scale, zp, axis = G.qparams(n)
            print(f"{n.op_type} {n.name}: axis {axis} scale {scale} zero point {zp}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("file")
    ap.add_argument("--nodes", nargs="?", type=int, const=0, default=None, metavar="N",
                    help="also list every float op (the first N)")
    ap.add_argument("--tensor", help="print the Q/DQ parameters of the Q/DQ nodes on this tensor (or of this node)")
    args = ap.parse_args()
    G = Graph(onnx.load(args.file))
    if args.tensor:
        tensor(G, args.tensor)
        return
    header(G, args.file)
    patterns(G)
    params(G)
    if args.nodes is not None:
        nodes(G, args.nodes)


if __name__ == "__main__":
    main()
