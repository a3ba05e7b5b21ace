//! Times the per-process start-up work of the core that every verb pays before its first text:
//! loading a SentencePiece model (`Tokenizer::from_file`: ModelProto, trie, normalizer) and
//! installing the interpreter's Unicode tables (from the Python face's cache file), best of
//! rounds: CPU time of the model load, wall-clock time of the tables (a parallel scan).
//!
//! `cargo run --release -p albert-fast-core --example startup_bench MODEL [UNICODE_JSON] [rounds]`
use albert_fast_core::tokenizer::{EncodeOptions, Tokenizer};
use albert_fast_core::unicode::{PythonUnicode, UnicodeTables};
use std::hint::black_box;
use std::path::Path;

#[path = "common/cpu_time.rs"]
mod cpu_time;
use cpu_time::timed;

fn ranges(v: &serde_json::Value) -> Option<Vec<(u32, u32)>> {
    v.as_array().map(|a| a.iter().map(|r| (r[0].as_u64().unwrap() as u32, r[1].as_u64().unwrap() as u32)).collect())
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 2 {
        eprintln!("usage: startup_bench MODEL [UNICODE_JSON] [rounds]");
        std::process::exit(2);
    }
    let rounds: usize = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(10);
    let mut best = f64::INFINITY;
    for _ in 0..rounds {
        best = best.min(timed(|| {
            black_box(Tokenizer::from_file(Path::new(&args[1]), EncodeOptions::new(true, false, false)).expect("MODEL"));
        }));
    }
    println!("model load      {:7.2} ms", best * 1e3);
    if let Some(json) = args.get(2) {
        let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(json).expect("UNICODE_JSON")).unwrap();
        let t = &v["tables"];
        let python = PythonUnicode {
            id: "bench".into(),
            unassigned: ranges(&t["unassigned"]).unwrap(),
            isdigit: ranges(&t["isdigit"]).unwrap(),
            islower: ranges(&t["islower"]).unwrap(),
            isupper: ranges(&t["isupper"]).unwrap(),
            case_ignorable: ranges(&t["case_ignorable"]).unwrap(),
            cased: ranges(&t["cased"]).unwrap(),
            re_word: ranges(&t["re_word"]),
            re_space: ranges(&t["re_space"]),
            re_digit: ranges(&t["re_digit"]),
        };
        // The scan runs on rayon's threads: wall-clock time, not this thread's CPU time.
        let (mut best, mut only) = (f64::INFINITY, 0);
        for _ in 0..rounds {
            let (python, wall) = (python.clone(), std::time::Instant::now());
            only = black_box(UnicodeTables::from_python(python)).python_only();
            best = best.min(wall.elapsed().as_secs_f64());
        }
        println!("unicode tables  {:7.2} ms wall (python_only {only})", best * 1e3);
    }
}
