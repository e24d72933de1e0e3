//! A minimal loopback HTTP/1.1 server for `bench/http.mjs`: it receives each request body in
//! full, then answers with a fixed, contract-shaped detect JSON. No analysis, no validation:
//! it exists to be much cheaper than any client it is measured with, so it is hand-rolled
//! (one reused 256 KiB buffer per connection, keep-alive, pipelining, `Content-Length` and
//! chunked bodies) rather than built on a framework, whose per-request allocations and small
//! reads cost more than the clients being compared.
//!
//! Body bytes are counted and discarded. On Unix, the part of a `Content-Length` body that is
//! not already buffered is received with `recv(MSG_TRUNC)`: the kernel consumes those bytes
//! from the connection (so the server still waits for the whole upload, and the client still
//! sends all of it) without copying them to user space, which was a third of this server's
//! CPU. Prints its port, then serves until stdin closes.

use std::net::SocketAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const DETECT: &str = r#"{"total_faces":1,"faces":[{"bounding_box":[176,69,96,96],"face_metrics":{"underexposure":0.056,"overexposure":0.004,"sharpness":0.597},"liveness_score":0.9}],"image_metrics":{"underexposure":0.506,"overexposure":0.037,"sharpness":0.939},"time_taken":0.001,"default_thresholds":{"underexposure":0.5,"overexposure":0.5,"sharpness":0.15,"liveness":0.5},"status":true,"message":"ok"}"#;

const MAX_HEAD: usize = 64 * 1024;

/// How the body of the request being read is delimited.
enum Body {
    Length(usize),
    /// Chunked: bytes left in the current chunk, or `None` when a size line is next.
    Chunked(Option<usize>),
}

fn response(status: &str, body: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: keep-alive\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

fn find(h: &[u8], needle: &[u8]) -> Option<usize> {
    h.windows(needle.len()).position(|w| w == needle)
}

/// The value of header `name` (lower-case) in a request head.
fn header<'a>(head: &'a [u8], name: &[u8]) -> Option<&'a [u8]> {
    head.split(|&c| c == b'\n').skip(1).find_map(|line| {
        let colon = line.iter().position(|&c| c == b':')?;
        line[..colon]
            .eq_ignore_ascii_case(name)
            .then(|| line[colon + 1..].trim_ascii())
    })
}

async fn serve(mut sock: TcpStream, ok: &[u8], bad: &[u8]) -> std::io::Result<()> {
    sock.set_nodelay(true)?;
    let mut buf = vec![0u8; 256 * 1024];
    let (mut start, mut end) = (0usize, 0usize);
    let mut body: Option<Body> = None;
    let mut body_len = 0usize;
    let mut close = false;
    loop {
        // Consume what is buffered: a head, body bytes, or chunk framing.
        let progressed = match &mut body {
            None => match find(&buf[start..end], b"\r\n\r\n") {
                Some(i) => {
                    let head = &buf[start..start + i];
                    close = header(head, b"connection").is_some_and(|v| v.eq_ignore_ascii_case(b"close"));
                    if header(head, b"expect").is_some_and(|v| v.eq_ignore_ascii_case(b"100-continue")) {
                        sock.write_all(b"HTTP/1.1 100 Continue\r\n\r\n").await?;
                    }
                    let chunked =
                        header(head, b"transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case(b"chunked"));
                    let length = header(head, b"content-length")
                        .and_then(|v| std::str::from_utf8(v).ok()?.parse().ok())
                        .unwrap_or(0);
                    body = Some(if chunked {
                        Body::Chunked(None)
                    } else {
                        Body::Length(length)
                    });
                    body_len = 0;
                    start += i + 4;
                    true
                }
                None if end - start > MAX_HEAD => return Ok(()),
                None => false,
            },
            Some(Body::Length(left)) if *left > 0 && start == end => {
                // Nothing buffered: let the kernel drop the rest of the body for us.
                match discard(&sock, *left).await? {
                    0 => return Ok(()),
                    n => {
                        *left -= n;
                        body_len += n;
                        true
                    }
                }
            }
            Some(Body::Length(left)) | Some(Body::Chunked(Some(left))) if *left > 0 => {
                let n = (*left).min(end - start);
                *left -= n;
                body_len += n;
                start += n;
                n > 0
            }
            Some(Body::Length(_)) => {
                sock.write_all(if body_len > 0 { ok } else { bad }).await?;
                body = None;
                if close {
                    return Ok(());
                }
                true
            }
            Some(Body::Chunked(Some(_))) => match buf[start..end].starts_with(b"\r\n") {
                true => {
                    start += 2;
                    body = Some(Body::Chunked(None));
                    true
                }
                false => false,
            },
            Some(Body::Chunked(None)) => match find(&buf[start..end], b"\r\n") {
                Some(i) => {
                    let line = std::str::from_utf8(&buf[start..start + i]).unwrap_or("");
                    let size = usize::from_str_radix(line.split(';').next().unwrap_or("").trim(), 16).unwrap_or(0);
                    if size > 0 {
                        start += i + 2;
                        body = Some(Body::Chunked(Some(size)));
                        true
                    } else if end - (start + i + 2) >= 2 {
                        // The last chunk, then an empty trailer (no client here sends trailers).
                        start += i + 4;
                        sock.write_all(if body_len > 0 { ok } else { bad }).await?;
                        body = None;
                        if close {
                            return Ok(());
                        }
                        true
                    } else {
                        false
                    }
                }
                None => false,
            },
        };
        if !progressed && !fill(&mut start, &mut end, &mut buf, &mut sock).await? {
            return Ok(());
        }
    }
}

/// Receives and drops up to `n` bytes without copying them; returns how many (0: closed).
#[cfg(unix)]
async fn discard(sock: &TcpStream, n: usize) -> std::io::Result<usize> {
    use std::os::fd::AsRawFd;
    loop {
        sock.readable().await?;
        let got = sock.try_io(tokio::io::Interest::READABLE, || {
            // SAFETY: with MSG_TRUNC, TCP discards the bytes and writes nothing to the buffer.
            let r = unsafe {
                libc::recv(
                    sock.as_raw_fd(),
                    std::ptr::null_mut(),
                    n,
                    libc::MSG_TRUNC | libc::MSG_DONTWAIT,
                )
            };
            if r < 0 {
                Err(std::io::Error::last_os_error())
            } else {
                Ok(r as usize)
            }
        });
        match got {
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
            other => return other,
        }
    }
}

#[cfg(not(unix))]
async fn discard(sock: &TcpStream, n: usize) -> std::io::Result<usize> {
    let mut buf = vec![0u8; n.min(256 * 1024)];
    loop {
        sock.readable().await?;
        match sock.try_read(&mut buf) {
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
            other => return other,
        }
    }
}

/// Nothing more can be consumed: compacts the buffer if needed and reads. `false` on end of stream.
async fn fill(start: &mut usize, end: &mut usize, buf: &mut [u8], sock: &mut TcpStream) -> std::io::Result<bool> {
    if *start == *end {
        (*start, *end) = (0, 0);
    } else if *end == buf.len() {
        buf.copy_within(*start..*end, 0);
        (*start, *end) = (0, *end - *start);
    }
    let n = sock.read(&mut buf[*end..]).await?;
    *end += n;
    Ok(n > 0)
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
        let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
        println!("{}", listener.local_addr()?.port());
        let ok: &'static [u8] = response("200 OK", DETECT).leak();
        let bad: &'static [u8] = response(
            "400 Bad Request",
            r#"{"status":false,"code":"empty_file","message":"empty"}"#,
        )
        .leak();
        // Stop when the parent closes our stdin (the bench script exiting, even on a crash).
        let mut stop = tokio::task::spawn_blocking(|| {
            let mut sink = String::new();
            while std::io::stdin().read_line(&mut sink).map(|n| n > 0).unwrap_or(false) {}
        });
        loop {
            tokio::select! {
                accepted = listener.accept() => {
                    let (sock, _) = accepted?;
                    tokio::spawn(async move { let _ = serve(sock, ok, bad).await; });
                }
                _ = &mut stop => return Ok(()),
            }
        }
    })
}
