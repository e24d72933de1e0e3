//! `js_options!`: one definition gives a `#[napi(object)]` options struct and the list of its
//! JS keys and `typeof`s. Shared by both addons (this crate and `packages/local`, which
//! includes this file with `#[path]`), so that `lib/args.js` checks every options object the
//! same way.

/// Declares a `#[napi(object)]` options struct and the list of its JS keys and types, from
/// one definition: `lib/args.js` refuses unknown keys and wrong types with the list that
/// `optionSpecs()` returns, so a field added here is accepted there with no second edit.
/// Docs inside are written `#[doc = "..."]`: napi-derive copies a `///` comment that passed
/// through a macro into binding.d.ts with its raw-string prefix (`r"`).
macro_rules! js_options {
    ($(#[$meta:meta])* pub struct $name:ident [$keys:ident] {
        $( $(#[$fmeta:meta])* $js:literal $field:ident: Option<$ty:ty>, )*
    }) => {
        $(#[$meta])*
        #[napi(object)]
        #[derive(Default, Clone)]
        pub struct $name { $( $(#[$fmeta])* pub $field: Option<$ty>, )* }
        pub const $keys: &[(&str, &str)] = &[$(($js, <$ty as $crate::js_options::JsType>::NAME)),*];
    };
}
pub(crate) use js_options;

/// The `typeof` a JS value must have to convert to an option field's type.
pub trait JsType {
    const NAME: &'static str;
}

impl JsType for f64 {
    const NAME: &'static str = "number";
}

impl JsType for String {
    const NAME: &'static str = "string";
}

impl JsType for bool {
    const NAME: &'static str = "boolean";
}
