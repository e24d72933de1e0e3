//! The BOX downscale against Pillow's own output (`tests/data/pillow_box.json`, written by
//! `tests/data/gen_pillow_box.py`). Always runs.

use perse_engine::resize::resize_box;

#[test]
fn matches_pillow_box_bit_for_bit() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/pillow_box.json");
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let bytes = |a: &serde_json::Value| -> Vec<u8> {
        a.as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_u64().unwrap() as u8)
            .collect()
    };
    let (w, h) = (v["w"].as_u64().unwrap() as usize, v["h"].as_u64().unwrap() as usize);
    let src = bytes(&v["rgb"]);
    for o in v["outputs"].as_array().unwrap() {
        let (nw, nh) = (o["w"].as_u64().unwrap() as usize, o["h"].as_u64().unwrap() as usize);
        let want = bytes(&o["rgb"]);
        let got = resize_box(&src, w, h, nw, nh);
        let differing = got.iter().zip(&want).filter(|(a, b)| a != b).count();
        assert_eq!(
            differing, 0,
            "{w}x{h} -> {nw}x{nh}: {differing} bytes differ from Pillow"
        );
    }
}
