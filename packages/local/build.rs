// The same build script as perse-node's (napi set-up, the macOS install name).
include!("../../build.rs");
