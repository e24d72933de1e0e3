//! The defaults the option docs state are the ones the code uses. Each option's doc line (in
//! its `js_options!` declaration, which napi writes into the root `binding.d.ts`, and from there
//! `scripts/doc-options.js` holds the docs' tables to it) says "default N"; the values
//! themselves live in `Config::default()` and `PrepareOptions::default()`. This test reads the
//! generated declarations and fails when a doc line and a default drift apart.

use std::collections::BTreeMap;

use perse_core::{Config, PrepareOptions};

/// `key → the number after "default"` for the fields of `export interface <name>`.
fn documented_defaults(name: &str) -> BTreeMap<String, f64> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../binding.d.ts");
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let start = text
        .find(&format!("export interface {name} {{"))
        .unwrap_or_else(|| panic!("no interface {name}"));
    let body = &text[start..start + text[start..].find("\n}").expect("interface end")];
    let mut out = BTreeMap::new();
    for chunk in body.split("/**").skip(1) {
        let Some((doc, rest)) = chunk.split_once("*/") else {
            continue;
        };
        let key: String = rest.trim_start().chars().take_while(|c| c.is_alphanumeric()).collect();
        let Some(at) = doc.find("default ") else { continue };
        let digits: String = doc[at + 8..].chars().take_while(|c| c.is_ascii_digit()).collect();
        if let Ok(n) = digits.parse() {
            out.insert(key, n);
        }
    }
    out
}

fn check(name: &str, actual: &[(&str, f64)]) {
    let documented = documented_defaults(name);
    for (key, value) in actual {
        assert_eq!(
            documented.get(*key),
            Some(value),
            "{name}.{key}: the doc line's default is not the code's"
        );
    }
    let known: Vec<&str> = actual.iter().map(|(k, _)| *k).collect();
    for key in documented.keys() {
        assert!(
            known.contains(&key.as_str()),
            "{name}.{key} documents a default this test does not compare: add it"
        );
    }
}

#[test]
fn client_option_defaults_are_documented_as_they_are() {
    let c = Config::default();
    check(
        "ClientOptions",
        &[
            ("timeoutMs", c.timeout.as_millis() as f64),
            ("maxRetries", c.retry.max_retries as f64),
            ("retryBaseDelayMs", c.retry.base_delay.as_millis() as f64),
            ("retryMaxDelayMs", c.retry.max_delay.as_millis() as f64),
            ("refreshSkewSeconds", c.refresh_skew.as_secs() as f64),
            ("maxUploadBytes", c.prepare.max_upload_bytes as f64),
            ("maxInputBytes", c.prepare.max_input_bytes as f64),
            ("maxPixels", c.prepare.max_pixels as f64),
            ("maxResponseBytes", c.max_response_bytes as f64),
        ],
    );
}

#[test]
fn prepare_image_defaults_are_documented_as_they_are() {
    let p = PrepareOptions::default();
    check(
        "PrepareOptions",
        &[
            ("maxUploadBytes", p.max_upload_bytes as f64),
            ("maxPixels", p.max_pixels as f64),
            ("maxDimension", p.max_dimension as f64),
            ("quality", p.quality as f64),
            ("maxInputBytes", p.max_input_bytes as f64),
        ],
    );
}
