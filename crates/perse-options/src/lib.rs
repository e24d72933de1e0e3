//! `js_options!`: the one way to declare an options object that JS (or JSON) passes in. Each
//! field is declared once, with its doc line and, for a number, its range and kind; from that
//! one declaration come
//!
//! - the struct, each field an `Option` (napi's `#[napi(object)]` in the addons, serde's
//!   `Deserialize` in perse-local: the caller adds what it needs);
//! - the list of its JS keys with their `typeof`, which `lib/args.js` checks objects against
//!   (`optionSpecs()`), so a field added here is accepted there with no second edit;
//! - the doc line, with the field's range written in where it says `{range}` (napi copies it
//!   into the generated TypeScript, so the hover text shows the range that is checked);
//! - `check()`, which refuses a number out of its range with `invalid_argument`, naming the
//!   option, its range and the value.
//!
//! It is a procedural macro because napi-derive reads doc comments only as string literals:
//! a `macro_rules!` could not write the range into them.
//!
//! ```text
//! js_options! {
//!     /// Settings of a `PerseClient` (all optional).
//!     #[napi(object)]
//!     pub struct ClientOptions [CLIENT_KEYS] {
//!         /// Per-attempt time limit in milliseconds ({range}); default 30000.
//!         #[number(1 ..= 86_400_000, "milliseconds")]
//!         timeout_ms: Option<f64>,
//!         /// Extra attempts ({range}); default 2.
//!         #[integer(0 ..= 20)]
//!         max_retries: Option<f64>,
//!     }
//!     /// Per-call settings.
//!     #[napi(object)]
//!     pub struct CallOptions [CALL_KEYS] {
//!         /// Per-attempt time limit in milliseconds for this call ({range}).
//!         timeout_ms: Option<f64>,
//!     }
//! }
//! ```
//!
//! - A field's JS key is its name in camelCase (as napi and serde's `camelCase` spell it).
//! - `#[number(min ..= max, "unit")]` accepts any finite number in the range, `#[integer(...)]`
//!   only whole ones; the unit (optional) is for the error message.
//! - An option has one range per invocation: it is declared on the first struct with that
//!   field, and later structs of the same invocation with a field of that name share it.
//! - A field with a range must say `{range}` in its docs, so the range is never hidden.
//! - `[KEYS]` names the const with the key list; `[KEYS, "fault"]` also names the parameter
//!   in error messages (default `options`: `options.timeoutMs must be ...`).
//! - `#[into(path::Other)]` on a struct adds `From<Struct> for path::Other`, field by field:
//!   for the same declaration made twice, once per crate (perse-local's `fault_spec!`).
//! - The generated code names `::perse_core` (for its `Error`); every user depends on it.

use std::collections::HashMap;

use proc_macro::TokenStream;
use proc_macro2::{Literal, Span, TokenStream as TokenStream2};
use quote::quote;
use syn::parse::{Parse, ParseStream};
use syn::{
    braced, bracketed, Attribute, Expr, ExprLit, GenericArgument, Ident, Lit, LitStr, Meta, PathArguments, Token, Type,
    Visibility,
};

/// See the crate docs.
#[proc_macro]
pub fn js_options(input: TokenStream) -> TokenStream {
    match syn::parse::<Invocation>(input).and_then(expand) {
        Ok(out) => out.into(),
        Err(e) => e.to_compile_error().into(),
    }
}

struct Invocation(Vec<OptionsStruct>);

struct OptionsStruct {
    attrs: Vec<Attribute>,
    into: Option<syn::Path>,
    vis: Visibility,
    name: Ident,
    keys: Ident,
    what: String,
    fields: Vec<Field>,
}

struct Field {
    attrs: Vec<Attribute>,
    name: Ident,
    inner: Type,
    range: Option<Range>,
}

#[derive(Clone)]
struct Range {
    min: f64,
    max: f64,
    integer: bool,
    unit: String,
}

impl Parse for Invocation {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let mut structs = Vec::new();
        while !input.is_empty() {
            structs.push(input.parse()?);
        }
        Ok(Invocation(structs))
    }
}

impl Parse for OptionsStruct {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let mut attrs = Attribute::parse_outer(input)?;
        let mut into = None;
        if let Some(i) = attrs.iter().position(|a| a.path().is_ident("into")) {
            into = Some(attrs.remove(i).parse_args::<syn::Path>()?);
        }
        let vis: Visibility = input.parse()?;
        input.parse::<Token![struct]>()?;
        let name: Ident = input.parse()?;
        let head;
        bracketed!(head in input);
        let keys: Ident = head.parse()?;
        let what = match head.parse::<Option<Token![,]>>()? {
            Some(_) => head.parse::<LitStr>()?.value(),
            None => "options".to_string(),
        };
        let body;
        braced!(body in input);
        let mut fields = Vec::new();
        while !body.is_empty() {
            fields.push(body.parse()?);
            if body.parse::<Option<Token![,]>>()?.is_none() {
                break;
            }
        }
        Ok(OptionsStruct {
            attrs,
            into,
            vis,
            name,
            keys,
            what,
            fields,
        })
    }
}

impl Parse for Field {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let mut attrs = Attribute::parse_outer(input)?;
        let name: Ident = input.parse()?;
        input.parse::<Token![:]>()?;
        let ty: Type = input.parse()?;
        let inner = option_inner(&ty).ok_or_else(|| {
            syn::Error::new_spanned(
                &ty,
                "js_options: a field must be an Option<f64 | String | bool | HashMap<String, String>>",
            )
        })?;
        let mut range = None;
        let mut kept = Vec::new();
        for a in attrs.drain(..) {
            let integer = a.path().is_ident("integer");
            if integer || a.path().is_ident("number") {
                if range.is_some() {
                    return Err(syn::Error::new_spanned(a, "js_options: one range per field"));
                }
                range = Some(a.parse_args_with(|p: ParseStream| parse_range(p, integer))?);
            } else {
                kept.push(a);
            }
        }
        Ok(Field {
            attrs: kept,
            name,
            inner,
            range,
        })
    }
}

/// `min ..= max` or `min ..= max, "unit"`.
fn parse_range(p: ParseStream, integer: bool) -> syn::Result<Range> {
    let min = number(p)?;
    p.parse::<Token![..=]>()?;
    let max = number(p)?;
    let unit = match p.parse::<Option<Token![,]>>()? {
        Some(_) => p.parse::<LitStr>()?.value(),
        None => String::new(),
    };
    if min.is_nan() || max.is_nan() || min > max {
        return Err(p.error("js_options: the range is empty"));
    }
    Ok(Range {
        min,
        max,
        integer,
        unit,
    })
}

fn number(p: ParseStream) -> syn::Result<f64> {
    match p.parse::<Lit>()? {
        Lit::Int(i) => i.base10_parse::<f64>(),
        Lit::Float(f) => f.base10_parse::<f64>(),
        other => Err(syn::Error::new_spanned(
            other,
            "js_options: a range bound must be a number",
        )),
    }
}

/// `T` of `Option<T>`.
fn option_inner(ty: &Type) -> Option<Type> {
    let Type::Path(p) = ty else { return None };
    let last = p.path.segments.last()?;
    if last.ident != "Option" {
        return None;
    }
    let PathArguments::AngleBracketed(args) = &last.arguments else {
        return None;
    };
    match args.args.first()? {
        GenericArgument::Type(t) => Some(t.clone()),
        _ => None,
    }
}

/// The `typeof` a JS value must have to become a `T`.
fn js_type(t: &Type) -> syn::Result<&'static str> {
    let name = match t {
        Type::Path(p) => p.path.segments.last().map(|s| s.ident.to_string()),
        _ => None,
    };
    match name.as_deref() {
        Some("f64") => Ok("number"),
        Some("String") => Ok("string"),
        Some("bool") => Ok("boolean"),
        // `headers`: a string map; lib/args.js checks its values are strings.
        Some("HashMap") => Ok("object"),
        _ => Err(syn::Error::new_spanned(
            t,
            "js_options: a field must be an Option<f64 | String | bool | HashMap<String, String>>",
        )),
    }
}

/// `max_upload_bytes` → `maxUploadBytes`.
fn camel(name: &str) -> String {
    let mut out = String::new();
    let mut upper = false;
    for c in name.chars() {
        match c {
            '_' => upper = !out.is_empty(),
            c if upper => {
                out.extend(c.to_uppercase());
                upper = false;
            }
            c => out.push(c),
        }
    }
    out
}

/// A bound as docs and messages write it (`86400000`, `0.5`).
fn shown(v: f64) -> String {
    format!("{v}")
}

/// The attributes with every doc line as a plain string literal, `{range}` filled in. A doc
/// comment that went through a `macro_rules!` arrives as a raw string, which napi-derive
/// would copy into the TypeScript with its `r"` prefix.
fn docs(attrs: &[Attribute], range: Option<&Range>, span: Span) -> syn::Result<Vec<TokenStream2>> {
    let mut out = Vec::new();
    let mut said = false;
    for a in attrs {
        let text = match &a.meta {
            Meta::NameValue(nv) if nv.path.is_ident("doc") => match &nv.value {
                Expr::Lit(ExprLit { lit: Lit::Str(s), .. }) => Some(s.value()),
                _ => None,
            },
            _ => None,
        };
        match text {
            Some(t) => {
                let t = match (range, t.contains("{range}")) {
                    (Some(r), true) => {
                        said = true;
                        t.replace("{range}", &format!("{} to {}", shown(r.min), shown(r.max)))
                    }
                    (None, true) => {
                        return Err(syn::Error::new_spanned(
                            a,
                            "js_options: `{range}` in the docs of a field without a range",
                        ))
                    }
                    (_, false) => t,
                };
                let lit = LitStr::new(&t, Span::call_site());
                out.push(quote! { #[doc = #lit] });
            }
            None => out.push(quote! { #a }),
        }
    }
    if range.is_some() && !said {
        return Err(syn::Error::new(
            span,
            "js_options: the docs of a field with a range must show it with `{range}`",
        ));
    }
    Ok(out)
}

fn expand(inv: Invocation) -> syn::Result<TokenStream2> {
    // The first range declared for each field name, shared by later structs.
    let mut ranges: HashMap<String, Range> = HashMap::new();
    let mut out = TokenStream2::new();
    for s in &inv.0 {
        let OptionsStruct {
            attrs,
            into,
            vis,
            name,
            keys,
            what,
            fields,
        } = s;
        let struct_docs = docs(attrs, None, name.span())?;
        let mut defs = Vec::new();
        let mut key_list = Vec::new();
        let mut range_list = Vec::new();
        let mut checks = Vec::new();
        let mut arms = Vec::new();
        for f in fields {
            let field = &f.name;
            let key = camel(&field.to_string());
            let range = match (&f.range, ranges.get(&field.to_string())) {
                (Some(_), Some(_)) => {
                    return Err(syn::Error::new(
                        field.span(),
                        format!("js_options: the range of `{field}` is declared on an earlier struct already"),
                    ))
                }
                (Some(r), None) => {
                    ranges.insert(field.to_string(), r.clone());
                    Some(r.clone())
                }
                (None, shared) => shared.cloned(),
            };
            let ty = &f.inner;
            let typeof_ = js_type(ty)?;
            if range.is_some() && typeof_ != "number" {
                return Err(syn::Error::new_spanned(ty, "js_options: only a number has a range"));
            }
            let fdocs = docs(&f.attrs, range.as_ref(), field.span())?;
            defs.push(quote! { #(#fdocs)* pub #field: Option<#ty>, });
            key_list.push(quote! { (#key, #typeof_), });
            if let Some(r) = range {
                let (min, max) = (Literal::f64_suffixed(r.min), Literal::f64_suffixed(r.max));
                let whole = if r.integer {
                    quote! { && v.fract() == 0.0 }
                } else {
                    quote! {}
                };
                let kind = if r.integer { "an integer" } else { "a number" };
                let unit = if r.unit.is_empty() {
                    String::new()
                } else {
                    format!(" {}", r.unit)
                };
                let message = format!(
                    "{what}.{key} must be {kind} between {} and {}{unit} (got {{}})",
                    shown(r.min),
                    shown(r.max)
                );
                range_list.push(quote! { (#key, #min, #max), });
                checks.push(quote! {
                    if let Some(v) = self.#field {
                        Self::check_one(#key, v)?;
                    }
                });
                arms.push(quote! {
                    #key => {
                        if !(v.is_finite() && (#min..=#max).contains(&v) #whole) {
                            return Err(::perse_core::Error::invalid(format!(#message, v)));
                        }
                    }
                });
            }
        }
        let check_one = match arms.is_empty() {
            true => quote! { let _ = (key, v); },
            false => quote! { match key { #(#arms)* _ => {} } },
        };
        if let Some(other) = into {
            let names = fields.iter().map(|f| &f.name);
            out.extend(quote! {
                impl From<#name> for #other {
                    fn from(o: #name) -> Self {
                        #other { #(#names: o.#names,)* }
                    }
                }
            });
        }
        let keys_doc = format!("The JS keys of `{name}` with the `typeof` each must have (see `js_options!`).");
        out.extend(quote! {
            #(#struct_docs)*
            #[derive(Clone, Debug, Default)]
            #vis struct #name { #(#defs)* }

            #[doc = #keys_doc]
            #vis const #keys: &[(&str, &str)] = &[#(#key_list)*];

            impl #name {
                /// Each numeric option's key with its range, `(key, min, max)`.
                pub const RANGES: &'static [(&'static str, f64, f64)] = &[#(#range_list)*];

                /// Refuses the first option that is out of its range, with `invalid_argument`.
                /// Call it before converting any numeric field.
                pub fn check(&self) -> ::perse_core::Result<()> {
                    #(#checks)*
                    Ok(())
                }

                /// Refuses `v` when it is out of the range of the option `key` (a key without
                /// a range accepts anything).
                pub fn check_one(key: &str, v: f64) -> ::perse_core::Result<()> {
                    #check_one
                    Ok(())
                }
            }
        });
    }
    Ok(out)
}
