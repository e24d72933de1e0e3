"""Reader for dlib's DNN serialization (the .dat files written by dlib::serialize(net)).

Only what dlib_face_recognition_resnet_model_v1.dat needs is implemented, following
dlib's own serialize()/deserialize() code (dlib/serialize.h, dlib/cuda/tensor.h,
dlib/dnn/core.h, dlib/dnn/layers.h, dlib/dnn/input.h, dlib/dnn/loss.h):

* signed/unsigned integers: one control byte (low nibble = number of value bytes,
  bit 0x80 = negative), then that many little-endian value bytes;
* float/double: float_details = (int64 mantissa, int16 exponent), value = mantissa * 2**exponent;
* bool: one ASCII byte '0' or '1';
* std::string: unsigned length, then the bytes;
* resizable_tensor: int version (2), four int64 dims (num_samples, k, nr, nc), then
  num_samples*k*nr*nc little-endian IEEE float32 values;
* alias_tensor: int version (1), four int64 dims (no data).

A network is written outside-in: add_loss_layer(version, loss details, subnet),
add_layer(version 2, subnet, details, state...), add_tag_layer/add_skip_layer
(version 1, subnet).  So the file starts with the loss layer, then one version int per
wrapper down to the input, then the input layer, then each layer's details and state
from the input upwards.
"""

import struct

import numpy as np


class DlibReader:
    def __init__(self, data: bytes):
        self.b = data
        self.p = 0

    def byte(self):
        v = self.b[self.p]
        self.p += 1
        return v

    def int(self):
        ctrl = self.byte()
        size = ctrl & 0x0F
        neg = bool(ctrl & 0x80)
        if size == 0 or size > 8 or (ctrl & 0x70):
            raise ValueError(f'bad integer control byte 0x{ctrl:02x} at {self.p - 1}')
        v = int.from_bytes(self.b[self.p:self.p + size], 'little')
        self.p += size
        return -v if neg else v

    def float(self):
        if self.b[self.p] & 0x70:
            raise ValueError(f'old ASCII float format at {self.p}: not supported')
        mantissa = self.int()
        exponent = self.int()
        # special exponents (see dlib/float_details.h): is_inf = 32000, is_ninf, is_nan
        if exponent >= 32000:
            return {32000: float('inf'), 32001: float('-inf')}.get(exponent, float('nan'))
        return float(mantissa) * 2.0 ** exponent

    def bool(self):
        c = self.byte()
        if c not in (ord('0'), ord('1')):
            raise ValueError(f'bad bool byte {c} at {self.p - 1}')
        return c == ord('1')

    def string(self):
        n = self.int()
        s = self.b[self.p:self.p + n].decode('ascii')
        self.p += n
        return s

    def tensor(self):
        v = self.int()
        if v != 2:
            raise ValueError(f'tensor version {v} at {self.p}')
        dims = [self.int() for _ in range(4)]
        n = int(np.prod(dims))
        arr = np.frombuffer(self.b, dtype='<f4', count=n, offset=self.p).copy()
        self.p += 4 * n
        return arr.reshape(dims)

    def alias_tensor(self):
        v = self.int()
        if v != 1:
            raise ValueError(f'alias_tensor version {v} at {self.p}')
        return [self.int() for _ in range(4)]


def _read_details(r: DlibReader):
    """Read one layer's details; returns a dict describing it (raw, as dlib stores it)."""
    start = r.p
    kind = r.string()
    d = {'dlib_type': kind, 'offset': start}
    if kind in ('con_4', 'con_5', 'con_6'):
        params = r.tensor().reshape(-1)
        d['num_filters'] = r.int()
        d['nr'] = r.int()
        d['nc'] = r.int()
        d['stride_y'] = r.int()
        d['stride_x'] = r.int()
        d['padding_y'] = r.int()
        d['padding_x'] = r.int()
        fshape = r.alias_tensor()
        bshape = r.alias_tensor()
        d['lr_mult'] = [r.float() for _ in range(4)]
        if kind in ('con_5', 'con_6'):
            d['use_bias'] = r.bool()
        if kind == 'con_6':
            d['use_relu'] = r.bool()
        nf = int(np.prod(fshape))
        nb = int(np.prod(bshape))
        if nf + nb != params.size:
            raise ValueError(f'con params size {params.size} != {nf}+{nb}')
        d['filters'] = params[:nf].reshape(fshape)  # (num_filters, k, nr, nc)
        d['biases'] = params[nf:nf + nb].reshape(-1)
    elif kind == 'bn_con2' or kind == 'bn_fc2':
        params = r.tensor().reshape(-1)
        gshape = r.alias_tensor()
        bshape = r.alias_tensor()
        d['means'] = r.tensor().reshape(-1)
        d['invstds'] = r.tensor().reshape(-1)
        d['running_means'] = r.tensor().reshape(-1)
        d['running_variances'] = r.tensor().reshape(-1)
        d['num_updates'] = r.int()
        d['running_stats_window_size'] = r.int()
        d['lr_mult'] = [r.float() for _ in range(4)]
        d['eps'] = r.float()
        ng = int(np.prod(gshape))
        d['gamma'] = params[:ng]
        d['beta'] = params[ng:ng + int(np.prod(bshape))]
    elif kind in ('affine_', 'affine_2'):
        params = r.tensor().reshape(-1)
        gshape = r.alias_tensor()
        bshape = r.alias_tensor()
        d['mode'] = r.int()
        if kind == 'affine_2':
            d['disabled'] = r.bool()
        ng = int(np.prod(gshape))
        d['gamma'] = params[:ng]
        d['beta'] = params[ng:ng + int(np.prod(bshape))]
    elif kind in ('relu_', 'relu_2'):
        if kind == 'relu_2':
            d['disabled'] = r.bool()
    elif kind in ('max_pool_2', 'avg_pool_2'):
        d['nr'] = r.int()
        d['nc'] = r.int()
        d['stride_y'] = r.int()
        d['stride_x'] = r.int()
        d['padding_y'] = r.int()
        d['padding_x'] = r.int()
    elif kind == 'add_prev_':
        pass
    elif kind in ('fc_2', 'fc_3'):
        d['num_outputs'] = r.int()
        d['num_inputs'] = r.int()
        params = r.tensor().reshape(-1)
        wshape = r.alias_tensor()
        bshape = r.alias_tensor()
        d['bias_mode'] = r.int()
        d['lr_mult'] = [r.float() for _ in range(4)]
        if kind == 'fc_3':
            d['use_bias'] = r.bool()
        nw = int(np.prod(wshape))
        d['weights'] = params[:nw].reshape(wshape[0], wshape[1])  # (num_inputs, num_outputs)
        if d['bias_mode'] == 0:  # FC_HAS_BIAS
            d['biases'] = params[nw:nw + int(np.prod(bshape))]
    else:
        raise ValueError(f'unsupported dlib layer type {kind!r} at {start}')
    return d


def parse_network(data: bytes, wrappers):
    """Parse a dlib network file.

    wrappers: the network's structure from the outermost wrapper to the innermost, as
    a list of ('layer', name) / ('tag', id) / ('skip', id) entries, with the innermost
    entry the first computational layer (which sits on the input layer).  This mirrors
    the C++ template type, which the file itself does not record.
    Returns (loss, input, layers) where layers are listed input-first.
    """
    r = DlibReader(data)
    if r.int() != 1:
        raise ValueError('add_loss_layer version')
    loss = {'dlib_type': r.string()}
    if loss['dlib_type'] == 'loss_metric_2':
        loss['margin'] = r.float()
        loss['dist_thresh'] = r.float()
    elif loss['dlib_type'] != 'loss_metric_':
        raise ValueError(loss)
    # one version int per wrapper, outermost first
    for i, (kind, _) in enumerate(wrappers):
        v = r.int()
        innermost = i == len(wrappers) - 1
        want = {'layer': (2,) if not innermost else (2, 3), 'tag': (1,), 'skip': (1,)}[kind]
        if v not in want:
            raise ValueError(f'wrapper {i} {kind}: version {v}, expected {want} at {r.p}')
        if innermost:
            inner_version = v
    inp = {'dlib_type': r.string()}
    if inp['dlib_type'] != 'input_rgb_image_sized':
        raise ValueError(inp)
    inp['avg_red'] = r.float()
    inp['avg_green'] = r.float()
    inp['avg_blue'] = r.float()
    inp['nr'] = r.int()
    inp['nc'] = r.int()
    layers = []
    for i in range(len(wrappers) - 1, -1, -1):
        kind, name = wrappers[i]
        if kind != 'layer':
            layers.append({'dlib_type': kind, 'name': name})
            continue
        d = _read_details(r)
        d['name'] = name
        # add_layer state that follows the details
        d['setup_called'] = r.bool()
        d['gradient_input_is_stale'] = r.bool()
        d['output_disabled'] = r.bool()
        d['x_grad'] = r.tensor().shape
        d['cached_output'] = r.tensor().shape
        if i == len(wrappers) - 1 and inner_version == 3:
            d['grad_final'] = r.tensor().shape
            d['sample_expansion_factor'] = r.int()
        else:
            d['params_grad'] = r.tensor().shape
        layers.append(d)
    if r.p != len(data):
        raise ValueError(f'{len(data) - r.p} trailing bytes after the network')
    return loss, inp, layers


def face_resnet_v1_wrappers():
    """The template of dlib's dnn_face_recognition_ex.cpp (anet_type), outermost first.

    ares<N>      = relu<add_prev1<affine<con<N,3,3,1,1,relu<affine<con<N,3,3,1,1,tag1<S>>>>>>>>
    ares_down<N> = relu<add_prev2<avg_pool<2,2,2,2,skip1<tag2<
                       affine<con<N,3,3,1,1,relu<affine<con<N,3,3,2,2,tag1<S>>>>>>>>>>>
    anet = loss_metric<fc_no_bias<128,avg_pool_everything<
             alevel0<alevel1<alevel2<alevel3<alevel4<
             max_pool<3,3,2,2,relu<affine<con<32,7,7,2,2,input_rgb_image_sized<150>>>>>>>>>>>>>
    alevel0 = ares_down<256>; alevel1 = ares<256,ares<256,ares_down<256>>>;
    alevel2 = ares<128,ares<128,ares_down<128>>>; alevel3 = ares<64,ares<64,ares<64,ares_down<64>>>>;
    alevel4 = ares<32,ares<32,ares<32>>>
    """
    # stages input-first: (channels, down?) per residual block
    blocks = [(32, False)] * 3 + [(64, True)] + [(64, False)] * 3 + [(128, True)] + [(128, False)] * 2 \
        + [(256, True)] + [(256, False)] * 2 + [(256, True)]
    w = [('layer', 'fc'), ('layer', 'avg_pool_everything')]
    # outermost block first
    for bi in range(len(blocks) - 1, -1, -1):
        ch, down = blocks[bi]
        p = f'res{bi}'
        if down:
            w += [('layer', f'{p}.relu_out'), ('layer', f'{p}.add'), ('layer', f'{p}.shortcut_avg_pool'),
                  ('skip', 1), ('tag', 2)]
        else:
            w += [('layer', f'{p}.relu_out'), ('layer', f'{p}.add')]
        w += [('layer', f'{p}.affine2'), ('layer', f'{p}.conv2'), ('layer', f'{p}.relu1'),
              ('layer', f'{p}.affine1'), ('layer', f'{p}.conv1'), ('tag', 1)]
    w += [('layer', 'stem.max_pool'), ('layer', 'stem.relu'), ('layer', 'stem.affine'), ('layer', 'stem.conv')]
    return w, blocks
