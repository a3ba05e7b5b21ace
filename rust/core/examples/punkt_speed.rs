//! Times the Punkt splitter alone: `cargo run --release --example punkt_speed PARAMS_DIR TEXT_FILE`.
use albert_fast_core::sentences::{PunktParameters, PunktSentenceTokenizer};
use std::time::Instant;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 3 {
        eprintln!("usage: punkt_speed PARAMS_DIR TEXT_FILE");
        std::process::exit(2);
    }
    let params = match PunktParameters::load_dir(&args[1]) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(1);
        }
    };
    let text = std::fs::read_to_string(&args[2]).unwrap_or_default();
    let docs: Vec<&str> = text.split("\n\n").collect();
    let tok = PunktSentenceTokenizer::new(params);
    let t = Instant::now();
    let n: usize = docs.iter().map(|d| tok.span_tokenize(d).len()).sum();
    let s = t.elapsed().as_secs_f64();
    println!("{n} sentences, {:.1} MB in {s:.3} s = {:.1} MB/s (1 thread)", text.len() as f64 / 1048576.0, text.len() as f64 / 1048576.0 / s);
}
