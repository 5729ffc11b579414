//! The page's entry point: trunk builds this binary (see `index.html`) and the browser runs
//! `main` once the wasm module is loaded.

fn main() {
    vtep_web::start();
}
