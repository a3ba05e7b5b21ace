//! Profiles `inspect --stats` work on one file: `cargo run --release --example stats_profile FILE [read|decode|encode|file] [reps]`.
use albert_fast_core::dataset_stats::DatasetStats;
use albert_fast_core::tfrecord::{decode_example_into, encode_example, FeatureValues, RecordReader};
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
        "encode" => {
            let recs: Vec<Vec<u8>> = RecordReader::open(path).unwrap().map(|r| r.unwrap()).collect();
            let decoded: Vec<_> = recs.iter().map(|r| albert_fast_core::tfrecord::decode_example(r).unwrap()).collect();
            let t = Instant::now();
            let mut out = Vec::new();
            let mut total = 0;
            for _ in 0..reps {
                for (d, r) in decoded.iter().zip(&recs) {
                    let mut scratch: Vec<Vec<&[u8]>> = vec![Vec::new(); d.len()];
                    let b: Vec<(&str, FeatureValues)> =
                        d.iter().zip(scratch.iter_mut()).map(|((n, f), s)| (n.as_str(), f.as_borrowed(s))).collect();
                    encode_example(&b, &mut out);
                    assert_eq!(&out, r);
                    total += out.len();
                }
            }
            println!("encode only {:?} ({total} bytes)", t.elapsed());
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
