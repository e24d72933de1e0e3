//! The calls a binding starts by number, declared with [`calls!`] in `endpoints.rs` beside
//! the methods they run: each one's JS name, tracing operation, HTTP method and path, and
//! argument kinds ([`CallSpec`]), and `Client::call`, which launches call number n with the
//! arguments a binding read by those kinds. Bindings name no call: the napi addon's
//! `src/calls.rs` reads arguments by kind, and JS learns names and numbers from the table.

use crate::client::CompareInput;
use crate::image::ImageSource;

/// An argument of a call, as a binding read it (by its [`ArgKind`] in `CALLS`).
#[derive(Debug)]
pub enum Arg {
    Text(String),
    Image(ImageSource),
    Side(CompareInput),
}

/// What a call takes at one position: a string (its name is for error messages), an image, or
/// one side of a compare (an image, or an enrolled user's token; two positions in JS, image then
/// token, one of them null).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArgKind {
    Text(&'static str),
    Image,
    Side,
}

/// A call a binding can start (see `CALLS`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CallSpec {
    /// The JS method that starts it (`detect`; `list` for `enrollment.list`): its key in JS.
    pub name: &'static str,
    /// Its name for tracing (`perse-node:call`'s `operation`, the OpenTelemetry span).
    pub operation: &'static str,
    /// The HTTP method and path it requests (`{userToken}` for a path segment), as the
    /// contract lists it; `tests/calls.rs` holds each to the request the method really sends.
    pub method: &'static str,
    pub path: &'static str,
    /// Its arguments, in order.
    pub args: &'static [ArgKind],
}

/// Declares the calls bindings start by number: `CALLS` and `Client::call` (invoked once, in
/// `endpoints.rs`).
macro_rules! calls {
    ($client:ident, $opts:ident; $( $name:literal as $op:literal, $method:ident $path:literal ( $( $arg:ident : $kind:ident $( ($label:literal) )? ),* ) => $body:expr ; )*) => {
        /// Every call a binding can start, in the order of their numbers. A binding reads the
        /// arguments by kind and passes the call's number to [`Client::call`].
        pub const CALLS: &[$crate::calls::CallSpec] = &[ $( $crate::calls::CallSpec {
            name: $name,
            operation: $op,
            method: stringify!($method),
            path: $path,
            args: &[ $( $crate::calls::calls!(@kind $kind $( $label )?) ),* ],
        } ),* ];

        impl $crate::Client {
            /// Runs call number `call` of [`CALLS`] with the arguments a binding read for it.
            pub async fn call(
                &self,
                call: usize,
                args: Vec<$crate::calls::Arg>,
                opts: &$crate::CallOptions,
            ) -> $crate::Result<$crate::CallResult> {
                let ($client, $opts) = (self, opts);
                let mut args = args.into_iter();
                match CALLS.get(call).map(|c| c.name) {
                    $( Some($name) => {
                        $( let $arg = $crate::calls::calls!(@take args $kind)?; )*
                        $body
                    } )*
                    _ => Err($crate::Error::invalid(format!("no call number {call}"))),
                }
            }
        }
    };
    (@kind Text $label:literal) => { $crate::calls::ArgKind::Text($label) };
    (@kind Image) => { $crate::calls::ArgKind::Image };
    (@kind Side) => { $crate::calls::ArgKind::Side };
    (@take $args:ident $kind:ident) => {
        match $args.next() {
            Some($crate::calls::Arg::$kind(v)) => Ok(v),
            _ => Err($crate::Error::invalid(concat!("a call's arguments do not match its kinds (", stringify!($kind), ")"))),
        }
    };
}
pub(crate) use calls;
