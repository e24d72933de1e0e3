//! Where a request's time went, by stage, sent back in a `Server-Timing` header
//! (`decode;dur=11.2, detect;dur=63.0, ...`, milliseconds): `npm run bench:engine` reads it to
//! break a call down by stage, and a browser's developer tools show it. The SDK ignores it.
//!
//! Stages: `queue` (waiting for an analysis slot and the memory budget), `cache` (hashing
//! the upload and looking it up, see `cache.rs`), `decode`, `detect` (with the quality
//! metrics of the image and its faces), `align` (cutting the face chip), `describe` (the
//! descriptor network), `reply` (serialising the answer) and `total` (the handler's wall
//! time). A compare's two images are analysed at the same time, so its stages add up the
//! work of both and can exceed `total`.

use std::time::{Duration, Instant};

use axum::http::HeaderValue;
use axum::response::Response;

/// Milliseconds by stage, in the order first recorded; a stage recorded twice adds up.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Timings(Vec<(&'static str, f64)>);

impl Timings {
    /// Adds `d` to `stage`.
    pub fn add(&mut self, stage: &'static str, d: Duration) {
        let ms = d.as_secs_f64() * 1e3;
        match self.0.iter_mut().find(|(s, _)| *s == stage) {
            Some((_, v)) => *v += ms,
            None => self.0.push((stage, ms)),
        }
    }

    /// Adds the time since `since` to `stage` and returns now (for the next stage).
    pub fn lap(&mut self, stage: &'static str, since: Instant) -> Instant {
        let now = Instant::now();
        self.add(stage, now - since);
        now
    }

    /// Adds every stage of `other`.
    pub fn merge(&mut self, other: &Timings) {
        for &(s, ms) in &other.0 {
            self.add(s, Duration::from_secs_f64(ms / 1e3));
        }
    }

    /// The milliseconds of `stage`, if recorded.
    #[cfg(test)]
    pub fn get(&self, stage: &str) -> Option<f64> {
        self.0.iter().find(|(s, _)| *s == stage).map(|(_, v)| *v)
    }

    /// Sets the `Server-Timing` header of `response`, with `reply` and `total` measured from
    /// `reply_started` and `started`.
    pub fn send(mut self, response: &mut Response, started: Instant, reply_started: Instant) {
        self.add("reply", reply_started.elapsed());
        self.add("total", started.elapsed());
        let value = self
            .0
            .iter()
            .map(|(s, ms)| format!("{s};dur={ms:.2}"))
            .collect::<Vec<_>>()
            .join(", ");
        if let Ok(v) = HeaderValue::from_str(&value) {
            response.headers_mut().insert("server-timing", v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stages_add_up_and_become_a_header() {
        let mut t = Timings::default();
        t.add("decode", Duration::from_millis(2));
        t.add("detect", Duration::from_millis(5));
        t.add("decode", Duration::from_millis(3));
        assert_eq!(t.get("decode"), Some(5.0));
        let mut r = Response::new(axum::body::Body::empty());
        let now = Instant::now();
        t.send(&mut r, now, now);
        let h = r.headers()["server-timing"].to_str().unwrap().to_string();
        assert!(h.starts_with("decode;dur=5.00, detect;dur=5.00, reply;dur="), "{h}");
        assert!(h.contains(", total;dur="), "{h}");
    }
}
