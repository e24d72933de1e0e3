//! The local server's pipeline outputs on the evaluation photos: every face's box, score,
//! landmarks and descriptor, as `perse_local::analysis` computes them for a photo the way the
//! eval analyses it (`examples/eval/data.rs`: decoded as an upload is, tight chips padded).
//! Shared by `examples/engine_outputs` (which writes them) and `tests/engine_outputs.rs`
//! (which compares them with a reference written by an earlier engine).

use perse_local::analysis::{self, descriptor, Engine};
use serde_json::{json, Value};

use crate::data::Photo;

/// `{photo name: [{"box": [x, y, w, h], "score", "landmarks": [[x, y] x5], "descriptor": [128]}]}`.
pub fn outputs(engine: &Engine, photos: &[Photo]) -> Result<Value, String> {
    let mut all = serde_json::Map::new();
    for p in photos {
        let a = analysis::analyse(engine, &p.image)?;
        let faces = a
            .faces
            .iter()
            .map(|f| {
                let d = descriptor::describe(engine, &a.rgb, f)?;
                let b = f.bbox;
                Ok(json!({
                    "box": [b.x, b.y, b.width, b.height],
                    "score": b.score,
                    "landmarks": f.landmarks,
                    "descriptor": d.0,
                }))
            })
            .collect::<Result<Vec<_>, String>>()?;
        all.insert(p.name.clone(), Value::Array(faces));
    }
    Ok(Value::Object(all))
}
