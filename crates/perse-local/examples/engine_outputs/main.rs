//! Writes the local server's pipeline outputs on the evaluation photos (see `outputs.rs`).
//!
//! ```sh
//! cargo run --release -p perse-local --example engine_outputs -- OUT.json
//! ```
//! `engine/eval/outputs/<commit>.json` was written this way at the commit it is named after
//! (copying this folder there), and `tests/engine_outputs.rs` holds today's engine to it.

#[path = "../eval/data.rs"]
#[allow(dead_code)] // the eval's loader, of which this uses the photos only
mod data;
mod outputs;

use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out = std::env::args().nth(1).ok_or("usage: engine_outputs OUT.json")?;
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let engine = perse_local::analysis::Engine::load(&root.join("packages/local/weights"))?;
    let photos = data::load(&root.join("engine/eval"))?;
    let v = outputs::outputs(&engine, &photos)?;
    std::fs::write(&out, serde_json::to_string(&v)?)?;
    let faces: usize = v
        .as_object()
        .map_or(0, |o| o.values().filter_map(|f| f.as_array()).map(Vec::len).sum());
    println!("{out}: {} photos, {faces} faces", photos.len());
    Ok(())
}
