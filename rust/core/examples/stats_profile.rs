//! Profiles `inspect --stats` work on one file: `cargo run --release --example stats_profile FILE [decode|stats|file] [reps]`.
use albert_fast_core::record_stats::DatasetStats;
use albert_fast_core::tfrecord::{decode_example_into, RecordReader};
use std::time::Instant;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let path = &args[1];
    let what = args.get(2).map(String::as_str).unwrap_or("file");
    let reps: usize = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(1);
    let t = Instant::now();
    match what {
        "read" => {
            for _ in 0..reps {
                let n = RecordReader::open(path).unwrap().count();
                assert!(n > 0);
            }
        }
        "decode" => {
            let recs: Vec<Vec<u8>> = RecordReader::open(path).unwrap().map(|r| r.unwrap()).collect();
            let t = Instant::now();
            let mut out = Vec::new();
            for _ in 0..reps {
                for r in &recs {
                    decode_example_into(r, &mut out).unwrap();
                }
            }
            println!("decode only {:?}", t.elapsed());
        }
        _ => {
            for _ in 0..reps {
                let s = DatasetStats::of_file(std::path::Path::new(path), 4).unwrap();
                assert!(s.instances > 0);
            }
        }
    }
    println!("{what} x{reps}: {:?}", t.elapsed());
}
