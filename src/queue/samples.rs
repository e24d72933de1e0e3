//! The proof that the encoder (perse-core's `layout.rs` and `results.rs`) and the generated
//! reader (`lib/decode.generated.js`) agree: one sample of every result with its optional
//! fields all present, one with them all absent, and failures, encoded as a real batch next to
//! the serde JSON of the same values. `__test__/layout.spec.js` decodes the batch and compares.
//! The samples come from the models' own declarations (`Sample`, perse-core feature `samples`),
//! so a field added to a model is sampled, encoded and decoded with no edit here. Test-only:
//! compiled with the `layout-samples` feature, which `npm run build:debug` sets, never into a
//! release binary.

use napi_derive::napi;
use perse_core::layout::{Sample, Samples};
use perse_core::{CallResult, Failure};

use super::batch::{Batch, Done};

/// Internal: the layout samples for `__test__/layout.spec.js`, as JSON (no type declaration:
/// `binding.d.ts` stays the same in debug and release builds): `{ nums, strs, expected }`,
/// `nums` with `null` for NaN; `expected` is `[{ id, ok, value }]`, `value` being
/// `{ result, uploads }` with the model's serde JSON (snake_case) for a result, and the
/// `Failure`'s serde JSON for a failure.
#[napi(js_name = "__layoutSamples", skip_typescript, catch_unwind)]
pub fn layout_samples() -> String {
    let mut batch = Batch::default();
    let mut expected = Vec::new();
    let mut id = 0;
    for (present, first) in [(true, 0.0), (false, 1000.0)] {
        let mut s = Samples::new(present, first);
        for (result, json) in CallResult::samples(&mut s) {
            expected.push(serde_json::json!({ "id": id, "ok": true, "value": json }));
            batch.push(id, Done::Ok(result));
            id += 1;
        }
        let f = Failure::sample(&mut s);
        expected.push(serde_json::json!({ "id": id, "ok": false, "value": f }));
        batch.push(id, Done::Failed(f));
        id += 1;
    }
    let nums: Vec<Option<f64>> = batch.nums.iter().map(|n| (!n.is_nan()).then_some(*n)).collect();
    serde_json::json!({ "nums": nums, "strs": batch.strs, "expected": expected }).to_string()
}
