//! What `js_options!` (crates/perse-options) generates, on two small structs: the key list, the
//! checks and their messages, a range shared by a later struct, and the field-by-field
//! conversion. Here rather than in perse-options: see its Cargo.toml.

use perse_options::js_options;

#[derive(Debug, Default, PartialEq)]
pub struct Plain {
    pub limit_ms: Option<f64>,
    pub name: Option<String>,
}

js_options! {
    /// First.
    pub struct First [FIRST_KEYS] {
        /// A limit ({range}).
        #[number(0.5 ..= 10, "milliseconds")]
        limit_ms: Option<f64>,
        /// A count ({range}).
        #[integer(1 ..= 1_000_000_000)]
        count: Option<f64>,
        /// A name.
        name: Option<String>,
        /// A switch.
        on: Option<bool>,
    }

    /// Second: `limit_ms` has First's range.
    #[into(Plain)]
    pub struct Second [SECOND_KEYS, "fault"] {
        /// The same limit ({range}).
        limit_ms: Option<f64>,
        /// A name.
        name: Option<String>,
    }
}

fn message(r: perse_core::Result<()>) -> Option<String> {
    r.err().map(|e| {
        assert_eq!(e.code(), "invalid_argument");
        e.to_string()
    })
}

#[test]
fn keys_are_camel_case_with_their_typeof() {
    assert_eq!(
        FIRST_KEYS,
        &[
            ("limitMs", "number"),
            ("count", "number"),
            ("name", "string"),
            ("on", "boolean")
        ]
    );
    assert_eq!(SECOND_KEYS, &[("limitMs", "number"), ("name", "string")]);
    assert_eq!(First::RANGES, &[("limitMs", 0.5, 10.0), ("count", 1.0, 1e9)]);
    assert_eq!(Second::RANGES, &[("limitMs", 0.5, 10.0)]);
}

#[test]
fn a_number_is_checked_against_its_range_and_kind() {
    let ok = First {
        limit_ms: Some(0.5),
        count: Some(1e9),
        ..Default::default()
    };
    assert_eq!(message(ok.check()), None);
    assert_eq!(message(First::default().check()), None);
    for v in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY, 0.4, 10.5, -1.0, f64::MAX] {
        let o = First {
            limit_ms: Some(v),
            ..Default::default()
        };
        assert!(o.check().is_err(), "{v}");
    }
    let o = First {
        limit_ms: Some(11.0),
        ..Default::default()
    };
    assert_eq!(
        message(o.check()).as_deref(),
        Some("options.limitMs must be a number between 0.5 and 10 milliseconds (got 11)")
    );
    let o = First {
        count: Some(2.5),
        ..Default::default()
    };
    assert_eq!(
        message(o.check()).as_deref(),
        Some("options.count must be an integer between 1 and 1000000000 (got 2.5)")
    );
    assert_eq!(message(First::check_one("name", f64::NAN)), None, "no range, no check");
}

#[test]
fn a_later_struct_shares_the_range_and_names_its_parameter() {
    let o = Second {
        limit_ms: Some(0.0),
        name: None,
    };
    assert_eq!(
        message(o.check()).as_deref(),
        Some("fault.limitMs must be a number between 0.5 and 10 milliseconds (got 0)")
    );
    let plain = Plain::from(Second {
        limit_ms: Some(2.0),
        name: Some("x".into()),
    });
    assert_eq!(
        plain,
        Plain {
            limit_ms: Some(2.0),
            name: Some("x".into())
        }
    );
}
