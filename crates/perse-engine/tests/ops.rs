//! Each op, run through the loader and graph builder on synthetic weights, against a naive
//! implementation written straight from the README's formulas. Always runs (no weights).

mod common;

use common::synth::{self, T};
use perse_engine::{build_graph, loader, Graph, Isa, Tensor};
use serde_json::{json, Value};

fn graph(tensors: &[T], layers: Value) -> Graph {
    let bytes = synth::file(tensors, &json!({"layers": layers}), false);
    build_graph(loader::parse(&bytes).unwrap()).unwrap()
}

/// Output `y` with every kernel set this CPU has; they must agree with each other too.
fn run(tensors: &[T], layers: Value, x: &Tensor, threads: usize) -> Tensor {
    let g = graph(tensors, layers);
    let outs: Vec<Tensor> = Isa::available()
        .into_iter()
        .map(|isa| {
            let mut out = g.clone().with_isa(isa).run(x.clone(), threads, false).unwrap();
            out.remove("y").expect("output y")
        })
        .collect();
    for (o, isa) in outs.iter().zip(Isa::available()) {
        assert_close(
            o,
            &outs[0],
            &format!("{} against {}", isa.name(), Isa::available()[0].name()),
        );
    }
    outs.into_iter().next().unwrap()
}

fn input(c: usize, h: usize, w: usize, seed: u32) -> Tensor {
    Tensor::from_vec(c, h, w, synth::values(c * h * w, seed)).unwrap()
}

fn assert_close(got: &Tensor, want: &Tensor, what: &str) {
    assert_eq!(got.shape(), want.shape(), "{what}: shape");
    let err = common::max_abs_diff(&got.data, &want.data);
    assert!(
        err <= 1e-4 * common::max_abs(&want.data).max(1.0),
        "{what}: max abs error {err}"
    );
}

/// ONNX Conv, straight from the definition (group 1 or depthwise).
#[allow(clippy::too_many_arguments)]
fn naive_conv(
    x: &Tensor,
    w: &[f32],
    b: &[f32],
    cout: usize,
    k: [usize; 2],
    s: [usize; 2],
    p: [usize; 4],
    dw: bool,
) -> Tensor {
    let ho = (x.h + p[0] + p[2] - k[0]) / s[0] + 1;
    let wo = (x.w + p[1] + p[3] - k[1]) / s[1] + 1;
    let cg = if dw { 1 } else { x.c };
    let mut out = Tensor::zeros(cout, ho, wo);
    for co in 0..cout {
        for oy in 0..ho {
            for ox in 0..wo {
                let mut acc = f64::from(b[co]);
                for ci in 0..cg {
                    let cx = if dw { co } else { ci };
                    for i in 0..k[0] {
                        for j in 0..k[1] {
                            let (iy, ix) = (
                                (oy * s[0] + i) as isize - p[0] as isize,
                                (ox * s[1] + j) as isize - p[1] as isize,
                            );
                            if iy >= 0 && ix >= 0 && (iy as usize) < x.h && (ix as usize) < x.w {
                                let v = x.data[(cx * x.h + iy as usize) * x.w + ix as usize];
                                acc += f64::from(v) * f64::from(w[((co * cg + ci) * k[0] + i) * k[1] + j]);
                            }
                        }
                    }
                }
                out.data[(co * ho + oy) * wo + ox] = acc as f32;
            }
        }
    }
    out
}

/// (cin, cout, h, w, kernel, stride, pads, depthwise).
type Case = (usize, usize, usize, usize, [usize; 2], [usize; 2], [usize; 4], bool);

#[test]
fn conv_paths_match_the_definition() {
    // Stem-like, dlib stem, 1x1 GEMM,
    // banded im2col (> 1M floats), asymmetric, depthwise stride 1 and 2 (narrow inputs take
    // the whole-plane kernel, inputs 64 or more wide the row kernel).
    let cases: &[Case] = &[
        (3, 8, 13, 11, [3, 3], [2, 2], [1, 1, 1, 1], false),
        (3, 4, 20, 17, [7, 7], [2, 2], [0; 4], false),
        (16, 20, 64, 64, [1, 1], [1, 1], [0; 4], false),
        (16, 20, 100, 100, [3, 3], [1, 1], [1, 1, 1, 1], false),
        (4, 6, 9, 10, [3, 2], [1, 2], [1, 0, 2, 1], false),
        (40, 40, 33, 31, [3, 3], [1, 1], [1, 1, 1, 1], true),
        (5, 5, 9, 8, [3, 3], [2, 2], [1, 1, 1, 1], true),
        (4, 4, 7, 7, [3, 3], [2, 2], [1, 1, 1, 1], true),
        (3, 3, 6, 2, [3, 3], [2, 2], [1, 1, 1, 1], true),
        (3, 3, 5, 3, [3, 3], [2, 2], [1, 1, 1, 1], true),
        (3, 3, 4, 3, [3, 3], [1, 1], [1, 1, 1, 1], true),
        (2, 2, 5, 2, [3, 3], [1, 1], [1, 1, 1, 1], true),
        // Few columns, many rows: 2 threads split the rows (row panels), not the columns.
        (64, 96, 10, 10, [1, 1], [1, 1], [0; 4], false),
        (48, 60, 5, 5, [3, 3], [1, 1], [1, 1, 1, 1], false),
        // Outputs whose taps partly read only padding (the descriptor's last block): a 1x1
        // input keeps the centre tap, a 2x2 one at stride 2 four, a 1x3 one three.
        (16, 20, 1, 1, [3, 3], [1, 1], [1, 1, 1, 1], false),
        (16, 20, 2, 2, [3, 3], [2, 2], [1, 1, 1, 1], false),
        (7, 9, 1, 3, [3, 3], [1, 1], [1, 1, 1, 1], false),
        // Depthwise on rows of 64 and more: the row kernel, not the whole-plane one.
        (3, 3, 9, 70, [3, 3], [1, 1], [1, 1, 1, 1], true),
        (3, 3, 9, 67, [3, 3], [2, 2], [1, 1, 1, 1], true),
    ];
    for (n, &(cin, cout, h, w, k, s, p, dw)) in cases.iter().enumerate() {
        let cg = if dw { 1 } else { cin };
        let wv = synth::values(cout * cg * k[0] * k[1], 100 + n as u32);
        let bv = synth::values(cout, 200 + n as u32);
        let x = input(cin, h, w, n as u32);
        let want = naive_conv(&x, &wv, &bv, cout, k, s, p, dw);
        let tensors = [
            T {
                name: "c.weight",
                shape: vec![cout, cg, k[0], k[1]],
                values: wv,
            },
            T {
                name: "c.bias",
                shape: vec![cout],
                values: bv,
            },
        ];
        let layer = synth::conv_layer("c", "input", "y", cin, cout, k, s, p, if dw { cin } else { 1 }, "none");
        for threads in [1, 2] {
            assert_close(
                &run(&tensors, json!([layer]), &x, threads),
                &want,
                &format!("case {n}, {threads} threads"),
            );
        }
        // Fused relu.
        let mut relu = layer.clone();
        relu["activation"] = json!("relu");
        let mut want_relu = want.clone();
        want_relu.data.iter_mut().for_each(|v| *v = v.max(0.0));
        assert_close(
            &run(&tensors, json!([relu]), &x, 2),
            &want_relu,
            &format!("case {n} relu"),
        );
    }
}

#[test]
fn conv_transpose_2x2_matches_the_definition() {
    let (cin, cout, h, w) = (6, 5, 7, 9);
    let wv = synth::values(cin * cout * 4, 1);
    let bv = synth::values(cout, 2);
    let x = input(cin, h, w, 3);
    let mut want = Tensor::zeros(cout, 2 * h, 2 * w);
    for co in 0..cout {
        for y in 0..2 * h {
            for xx in 0..2 * w {
                let (a, b) = (y % 2, xx % 2);
                let s: f32 = (0..cin)
                    .map(|ci| x.data[(ci * h + y / 2) * w + xx / 2] * wv[((ci * cout + co) * 2 + a) * 2 + b])
                    .sum();
                want.data[(co * 2 * h + y) * 2 * w + xx] = (s + bv[co]).max(0.0);
            }
        }
    }
    let tensors = [
        T {
            name: "t.weight",
            shape: vec![cin, cout, 2, 2],
            values: wv,
        },
        T {
            name: "t.bias",
            shape: vec![cout],
            values: bv,
        },
    ];
    let layer = json!({"op": "conv_transpose", "name": "t", "inputs": ["input"], "output": "y", "weight": "t.weight",
        "bias": "t.bias", "cin": cin, "cout": cout, "kernel": [2, 2], "stride": [2, 2], "pads": [0, 0, 0, 0], "group": 1, "activation": "relu"});
    assert_close(&run(&tensors, json!([layer]), &x, 1), &want, "conv_transpose");
}

#[test]
fn pools_add_pad_gap_and_fc_match_the_definition() {
    let x = input(2, 7, 6, 9);
    // max_pool 3x3/2 -> 2x3x2 ; avg_pool 2x2/2 -> 2x3x3 ; add_pad -> 2x3x3 relu ; gap -> 2 ; fc 2 -> 3.
    let fcw = vec![1.0, 2.0, 3.0, -1.0, 0.5, 0.0];
    let layers = json!([
        {"op": "max_pool", "name": "mp", "inputs": ["input"], "output": "m", "kernel": [3, 3], "stride": [2, 2], "pads": [0, 0, 0, 0]},
        {"op": "avg_pool", "name": "ap", "inputs": ["input"], "output": "a", "kernel": [2, 2], "stride": [2, 2], "pads": [0, 0, 0, 0]},
        {"op": "add_pad", "name": "ad", "inputs": ["m", "a"], "output": "s", "activation": "relu"},
        {"op": "global_avg_pool", "name": "g", "inputs": ["s"], "output": "p"},
        {"op": "fc", "name": "f", "inputs": ["p"], "output": "y", "weight": "f.weight", "cin": 2, "cout": 3, "bias": null},
    ]);
    let at = |c: usize, y: usize, xx: usize| x.data[(c * 7 + y) * 6 + xx];
    let mut pooled = [0.0f32; 2];
    for (c, p) in pooled.iter_mut().enumerate() {
        let mut sum = 0.0;
        for oy in 0..3 {
            for ox in 0..3 {
                let m = if ox < 2 {
                    (0..9)
                        .map(|t| at(c, oy * 2 + t / 3, ox * 2 + t % 3))
                        .fold(f32::NEG_INFINITY, f32::max)
                } else {
                    0.0
                };
                let a = (0..4).map(|t| at(c, oy * 2 + t / 2, ox * 2 + t % 2)).sum::<f32>() / 4.0;
                sum += (m + a).max(0.0);
            }
        }
        *p = sum / 9.0;
    }
    let want: Vec<f32> = (0..3).map(|j| pooled[0] * fcw[j] + pooled[1] * fcw[3 + j]).collect();
    let got = run(
        &[T {
            name: "f.weight",
            shape: vec![2, 3],
            values: fcw,
        }],
        layers,
        &x,
        1,
    );
    assert_close(&got, &Tensor::from_vec(3, 1, 1, want).unwrap(), "pool/add_pad/gap/fc");
}

/// An inverted-residual block (expand 1x1 relu -> depthwise 3x3 relu -> project 1x1 -> add)
/// large enough to run fused, and the same without the expand conv, at strides 1 and 2 and
/// odd sizes: the fused run (bands of rows, threads) equals the layer-by-layer run
/// (`keep_all`) and a naive composition.
#[test]
fn fused_blocks_match_the_layers() {
    // (cin, expanded, h, w, stride, expand, residual). The first two span several bands of
    // rows (ops/block.rs sizes them to 512K expanded floats: 16 and 8 output rows here).
    let cases = [
        (8, 96, 75, 300, 1, true, true),
        (8, 96, 71, 301, 2, true, false),
        (40, 40, 66, 101, 1, false, false),
        (6, 36, 90, 120, 1, true, false),
    ];
    for (n, &(cin, ce, h, w, s, expand, residual)) in cases.iter().enumerate() {
        let cout = if residual { cin } else { cin + 3 };
        let seed = 500 + 10 * n as u32;
        let t = |name: &'static str, shape: Vec<usize>, k: u32| T {
            name,
            shape: shape.clone(),
            values: synth::values(shape.iter().product(), seed + k),
        };
        let mut tensors = vec![
            t("d.weight", vec![ce, 1, 3, 3], 3),
            t("d.bias", vec![ce], 4),
            t("p.weight", vec![cout, ce, 1, 1], 5),
            t("p.bias", vec![cout], 6),
        ];
        let mut layers = Vec::new();
        let mut src = "input";
        if expand {
            tensors.push(t("e.weight", vec![ce, cin, 1, 1], 1));
            tensors.push(t("e.bias", vec![ce], 2));
            layers.push(synth::conv_layer(
                "e",
                "input",
                "ex",
                cin,
                ce,
                [1, 1],
                [1, 1],
                [0; 4],
                1,
                "relu",
            ));
            src = "ex";
        }
        layers.push(synth::conv_layer(
            "d",
            src,
            "dw",
            ce,
            ce,
            [3, 3],
            [s, s],
            [1; 4],
            ce,
            "relu",
        ));
        let last = if residual { "pr" } else { "y" };
        layers.push(synth::conv_layer(
            "p",
            "dw",
            last,
            ce,
            cout,
            [1, 1],
            [1, 1],
            [0; 4],
            1,
            "none",
        ));
        if residual {
            layers.push(
                json!({"op": "add", "name": "a", "inputs": ["input", "pr"], "output": "y", "activation": "none"}),
            );
        }
        let x = input(cin, h, w, seed);
        // Naive: each layer from the definition.
        let val = |name: &str| tensors.iter().find(|t| t.name == name).unwrap().values.clone();
        let relu = |mut t: Tensor| {
            t.data.iter_mut().for_each(|v| *v = v.max(0.0));
            t
        };
        let mut want = x.clone();
        if expand {
            want = relu(naive_conv(
                &want,
                &val("e.weight"),
                &val("e.bias"),
                ce,
                [1, 1],
                [1, 1],
                [0; 4],
                false,
            ));
        }
        want = relu(naive_conv(
            &want,
            &val("d.weight"),
            &val("d.bias"),
            ce,
            [3, 3],
            [s, s],
            [1; 4],
            true,
        ));
        want = naive_conv(
            &want,
            &val("p.weight"),
            &val("p.bias"),
            cout,
            [1, 1],
            [1, 1],
            [0; 4],
            false,
        );
        if residual {
            want.data.iter_mut().zip(&x.data).for_each(|(v, r)| *v += r);
        }
        let g = graph(&tensors, Value::Array(layers));
        for isa in Isa::available() {
            let g = g.clone().with_isa(isa);
            let steps = g.profile(x.clone(), 1).unwrap();
            assert!(
                steps.iter().any(|l| l.op == "block"),
                "case {n}: the block did not run fused"
            );
            let layered = g.run(x.clone(), 1, true).unwrap().remove("y").unwrap();
            for threads in [1, 2, 3] {
                let got = g.run(x.clone(), threads, false).unwrap().remove("y").unwrap();
                let what = format!("case {n}, {}, {threads} threads", isa.name());
                assert_close(&got, &want, &what);
                let err = common::max_abs_diff(&got.data, &layered.data);
                assert!(
                    err <= 1e-5 * common::max_abs(&want.data).max(1.0),
                    "{what}: fused vs layers {err}"
                );
            }
        }
    }
}

/// A conv fused with the add after it (CenterFace's lateral convs: conv relu + other), and
/// dlib's add_pad, which fuses only when the shapes match.
#[test]
fn conv_fused_with_its_add_matches_the_layers() {
    let (cin, cout, h, w) = (5, 6, 9, 11);
    let t = |name: &'static str, shape: Vec<usize>, k: u32| T {
        name,
        shape: shape.clone(),
        values: synth::values(shape.iter().product(), 900 + k),
    };
    let tensors = vec![
        t("c.weight", vec![cout, cin, 3, 3], 1),
        t("c.bias", vec![cout], 2),
        t("o.weight", vec![cout, cin, 1, 1], 3),
        t("o.bias", vec![cout], 4),
    ];
    for (op, act) in [("add", "none"), ("add_pad", "relu")] {
        let layers = json!([
            synth::conv_layer("o", "input", "other", cin, cout, [1, 1], [1, 1], [0; 4], 1, "relu"),
            synth::conv_layer("c", "input", "conv", cin, cout, [3, 3], [1, 1], [1; 4], 1, "relu"),
            {"op": op, "name": "a", "inputs": ["other", "conv"], "output": "y", "activation": act},
        ]);
        let g = graph(&tensors, layers);
        let x = input(cin, h, w, 77);
        let steps = g.profile(x.clone(), 1).unwrap();
        assert_eq!(steps.len(), 2, "{op}: the add ran on its own");
        for isa in Isa::available() {
            let g = g.clone().with_isa(isa);
            let layered = g.run(x.clone(), 1, true).unwrap().remove("y").unwrap();
            let fused = g.run(x.clone(), 2, false).unwrap().remove("y").unwrap();
            assert_close(&fused, &layered, &format!("{op}, {}", isa.name()));
        }
    }
}

/// `Graph::multiply_adds` counts each conv's multiply-adds as the network defines them
/// (dense: cout x cin x kh x kw per output pixel; depthwise: one input channel).
#[test]
fn multiply_adds_are_counted_per_layer() {
    let t = |name: &'static str, shape: Vec<usize>| T {
        name,
        shape: shape.clone(),
        values: synth::values(shape.iter().product(), 5),
    };
    let tensors = vec![
        t("a.weight", vec![4, 3, 3, 3]),
        t("a.bias", vec![4]),
        t("d.weight", vec![4, 1, 3, 3]),
        t("d.bias", vec![4]),
        t("b.weight", vec![2, 4, 1, 1]),
        t("b.bias", vec![2]),
    ];
    let layers = json!([
        synth::conv_layer("a", "input", "a", 3, 4, [3, 3], [1, 1], [1; 4], 1, "relu"),
        synth::conv_layer("d", "a", "d", 4, 4, [3, 3], [2, 2], [1; 4], 4, "relu"),
        synth::conv_layer("b", "d", "y", 4, 2, [1, 1], [1, 1], [0; 4], 1, "none"),
    ]);
    let g = graph(&tensors, layers);
    // 5x6 -> a: 4 x 5x6 (3*9 each) -> d: 4 x 3x3 (9 each) -> b: 2 x 3x3 (4 each).
    let want = 4 * 30 * 27 + 4 * 9 * 9 + 2 * 9 * 4;
    assert_eq!(g.multiply_adds(input(3, 5, 6, 1)).unwrap(), want as u64);
}
