//! The `tf.train.Example` codec. Encoding is hand-written for speed (create-data's hot path):
//! sizes are computed first and the bytes written straight into one reused buffer with prost's
//! varint helpers, no per-feature allocation; int64 and float lists are written *packed*, as
//! TensorFlow's serializer does. A test checks the bytes against prost's own encoding. Decoding
//! is prost's ([`super::example_proto`]): packed and unpacked lists, unknown fields and repeated
//! (merged) fields are accepted, as the protobuf rules and TensorFlow's parser do.

use prost::encoding::{encode_varint, encoded_len_varint};

use super::example_proto as proto;
use crate::error::{Error, Result};

/// The values of one feature, borrowed from the caller (no copy when encoding).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum FeatureValues<'a> {
    Int64(&'a [i64]),
    Float(&'a [f32]),
    Bytes(&'a [&'a [u8]]),
    /// An int64 list: `values`, then zeros up to `len` values in all (none when `values` is
    /// longer). Ids kept as `u32` are written without widening or padding copies.
    UInt32 { values: &'a [u32], len: usize },
    /// As [`FeatureValues::UInt32`] for `u8` values (0/1 masks, labels).
    UInt8 { values: &'a [u8], len: usize },
}

// Field keys (field number << 3 | wire type); wire type 2 = length-delimited.
const KEY_FEATURES: u8 = 0x0a; // Example.features = 1
const KEY_ENTRY: u8 = 0x0a; // Features.feature = 1 (map entry)
const KEY_MAP_KEY: u8 = 0x0a; // entry.key = 1
const KEY_MAP_VALUE: u8 = 0x12; // entry.value = 2
const KEY_BYTES_LIST: u8 = 0x0a; // Feature.bytes_list = 1
const KEY_FLOAT_LIST: u8 = 0x12; // Feature.float_list = 2
const KEY_INT64_LIST: u8 = 0x1a; // Feature.int64_list = 3
const KEY_VALUE_LEN: u8 = 0x0a; // XxxList.value = 1, packed or bytes

/// Size of a length-delimited field holding `len` bytes (key + length varint + payload).
#[inline]
fn field_len(len: usize) -> usize {
    1 + encoded_len_varint(len as u64) + len
}

/// Writes into a buffer already sized to the exact message length (and zero-filled).
struct Enc<'a> {
    buf: &'a mut [u8],
    pos: usize,
}

impl Enc<'_> {
    #[inline]
    fn byte(&mut self, b: u8) {
        self.buf[self.pos] = b;
        self.pos += 1;
    }

    #[inline]
    fn varint(&mut self, v: u64) {
        let mut rest = &mut self.buf[self.pos..];
        let room = rest.len();
        encode_varint(v, &mut rest);
        self.pos += room - rest.len();
    }

    /// A varint of a list value. Ids and flags are below 2^21, so up to three bytes are written
    /// here, inline (prost's `encode_varint` is a call per value: 1.2x slower create-data
    /// encoding); prost writes the longer ones.
    #[inline(always)]
    fn small_varint(&mut self, v: u64) {
        if v < 1 << 7 {
            self.byte(v as u8);
        } else if v < 1 << 14 {
            self.bytes(&[v as u8 | 0x80, (v >> 7) as u8]);
        } else if v < 1 << 21 {
            self.bytes(&[v as u8 | 0x80, (v >> 7) as u8 | 0x80, (v >> 14) as u8]);
        } else {
            self.varint(v);
        }
    }

    /// `n` one-byte zero varints: the buffer is zero-filled, so they are already there.
    #[inline]
    fn zeros(&mut self, n: usize) {
        debug_assert!(self.buf[self.pos..self.pos + n].iter().all(|&b| b == 0));
        self.pos += n;
    }

    #[inline]
    fn bytes(&mut self, b: &[u8]) {
        self.buf[self.pos..self.pos + b.len()].copy_from_slice(b);
        self.pos += b.len();
    }
}

impl FeatureValues<'_> {
    /// Bytes inside the XxxList message before its own framing: the packed payload for int64
    /// and float lists (0 when empty), the sum of the value fields for bytes lists.
    fn payload_len(&self) -> usize {
        match *self {
            FeatureValues::Int64(v) => v.iter().map(|&x| encoded_len_varint(x as u64)).sum(),
            FeatureValues::Float(v) => 4 * v.len(),
            FeatureValues::Bytes(v) => v.iter().map(|b| field_len(b.len())).sum(),
            // Each padding zero is a one-byte varint.
            FeatureValues::UInt32 { values, len } => {
                values.iter().map(|&x| encoded_len_varint(u64::from(x))).sum::<usize>() + len.saturating_sub(values.len())
            }
            FeatureValues::UInt8 { values, len } => {
                values.iter().map(|&x| 1 + usize::from(x >= 0x80)).sum::<usize>() + len.saturating_sub(values.len())
            }
        }
    }

    /// Size of the XxxList message, given `payload_len()`. An empty int64/float list writes no
    /// packed field at all, as protobuf does.
    fn list_len(&self, payload: usize) -> usize {
        match self {
            FeatureValues::Bytes(_) => payload,
            _ if payload == 0 => 0,
            _ => field_len(payload),
        }
    }

    fn write_list(&self, payload: usize, e: &mut Enc<'_>) {
        match *self {
            FeatureValues::Int64([]) | FeatureValues::Float([]) => {}
            FeatureValues::Int64(v) => {
                e.byte(KEY_VALUE_LEN);
                e.varint(payload as u64);
                for &x in v {
                    // Negative int64 values are 10-byte two's-complement varints (not zigzag).
                    e.small_varint(x as u64);
                }
            }
            FeatureValues::Float(v) => {
                e.byte(KEY_VALUE_LEN);
                e.varint(payload as u64);
                for &x in v {
                    e.bytes(&x.to_le_bytes());
                }
            }
            FeatureValues::Bytes(v) => {
                for b in v {
                    e.byte(KEY_VALUE_LEN);
                    e.varint(b.len() as u64);
                    e.bytes(b);
                }
            }
            _ if payload == 0 => {}
            FeatureValues::UInt32 { values, len } => {
                e.byte(KEY_VALUE_LEN);
                e.varint(payload as u64);
                for &x in values {
                    e.small_varint(u64::from(x));
                }
                e.zeros(len.saturating_sub(values.len()));
            }
            FeatureValues::UInt8 { values, len } => {
                e.byte(KEY_VALUE_LEN);
                e.varint(payload as u64);
                for &x in values {
                    e.small_varint(u64::from(x));
                }
                e.zeros(len.saturating_sub(values.len()));
            }
        }
    }

    fn kind_key(&self) -> u8 {
        match self {
            FeatureValues::Int64(_) | FeatureValues::UInt32 { .. } | FeatureValues::UInt8 { .. } => KEY_INT64_LIST,
            FeatureValues::Float(_) => KEY_FLOAT_LIST,
            FeatureValues::Bytes(_) => KEY_BYTES_LIST,
        }
    }
}

/// Payload sizes of up to this many features are kept on the stack between the sizing and the
/// writing pass; more are recomputed.
const CACHED_FEATURES: usize = 16;

/// Serializes a `tf.train.Example` whose feature map holds `features` (written in the given
/// order) into `out`, which is cleared first. The output parses with TensorFlow's
/// `tf.train.Example.FromString` and `tf.io.parse_single_example`. Sizes are computed first,
/// then the bytes are written into `out` in one pass with no allocation beyond `out`'s growth.
pub fn encode_example(features: &[(&str, FeatureValues<'_>)], out: &mut Vec<u8>) {
    let mut cached = [0usize; CACHED_FEATURES];
    let mut features_len = 0usize;
    for (i, (name, values)) in features.iter().enumerate() {
        let payload = values.payload_len();
        if i < CACHED_FEATURES {
            cached[i] = payload;
        }
        features_len += field_len(entry_len(name, values.list_len(payload)));
    }
    let total = field_len(features_len);
    out.clear();
    out.resize(total, 0);
    let mut e = Enc { buf: out.as_mut_slice(), pos: 0 };
    e.byte(KEY_FEATURES);
    e.varint(features_len as u64);
    for (i, (name, values)) in features.iter().enumerate() {
        let payload = if i < CACHED_FEATURES { cached[i] } else { values.payload_len() };
        let list_len = values.list_len(payload);
        e.byte(KEY_ENTRY);
        e.varint(entry_len(name, list_len) as u64);
        e.byte(KEY_MAP_KEY);
        e.varint(name.len() as u64);
        e.bytes(name.as_bytes());
        e.byte(KEY_MAP_VALUE);
        e.varint(field_len(list_len) as u64);
        e.byte(values.kind_key());
        e.varint(list_len as u64);
        values.write_list(payload, &mut e);
    }
    debug_assert_eq!(e.pos, total);
}

/// Size of one map entry (key field + value field) whose Feature holds a list of `list_len`.
fn entry_len(name: &str, list_len: usize) -> usize {
    field_len(name.len()) + field_len(field_len(list_len))
}

// ---------------------------------------------------------------------------------------------
// tf.train.Example decoding

/// One decoded feature (owned).
#[derive(Debug, Clone, PartialEq)]
pub enum Feature {
    Int64(Vec<i64>),
    Float(Vec<f32>),
    Bytes(Vec<Vec<u8>>),
}

impl Feature {
    pub fn len(&self) -> usize {
        match self {
            Feature::Int64(v) => v.len(),
            Feature::Float(v) => v.len(),
            Feature::Bytes(v) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The TensorFlow dtype name of this feature's list: "int64", "float" or "bytes".
    pub fn kind_name(&self) -> &'static str {
        match self {
            Feature::Int64(_) => "int64",
            Feature::Float(_) => "float",
            Feature::Bytes(_) => "bytes",
        }
    }

    pub fn as_borrowed<'a>(&'a self, scratch: &'a mut Vec<&'a [u8]>) -> FeatureValues<'a> {
        match self {
            Feature::Int64(v) => FeatureValues::Int64(v),
            Feature::Float(v) => FeatureValues::Float(v),
            Feature::Bytes(v) => {
                scratch.clear();
                scratch.extend(v.iter().map(|b| b.as_slice()));
                FeatureValues::Bytes(scratch)
            }
        }
    }
}

/// Parses a serialized `tf.train.Example` into its features, in the order they appear. A key
/// that occurs twice keeps its last value (protobuf map semantics) at its first position.
/// Malformed input gives [`Error::InvalidInput`] naming the problem and its byte offset.
pub fn decode_example(bytes: &[u8]) -> Result<Vec<(String, Feature)>> {
    let mut out: Vec<(String, Feature)> = Vec::new();
    decode_example_into(bytes, &mut out)?;
    Ok(out)
}

/// Like [`decode_example`], into `out` (cleared first; left empty on error).
pub fn decode_example_into(bytes: &[u8], out: &mut Vec<(String, Feature)>) -> Result<()> {
    out.clear();
    let example: proto::Example = crate::protobuf::decode(bytes).map_err(|(offset, msg)| {
        Error::InvalidInput(format!("malformed tf.train.Example at byte {offset} of {}: {msg}", bytes.len()))
    })?;
    for proto::FeatureEntry { key, value } in example.features.into_iter().flat_map(|f| f.feature) {
        let feature = match value.and_then(|f| f.kind) {
            Some(proto::Kind::Int64List(l)) => Feature::Int64(l.value),
            Some(proto::Kind::FloatList(l)) => Feature::Float(l.value),
            Some(proto::Kind::BytesList(l)) => Feature::Bytes(l.value),
            // TensorFlow treats a Feature with no list as empty of any type; we cannot give it a
            // type, so say so rather than guess.
            None => {
                out.clear();
                return Err(Error::InvalidInput(format!(
                    "malformed tf.train.Example of {} bytes: feature {key:?} has no value list (Feature.kind is not set)",
                    bytes.len()
                )));
            }
        };
        match out.iter_mut().find(|(n, _)| *n == key) {
            Some(slot) => slot.1 = feature,
            None => out.push((key, feature)),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use prost::Message;

    use super::*;

    #[test]
    fn example_round_trip() {
        let ids = [2i64, 13, 0, -1, i64::MIN, i64::MAX, 300];
        let w = [1.0f32, 0.0, -2.5, f32::MAX];
        let b: [&[u8]; 3] = [b"", b"abc", &[0xff, 0x00]];
        let features = [
            ("input_ids", FeatureValues::Int64(&ids)),
            ("empty_int", FeatureValues::Int64(&[])),
            ("masked_lm_weights", FeatureValues::Float(&w)),
            ("empty_float", FeatureValues::Float(&[])),
            ("bytes", FeatureValues::Bytes(&b)),
            ("empty_bytes", FeatureValues::Bytes(&[])),
            ("", FeatureValues::Int64(&[1])),
        ];
        let mut out = vec![9, 9, 9];
        encode_example(&features, &mut out);
        let decoded = decode_example(&out).unwrap();
        let expect: Vec<(String, Feature)> = vec![
            ("input_ids".into(), Feature::Int64(ids.to_vec())),
            ("empty_int".into(), Feature::Int64(vec![])),
            ("masked_lm_weights".into(), Feature::Float(w.to_vec())),
            ("empty_float".into(), Feature::Float(vec![])),
            ("bytes".into(), Feature::Bytes(b.iter().map(|x| x.to_vec()).collect())),
            ("empty_bytes".into(), Feature::Bytes(vec![])),
            ("".into(), Feature::Int64(vec![1])),
        ];
        assert_eq!(decoded, expect);
        // Re-encoding the decoded features gives the same bytes.
        let mut scratch: Vec<Vec<&[u8]>> = vec![Vec::new(); decoded.len()];
        let borrowed: Vec<(&str, FeatureValues)> = decoded
            .iter()
            .zip(scratch.iter_mut())
            .map(|((n, f), s)| (n.as_str(), f.as_borrowed(s)))
            .collect();
        let mut again = Vec::new();
        encode_example(&borrowed, &mut again);
        assert_eq!(again, out);
    }

    #[test]
    fn example_bytes_match_protobuf_serialization() {
        // tf.train.Example(features=tf.train.Features(feature={"a": Feature(int64_list=
        // Int64List(value=[1, -1])), "f": Feature(float_list=FloatList(value=[1.0]))}))
        // .SerializeToString(), written out by hand from the protobuf wire format.
        let mut out = Vec::new();
        encode_example(&[("a", FeatureValues::Int64(&[1, -1])), ("f", FeatureValues::Float(&[1.0]))], &mut out);
        let neg1 = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01];
        let mut a_entry = vec![0x0a, 0x01, b'a', 0x12, 0x0f, 0x1a, 0x0d, 0x0a, 0x0b, 0x01];
        a_entry.extend_from_slice(&neg1);
        let f_entry = vec![0x0a, 0x01, b'f', 0x12, 0x08, 0x12, 0x06, 0x0a, 0x04, 0x00, 0x00, 0x80, 0x3f];
        let mut features = vec![0x0a, a_entry.len() as u8];
        features.extend_from_slice(&a_entry);
        features.push(0x0a);
        features.push(f_entry.len() as u8);
        features.extend_from_slice(&f_entry);
        let mut expect = vec![0x0a, features.len() as u8];
        expect.extend_from_slice(&features);
        assert_eq!(out, expect);
    }

    #[test]
    fn decoder_accepts_unpacked_and_merged_fields() {
        // Feature "x": int64_list with unpacked values 5 and 300 then a packed [7];
        // feature "y": float_list with an unpacked 2.0; an unknown field 9 (varint) in Example.
        let int_list = [0x08, 0x05, 0x08, 0xac, 0x02, 0x0a, 0x01, 0x07];
        let mut x_feature = vec![0x1a, int_list.len() as u8];
        x_feature.extend_from_slice(&int_list);
        let mut x_entry = vec![0x0a, 0x01, b'x', 0x12, x_feature.len() as u8];
        x_entry.extend_from_slice(&x_feature);
        let y_entry = [0x0a, 0x01, b'y', 0x12, 0x07, 0x12, 0x05, 0x0d, 0x00, 0x00, 0x00, 0x40];
        let mut features = vec![0x0a, x_entry.len() as u8];
        features.extend_from_slice(&x_entry);
        features.push(0x0a);
        features.push(y_entry.len() as u8);
        features.extend_from_slice(&y_entry);
        let mut ex = vec![0x48, 0x01, 0x0a, features.len() as u8];
        ex.extend_from_slice(&features);
        let decoded = decode_example(&ex).unwrap();
        assert_eq!(
            decoded,
            vec![("x".to_string(), Feature::Int64(vec![5, 300, 7])), ("y".to_string(), Feature::Float(vec![2.0]))]
        );
    }

    #[test]
    fn narrow_padded_values_encode_as_the_padded_int64_list() {
        let cases: &[(&[u32], usize)] = &[(&[], 0), (&[], 3), (&[0, 1, 127, 128, 30_000, u32::MAX], 6), (&[5, 300], 9), (&[7, 8, 9], 2)];
        for &(values, len) in cases {
            let mut wide: Vec<i64> = values.iter().map(|&x| i64::from(x)).collect();
            wide.resize(len.max(values.len()), 0);
            let bytes: Vec<u8> = values.iter().map(|&x| x as u8).collect();
            let mut wide8: Vec<i64> = bytes.iter().map(|&x| i64::from(x)).collect();
            wide8.resize(len.max(values.len()), 0);
            let (mut want, mut got) = (Vec::new(), Vec::new());
            encode_example(&[("a", FeatureValues::Int64(&wide)), ("b", FeatureValues::Int64(&wide8))], &mut want);
            encode_example(
                &[("a", FeatureValues::UInt32 { values, len }), ("b", FeatureValues::UInt8 { values: &bytes, len })],
                &mut got,
            );
            assert_eq!(got, want, "{values:?} padded to {len}");
        }
    }

    #[test]
    fn malformed_examples_give_clear_errors() {
        let mut good = Vec::new();
        encode_example(&[("input_ids", FeatureValues::Int64(&[1, 2, 3]))], &mut good);
        for cut in 1..good.len() {
            let err = decode_example(&good[..cut]).unwrap_err().to_string();
            assert!(err.starts_with("malformed tf.train.Example at byte"), "{err}");
        }
        let err = decode_example(&[0x0a, 0x05, 0x0a, 0x03, 0x0a, 0x01, 0xff]).unwrap_err().to_string();
        assert!(err.contains("no value list") || err.contains("UTF-8"), "{err}");
        let err = decode_example(b"\x0b").unwrap_err().to_string();
        assert!(err.contains("wire type"), "{err}");
        let err = decode_example(&[0xff; 12]).unwrap_err().to_string();
        assert!(err.contains("varint"), "{err}");
        // An empty message is a valid, empty Example.
        assert!(decode_example(b"").unwrap().is_empty());
    }

    #[test]
    fn decode_into_reuses_and_resets() {
        let mut a = Vec::new();
        encode_example(&[("x", FeatureValues::Int64(&[1, 2, 3])), ("y", FeatureValues::Float(&[1.5]))], &mut a);
        let mut b = Vec::new();
        encode_example(&[("y", FeatureValues::Int64(&[-7])), ("z", FeatureValues::Bytes(&[b"q"]))], &mut b);
        let mut out = Vec::new();
        for bytes in [&a, &b, &a, &b] {
            decode_example_into(bytes, &mut out).unwrap();
            assert_eq!(out, decode_example(bytes).unwrap());
        }
        assert!(decode_example_into(&b[..b.len() - 1], &mut out).is_err());
        assert!(out.is_empty());
        // Packed varints of every length, including the 10-byte ones of negative values.
        let vals = [0i64, 1, 127, 128, 300, 1 << 40, -1, i64::MIN, i64::MAX];
        encode_example(&[("v", FeatureValues::Int64(&vals))], &mut a);
        assert_eq!(decode_example(&a).unwrap()[0].1, Feature::Int64(vals.to_vec()));
    }

    #[test]
    fn repeated_map_key_keeps_the_last_value() {
        let mut a = Vec::new();
        encode_example(&[("k", FeatureValues::Int64(&[1])), ("j", FeatureValues::Int64(&[2]))], &mut a);
        let mut b = Vec::new();
        encode_example(&[("k", FeatureValues::Float(&[3.0]))], &mut b);
        // Two Example.features fields merge; "k" appears twice.
        a.extend_from_slice(&b);
        assert_eq!(
            decode_example(&a).unwrap(),
            vec![("k".to_string(), Feature::Float(vec![3.0])), ("j".to_string(), Feature::Int64(vec![2]))]
        );
    }

    #[test]
    fn many_features_round_trip() {
        let names: Vec<String> = (0..40).map(|i| format!("f{i}")).collect();
        let vals: Vec<Vec<i64>> = (0..40).map(|i| (0..i).map(|x| x * 1000 - 7).collect()).collect();
        let features: Vec<(&str, FeatureValues)> =
            names.iter().zip(&vals).map(|(n, v)| (n.as_str(), FeatureValues::Int64(v))).collect();
        let mut out = Vec::new();
        encode_example(&features, &mut out);
        let back = decode_example(&out).unwrap();
        assert_eq!(back.len(), 40);
        for ((n, f), (en, ev)) in back.iter().zip(names.iter().zip(&vals)) {
            assert_eq!((n, f), (en, &Feature::Int64(ev.clone())));
        }
    }

    #[test]
    fn varint_lengths() {
        // Values at every varint length boundary, through the sizing pass and back.
        let mut all = vec![0u64, 1, 127, 128, 16383, 16384, u64::MAX, (-1i64) as u64];
        all.extend((0..64).flat_map(|b| [1u64 << b, (1u64 << b) - 1, (1u64 << b) + 1]));
        let values: Vec<i64> = all.iter().map(|&v| v as i64).collect();
        let mut out = Vec::new();
        encode_example(&[("v", FeatureValues::Int64(&values))], &mut out);
        assert_eq!(out, to_proto(&[("v", FeatureValues::Int64(&values))]).encode_to_vec());
        assert_eq!(decode_example(&out).unwrap()[0].1, Feature::Int64(values));
    }

    /// The same features as prost messages, for prost's own encoding.
    fn to_proto(features: &[(&str, FeatureValues<'_>)]) -> proto::Example {
        let padded = |values: Vec<i64>, len: usize| {
            let mut v = values;
            if v.len() < len {
                v.resize(len, 0);
            }
            proto::Kind::Int64List(proto::Int64List { value: v })
        };
        let entry = |(name, values): &(&str, FeatureValues<'_>)| proto::FeatureEntry {
            key: name.to_string(),
            value: Some(proto::Feature {
                kind: Some(match *values {
                    FeatureValues::Int64(v) => proto::Kind::Int64List(proto::Int64List { value: v.to_vec() }),
                    FeatureValues::Float(v) => proto::Kind::FloatList(proto::FloatList { value: v.to_vec() }),
                    FeatureValues::Bytes(v) => {
                        proto::Kind::BytesList(proto::BytesList { value: v.iter().map(|b| b.to_vec()).collect() })
                    }
                    FeatureValues::UInt32 { values, len } => padded(values.iter().map(|&x| i64::from(x)).collect(), len),
                    FeatureValues::UInt8 { values, len } => padded(values.iter().map(|&x| i64::from(x)).collect(), len),
                }),
            }),
        };
        proto::Example { features: Some(proto::Features { feature: features.iter().map(entry).collect() }) }
    }

    #[test]
    fn encoder_bytes_equal_prosts_encoding_of_random_examples() {
        // xorshift64*: a fixed pseudo-random stream, so a failure reproduces.
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            state ^= state >> 12;
            state ^= state << 25;
            state ^= state >> 27;
            state.wrapping_mul(0x2545_f491_4f6c_dd1d)
        };
        for round in 0..2000 {
            let n_features = (next() % 9) as usize;
            // Owned values first; the borrowed FeatureValues point into them.
            let mut names = Vec::new();
            let mut ints: Vec<Vec<i64>> = Vec::new();
            let mut floats: Vec<Vec<f32>> = Vec::new();
            let mut narrow: Vec<(Vec<u32>, Vec<u8>, usize)> = Vec::new();
            let mut byte_lists: Vec<Vec<Vec<u8>>> = Vec::new();
            let mut kinds = Vec::new();
            for _ in 0..n_features {
                // Non-empty names: prost (like any proto3 encoder) omits an empty key field,
                // while we always write it, as C++ protobuf writes map entries.
                let name: String = (0..1 + next() % 12).map(|_| (b'a' + (next() % 26) as u8) as char).collect();
                names.push(name);
                let len = (next() % 40) as usize;
                // Values of every varint length: shift a random 64-bit value by a random amount.
                let mut value = || (next() >> (next() % 64)) as i64 * if next() % 5 == 0 { -1 } else { 1 };
                ints.push((0..len).map(|_| value()).collect());
                floats.push((0..len).map(|_| f32::from_bits(next() as u32)).collect());
                let wide: Vec<u32> = (0..len).map(|_| (next() >> (32 + next() % 32)) as u32).collect();
                narrow.push((wide, (0..len).map(|_| next() as u8).collect(), (next() % 50) as usize));
                byte_lists.push((0..next() % 4).map(|_| (0..next() % 300).map(|_| next() as u8).collect()).collect());
                kinds.push(next() % 5);
            }
            let byte_refs: Vec<Vec<&[u8]>> = byte_lists.iter().map(|l| l.iter().map(|b| b.as_slice()).collect()).collect();
            let features: Vec<(&str, FeatureValues<'_>)> = (0..n_features)
                .map(|i| {
                    let values = match kinds[i] {
                        0 => FeatureValues::Int64(&ints[i]),
                        1 => FeatureValues::Float(&floats[i]),
                        2 => FeatureValues::Bytes(&byte_refs[i]),
                        3 => FeatureValues::UInt32 { values: &narrow[i].0, len: narrow[i].2 },
                        _ => FeatureValues::UInt8 { values: &narrow[i].1, len: narrow[i].2 },
                    };
                    (names[i].as_str(), values)
                })
                .collect();
            let mut ours = Vec::new();
            encode_example(&features, &mut ours);
            assert_eq!(ours, to_proto(&features).encode_to_vec(), "round {round}: {features:?}");
        }
    }
}
