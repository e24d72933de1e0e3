fn main() {
    napi_build::setup();
    install_name();
}

/// macOS: the dylib's install name (LC_ID_DYLIB) is the file name the package ships, under
/// @rpath, instead of the absolute path of the build folder (scripts/targets/check.js checks it).
fn install_name() {
    let var = |k: &str| std::env::var(k).unwrap_or_default();
    if var("CARGO_CFG_TARGET_OS") != "macos" {
        return;
    }
    let arch = match var("CARGO_CFG_TARGET_ARCH").as_str() {
        "aarch64" => "arm64",
        "x86_64" => "x64",
        other => panic!("no napi platform name for macOS on {other}"),
    };
    let name = var("CARGO_PKG_NAME");
    println!("cargo:rustc-cdylib-link-arg=-Wl,-install_name,@rpath/{name}.darwin-{arch}.node");
}
