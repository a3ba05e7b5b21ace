//! Times GZIP TFRecord writing and reading of FILE's records: `cargo run --release --example gzip_profile FILE`.
use albert_fast_core::tfrecord::{Compression, RecordReader, RecordWriter};
use std::time::Instant;

fn main() {
    let path = std::env::args().nth(1).expect("FILE");
    let recs: Vec<Vec<u8>> = RecordReader::open(&path).unwrap().map(|r| r.unwrap()).collect();
    let t = Instant::now();
    let mut w = RecordWriter::new(Vec::new(), Compression::Gzip);
    for r in &recs {
        w.write_record(r).unwrap();
    }
    let gz = w.finish().unwrap();
    println!("gzip write {:?} -> {} bytes", t.elapsed(), gz.len());
    let out = std::env::temp_dir().join("gzip_profile.tfrecord.gz");
    std::fs::write(&out, &gz).unwrap();
    let t = Instant::now();
    let n = RecordReader::open(&out).unwrap().count();
    println!("gzip read {:?} ({n} records)", t.elapsed());
}
