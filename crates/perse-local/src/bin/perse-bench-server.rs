//! A minimal loopback HTTP server for `bench/http.mjs`: it reads each request body in full
//! and answers with a fixed, contract-shaped detect JSON. No analysis, no validation: it
//! exists to be much faster than any client it is measured with. Prints its port, then
//! serves until stdin closes.

use std::net::SocketAddr;

use axum::body::{to_bytes, Body};
use axum::http::{header, Request, Response};

const DETECT: &str = r#"{"total_faces":1,"faces":[{"bounding_box":[176,69,96,96],"face_metrics":{"underexposure":0.056,"overexposure":0.004,"sharpness":0.597},"liveness_score":0.9}],"image_metrics":{"underexposure":0.506,"overexposure":0.037,"sharpness":0.939},"time_taken":0.001,"default_thresholds":{"underexposure":0.5,"overexposure":0.5,"sharpness":0.15,"liveness":0.5},"status":true,"message":"ok"}"#;

async fn handle(req: Request<Body>) -> Response<Body> {
    let len = to_bytes(req.into_body(), 16 * 1024 * 1024)
        .await
        .map(|b| b.len())
        .unwrap_or(0);
    let mut res = Response::new(Body::from(DETECT));
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json"),
    );
    if len == 0 {
        *res.status_mut() = axum::http::StatusCode::BAD_REQUEST;
    }
    res
}

fn main() -> std::io::Result<()> {
    let threads = std::env::var("BENCH_SERVER_THREADS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .enable_all()
        .build()?;
    rt.block_on(async {
        let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
        println!("{}", listener.local_addr()?.port());
        let app = axum::Router::new().fallback(handle);
        // Stop when the parent closes our stdin (the bench script exiting, even on a crash).
        let stop = tokio::task::spawn_blocking(|| {
            let mut sink = String::new();
            while std::io::stdin().read_line(&mut sink).map(|n| n > 0).unwrap_or(false) {}
        });
        axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = stop.await;
            })
            .await
    })
}
