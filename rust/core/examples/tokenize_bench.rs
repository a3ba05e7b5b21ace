//! Times `Tokenizer::encode_into` on every non-blank line of a text file, one thread, both
//! ALBERT pipelines, best CPU time of alternated rounds: the tokenizer alone, without Python.
//!
//! `cargo run --release -p albert-fast-core --example tokenize_bench MODEL TEXT_FILE [rounds]`
use albert_fast_core::tokenizer::{EncodeOptions, Scratch, Tokenizer};
use std::hint::black_box;
use std::path::Path;

#[path = "common/cpu_time.rs"]
mod cpu_time;
use cpu_time::timed;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 3 {
        eprintln!("usage: tokenize_bench MODEL TEXT_FILE [rounds]");
        std::process::exit(2);
    }
    let rounds: usize = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(5);
    let text = std::fs::read_to_string(&args[2]).expect("TEXT_FILE");
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let mb = lines.iter().map(|l| l.len() + 1).sum::<usize>() as f64 / 1e6;
    let load = |reference_compat| Tokenizer::from_file(Path::new(&args[1]), EncodeOptions::new(true, false, reference_compat)).expect("MODEL");
    let pipelines = [("default (HF)", load(false)), ("reference_compat", load(true))];
    let mut best = [f64::INFINITY; 2];
    let (mut scratch, mut ids) = (Scratch::default(), Vec::new());
    for _ in 0..rounds {
        for (slot, (_, tok)) in best.iter_mut().zip(&pipelines) {
            *slot = slot.min(timed(|| {
                for line in &lines {
                    ids.clear();
                    tok.encode_into(line, &mut scratch, &mut ids);
                    black_box(&ids);
                }
            }));
        }
    }
    println!("{} lines, {mb:.1} MB, best CPU time of {rounds} alternated rounds, 1 thread", lines.len());
    for ((name, _), secs) in pipelines.iter().zip(best) {
        println!("{name:<20} {secs:7.3} s  {:6.2} MB/s", mb / secs);
    }
}
