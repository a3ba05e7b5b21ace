//! create-data without Python, for profiling (`perf record`, callgrind) and per-stage timing: the
//! tutorial's flags (max_seq_length 512, 20 predictions, dupe_factor 2, masked_lm_prob 0.15,
//! short_seq_prob 0.2, whole-word 3-grams). Prints the process CPU time of the run and, with
//! `--stages`, the CPU time of each stage on one thread (read, tokenize, instances + masking,
//! Example encoding, framing + CRC).
//!
//! `cargo run --release -p albert-fast-core --example create_data_profile MODEL TEXT OUT_DIR [threads] [--stages]`
use std::hint::black_box;
use std::path::PathBuf;

use albert_fast_core::create_data::{run_with_model, CreateDataOptions};
use albert_fast_core::progress::Progress;

#[path = "common/cpu_time.rs"]
mod cpu_time;

fn options(model: &str, text: &str, out: &str, threads: usize) -> CreateDataOptions {
    CreateDataOptions {
        inputs: vec![text.to_string()],
        model_path: PathBuf::from(model),
        output_dir: PathBuf::from(out),
        lowercase: true,
        strip_accents: false,
        reference_compat: false,
        sentencepiece_version: "0.2.3".into(),
        max_seq_length: 512,
        max_predictions_per_seq: 20,
        random_seed: 12345,
        dupe_factor: 2,
        masked_lm_prob: 0.15,
        short_seq_prob: 0.2,
        do_permutation: false,
        random_next_sentence: false,
        do_whole_word_mask: true,
        favor_shorter_ngram: true,
        ngram: 3,
        eval_fraction: 0.0,
        shard_size_bytes: 4 << 20,
        threads,
        compression: "none".into(),
        max_line_tokens: 0,
        output_files: Vec::new(),
    }
}

/// Process CPU time (all threads), from getrusage.
fn process_cpu() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields 14 and 15 (utime, stime) in clock ticks, after the ")" that ends the command name.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<i64> = rest.split_whitespace().filter_map(|x| x.parse().ok()).collect();
    // After ")": state(str, skipped by parse) ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime
    if f.len() > 11 {
        (f[10] + f[11]) as f64 / 100.0
    } else {
        0.0
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 4 {
        eprintln!("usage: create_data_profile MODEL TEXT OUT_DIR [threads] [--stages]");
        std::process::exit(2);
    }
    let threads: usize = args.get(4).and_then(|s| s.parse().ok()).unwrap_or(1);
    std::fs::create_dir_all(&args[3]).expect("OUT_DIR");
    let opts = options(&args[1], &args[2], &args[3], threads);
    let wall = std::time::Instant::now();
    let cpu0 = process_cpu();
    let summary = run_with_model(&opts, &Progress::new()).expect("create-data");
    let cpu = process_cpu() - cpu0;
    let mb = summary.run.input_bytes as f64 / 1e6;
    let instances: u64 = summary.run.shards.iter().map(|s| s.records).sum();
    println!(
        "{mb:.1} MB, {instances} instances, {threads} thread(s): wall {:.2} s, process CPU {cpu:.2} s ({:.1} MB per CPU-second)",
        wall.elapsed().as_secs_f64(),
        mb / cpu
    );
    if args.iter().any(|a| a == "--stages") {
        stages(&args[1], &args[2]);
    }
}

/// CPU time of each stage on one thread over the whole text.
fn stages(model: &str, text_path: &str) {
    use albert_fast_core::create_data::example::{encode_instance, ExampleBuffers};
    use albert_fast_core::create_data::instances::{Document, InstanceBuilder, InstanceConfig, InstanceStats};
    use albert_fast_core::create_data::masking::{MaskingConfig, MaskingVocab};
    use albert_fast_core::create_data::rng::DataRng;
    use albert_fast_core::tfrecord::frame_record;
    use albert_fast_core::tokenizer::{EncodeOptions, Scratch, Tokenizer};
    use cpu_time::timed;

    let tok = Tokenizer::from_file(std::path::Path::new(model), EncodeOptions::new(true, false, false)).expect("MODEL");
    let vocab = MaskingVocab::from_tokenizer(&tok).expect("vocab");
    let mut text = String::new();
    let read = timed(|| text = std::fs::read_to_string(text_path).expect("TEXT"));
    let mut docs: Vec<Document> = Vec::new();
    let tokenize = timed(|| {
        let (mut scratch, mut ids) = (Scratch::default(), Vec::new());
        let mut doc = Document::default();
        for line in text.split('\n') {
            if line.trim().is_empty() {
                if doc.num_sentences() > 0 {
                    docs.push(std::mem::take(&mut doc));
                }
                continue;
            }
            ids.clear();
            tok.encode_into(line, &mut scratch, &mut ids);
            doc.push_sentence(&ids);
        }
        if doc.num_sentences() > 0 {
            docs.push(doc);
        }
    });
    let icfg = InstanceConfig { max_seq_length: 512, short_seq_prob: 0.2, random_next_sentence: false, compat: false };
    let mcfg = MaskingConfig::default();
    let mut instances = Vec::new();
    let build = timed(|| {
        let mut b = InstanceBuilder::new(&icfg, &mcfg, &vocab);
        let mut rng = DataRng::from_seed(1);
        let mut st = InstanceStats::default();
        for _ in 0..2 {
            for d in 0..docs.len() {
                b.from_document(&docs, d, &mut rng, &mut instances, &mut st);
            }
        }
    });
    let mut examples: Vec<Vec<u8>> = Vec::with_capacity(instances.len());
    let encode = timed(|| {
        let mut bufs = ExampleBuffers::default();
        for inst in &instances {
            let mut out = Vec::new();
            encode_instance(inst, 512, 20, &mut bufs, &mut out);
            examples.push(out);
        }
    });
    let frame = timed(|| {
        let mut framed = Vec::new();
        for e in &examples {
            framed.clear();
            frame_record(e, &mut framed);
            black_box(&framed);
        }
    });
    let mb = text.len() as f64 / 1e6;
    println!("stages, 1 thread, CPU seconds for {mb:.1} MB ({} instances):", instances.len());
    for (name, s) in [("read", read), ("tokenize", tokenize), ("instances + masking", build), ("Example encoding", encode), ("framing + CRC32C", frame)] {
        println!("  {name:<20} {s:7.3} s  {:7.1} MB/s", mb / s);
    }
}
