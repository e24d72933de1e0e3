//! The accept loop: HTTP/1.1 connections served with hyper, within two bounds. At most
//! `max_connections` are served at once, and each must send its request headers within
//! `header_timeout` (which also closes idle keep-alive connections), so a client that
//! trickles its headers, or never sends any, cannot hold a connection for long.
//!
//! At the cap, a new client does not wait behind idle keep-alive connections: the one idle
//! the longest is closed to make room (as a browser or a proxy closes idle connections under
//! pressure). Only when every connection is busy does the new one wait until one closes (the
//! next clients in the kernel's listen backlog), rather than being refused.

use std::sync::Arc;
use std::time::Duration;

use hyper_util::rt::{TokioIo, TokioTimer};
use perse_core::CancelToken;
use tower::ServiceExt;

/// How long a closing server waits for requests in flight before dropping them.
const DRAIN: Duration = Duration::from_secs(2);

/// The connections served now that are between requests, oldest idle first: each with the
/// signal that closes it.
#[derive(Default)]
struct Idle {
    next: u64,
    conns: std::collections::BTreeMap<u64, Arc<tokio::sync::Notify>>,
}

/// One connection's place in [`Idle`].
struct Tracker {
    idle: Arc<std::sync::Mutex<Idle>>,
    close: Arc<tokio::sync::Notify>,
    /// Its key in `Idle::conns` while idle.
    at: std::sync::Mutex<Option<u64>>,
}

impl Tracker {
    fn busy(&self) {
        if let Some(k) = lock(&self.at).take() {
            lock(&self.idle).conns.remove(&k);
        }
    }

    fn idle(&self) {
        let mut idle = lock(&self.idle);
        idle.next += 1;
        let k = idle.next;
        idle.conns.insert(k, self.close.clone());
        if let Some(old) = lock(&self.at).replace(k) {
            idle.conns.remove(&old);
        }
    }
}

impl Drop for Tracker {
    fn drop(&mut self) {
        self.busy();
    }
}

fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Asks the connection idle the longest to close; whether there was one.
fn close_oldest_idle(idle: &std::sync::Mutex<Idle>) -> bool {
    match lock(idle).conns.pop_first() {
        Some((_, close)) => {
            close.notify_one();
            true
        }
        None => false,
    }
}

pub async fn serve(
    listener: tokio::net::TcpListener,
    app: axum::Router,
    header_timeout: Duration,
    max_connections: usize,
    shutdown: CancelToken,
) {
    let slots = Arc::new(tokio::sync::Semaphore::new(max_connections));
    let idle = Arc::new(std::sync::Mutex::new(Idle::default()));
    let mut conns = tokio::task::JoinSet::new();
    loop {
        let stream = tokio::select! {
            _ = shutdown.cancelled() => break,
            a = listener.accept() => match a {
                Ok((stream, _)) => stream,
                // Out of file descriptors and the like: wait a little, then accept again.
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        // A slot for it; at the cap, make room by closing the connection idle the longest
        // (again every 20 ms, as busy connections turn idle), else wait for one to close.
        let slot = match slots.clone().try_acquire_owned() {
            Ok(s) => s,
            Err(_) => {
                let mut asked = close_oldest_idle(&idle);
                let slot = loop {
                    tokio::select! {
                        _ = shutdown.cancelled() => break None,
                        s = slots.clone().acquire_owned() => break s.ok(),
                        _ = tokio::time::sleep(Duration::from_millis(20)), if !asked => asked = close_oldest_idle(&idle),
                    }
                };
                match slot {
                    Some(s) => s,
                    None => break,
                }
            }
        };
        let _ = stream.set_nodelay(true);
        let tracker = Arc::new(Tracker {
            idle: idle.clone(),
            close: Arc::new(tokio::sync::Notify::new()),
            at: std::sync::Mutex::new(None),
        });
        let (app, t) = (app.clone(), tracker.clone());
        let service = hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
            t.busy();
            let (app, t) = (app.clone(), t.clone());
            async move {
                let response = app.oneshot(req).await;
                t.idle();
                response
            }
        });
        let stop = shutdown.clone();
        conns.spawn(async move {
            let mut builder = hyper::server::conn::http1::Builder::new();
            builder.timer(TokioTimer::new()).header_read_timeout(header_timeout);
            let conn = builder.serve_connection(TokioIo::new(stream), service);
            tokio::pin!(conn);
            tokio::select! {
                _ = conn.as_mut() => {}
                _ = tracker.close.notified() => {
                    conn.as_mut().graceful_shutdown();
                    let _ = tokio::time::timeout(DRAIN, conn).await;
                }
                _ = stop.cancelled() => {
                    conn.as_mut().graceful_shutdown();
                    let _ = tokio::time::timeout(DRAIN, conn).await;
                }
            }
            drop(tracker);
            drop(slot);
        });
        // Reap finished connections so the set does not grow with the server's lifetime.
        while conns.try_join_next().is_some() {}
    }
    drop(listener);
    let _ = tokio::time::timeout(DRAIN + Duration::from_millis(500), async {
        while conns.join_next().await.is_some() {}
    })
    .await;
    conns.abort_all();
}
