//! How results and failures travel to JavaScript, declared once. Every model in `models.rs`
//! (and `Upload`, `Failure`) is written with [`wire_model!`], which defines the struct and
//! derives from the same field list:
//!
//! - the encoder, [`Model::put_fields`]: each field in declaration order into a completion
//!   batch (numbers in one `Float64Array`, strings in one list; see [`Wire`] for each type);
//! - its [`Shape`]: field names, kinds and doc comments, from which `npm run generate`
//!   (`examples/generate.rs`) writes `lib/decode.generated.js` (the decoder, object literals
//!   with fixed shapes) and `results.d.ts` (the TypeScript types);
//! - with the `samples` feature, [`Sample`] values with every field distinct, for the
//!   round-trip test (`__test__/layout.spec.js`), so that nothing test-only ships.
//!
//! The calls' results, with their batch tags, default messages and uploads, are in
//! `results.rs`. Adding a field to a model is one line there; adding one to every result is
//! one line in its envelope (see ARCHITECTURE.md).

use crate::image::ImageFormat;

/// Where encoded values go: one batch's numbers and strings.
pub struct Sink<'a> {
    pub nums: &'a mut Vec<f64>,
    pub strs: &'a mut Vec<String>,
}

impl Sink<'_> {
    pub fn num(&mut self, v: f64) {
        self.nums.push(v);
    }

    pub fn flag(&mut self, b: bool) {
        self.nums.push(if b { 1.0 } else { 0.0 });
    }

    pub fn str(&mut self, s: &str) {
        self.strs.push(s.to_string());
    }
}

/// How a value is written to a batch and what it becomes in JavaScript.
#[derive(Clone, Debug)]
pub enum Kind {
    /// One number.
    Num,
    /// One number, `NaN` when absent; absent from the JS object then.
    OptNum,
    /// One string.
    Str,
    /// A flag, then the string when the flag is 1; absent from the JS object when 0.
    OptStr,
    /// A flag (1/0): `true`/`false`.
    Bool,
    /// `n` numbers: a JS array of numbers.
    Tuple(usize),
    /// A number indexing these names: the JS string.
    Enum(&'static [&'static str]),
    /// The shape's fields in order: a JS object.
    Object(Shape),
    /// A flag, then the object when 1; absent from the JS object when 0.
    OptObject(Shape),
    /// A count, then each item: a JS array.
    List(Box<Kind>),
    /// Not sent to JavaScript.
    Skip,
}

/// One field of a model: its Rust (snake_case) name, kind and doc comment.
#[derive(Clone, Debug)]
pub struct Field {
    pub name: &'static str,
    pub kind: Kind,
    pub doc: String,
}

/// A model as JavaScript sees it.
#[derive(Clone, Debug)]
pub struct Shape {
    pub name: &'static str,
    pub doc: String,
    pub fields: Vec<Field>,
}

/// A value that travels in a batch.
pub trait Wire {
    fn kind() -> Kind;
    fn put(&self, out: &mut Sink);
}

/// A struct declared with [`wire_model!`].
pub trait Model {
    fn shape() -> Shape;
    fn put_fields(&self, out: &mut Sink);
}

impl Wire for f64 {
    fn kind() -> Kind {
        Kind::Num
    }
    fn put(&self, out: &mut Sink) {
        out.num(*self);
    }
}

impl Wire for u32 {
    fn kind() -> Kind {
        Kind::Num
    }
    fn put(&self, out: &mut Sink) {
        out.num(f64::from(*self));
    }
}

impl Wire for usize {
    fn kind() -> Kind {
        Kind::Num
    }
    fn put(&self, out: &mut Sink) {
        out.num(*self as f64);
    }
}

impl Wire for bool {
    fn kind() -> Kind {
        Kind::Bool
    }
    fn put(&self, out: &mut Sink) {
        out.flag(*self);
    }
}

impl Wire for String {
    fn kind() -> Kind {
        Kind::Str
    }
    fn put(&self, out: &mut Sink) {
        out.str(self);
    }
}

impl Wire for Option<f64> {
    fn kind() -> Kind {
        Kind::OptNum
    }
    fn put(&self, out: &mut Sink) {
        out.num(self.unwrap_or(f64::NAN));
    }
}

impl Wire for Option<u16> {
    fn kind() -> Kind {
        Kind::OptNum
    }
    fn put(&self, out: &mut Sink) {
        out.num(self.map_or(f64::NAN, f64::from));
    }
}

impl Wire for Option<String> {
    fn kind() -> Kind {
        Kind::OptStr
    }
    fn put(&self, out: &mut Sink) {
        out.flag(self.is_some());
        if let Some(s) = self {
            out.str(s);
        }
    }
}

impl<const N: usize> Wire for [f64; N] {
    fn kind() -> Kind {
        Kind::Tuple(N)
    }
    fn put(&self, out: &mut Sink) {
        out.nums.extend_from_slice(self);
    }
}

impl<T: Wire> Wire for Vec<T> {
    fn kind() -> Kind {
        Kind::List(Box::new(T::kind()))
    }
    fn put(&self, out: &mut Sink) {
        out.num(self.len() as f64);
        for x in self {
            x.put(out);
        }
    }
}

/// The formats an upload can have, as JavaScript names them.
const UPLOAD_FORMATS: &[&str] = &["jpeg", "png"];

impl Wire for ImageFormat {
    fn kind() -> Kind {
        Kind::Enum(UPLOAD_FORMATS)
    }
    fn put(&self, out: &mut Sink) {
        out.num(if *self == ImageFormat::Png { 1.0 } else { 0.0 });
    }
}

/// The doc comment of a field or struct, from its attributes as `stringify!` writes them
/// (`doc = " text"`); other attributes (serde's) are left out.
pub fn doc_of(attrs: &[&str]) -> String {
    attrs
        .iter()
        .filter_map(|a| a.trim().strip_prefix("doc ="))
        .map(|d| {
            // A plain string literal (`"..."`, escapes undone) or a raw one (`r"..."`, `r#"..."#`).
            let d = d.trim();
            let raw = d.trim_start_matches('r').trim_matches('#');
            match d.starts_with('r') {
                true => raw.trim_matches('"').trim().to_string(),
                false => raw
                    .trim_matches('"')
                    .replace("\\\"", "\"")
                    .replace("\\\\", "\\")
                    .trim()
                    .to_string(),
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Defines a struct that travels to JavaScript, with its [`Model`] (encoder and [`Shape`])
/// and, with the `samples` feature, its [`Sample`]. Attributes pass through (serde's, docs).
#[macro_export]
macro_rules! wire_model {
    (
        $(#[$m:meta])*
        pub struct $name:ident $(as $ts:literal)? {
            $( $(#[$fm:meta])* pub $f:ident : $t:ty ),* $(,)?
        }
    ) => {
        $(#[$m])*
        pub struct $name {
            $( $(#[$fm])* pub $f: $t ),*
        }

        impl $crate::layout::Model for $name {
            fn shape() -> $crate::layout::Shape {
                $crate::layout::Shape {
                    name: $crate::__ts_name!(stringify!($name) $(, $ts)?),
                    doc: $crate::layout::doc_of(&[$(stringify!($m)),*]),
                    fields: vec![$(
                        $crate::layout::Field {
                            name: stringify!($f),
                            kind: <$t as $crate::layout::Wire>::kind(),
                            doc: $crate::layout::doc_of(&[$(stringify!($fm)),*]),
                        }
                    ),*],
                }
            }

            #[allow(unused_variables)] // a struct without fields (an empty envelope)
            fn put_fields(&self, out: &mut $crate::layout::Sink) {
                $( $crate::layout::Wire::put(&self.$f, out); )*
            }
        }

        impl $crate::layout::Wire for $name {
            fn kind() -> $crate::layout::Kind {
                $crate::layout::Kind::Object(<$name as $crate::layout::Model>::shape())
            }
            fn put(&self, out: &mut $crate::layout::Sink) {
                $crate::layout::Model::put_fields(self, out);
            }
        }

        impl $crate::layout::Wire for Option<$name> {
            fn kind() -> $crate::layout::Kind {
                $crate::layout::Kind::OptObject(<$name as $crate::layout::Model>::shape())
            }
            fn put(&self, out: &mut $crate::layout::Sink) {
                out.flag(self.is_some());
                if let Some(v) = self {
                    $crate::layout::Model::put_fields(v, out);
                }
            }
        }

        #[cfg(feature = "samples")]
        impl $crate::layout::Sample for $name {
            #[allow(unused_variables)] // a struct without fields
            fn sample(s: &mut $crate::layout::Samples) -> Self {
                $name { $( $f: <$t as $crate::layout::Sample>::sample(s) ),* }
            }
        }
    };
}

/// The TypeScript name of a model: its own, or the one given with `as "..."`.
#[doc(hidden)]
#[macro_export]
macro_rules! __ts_name {
    ($rust:expr) => {
        $rust
    };
    ($rust:expr, $ts:literal) => {
        $ts
    };
}

/// Sample values for the round-trip test (feature `samples`): every number distinct; every
/// optional field present (`present: true`) or absent, so two sets cover both.
#[cfg(feature = "samples")]
pub struct Samples {
    next: f64,
    present: bool,
}

#[cfg(feature = "samples")]
impl Samples {
    /// Samples whose optional fields are all present, or all absent.
    pub fn new(present: bool, first: f64) -> Samples {
        Samples { next: first, present }
    }

    fn num(&mut self) -> f64 {
        self.next += 1.0;
        self.next + 0.25
    }
}

/// A sample value (feature `samples`).
#[cfg(feature = "samples")]
pub trait Sample {
    fn sample(s: &mut Samples) -> Self;
}

#[cfg(feature = "samples")]
mod samples {
    use super::*;

    impl Sample for f64 {
        fn sample(s: &mut Samples) -> Self {
            s.num()
        }
    }
    impl Sample for u32 {
        fn sample(s: &mut Samples) -> Self {
            s.num() as u32
        }
    }
    impl Sample for usize {
        fn sample(s: &mut Samples) -> Self {
            s.num() as usize
        }
    }
    impl Sample for u16 {
        fn sample(s: &mut Samples) -> Self {
            s.num() as u16
        }
    }
    impl Sample for bool {
        fn sample(s: &mut Samples) -> Self {
            s.num() as u64 % 2 == 0
        }
    }
    impl Sample for String {
        fn sample(s: &mut Samples) -> Self {
            format!("s{}", s.num())
        }
    }
    impl<const N: usize> Sample for [f64; N] {
        fn sample(s: &mut Samples) -> Self {
            std::array::from_fn(|_| s.num())
        }
    }
    impl<T: Sample> Sample for Option<T> {
        fn sample(s: &mut Samples) -> Self {
            s.present.then(|| T::sample(s))
        }
    }
    impl<T: Sample> Sample for Vec<T> {
        fn sample(s: &mut Samples) -> Self {
            vec![T::sample(s), T::sample(s)]
        }
    }
    impl Sample for ImageFormat {
        fn sample(s: &mut Samples) -> Self {
            match s.present {
                true => ImageFormat::Png,
                false => ImageFormat::Jpeg,
            }
        }
    }
}
