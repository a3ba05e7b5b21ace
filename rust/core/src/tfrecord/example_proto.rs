//! The `tf.train.Example` messages (tensorflow/core/example/{example,feature}.proto) as prost
//! structs, written by hand so no protoc or build script is needed. The `map<string, Feature>`
//! is declared as its wire form, repeated key/value entries, so the stored feature order is kept.

use prost::bytes::{Buf, BufMut};
use prost::encoding::{decode_varint, int64, skip_field, DecodeContext, WireType};
use prost::{DecodeError, Message};

/// `Example { Features features = 1; }`
#[derive(Clone, PartialEq, prost::Message)]
pub struct Example {
    #[prost(message, optional, tag = "1")]
    pub features: Option<Features>,
}

/// `Features { map<string, Feature> feature = 1; }`
#[derive(Clone, PartialEq, prost::Message)]
pub struct Features {
    #[prost(message, repeated, tag = "1")]
    pub feature: Vec<FeatureEntry>,
}

/// One entry of `Features.feature`: `{ string key = 1; Feature value = 2; }`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct FeatureEntry {
    #[prost(string, tag = "1")]
    pub key: String,
    #[prost(message, optional, tag = "2")]
    pub value: Option<Feature>,
}

/// `Feature { oneof kind { BytesList bytes_list = 1; FloatList float_list = 2; Int64List int64_list = 3; } }`
#[derive(Clone, PartialEq, prost::Message)]
pub struct Feature {
    #[prost(oneof = "Kind", tags = "1, 2, 3")]
    pub kind: Option<Kind>,
}

#[derive(Clone, PartialEq, prost::Oneof)]
#[allow(clippy::enum_variant_names)] // named as the proto's fields
pub enum Kind {
    #[prost(message, tag = "1")]
    BytesList(BytesList),
    #[prost(message, tag = "2")]
    FloatList(FloatList),
    #[prost(message, tag = "3")]
    Int64List(Int64List),
}

/// `BytesList { repeated bytes value = 1; }`
#[derive(Clone, PartialEq, prost::Message)]
pub struct BytesList {
    #[prost(bytes = "vec", repeated, tag = "1")]
    pub value: Vec<Vec<u8>>,
}

/// `FloatList { repeated float value = 1 [packed = true]; }`
#[derive(Clone, PartialEq, prost::Message)]
pub struct FloatList {
    #[prost(float, repeated, tag = "1")]
    pub value: Vec<f32>,
}

/// `Int64List { repeated int64 value = 1 [packed = true]; }`. Its `Message` impl is what prost
/// derives, except that packed values are read in one loop into a list reserved up front: these
/// lists are most of every record, and prost's per-value varint call made decoding 1.4x slower.
#[derive(Clone, PartialEq, Debug, Default)]
pub struct Int64List {
    pub value: Vec<i64>,
}

impl Message for Int64List {
    fn encode_raw(&self, buf: &mut impl BufMut) {
        int64::encode_packed(1, &self.value, buf);
    }

    fn merge_field(&mut self, tag: u32, wire_type: WireType, buf: &mut impl Buf, ctx: DecodeContext) -> Result<(), DecodeError> {
        let res = match (tag, wire_type) {
            (1, WireType::LengthDelimited) => merge_packed_varints(&mut self.value, buf, ctx),
            (1, _) => int64::merge_repeated(wire_type, &mut self.value, buf, ctx),
            _ => return skip_field(wire_type, tag, buf, ctx),
        };
        res.map_err(|mut e| {
            e.push("Int64List", "value");
            e
        })
    }

    fn encoded_len(&self) -> usize {
        int64::encoded_len_packed(1, &self.value)
    }

    fn clear(&mut self) {
        self.value.clear();
    }
}

/// A packed list of int64 varints (length, then the values), appended to `values`. Anything
/// but a well-formed list inside the contiguous input goes to prost's own loop, which decodes it
/// or reports the error.
fn merge_packed_varints(values: &mut Vec<i64>, buf: &mut impl Buf, ctx: DecodeContext) -> Result<(), DecodeError> {
    let chunk = buf.chunk();
    let mut rest = chunk;
    if let Ok(len) = decode_varint(&mut rest) {
        if let Some(packed) = usize::try_from(len).ok().and_then(|n| rest.get(..n)) {
            let mark = values.len();
            if push_varints(packed, values) {
                let consumed = chunk.len() - rest.len() + packed.len();
                buf.advance(consumed);
                return Ok(());
            }
            values.truncate(mark);
        }
    }
    int64::merge_repeated(WireType::LengthDelimited, values, buf, ctx)
}

/// Appends the varints of `packed` to `values`; false if one is malformed.
#[inline]
fn push_varints(packed: &[u8], values: &mut Vec<i64>) -> bool {
    // At most one value per byte: reserving that is cheaper than counting the values.
    values.reserve(packed.len());
    let mut i = 0;
    while i < packed.len() {
        let mut b = packed[i];
        let mut value = u64::from(b & 0x7f);
        let mut shift = 0;
        i += 1;
        while b >= 0x80 {
            shift += 7;
            match packed.get(i) {
                // The 10th byte may only hold the top bit of a u64.
                Some(&next) if shift < 63 || (shift == 63 && next <= 1) => b = next,
                _ => return false,
            }
            value |= u64::from(b & 0x7f) << shift;
            i += 1;
        }
        values.push(value as i64);
    }
    true
}
