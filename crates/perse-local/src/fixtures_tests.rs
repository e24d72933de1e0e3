//! Analysis and the server checked against the real photos in `__test__/fixtures`.

use std::path::PathBuf;

use crate::analysis::{self, descriptor, Engine};
use crate::handlers::*;
use crate::server::*;

fn fixture_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../__test__/fixtures")
        .join(name)
}

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(fixture_path(name)).unwrap()
}

fn engine() -> std::sync::Arc<Engine> {
    Engine::load(&default_weights_dir()).unwrap()
}

fn run(det: &Engine, name: &str) -> analysis::Analysis {
    analysis::analyse(det, &analysis::decode(&fixture(name)).unwrap()).unwrap()
}

#[test]
fn face_counts_match_the_fixture_notes() {
    let det = engine();
    for (name, n) in [
        ("astronaut.jpg", 1),
        ("astronaut.png", 1),
        ("astronaut-crop.jpg", 1),
        ("hopper.jpg", 1),
    ] {
        assert_eq!(run(&det, name).faces.len(), n, "{name}");
    }
    for name in ["cat.png", "coffee.png", "rocket.jpg"] {
        assert_eq!(run(&det, name).faces.len(), 0, "{name}");
    }
    let face = &run(&det, "astronaut.jpg").faces[0];
    let b = face.bbox;
    // Eileen Collins' face in the 512x512 portrait spans roughly x 170-280, y 60-180.
    assert!((150..=200).contains(&b.x) && (40..=100).contains(&b.y), "{b:?}");
    assert!((70..=140).contains(&b.width) && (90..=170).contains(&b.height), "{b:?}");
    // Landmarks inside the box; eyes above the nose above the mouth; her right eye image-left.
    let [re, le, nose, mr, ml] = face.landmarks;
    for p in face.landmarks {
        assert!(p[0] >= b.x as f32 && p[0] <= (b.x + b.width) as f32, "{p:?} {b:?}");
        assert!(p[1] >= b.y as f32 && p[1] <= (b.y + b.height) as f32, "{p:?} {b:?}");
    }
    assert!(re[0] < le[0] && mr[0] < ml[0], "{:?}", face.landmarks);
    assert!(
        re[1].max(le[1]) < nose[1] && nose[1] < mr[1].min(ml[1]),
        "{:?}",
        face.landmarks
    );
}

#[test]
fn default_thresholds_classify_the_degraded_photos() {
    let det = engine();
    let good = &run(&det, "astronaut.jpg").faces[0].metrics;
    assert!(good.underexposure < THRESHOLD_UNDEREXPOSURE, "{good:?}");
    assert!(good.overexposure < THRESHOLD_OVEREXPOSURE, "{good:?}");
    assert!(good.sharpness > THRESHOLD_SHARPNESS, "{good:?}");
    let crop = &run(&det, "astronaut-crop.jpg").faces[0].metrics;
    assert!(
        crop.overexposure < THRESHOLD_OVEREXPOSURE && crop.sharpness > THRESHOLD_SHARPNESS,
        "{crop:?}"
    );
    let dark = &run(&det, "astronaut-underexposed.jpg").faces[0].metrics;
    assert!(dark.underexposure > THRESHOLD_UNDEREXPOSURE, "{dark:?}");
    let blurred = &run(&det, "astronaut-blurred.jpg").faces[0].metrics;
    assert!(blurred.sharpness < THRESHOLD_SHARPNESS, "{blurred:?}");
    assert!(blurred.underexposure < THRESHOLD_UNDEREXPOSURE && blurred.overexposure < THRESHOLD_OVEREXPOSURE);
    // x3.5 clips most of the face to white: the detector still finds it, and both the face's
    // and the image's metrics say it is overexposed.
    let bright = run(&det, "astronaut-overexposed.jpg");
    assert_eq!(bright.faces.len(), 1);
    assert!(
        bright.faces[0].metrics.overexposure > THRESHOLD_OVEREXPOSURE,
        "{:?}",
        bright.faces[0].metrics
    );
    assert!(
        bright.image_metrics.overexposure > THRESHOLD_OVEREXPOSURE,
        "{:?}",
        bright.image_metrics
    );
}

#[test]
fn descriptor_similarity_separates_same_from_different_people() {
    let det = engine();
    let d = |n: &str| {
        let a = run(&det, n);
        descriptor::describe(&det, &a.rgb, &a.faces[0]).unwrap()
    };
    let (astro, crop, png, hopper) = (
        d("astronaut.jpg"),
        d("astronaut-crop.jpg"),
        d("astronaut.png"),
        d("hopper.jpg"),
    );
    let same = descriptor::similarity(&astro, &crop);
    let different = descriptor::similarity(&astro, &hopper);
    assert!(
        same > THRESHOLD_SIMILARITY && THRESHOLD_SIMILARITY > different,
        "same {same}, different {different}"
    );
    assert!(descriptor::similarity(&astro, &png) > THRESHOLD_SIMILARITY);
    assert!(descriptor::similarity(&crop, &hopper) < THRESHOLD_SIMILARITY);
    assert!(descriptor::similarity(&astro, &astro) > 0.99);
}

/// A tiny PNG whose header declares `w` x `h` pixels.
pub fn png_bomb(w: u32, h: u32) -> Vec<u8> {
    let mut ihdr = b"IHDR".to_vec();
    ihdr.extend_from_slice(&w.to_be_bytes());
    ihdr.extend_from_slice(&h.to_be_bytes());
    ihdr.extend_from_slice(&[8, 0, 0, 0, 0]);
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    png.extend_from_slice(&13u32.to_be_bytes());
    png.extend_from_slice(&ihdr);
    png.extend_from_slice(&crc32fast::hash(&ihdr).to_be_bytes());
    for chunk in [&b"IDAT"[..], &b"IEND"[..]] {
        png.extend_from_slice(&[0, 0, 0, 0]);
        png.extend_from_slice(chunk);
        png.extend_from_slice(&crc32fast::hash(chunk).to_be_bytes());
    }
    png
}

#[test]
fn decompression_bombs_and_broken_files_are_refused() {
    let e = analysis::decode(&png_bomb(100_000, 100_000)).unwrap_err();
    assert!(e.contains("pixel limit"), "{e}");
    assert!(analysis::decode(b"<html></html>").is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serves_the_contract_end_to_end() {
    use perse_core::{CallOptions, Client, CompareInput, Config, ImageSource};
    let server = LocalServer::start(LocalServerOptions::default()).await.unwrap();
    assert!(server.url().starts_with("http://127.0.0.1:") && server.url().ends_with("/v0"));
    let client = Client::new(Config {
        base_url: server.url(),
        ..Config::default()
    })
    .unwrap();
    let opts = CallOptions {
        consent: true,
        ..CallOptions::default()
    };
    assert_eq!(
        client.login("wrong-key", &opts).await.unwrap_err().code(),
        "unauthorized"
    );
    client.login(server.private_key(), &opts).await.unwrap();
    let img = |n: &str| ImageSource::Path(fixture_path(n));
    let d = client.detect(img("astronaut.jpg"), &opts).await.unwrap().result;
    assert_eq!(d.total_faces, 1);
    assert_eq!(d.faces[0].liveness_score, DEFAULT_LIVENESS);
    assert_eq!(
        client
            .detect(img("rocket.jpg"), &opts)
            .await
            .unwrap()
            .result
            .total_faces,
        0
    );
    let enrolled = client.enroll(img("astronaut.jpg"), &opts).await.unwrap().result;
    let by_token = CompareInput::UserToken(enrolled.user_token.clone());
    let c = client
        .compare(by_token, CompareInput::Image(img("astronaut-crop.jpg")), &opts)
        .await
        .unwrap()
        .result;
    assert!(c.similarity > c.default_thresholds.similarity);
    let e = client.enroll(img("cat.png"), &opts).await.unwrap_err();
    assert_eq!((e.code(), e.http_status()), ("no_face_detected", Some(422)));
    client.delete(&enrolled.user_token, &opts).await.unwrap();
    assert_eq!(
        client.delete(&enrolled.user_token, &opts).await.unwrap_err().code(),
        "user_token_not_found"
    );
    let log = server.requests();
    assert!(log
        .iter()
        .all(|r| r.fields.iter().all(|f| f.size < 100 || f.value.is_none())));
    server.expire_tokens();
    assert_eq!(client.list(&opts).await.unwrap_err().code(), "unauthorized");
    server.close().await;
    assert!(server.is_closed());
}

/// One raw HTTP/1.1 request (the SDK hides response headers): status, `Server-Timing`, body.
async fn raw_post(
    url: &str,
    path: &str,
    auth: Option<&str>,
    content_type: &str,
    body: &[u8],
) -> (u16, String, serde_json::Value) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let host = url.trim_start_matches("http://").trim_end_matches("/v0");
    let mut s = tokio::net::TcpStream::connect(host).await.unwrap();
    let auth = auth.map_or(String::new(), |t| format!("authorization: Bearer {t}\r\n"));
    let head = format!(
        "POST /v0{path} HTTP/1.1\r\nhost: {host}\r\nconnection: close\r\n{auth}content-type: {content_type}\r\ncontent-length: {}\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).await.unwrap();
    s.write_all(body).await.unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).await.unwrap();
    let split = out.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8_lossy(&out[..split]).to_string();
    let status = head[9..12].parse().unwrap();
    let timing = head
        .lines()
        .find_map(|l| l.strip_prefix("server-timing: "))
        .unwrap_or("")
        .to_string();
    (
        status,
        timing,
        serde_json::from_slice(&out[split + 4..]).unwrap_or_default(),
    )
}

/// A multipart form of files and the consent field.
fn form(files: &[(&str, &str)]) -> (String, Vec<u8>) {
    let boundary = "perse-test-boundary";
    let mut body = Vec::new();
    for (field, name) in files {
        body.extend(format!("--{boundary}\r\ncontent-disposition: form-data; name=\"{field}\"; filename=\"{name}\"\r\ncontent-type: application/octet-stream\r\n\r\n").as_bytes());
        body.extend(fixture(name));
        body.extend(b"\r\n");
    }
    body.extend(format!("--{boundary}\r\ncontent-disposition: form-data; name=\"client_declaration_enduser_consent\"\r\n\r\ntrue\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

/// The analysis cache answers exactly as an analysis does (issue 27): detect, compare and
/// enroll against a server without it, the second of each call from the cache (its
/// `Server-Timing` has no decode), and a detect's entry is completed by a later compare.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_analysis_cache_changes_no_answer() {
    let cached = LocalServer::start(LocalServerOptions::default()).await.unwrap();
    let plain = LocalServer::start(LocalServerOptions {
        analysis_cache_entries: 0,
        ..LocalServerOptions::default()
    })
    .await
    .unwrap();
    let login = |s: &LocalServer| {
        let (url, key) = (s.url(), s.private_key().to_string());
        async move {
            let body = serde_json::json!({ "privateKey": key }).to_string();
            let (_, _, v) = raw_post(&url, "/login", None, "application/json", body.as_bytes()).await;
            v["token"].as_str().unwrap().to_string()
        }
    };
    let (tc, tp) = (login(&cached).await, login(&plain).await);
    let call = |s: &LocalServer, t: &str, path: &'static str, files: &[(&str, &str)]| {
        let (url, t, (ct, body)) = (s.url(), t.to_string(), form(files));
        async move {
            let (status, timing, mut v) = raw_post(&url, path, Some(&t), &ct, &body).await;
            v.as_object_mut().unwrap().remove("time_taken");
            if let Some(u) = v.get_mut("user_token") {
                *u = "usr_".into(); // a fresh token each time
            }
            (status, timing, v)
        }
    };
    let stages = |t: &str| {
        t.split(", ")
            .map(|s| s.split(';').next().unwrap_or("").to_string())
            .collect::<Vec<_>>()
    };
    for name in ["astronaut.jpg", "hopper.jpg", "cat.png"] {
        let files = [("image_file", name)];
        let want = call(&plain, &tp, "/face/detect", &files).await;
        assert!(!stages(&want.1).contains(&"cache".to_string()), "{}", want.1);
        let first = call(&cached, &tc, "/face/detect", &files).await;
        let again = call(&cached, &tc, "/face/detect", &files).await;
        assert_eq!((first.0, &first.2), (want.0, &want.2), "{name}: first detect");
        assert_eq!((again.0, &again.2), (want.0, &want.2), "{name}: cached detect");
        assert!(stages(&first.1).contains(&"decode".to_string()), "{}", first.1);
        assert!(
            !stages(&again.1).contains(&"decode".to_string()),
            "{name}: not from the cache: {}",
            again.1
        );
    }
    // astronaut.jpg was detected (no descriptor kept): the compare describes it, then not again.
    let pair = [("image_file1", "astronaut.jpg"), ("image_file2", "astronaut-crop.jpg")];
    let want = call(&plain, &tp, "/face/compare", &pair).await;
    assert_eq!(want.0, 200, "{:?}", want.2);
    let first = call(&cached, &tc, "/face/compare", &pair).await;
    let again = call(&cached, &tc, "/face/compare", &pair).await;
    assert_eq!(first.2, want.2);
    assert_eq!(again.2, want.2);
    assert!(stages(&first.1).contains(&"describe".to_string()), "{}", first.1);
    let s = stages(&again.1);
    assert!(
        !s.contains(&"decode".to_string()) && !s.contains(&"describe".to_string()),
        "{}",
        again.1
    );
    for (path, files) in [
        ("/face/enrollment", vec![("image_file", "astronaut.jpg")]),
        ("/face/enrollment", vec![("image_file", "cat.png")]),
        (
            "/face/compare",
            vec![("image_file1", "astronaut.jpg"), ("image_file2", "cat.png")],
        ),
    ] {
        let want = call(&plain, &tp, path, &files).await;
        let got = call(&cached, &tc, path, &files).await;
        assert_eq!((got.0, &got.2), (want.0, &want.2), "{path} {files:?}");
    }
    cached.close().await;
    plain.close().await;
}
