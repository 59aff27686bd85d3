//! Build script of the filter package: strips the `name` section from the
//! `.wasm`. Cargo lowers the profile's `strip = true` to `debuginfo` for this
//! package (its `rlib` crate type, used by fuzz/, keeps symbols), which leaves
//! ~70 KiB of function names in the filter; the `.wasm` size budget is in
//! BENCHMARKS.md.

fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    let wasm = std::env::var("CARGO_CFG_TARGET_ARCH").is_ok_and(|arch| arch == "wasm32");
    let release = std::env::var("PROFILE").is_ok_and(|p| p == "release");
    if wasm && release {
        println!("cargo::rustc-cdylib-link-arg=--strip-all");
    }
}
