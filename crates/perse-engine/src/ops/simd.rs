//! Which SIMD kernels run, chosen once per process at run time.
//!
//! The addon ships one binary per target, built for the target's baseline (x86-64 without
//! AVX, aarch64 with NEON), so wider instructions are only usable behind a run-time check.
//! [`Isa::detect`] picks the best kernel set this CPU supports; every kernel has a portable
//! fallback ([`Isa::Scalar`]) that is also what other architectures get. A model keeps the
//! `Isa` it was loaded with, and tests run every kernel set the machine supports
//! ([`Isa::available`]) against the same reference.

use std::sync::OnceLock;

/// A kernel set. Every variant exists on every target; [`Isa::available`] lists the ones this
/// machine can run, and the dispatch falls back to the portable kernels for the others.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Isa {
    /// Portable Rust, vectorised by the compiler for the target's baseline (SSE2 on x86_64).
    Scalar,
    /// x86_64 with AVX2 and FMA (Haswell, Zen and later).
    Avx2,
    /// x86_64 with AVX-512F besides AVX2 and FMA (Skylake-SP, Zen 4 and later): the GEMM
    /// kernel is twice as wide; the other loops run as with [`Isa::Avx2`].
    Avx512,
    /// aarch64 Advanced SIMD, part of every aarch64 CPU.
    Neon,
}

impl Isa {
    /// The best kernel set this CPU supports (detected once).
    pub fn detect() -> Isa {
        static DETECTED: OnceLock<Isa> = OnceLock::new();
        *DETECTED.get_or_init(|| Isa::available()[0])
    }

    /// Every kernel set this CPU can run, best first; always ends with [`Isa::Scalar`].
    pub fn available() -> Vec<Isa> {
        best().into_iter().chain([Isa::Scalar]).collect()
    }

    /// The kernel set for the loops that have no AVX-512 version (AVX2 instead).
    pub(crate) fn without_avx512(self) -> Isa {
        match self {
            Isa::Avx512 => Isa::Avx2,
            other => other,
        }
    }

    /// Lower-case name, for benchmarks and test messages.
    pub fn name(self) -> &'static str {
        match self {
            Isa::Scalar => "scalar",
            Isa::Avx2 => "avx2+fma",
            Isa::Avx512 => "avx512f",
            Isa::Neon => "neon",
        }
    }

    /// The same set if this CPU runs it, else the portable one (a model built with one `Isa`
    /// and asked to use another must never execute an unsupported instruction).
    pub(crate) fn checked(self) -> Isa {
        if Isa::available().contains(&self) {
            self
        } else {
            Isa::Scalar
        }
    }
}

/// The SIMD kernel sets of this CPU, best first.
#[cfg(target_arch = "x86_64")]
fn best() -> Vec<Isa> {
    let avx2 = std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma");
    let avx512 = avx2 && std::is_x86_feature_detected!("avx512f");
    [(avx512, Isa::Avx512), (avx2, Isa::Avx2)]
        .into_iter()
        .filter_map(|(ok, isa)| ok.then_some(isa))
        .collect()
}

/// The SIMD kernel sets of this CPU, best first.
#[cfg(target_arch = "aarch64")]
fn best() -> Vec<Isa> {
    vec![Isa::Neon]
}

/// The SIMD kernel sets of this CPU, best first.
#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
fn best() -> Vec<Isa> {
    Vec::new()
}

/// Multiply-add as the kernel set does it: fused (one rounding) where the CPU has FMA, so
/// that code compiled for AVX2+FMA or NEON uses the instruction; `a * b + c` in two
/// roundings in the portable kernels, where `mul_add` would be a slow library call.
pub(crate) trait MulAdd {
    fn mul_add(a: f32, b: f32, c: f32) -> f32;
}

/// `a * b + c`, rounded twice.
pub(crate) struct Separate;

impl MulAdd for Separate {
    #[inline(always)]
    fn mul_add(a: f32, b: f32, c: f32) -> f32 {
        a * b + c
    }
}

/// `f32::mul_add`: only for code compiled with FMA available.
#[cfg_attr(not(any(target_arch = "x86_64", target_arch = "aarch64")), allow(dead_code))]
pub(crate) struct Fused;

impl MulAdd for Fused {
    #[inline(always)]
    fn mul_add(a: f32, b: f32, c: f32) -> f32 {
        a.mul_add(b, c)
    }
}
