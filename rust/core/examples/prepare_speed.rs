//! Times prepare-corpus end to end: `cargo run --release --example prepare_speed PARAMS_DIR OUT_DIR INPUT...`
//! (`DEDUP=0`: no de-duplication; `CLEAN=0`: no cleaning, as `--no-clean`).
use albert_fast_core::prepare_corpus::{prepare_corpus, PrepareOptions};
use albert_fast_core::sentences::{PunktParameters, PunktSentenceTokenizer};
use std::time::Instant;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 4 {
        eprintln!("usage: prepare_speed PARAMS_DIR OUT_DIR INPUT...");
        std::process::exit(2);
    }
    let run = || -> albert_fast_core::Result<()> {
        let tok = PunktSentenceTokenizer::new(PunktParameters::load_dir(&args[1])?);
        let _ = std::fs::remove_dir_all(&args[2]);
        let t = Instant::now();
        let mut opts = PrepareOptions::default();
        opts.clean.dedup = std::env::var("DEDUP").map_or(true, |v| v != "0");
        opts.clean.enabled = std::env::var("CLEAN").map_or(true, |v| v != "0");
        let stats = prepare_corpus(&args[3..], std::path::Path::new(&args[2]), &tok, &opts, None, serde_json::Map::new())?;
        let s = t.elapsed().as_secs_f64();
        let mb = stats["input"]["bytes"].as_f64().unwrap_or(0.0) / 1048576.0;
        println!("{} sentences, {mb:.1} MB in {s:.3} s = {:.1} MB/s", stats["sentences"], mb / s);
        Ok(())
    };
    if let Err(e) = run() {
        eprintln!("{e}");
        std::process::exit(1);
    }
}
