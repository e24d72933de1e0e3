//! `CALLS` against what each call really sends: every entry's HTTP method and path are the
//! ones its `Client` method requests (the table is what JS traces and documents by), and every
//! call starts through `Client::call` with the arguments its kinds describe.

use std::sync::{Arc, Mutex};

use bytes::Bytes;
use perse_core::{
    Arg, ArgKind, Attempt, AttemptFuture, CallOptions, Client, CompareInput, Config, Exchange, ImageSource, Transport,
    CALLS,
};

/// Records each request's method and URL, and answers 503 (not retried: `maxRetries` is 0).
#[derive(Default)]
struct Recorder {
    seen: Mutex<Vec<(String, String)>>,
}

impl Transport for Recorder {
    fn send<'a>(&'a self, x: Exchange<'a>) -> AttemptFuture<'a> {
        self.seen
            .lock()
            .unwrap()
            .push((x.request.method.to_string(), x.url.clone()));
        Box::pin(async {
            Attempt::Response {
                status: 503,
                retry_after: None,
                body: Bytes::from_static(b"{}"),
                request_id: None,
            }
        })
    }
}

fn image() -> ImageSource {
    let png = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/png-rgba.png")).unwrap();
    ImageSource::Bytes(Bytes::from(png))
}

#[test]
fn every_call_sends_the_method_and_path_its_table_entry_names() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let base = "https://perse.test/v0";
    for (n, spec) in CALLS.iter().enumerate() {
        let recorder = Arc::new(Recorder::default());
        let mut config = Config {
            base_url: base.into(),
            ..Config::default()
        };
        config.retry.max_retries = 0;
        let client = Client::with_transport(config, recorder.clone()).unwrap();
        client.set_token(Some("tok".into())).unwrap();
        let args = spec
            .args
            .iter()
            .map(|k| match k {
                ArgKind::Text(_) => Arg::Text(if spec.name == "login" {
                    "sk_test_1".into()
                } else {
                    "usr_1".into()
                }),
                ArgKind::Image => Arg::Image(image()),
                ArgKind::Side => Arg::Side(CompareInput::Image(image())),
            })
            .collect();
        let opts = CallOptions {
            consent: true,
            ..CallOptions::default()
        };
        let outcome = rt.block_on(client.call(n, args, &opts));
        let err = outcome.expect_err("the recorder answers 503");
        assert_eq!(err.http_status(), Some(503), "{}: {err}", spec.name);
        let seen = recorder.seen.lock().unwrap().clone();
        let path = spec.path.replace("{userToken}", "usr_1");
        assert_eq!(
            seen,
            vec![(spec.method.to_string(), format!("{base}{path}"))],
            "{}",
            spec.name
        );
    }
}

#[test]
fn call_names_are_unique_and_operations_name_their_method() {
    let mut names: Vec<_> = CALLS.iter().map(|c| c.name).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), CALLS.len());
    for c in CALLS {
        assert!(
            c.operation == c.name || c.operation.ends_with(&format!(".{}", c.name)),
            "{c:?}"
        );
    }
}
