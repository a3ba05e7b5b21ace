//! Times serializing pretraining instances as `tf.train.Example`: `create_data::example::encode_instance`
//! (what create-data runs: `tfrecord::encode_example` with narrow, zero-padded `UInt32`/`UInt8`
//! features) against padding the features into reusable `i64`/`f32` buffers first and encoding
//! those `Int64` slices, on realistic instances (max_seq_length 512, 20 predictions, 30k
//! vocabulary, 90% full-length sequences). The padded-`Int64` route is the fixed yardstick for
//! comparing builds.
//!
//! `cargo run --release -p albert-fast-core --example encode_bench [instances] [rounds]`
use albert_fast_core::create_data::example::{encode_instance, ExampleBuffers};
use albert_fast_core::create_data::instances::Instance;
use albert_fast_core::create_data::rng::DataRng;
use albert_fast_core::tfrecord::{encode_example, FeatureValues};
use std::hint::black_box;

#[path = "common/cpu_time.rs"]
mod cpu_time;
use cpu_time::timed;

const L: usize = 512;
const P: usize = 20;

fn instances(count: usize) -> Vec<Instance> {
    let mut rng = DataRng::from_seed(42);
    (0..count)
        .map(|_| {
            // short_seq_prob 0.1: most instances fill the sequence.
            let n = if rng.random() < 0.1 { 8 + rng.below((L - 8) as u64) as usize } else { L - rng.below(4) as usize };
            let f = 2 + rng.below((n - 3) as u64) as usize;
            let m = (n * 15 / 100).clamp(1, P);
            Instance {
                input_ids: (0..n).map(|_| 5 + rng.below(29_995) as u32).collect(),
                first_segment_len: f as u32,
                token_boundary: (0..n).map(|_| (rng.random() < 0.7) as u8).collect(),
                masked_positions: (0..m).map(|k| (1 + k * (n - 2) / m) as u32).collect(),
                masked_ids: (0..m).map(|_| 5 + rng.below(29_995) as u32).collect(),
                label: rng.below(2) as u8,
            }
        })
        .collect()
}

/// The yardstick: pad into reused `i64`/`f32` buffers, then `encode_example` on `Int64` slices.
#[derive(Default)]
struct Padded {
    ids: Vec<i64>,
    mask: Vec<i64>,
    seg: Vec<i64>,
    tb: Vec<i64>,
    pos: Vec<i64>,
    lab: Vec<i64>,
    w: Vec<f32>,
}

fn encode_padded(inst: &Instance, b: &mut Padded, out: &mut Vec<u8>) {
    let n = inst.input_ids.len();
    let f = inst.first_segment_len as usize;
    let m = inst.masked_positions.len().min(P);
    let fill = |v: &mut Vec<i64>, it: &mut dyn Iterator<Item = i64>, len: usize| {
        v.clear();
        v.extend(it);
        v.resize(len, 0);
    };
    fill(&mut b.ids, &mut inst.input_ids.iter().map(|&x| x as i64), L);
    fill(&mut b.mask, &mut (0..n).map(|_| 1), L);
    fill(&mut b.seg, &mut (0..n).map(|i| (i >= f) as i64), L);
    fill(&mut b.tb, &mut inst.token_boundary.iter().map(|&x| x as i64), L);
    fill(&mut b.pos, &mut inst.masked_positions[..m].iter().map(|&x| x as i64), P);
    fill(&mut b.lab, &mut inst.masked_ids[..m].iter().map(|&x| x as i64), P);
    b.w.clear();
    b.w.resize(m, 1.0);
    b.w.resize(P, 0.0);
    let label = [inst.label as i64];
    encode_example(
        &[
            ("input_ids", FeatureValues::Int64(&b.ids)),
            ("input_mask", FeatureValues::Int64(&b.mask)),
            ("segment_ids", FeatureValues::Int64(&b.seg)),
            ("token_boundary", FeatureValues::Int64(&b.tb)),
            ("masked_lm_positions", FeatureValues::Int64(&b.pos)),
            ("masked_lm_ids", FeatureValues::Int64(&b.lab)),
            ("masked_lm_weights", FeatureValues::Float(&b.w)),
            ("next_sentence_labels", FeatureValues::Int64(&label)),
        ],
        out,
    );
}

fn main() {
    let args: Vec<usize> = std::env::args().skip(1).filter_map(|a| a.parse().ok()).collect();
    let count = args.first().copied().unwrap_or(50_000);
    let rounds = args.get(1).copied().unwrap_or(5);
    let insts = instances(count);
    let (mut eb, mut pb, mut out) = (ExampleBuffers::default(), Padded::default(), Vec::new());
    // Same bytes, or the comparison means nothing.
    let mut other = Vec::new();
    for inst in insts.iter().take(200) {
        encode_instance(inst, L, P, &mut eb, &mut out);
        encode_padded(inst, &mut pb, &mut other);
        assert_eq!(out, other);
    }
    let (mut narrow, mut padded) = (f64::INFINITY, f64::INFINITY);
    let mut bytes = 0usize;
    for _ in 0..rounds {
        // Alternate, keep the best round of each: the machine is shared.
        narrow = narrow.min(timed(|| {
            for inst in &insts {
                encode_instance(inst, L, P, &mut eb, &mut out);
                bytes += black_box(out.len());
            }
        }));
        padded = padded.min(timed(|| {
            for inst in &insts {
                encode_padded(inst, &mut pb, &mut out);
                bytes += black_box(out.len());
            }
        }));
    }
    black_box(bytes);
    let per = |s: f64| s * 1e9 / count as f64;
    println!("instances {count}, best CPU time of {rounds} alternated rounds, max_seq_length {L}, max_predictions {P}");
    println!("encode_instance                    {:8.0} ns/instance", per(narrow));
    println!("pad to i64 + encode_example        {:8.0} ns/instance", per(padded));
    println!("padded / encode_instance           {:8.2}", padded / narrow);
}
