//! The request loop without Node and without a network: retries, `Retry-After`, the 401
//! refresh, single-flight refresh under load, timeouts, limits and redaction, against a
//! scripted [`Transport`]. Waits are made short (milliseconds) rather than paused, so these
//! tests share the workspace's tokio build.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use perse_core::{
    check_headers, Attempt, AttemptFuture, CallLog, CallOptions, Client, Config, Exchange, TokenFuture, TokenProvider,
    Transport,
};

const LIST: &str = r#"{"user_tokens":["usr_1"],"total_users":1,"time_taken":0.01}"#;

/// One request as the script saw it.
#[derive(Clone, Debug)]
struct Seen {
    url: String,
    token: Option<String>,
    /// The `X-Request-Id` sent.
    call: String,
    /// The extra headers sent, client's then call's.
    headers: Vec<(String, String)>,
}

type Answer = dyn Fn(usize, &Seen) -> Attempt + Send + Sync;

/// A transport that answers the n-th request with `answer(n, request)`, after `delay`.
struct Script {
    seen: Mutex<Vec<Seen>>,
    answer: Box<Answer>,
    delay: Duration,
}

impl Script {
    fn new(answer: impl Fn(usize, &Seen) -> Attempt + Send + Sync + 'static) -> Arc<Self> {
        Self::slow(Duration::ZERO, answer)
    }

    fn slow(delay: Duration, answer: impl Fn(usize, &Seen) -> Attempt + Send + Sync + 'static) -> Arc<Self> {
        Arc::new(Script {
            seen: Mutex::new(Vec::new()),
            answer: Box::new(answer),
            delay,
        })
    }

    fn count(&self) -> usize {
        self.seen.lock().unwrap().len()
    }
}

impl Transport for Script {
    fn send<'a>(&'a self, x: Exchange<'a>) -> AttemptFuture<'a> {
        Box::pin(async move {
            let seen = Seen {
                url: x.url.clone(),
                token: x.token.map(str::to_string),
                call: x.call.to_string(),
                headers: x
                    .headers
                    .iter()
                    .flatten()
                    .flat_map(|h| {
                        h.iter()
                            .map(|(n, v)| (n.to_string(), v.to_str().unwrap_or("").to_string()))
                    })
                    .collect(),
            };
            let n = {
                let mut s = self.seen.lock().unwrap();
                s.push(seen.clone());
                s.len() - 1
            };
            if !self.delay.is_zero() {
                tokio::time::sleep(self.delay).await;
            }
            (self.answer)(n, &seen)
        })
    }
}

fn reply(status: u16, body: &str) -> Attempt {
    Attempt::Response {
        status,
        retry_after: None,
        body: Bytes::from(body.to_string()),
        request_id: None,
    }
}

fn client(script: &Arc<Script>, tweak: impl FnOnce(&mut Config)) -> Client {
    let mut config = Config {
        base_url: "https://perse.test/v0".into(),
        ..Config::default()
    };
    config.retry.base_delay = Duration::from_millis(1);
    config.retry.max_delay = Duration::from_millis(5);
    tweak(&mut config);
    Client::with_transport(config, script.clone()).unwrap()
}

fn opts() -> CallOptions {
    CallOptions::default()
}

/// Hands out `tok-1`, `tok-2`, ... after `delay`, counting the calls.
struct Counter {
    calls: AtomicUsize,
    delay: Duration,
}

impl TokenProvider for Counter {
    fn fetch_token(&self) -> TokenFuture {
        let n = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
        let delay = self.delay;
        Box::pin(async move {
            tokio::time::sleep(delay).await;
            Ok(format!("tok-{n}"))
        })
    }
}

#[tokio::test]
async fn a_503_is_retried_with_backoff_until_it_succeeds() {
    let s = Script::new(|n, _| if n < 2 { reply(503, "") } else { reply(200, LIST) });
    let c = client(&s, |_| {});
    c.set_token(Some("t.o.k".into())).unwrap();
    let r = c.list(&opts()).await.unwrap();
    assert_eq!(r.total_users, 1);
    assert_eq!(s.count(), 3);
    assert!(s
        .seen
        .lock()
        .unwrap()
        .iter()
        .all(|x| x.url == "https://perse.test/v0/face/enrollment/list"));
}

#[tokio::test]
async fn retries_stop_at_max_retries_and_the_error_says_how_many_attempts() {
    let s = Script::new(|_, _| reply(502, "<html>bad gateway</html>"));
    let c = client(&s, |c| c.retry.max_retries = 3);
    c.set_token(Some("t.o.k".into())).unwrap();
    let e = c.list(&opts()).await.unwrap_err();
    assert_eq!((e.code(), e.attempts, e.retryable), ("server_error", 4, true));
    assert_eq!(s.count(), 4);
}

#[tokio::test]
async fn retry_after_is_waited_for_and_too_long_a_wait_fails_at_once() {
    let s = Script::new(|n, _| match n {
        0 => Attempt::Response {
            status: 429,
            retry_after: Some(Duration::from_secs(1)),
            body: Bytes::new(),
            request_id: None,
        },
        _ => reply(200, LIST),
    });
    let c = client(&s, |_| {});
    c.set_token(Some("t.o.k".into())).unwrap();
    let started = tokio::time::Instant::now();
    c.list(&opts()).await.unwrap();
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "waited {:?}",
        started.elapsed()
    );

    let s = Script::new(|_, _| Attempt::Response {
        status: 503,
        retry_after: Some(Duration::from_secs(3600)),
        body: Bytes::new(),
        request_id: None,
    });
    let c = client(&s, |_| {});
    c.set_token(Some("t.o.k".into())).unwrap();
    let e = c.list(&opts()).await.unwrap_err();
    assert_eq!((e.code(), s.count()), ("server_error", 1));
}

#[tokio::test]
async fn an_enrollment_is_not_resent_once_the_server_may_have_seen_it() {
    let s = Script::new(|_, _| Attempt::Broken {
        message: "reset".into(),
        reset: true,
        status: None,
    });
    let c = client(&s, |_| {});
    c.set_token(Some("t.o.k".into())).unwrap();
    let jpeg = Bytes::from_static(include_bytes!("../../../__test__/fixtures/astronaut.jpg"));
    let o = CallOptions {
        consent: true,
        ..opts()
    };
    let e = c.enroll(perse_core::ImageSource::Bytes(jpeg), &o).await.unwrap_err();
    assert_eq!((e.code(), e.retryable, s.count()), ("network_error", false, 1));
}

#[tokio::test]
async fn a_401_refreshes_the_token_once_and_resends() {
    let s = Script::new(|_, seen| match seen.token.as_deref() {
        Some("tok-2") => reply(200, LIST),
        _ => reply(401, r#"{"code":"unauthorized","message":"expired"}"#),
    });
    let c = client(&s, |_| {});
    let p = Arc::new(Counter {
        calls: AtomicUsize::new(0),
        delay: Duration::ZERO,
    });
    c.set_token_provider(Some(p.clone())).unwrap();
    c.list(&opts()).await.unwrap();
    let tokens: Vec<_> = s
        .seen
        .lock()
        .unwrap()
        .iter()
        .map(|x| x.token.clone().unwrap())
        .collect();
    assert_eq!(tokens, ["tok-1", "tok-2"]);

    // A second 401 after the refresh is the caller's answer: no loop.
    let s = Script::new(|_, _| reply(401, ""));
    let c = client(&s, |_| {});
    c.set_token_provider(Some(p.clone())).unwrap();
    let e = c.list(&opts()).await.unwrap_err();
    assert_eq!((e.code(), s.count()), ("unauthorized", 2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_hundred_concurrent_calls_on_a_stale_token_share_one_refresh() {
    let s = Script::slow(Duration::from_millis(5), |_, seen| match seen.token.as_deref() {
        Some("tok-1") => reply(200, LIST),
        _ => reply(401, ""),
    });
    let c = Arc::new(client(&s, |_| {}));
    let p = Arc::new(Counter {
        calls: AtomicUsize::new(0),
        delay: Duration::from_millis(50),
    });
    c.set_token_provider(Some(p.clone())).unwrap();
    let calls: Vec<_> = (0..500)
        .map(|_| {
            let c = c.clone();
            tokio::spawn(async move { c.list(&opts()).await })
        })
        .collect();
    for call in calls {
        call.await.unwrap().unwrap();
    }
    assert_eq!(p.calls.load(Ordering::SeqCst), 1, "one refresh for everyone");
    assert_eq!(s.count(), 500);
}

#[tokio::test]
async fn a_silent_server_times_out_per_attempt() {
    let s = Script::slow(Duration::from_secs(3600), |_, _| reply(200, LIST));
    let c = client(&s, |c| {
        c.timeout = Duration::from_millis(150);
        c.retry.max_retries = 2;
    });
    c.set_token(Some("t.o.k".into())).unwrap();
    let started = tokio::time::Instant::now();
    let e = c.list(&opts()).await.unwrap_err();
    assert_eq!((e.code(), e.attempts), ("timeout", 3));
    assert!(e.to_string().contains("150 ms"));
    assert!(started.elapsed() >= Duration::from_millis(450));
}

#[tokio::test]
async fn local_failures_and_oversized_bodies_are_final() {
    let attempts: [fn() -> Attempt; 2] = [
        || Attempt::Local("bad header value".into()),
        || Attempt::TooLarge {
            status: 200,
            limit: 16,
            request_id: None,
        },
    ];
    for attempt in attempts {
        let s = Script::new(move |_, _| attempt());
        let c = client(&s, |_| {});
        c.set_token(Some("t.o.k".into())).unwrap();
        let e = c.list(&opts()).await.unwrap_err();
        assert!(!e.retryable, "{e}");
        assert_eq!(s.count(), 1, "not resent: {e}");
        assert!(["internal_error", "response_too_large"].contains(&e.code()));
    }
}

#[tokio::test]
async fn every_secret_held_is_redacted_from_server_messages() {
    let s = Script::new(|_, _| {
        reply(
            400,
            r#"{"code":"user_token_not_found","message":"first tok-1, now tok-2, key sk_secret_key\nFAKE: log line"}"#,
        )
    });
    let c = client(&s, |_| {});
    c.set_token(Some("tok-1".into())).unwrap();
    c.set_token(Some("tok-2".into())).unwrap();
    c.set_private_key(Some("sk_secret_key".into())).unwrap();
    let e = c.delete("usr_1", &opts()).await.unwrap_err();
    assert_eq!(
        e.to_string(),
        "first [redacted], now [redacted], key [redacted] FAKE: log line"
    );
}

#[tokio::test]
async fn calls_and_setters_on_a_closed_client_refuse_and_nothing_is_held() {
    let s = Script::new(|_, _| reply(200, LIST));
    let c = client(&s, |_| {});
    c.set_token(Some("t.o.k".into())).unwrap();
    c.close();
    assert!(!c.has_token());
    assert_eq!(c.list(&opts()).await.unwrap_err().code(), "client_closed");
    assert_eq!(c.set_token(Some("a.b.c".into())).unwrap_err().code(), "client_closed");
    assert_eq!(
        c.set_private_key(Some("sk".into())).unwrap_err().code(),
        "client_closed"
    );
    assert_eq!(c.configure(Config::default()).unwrap_err().code(), "client_closed");
    assert_eq!(s.count(), 0);
}

#[tokio::test]
async fn loopback_base_urls_are_sent_direct() {
    let direct = Arc::new(Mutex::new(Vec::new()));
    struct Probe(Arc<Mutex<Vec<bool>>>);
    impl Transport for Probe {
        fn send<'a>(&'a self, x: Exchange<'a>) -> AttemptFuture<'a> {
            self.0.lock().unwrap().push(x.direct);
            Box::pin(async { reply(200, LIST) })
        }
    }
    for base in [
        "https://api.perse.test/v0",
        "http://127.0.0.1:9/v0",
        "http://localhost:9/v0",
        "http://[::1]:9/v0",
    ] {
        let config = Config {
            base_url: base.into(),
            ..Config::default()
        };
        let c = Client::with_transport(config, Arc::new(Probe(direct.clone()))).unwrap();
        c.set_token(Some("t.o.k".into())).unwrap();
        c.list(&opts()).await.unwrap();
    }
    assert_eq!(*direct.lock().unwrap(), [false, true, true, true]);
}

#[tokio::test]
async fn a_traced_call_logs_each_attempt_its_refresh_and_one_request_id() {
    // 503, then 401 (refresh), then 200 with the server's own id.
    let s = Script::new(|n, _| match n {
        0 => reply(503, ""),
        1 => reply(401, ""),
        _ => Attempt::Response {
            status: 200,
            retry_after: None,
            body: Bytes::from(LIST),
            request_id: Some("srv-1".into()),
        },
    });
    let c = client(&s, |_| {});
    let p = Arc::new(Counter {
        calls: AtomicUsize::new(0),
        delay: Duration::ZERO,
    });
    c.set_token_provider(Some(p.clone())).unwrap();
    let o = CallOptions {
        log: Arc::new(CallLog::new(true)),
        ..opts()
    };
    c.list(&o).await.unwrap();
    let seen = s.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 3);
    assert!(
        seen.iter().all(|x| x.call == seen[0].call && x.call.len() == 16),
        "{seen:?}"
    );
    assert_eq!(o.log.request_id().as_deref(), Some("srv-1"), "the server's id wins");
    let t = o.log.trace().unwrap();
    let steps: Vec<_> = t
        .attempts
        .iter()
        .map(|a| (a.status, a.next.as_str(), a.code.as_deref()))
        .collect();
    assert_eq!(
        steps,
        [
            (Some(503), "retry", Some("server_error")),
            (Some(401), "refresh", Some("unauthorized")),
            (Some(200), "done", None)
        ]
    );
    assert!(t.refreshed && t.attempts.iter().all(|a| a.ms >= 0.0));

    // Untraced: no trace kept; without a server id the id sent is the call's; a caller's own
    // X-Request-Id is sent as the call's id, and extra headers travel client's then call's.
    let s = Script::new(|_, _| reply(500, ""));
    let c = client(&s, |cfg| {
        cfg.headers = Some(Arc::new(check_headers([("x-tenant", "a")], "h", false).unwrap()));
        cfg.retry.max_retries = 1;
    });
    c.set_token(Some("t.o.k".into())).unwrap();
    let o = opts();
    c.list(&o).await.unwrap_err();
    let seen = s.seen.lock().unwrap().clone();
    assert_eq!(o.log.request_id(), Some(seen[0].call.clone()));
    assert!(o.log.trace().is_none());
    assert_eq!(seen[0].headers, [("x-tenant".to_string(), "a".to_string())]);
    let o = CallOptions {
        headers: Some(Arc::new(
            check_headers([("X-Request-Id", "mine-1"), ("x-tenant", "b")], "h", true).unwrap(),
        )),
        ..opts()
    };
    c.list(&o).await.unwrap_err();
    let seen = s.seen.lock().unwrap().clone();
    assert_eq!((seen[2].call.as_str(), seen[3].call.as_str()), ("mine-1", "mine-1"));
    assert_eq!(o.log.request_id().as_deref(), Some("mine-1"));
}
