//! The int8 conv against the f32 one it replaces, every kernel set against the portable one
//! (the same bits), and the largest sums AVX2's 16-bit pair sums must hold.

use super::input::{quantize, range};
use super::*;
use crate::ops::buffers::Buffers;
use crate::ops::conv::{Conv, Residual};
use crate::ops::{Activation, Ctx};

/// A reproducible value in `-1..1` (xorshift).
fn noise(seed: &mut u32) -> f32 {
    *seed ^= *seed << 13;
    *seed ^= *seed >> 17;
    *seed ^= *seed << 5;
    (*seed % 20_001) as f32 / 10_000.0 - 1.0
}

struct Case {
    cin: usize,
    cout: usize,
    k: usize,
    stride: usize,
    pad: usize,
    hw: usize,
    /// Inputs as ReLU outputs (zero point 0) or signed ones.
    relu_input: bool,
    residual: bool,
}

const CASES: &[Case] = &[
    // The descriptor's shapes: 32 channels at 37 px, 64 at 18 (stride 2), 256 at 3 and 1.
    Case {
        cin: 32,
        cout: 32,
        k: 3,
        stride: 1,
        pad: 1,
        hw: 37,
        relu_input: true,
        residual: true,
    },
    Case {
        cin: 32,
        cout: 64,
        k: 3,
        stride: 2,
        pad: 1,
        hw: 37,
        relu_input: true,
        residual: false,
    },
    Case {
        cin: 256,
        cout: 256,
        k: 3,
        stride: 1,
        pad: 1,
        hw: 3,
        relu_input: true,
        residual: true,
    },
    Case {
        cin: 256,
        cout: 256,
        k: 3,
        stride: 1,
        pad: 1,
        hw: 1,
        relu_input: true,
        residual: false,
    },
    // Ragged: channels not a multiple of 4, rows not of 6, a 5x5 window, signed inputs.
    Case {
        cin: 17,
        cout: 13,
        k: 5,
        stride: 2,
        pad: 2,
        hw: 21,
        relu_input: false,
        residual: false,
    },
    Case {
        cin: 6,
        cout: 7,
        k: 3,
        stride: 1,
        pad: 0,
        hw: 9,
        relu_input: false,
        residual: true,
    },
];

fn tensor(c: usize, h: usize, w: usize, seed: &mut u32, relu: bool) -> Tensor {
    let data = (0..c * h * w)
        .map(|_| {
            let v = noise(seed) * 3.0;
            if relu {
                v.max(0.0)
            } else {
                v
            }
        })
        .collect();
    Tensor { c, h, w, data }
}

fn layer(case: &Case, seed: &mut u32) -> Conv {
    let weight: Vec<f32> = (0..case.cout * case.cin * case.k * case.k)
        .map(|_| noise(seed) * 0.2)
        .collect();
    let bias: Vec<f32> = (0..case.cout).map(|_| noise(seed)).collect();
    Conv::new(
        case.cin,
        case.cout,
        [case.k, case.k],
        [case.stride, case.stride],
        [case.pad; 4],
        false,
        weight,
        bias,
        Activation::Relu,
    )
}

/// Runs `conv` on `x` (with `other` as a fused residual) with `isa` and `threads`.
fn run(conv: &Conv, x: &Tensor, other: &Option<Tensor>, isa: Isa, threads: usize) -> Tensor {
    let res = other.as_ref().map(|o| Residual {
        other: o,
        pad: false,
        act: Activation::Relu,
    });
    conv.forward(x, res, Ctx { threads, isa }, &mut Buffers::default())
        .unwrap()
}

#[test]
fn int8_convs_match_f32_and_give_the_same_bits_on_every_kernel_set() {
    let mut seed = 0x2545_f491;
    for case in CASES {
        let f32_conv = layer(case, &mut seed);
        let mut int8 = f32_conv.clone();
        assert!(int8.quantize(), "a {}x{} conv is quantised", case.k, case.k);
        assert_eq!(int8.kind(), "conv-int8");
        let x = tensor(case.cin, case.hw, case.hw, &mut seed, case.relu_input);
        let (ho, wo) = f32_conv.out_size(case.hw, case.hw).unwrap();
        let other = case.residual.then(|| tensor(case.cout, ho, wo, &mut seed, false));
        let want = run(&f32_conv, &x, &other, Isa::Scalar, 1);
        let base = run(&int8, &x, &other, Isa::Scalar, 1);
        // Rounding both operands to 8 bits (uniform noise, the worst case for it): RMS error
        // under 1 % of the outputs' RMS, no value off by 3 % of the largest.
        let rms = |v: &mut dyn Iterator<Item = f32>| {
            let (s, n) = v.fold((0.0f64, 0usize), |(s, n), x| (s + f64::from(x) * f64::from(x), n + 1));
            (s / n.max(1) as f64).sqrt()
        };
        let spread = want.data.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        let worst = want
            .data
            .iter()
            .zip(&base.data)
            .fold(0.0f32, |m, (a, b)| m.max((a - b).abs()));
        let err = rms(&mut want.data.iter().zip(&base.data).map(|(a, b)| a - b));
        let size = rms(&mut want.data.iter().copied());
        let what = format!(
            "{}->{} {}x{}/{} at {}px",
            case.cin, case.cout, case.k, case.k, case.stride, case.hw
        );
        eprintln!(
            "{what}: RMS error {:.3} % of RMS, worst {:.3} % of the largest",
            100.0 * err / size,
            100.0 * worst / spread
        );
        assert!(
            err < 0.01 * size && worst < 0.03 * spread,
            "{what}: RMS error {err} of {size}, worst {worst} of {spread}"
        );
        for isa in Isa::available() {
            for threads in [1, 2] {
                let got = run(&int8, &x, &other, isa, threads);
                let same = got.data.iter().zip(&base.data).all(|(a, b)| a.to_bits() == b.to_bits());
                assert!(
                    same,
                    "{what}: {} on {threads} threads differs from the portable kernel",
                    isa.name()
                );
            }
        }
    }
}

/// Inputs at the top of the 8-bit range and weights at +-WMAX, so every pair of products is
/// 2 * 255 * 64 = 32640: AVX2's 16-bit pair sums must hold it without saturating.
#[test]
fn the_largest_pair_sums_are_exact() {
    let (cin, cout) = (8usize, 6usize);
    for sign in [1.0f32, -1.0] {
        let weight: Vec<f32> = (0..cout * cin * 9)
            .map(|i| if i % 7 == 3 { -sign } else { sign })
            .collect();
        let mut conv = Conv::new(
            cin,
            cout,
            [3, 3],
            [1, 1],
            [1; 4],
            false,
            weight.clone(),
            vec![0.0; cout],
            Activation::None,
        );
        assert!(conv.quantize());
        let x = Tensor {
            c: cin,
            h: 20,
            w: 20,
            data: vec![2.0; cin * 400],
        };
        // Exactly representable: every value quantises to 255 (scale 2/255) and every weight
        // to +-64 (scale 1/64), so the output is the exact sum, in i64, times the scales.
        let s = (2.0f32 / 255.0) * (1.0 / 64.0);
        for isa in Isa::available() {
            let y = conv
                .forward(&x, None, Ctx { threads: 1, isa }, &mut Buffers::default())
                .unwrap();
            for co in 0..cout {
                for (p, &got) in y.data[co * 400..][..400].iter().enumerate() {
                    let (oy, ox) = (p / 20, p % 20);
                    let mut sum = 0i64;
                    for ci in 0..cin {
                        for t in 0..9 {
                            let (iy, ix) = (oy + t / 3, ox + t % 3);
                            if (1..=20).contains(&iy) && (1..=20).contains(&ix) {
                                sum += 255 * (weight[(co * cin + ci) * 9 + t] * 64.0) as i64;
                            }
                        }
                    }
                    let want = sum as i32 as f32 * s;
                    assert_eq!(
                        got.to_bits(),
                        want.to_bits(),
                        "{} sign {sign}: row {co} pixel {p}: {got} != {want}",
                        isa.name()
                    );
                }
            }
        }
    }
}

/// Times the int8 and f32 convs on the descriptor's shapes (not a test: `cargo test --release
/// -p perse-engine --lib qconv_timing -- --ignored --nocapture`).
#[test]
#[ignore]
fn qconv_timing() {
    let mut seed = 7;
    for case in &CASES[..4] {
        let f = layer(case, &mut seed);
        let mut q = f.clone();
        q.quantize();
        let x = tensor(case.cin, case.hw, case.hw, &mut seed, true);
        for isa in Isa::available() {
            let mut buf = Buffers::default();
            let time = |c: &Conv, buf: &mut Buffers| {
                let mut best = f64::MAX;
                for _ in 0..5 {
                    let t = std::time::Instant::now();
                    for _ in 0..40 {
                        let y = c.forward(&x, None, Ctx { threads: 1, isa }, buf).unwrap();
                        buf.give(y.data);
                    }
                    best = best.min(t.elapsed().as_secs_f64() / 40.0 * 1e6);
                }
                best
            };
            let (tf, tq) = (time(&f, &mut buf), time(&q, &mut buf));
            let (p, s) = (case.pad, case.stride);
            let planes = [(case.hw + 2 * p).div_ceil(s), (case.hw + 2 * p).div_ceil(s)];
            let t = std::time::Instant::now();
            for _ in 0..40 {
                std::hint::black_box(quantize(kernel_set(isa), &x, [s, s], [p, p], planes, 64));
            }
            let tquant = t.elapsed().as_secs_f64() / 40.0 * 1e6;
            let t = std::time::Instant::now();
            for _ in 0..40 {
                std::hint::black_box(range(kernel_set(isa), std::hint::black_box(&x.data)));
            }
            eprintln!("range {:.1} us", t.elapsed().as_secs_f64() / 40.0 * 1e6);
            let (ho, wo) = f.out_size(case.hw, case.hw).unwrap();
            let macs = (case.cout * case.cin * case.k * case.k * ho * wo) as f64;
            eprintln!("{} {}->{} {}x{}/{} at {}px: f32 {tf:.1} us ({:.1} GMAC/s), int8 {tq:.1} us ({:.1} GMAC/s; quantising the input {tquant:.1} us)", isa.name(), case.cin, case.cout, case.k, case.k, case.stride, case.hw, macs / tf / 1e3, macs / tq / 1e3);
        }
    }
}
