//! Times the ASCII fast paths of `text` (lower-casing) against the per-`char` Unicode paths on
//! real lines:
//! `cargo run --release -p albert-fast-core --example text_bench [FILE...]`
//! (default: `examples/corpus/*.txt`). Each line is also given with doubled spaces and a tab, as
//! raw corpora often are, so that collapsing has work to do.
use albert_fast_core::text::{collapse_whitespace, lowercase_chars, Normalization};
use std::borrow::Cow;
use std::hint::black_box;

#[path = "common/cpu_time.rs"]
mod cpu_time;
use cpu_time::timed;

/// Best time of `rounds` runs of each of `fast` and `slow`, alternated so that the shared
/// machine's load falls on both alike.
/// Each timing repeats its function `reps` times: the CPU clock ticks coarsely.
fn best_of<F: FnMut() -> usize, G: FnMut() -> usize>(rounds: usize, reps: usize, mut fast: F, mut slow: G) -> (f64, f64) {
    let (mut best_fast, mut best_slow) = (f64::INFINITY, f64::INFINITY);
    for _ in 0..rounds {
        best_fast = best_fast.min(timed(|| {
            for _ in 0..reps {
                black_box(fast());
            }
        }) / reps as f64);
        best_slow = best_slow.min(timed(|| {
            for _ in 0..reps {
                black_box(slow());
            }
        }) / reps as f64);
    }
    (best_fast, best_slow)
}

/// Baseline: `text::lowercase_chars` before the ASCII fast path.
fn lowercase_chars_unicode(s: &str) -> Cow<'_, str> {
    let unchanged = |c: char| {
        let mut lower = c.to_lowercase();
        lower.next() == Some(c) && lower.next().is_none()
    };
    if s.chars().all(unchanged) {
        return Cow::Borrowed(s);
    }
    Cow::Owned(s.chars().flat_map(char::to_lowercase).collect())
}

/// `Normalization::preprocess` (HF pipeline, lower-casing on) with the Unicode lower-casing only.
fn slow_preprocess(text: &str) -> String {
    let lowered = lowercase_chars_unicode(text);
    let mut out = collapse_whitespace(&lowered).into_owned();
    if out.contains("``") || out.contains("''") {
        out = out.replace("``", "\"").replace("''", "\"");
    }
    out
}

fn main() {
    let mut files: Vec<String> = std::env::args().skip(1).collect();
    if files.is_empty() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/corpus");
        files = ["en-twain4.txt", "de-grimm2.txt", "de-HMann3.txt"].iter().map(|f| format!("{dir}/{f}")).collect();
    }
    let mut lines: Vec<String> = Vec::new();
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap_or_else(|e| panic!("{f}: {e}"));
        for l in text.lines() {
            lines.push(l.to_string());
            lines.push(format!("  {}\t", l.replace(' ', "  ")));
        }
    }
    let bytes: usize = lines.iter().map(String::len).sum();
    let ascii = lines.iter().filter(|l| l.is_ascii()).count();
    let rounds = 5;
    let reps = (40_000_000 / bytes.max(1)).max(1);
    let n = Normalization { lowercase: true, strip_accents: false, replace_quotes: true };
    for l in &lines {
        assert_eq!(n.preprocess(l), slow_preprocess(l));
    }
    let mb = bytes as f64 / 1e6;
    println!("{} lines, {:.1} MB, {:.0}% ASCII lines, best CPU time of {rounds}, alternated", lines.len(), mb, 100.0 * ascii as f64 / lines.len() as f64);
    let rows = [
        (
            "lowercase_chars",
            best_of(
                rounds,
                reps,
                || lines.iter().map(|l| lowercase_chars(l).len()).sum(),
                || lines.iter().map(|l| lowercase_chars_unicode(l).len()).sum(),
            ),
        ),
        (
            "preprocess (HF, lowercase)",
            best_of(rounds, reps, || lines.iter().map(|l| n.preprocess(l).len()).sum(), || lines.iter().map(|l| slow_preprocess(l).len()).sum()),
        ),
    ];
    println!("{:<28} {:>12} {:>12} {:>8}", "", "fast MB/s", "unicode MB/s", "speedup");
    for (name, (fast, slow)) in rows {
        println!("{name:<28} {:>12.0} {:>12.0} {:>7.2}x", mb / fast, mb / slow, slow / fast);
    }
}
