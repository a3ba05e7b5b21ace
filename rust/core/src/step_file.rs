//! The files a planned stage's steps hand each other (docs/cluster.md: prepare-corpus's indexes,
//! the tokenizer sampler's censuses): 8 magic bytes naming the kind, a JSON header preceded by
//! its length (u64, little-endian), then the kind's fixed-size records. Written atomically.

use std::io::{Read, Write};
use std::path::Path;

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::atomic::AtomicFile;
use crate::error::{Error, Result};

/// Starts the file at `path`: the magic and `header` are written; the caller writes the
/// records and commits.
pub fn create(path: &Path, magic: &[u8; 8], header: &impl Serialize) -> Result<AtomicFile> {
    let header = serde_json::to_vec(header).map_err(|e| Error::InvalidInput(e.to_string()))?;
    let mut f = AtomicFile::create(path)?;
    let io = |e| Error::io(path, e);
    f.write_all(magic).map_err(io)?;
    f.write_all(&(header.len() as u64).to_le_bytes()).map_err(io)?;
    f.write_all(&header).map_err(io)?;
    Ok(f)
}

/// Reads the magic and the header from the start of such a file: the header and the offset
/// of the first record. `bad` makes the error of a file that is not one (what is wrong with it).
pub fn read_header<T: DeserializeOwned>(r: &mut impl Read, magic: &[u8; 8], bad: impl Fn(&str) -> Error) -> Result<(T, u64)> {
    let mut head = [0u8; 16];
    r.read_exact(&mut head).map_err(|_| bad("too short"))?;
    if &head[..8] != magic {
        return Err(bad("wrong magic bytes"));
    }
    let len = u64::from_le_bytes(head[8..].try_into().expect("8 bytes"));
    let mut header = vec![0u8; usize::try_from(len).map_err(|_| bad("header size"))?];
    r.read_exact(&mut header).map_err(|_| bad("truncated header"))?;
    let header = serde_json::from_slice(&header).map_err(|e| bad(&e.to_string()))?;
    Ok((header, 16 + len))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::TempDir;

    #[test]
    fn header_and_records_round_trip_and_other_files_are_refused() {
        let dir = TempDir::new("step_file");
        let path = dir.join("x.bin");
        let mut f = create(&path, b"AFTEST1\n", &vec![3u32, 4]).unwrap();
        f.write_all(b"records").unwrap();
        f.commit().unwrap();
        let bytes = std::fs::read(&path).unwrap();
        let bad = |what: &str| Error::InvalidInput(format!("bad: {what}"));
        let (header, at): (Vec<u32>, u64) = read_header(&mut bytes.as_slice(), b"AFTEST1\n", bad).unwrap();
        assert_eq!((header, &bytes[at as usize..]), (vec![3, 4], &b"records"[..]));
        let err = |b: &[u8], magic: &[u8; 8]| read_header::<Vec<u32>>(&mut &b[..], magic, bad).unwrap_err().to_string();
        assert!(err(&bytes, b"AFOTHER\n").contains("wrong magic bytes"));
        assert!(err(&bytes[..10], b"AFTEST1\n").contains("too short"));
        assert!(err(&bytes[..18], b"AFTEST1\n").contains("truncated header"));
    }
}
