//! A small reader for SentencePiece's `ModelProto` (the `.model` file), covering exactly the
//! fields encoding needs. Protobuf's wire format is simple enough that a hand-written reader is
//! shorter than a code generator setup, and it lets every malformed byte become a precise error
//! message instead of a panic.
//!
//! Field numbers follow `sentencepiece_model.proto`:
//! `ModelProto { repeated SentencePiece pieces = 1; TrainerSpec trainer_spec = 2;
//! NormalizerSpec normalizer_spec = 3; }`,
//! `SentencePiece { string piece = 1; float score = 2; Type type = 3 [default NORMAL]; }`,
//! `TrainerSpec { ModelType model_type = 3 [default UNIGRAM]; bool treat_whitespace_as_suffix = 24;
//! bool byte_fallback = 35; }`,
//! `NormalizerSpec { string name = 1; bytes precompiled_charsmap = 2; bool add_dummy_prefix = 3
//! [default true]; bool remove_extra_whitespaces = 4 [default true]; bool escape_whitespaces = 5
//! [default true]; }`.

/// One vocabulary entry as stored in the model.
#[derive(Debug, Clone, PartialEq)]
pub struct RawPiece {
    pub piece: String,
    pub score: f32,
    /// SentencePiece's `Type` enum value (1 NORMAL, 2 UNKNOWN, 3 CONTROL, 4 USER_DEFINED,
    /// 5 UNUSED, 6 BYTE).
    pub kind: u64,
}

/// The parts of `TrainerSpec` that change how text is encoded.
#[derive(Debug, Clone, PartialEq)]
pub struct RawTrainerSpec {
    /// 1 UNIGRAM, 2 BPE, 3 WORD, 4 CHAR.
    pub model_type: u64,
    pub treat_whitespace_as_suffix: bool,
    pub byte_fallback: bool,
}

impl Default for RawTrainerSpec {
    fn default() -> Self {
        RawTrainerSpec { model_type: 1, treat_whitespace_as_suffix: false, byte_fallback: false }
    }
}

/// `NormalizerSpec` as used at encoding time (the TSV rules only matter to the trainer).
#[derive(Debug, Clone, PartialEq)]
pub struct RawNormalizerSpec {
    pub name: String,
    pub precompiled_charsmap: Vec<u8>,
    pub add_dummy_prefix: bool,
    pub remove_extra_whitespaces: bool,
    pub escape_whitespaces: bool,
}

impl Default for RawNormalizerSpec {
    fn default() -> Self {
        RawNormalizerSpec {
            name: String::new(),
            precompiled_charsmap: Vec::new(),
            add_dummy_prefix: true,
            remove_extra_whitespaces: true,
            escape_whitespaces: true,
        }
    }
}

/// A parsed `ModelProto`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RawModel {
    pub pieces: Vec<RawPiece>,
    pub trainer_spec: RawTrainerSpec,
    pub normalizer_spec: RawNormalizerSpec,
}

/// A protobuf decoding failure: what was being read and at which byte offset of its message.
pub type ProtoError = String;

const WIRE_VARINT: u8 = 0;
const WIRE_FIXED64: u8 = 1;
const WIRE_LEN: u8 = 2;
const WIRE_FIXED32: u8 = 5;

/// The value of one field on the wire.
enum Value<'a> {
    Varint(u64),
    /// A 64-bit fixed field; no field we read has this type.
    Skipped,
    Len(&'a [u8]),
    Fixed32(u32),
}

/// Iterates over the (field number, value) pairs of one message.
struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    what: &'static str,
}

impl<'a> Reader<'a> {
    fn new(buf: &'a [u8], what: &'static str) -> Self {
        Reader { buf, pos: 0, what }
    }

    fn err(&self, message: &str) -> ProtoError {
        format!("corrupt {} at byte {}: {}", self.what, self.pos, message)
    }

    fn varint(&mut self) -> Result<u64, ProtoError> {
        let mut value: u64 = 0;
        for shift in (0..64).step_by(7) {
            let Some(&byte) = self.buf.get(self.pos) else {
                return Err(self.err("truncated varint"));
            };
            self.pos += 1;
            value |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(self.err("varint longer than 10 bytes"))
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], ProtoError> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.buf.len());
        let Some(end) = end else {
            return Err(self.err(&format!("field of {n} bytes runs past the end")));
        };
        let out = &self.buf[self.pos..end];
        self.pos = end;
        Ok(out)
    }

    /// The next field, or `None` at the end of the message.
    fn next_field(&mut self) -> Result<Option<(u64, Value<'a>)>, ProtoError> {
        if self.pos >= self.buf.len() {
            return Ok(None);
        }
        let key = self.varint()?;
        let field = key >> 3;
        if field == 0 {
            return Err(self.err("field number 0"));
        }
        let value = match (key & 7) as u8 {
            WIRE_VARINT => Value::Varint(self.varint()?),
            WIRE_FIXED64 => {
                self.take(8)?;
                Value::Skipped
            }
            WIRE_LEN => {
                let n = self.varint()?;
                let n = usize::try_from(n).map_err(|_| self.err("length overflows"))?;
                Value::Len(self.take(n)?)
            }
            WIRE_FIXED32 => {
                let b = self.take(4)?;
                Value::Fixed32(u32::from_le_bytes(b.try_into().map_err(|_| self.err("fixed32"))?))
            }
            other => return Err(self.err(&format!("unsupported wire type {other}"))),
        };
        Ok(Some((field, value)))
    }
}

fn expect_len<'a>(v: Value<'a>, field: &str) -> Result<&'a [u8], ProtoError> {
    match v {
        Value::Len(b) => Ok(b),
        _ => Err(format!("field {field} has the wrong wire type")),
    }
}

fn expect_varint(v: Value<'_>, field: &str) -> Result<u64, ProtoError> {
    match v {
        Value::Varint(x) => Ok(x),
        _ => Err(format!("field {field} has the wrong wire type")),
    }
}

fn expect_string(v: Value<'_>, field: &str) -> Result<String, ProtoError> {
    let bytes = expect_len(v, field)?;
    String::from_utf8(bytes.to_vec()).map_err(|_| format!("field {field} is not valid UTF-8"))
}

fn parse_piece(buf: &[u8]) -> Result<RawPiece, ProtoError> {
    let mut r = Reader::new(buf, "SentencePiece entry");
    let mut piece = RawPiece { piece: String::new(), score: 0.0, kind: 1 };
    while let Some((field, value)) = r.next_field()? {
        match field {
            1 => piece.piece = expect_string(value, "SentencePiece.piece")?,
            2 => match value {
                Value::Fixed32(bits) => piece.score = f32::from_bits(bits),
                _ => return Err("field SentencePiece.score has the wrong wire type".into()),
            },
            3 => piece.kind = expect_varint(value, "SentencePiece.type")?,
            _ => {}
        }
    }
    Ok(piece)
}

fn parse_trainer_spec(buf: &[u8], spec: &mut RawTrainerSpec) -> Result<(), ProtoError> {
    let mut r = Reader::new(buf, "TrainerSpec");
    while let Some((field, value)) = r.next_field()? {
        match field {
            3 => spec.model_type = expect_varint(value, "TrainerSpec.model_type")?,
            24 => spec.treat_whitespace_as_suffix = expect_varint(value, "TrainerSpec.treat_whitespace_as_suffix")? != 0,
            35 => spec.byte_fallback = expect_varint(value, "TrainerSpec.byte_fallback")? != 0,
            _ => {}
        }
    }
    Ok(())
}

fn parse_normalizer_spec(buf: &[u8], spec: &mut RawNormalizerSpec) -> Result<(), ProtoError> {
    let mut r = Reader::new(buf, "NormalizerSpec");
    while let Some((field, value)) = r.next_field()? {
        match field {
            1 => spec.name = expect_string(value, "NormalizerSpec.name")?,
            2 => spec.precompiled_charsmap = expect_len(value, "NormalizerSpec.precompiled_charsmap")?.to_vec(),
            3 => spec.add_dummy_prefix = expect_varint(value, "NormalizerSpec.add_dummy_prefix")? != 0,
            4 => spec.remove_extra_whitespaces = expect_varint(value, "NormalizerSpec.remove_extra_whitespaces")? != 0,
            5 => spec.escape_whitespaces = expect_varint(value, "NormalizerSpec.escape_whitespaces")? != 0,
            _ => {}
        }
    }
    Ok(())
}

/// Parses a serialized `ModelProto`. Unknown fields are skipped, as protobuf requires.
pub fn parse_model(bytes: &[u8]) -> Result<RawModel, ProtoError> {
    let mut model = RawModel::default();
    let mut r = Reader::new(bytes, "ModelProto");
    while let Some((field, value)) = r.next_field()? {
        match field {
            1 => model.pieces.push(parse_piece(expect_len(value, "ModelProto.pieces")?)?),
            2 => parse_trainer_spec(expect_len(value, "ModelProto.trainer_spec")?, &mut model.trainer_spec)?,
            3 => parse_normalizer_spec(expect_len(value, "ModelProto.normalizer_spec")?, &mut model.normalizer_spec)?,
            _ => {}
        }
    }
    Ok(model)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Minimal protobuf writer for building test models.
    pub(crate) fn varint(mut x: u64, out: &mut Vec<u8>) {
        loop {
            let b = (x & 0x7f) as u8;
            x >>= 7;
            if x == 0 {
                out.push(b);
                return;
            }
            out.push(b | 0x80);
        }
    }

    pub(crate) fn len_field(field: u64, data: &[u8], out: &mut Vec<u8>) {
        varint(field << 3 | 2, out);
        varint(data.len() as u64, out);
        out.extend_from_slice(data);
    }

    pub(crate) fn varint_field(field: u64, x: u64, out: &mut Vec<u8>) {
        varint(field << 3, out);
        varint(x, out);
    }

    pub(crate) fn piece(p: &str, score: f32, kind: u64) -> Vec<u8> {
        let mut m = Vec::new();
        len_field(1, p.as_bytes(), &mut m);
        varint(2 << 3 | 5, &mut m);
        m.extend_from_slice(&score.to_le_bytes());
        varint_field(3, kind, &mut m);
        m
    }

    #[test]
    fn parses_pieces_and_specs() {
        let mut model = Vec::new();
        len_field(1, &piece("<unk>", 0.0, 2), &mut model);
        len_field(1, &piece("▁a", -1.5, 1), &mut model);
        let mut trainer = Vec::new();
        varint_field(3, 1, &mut trainer);
        varint_field(35, 1, &mut trainer);
        varint_field(999, 7, &mut trainer); // unknown fields are skipped
        len_field(2, &trainer, &mut model);
        let mut norm = Vec::new();
        len_field(1, b"identity", &mut norm);
        varint_field(3, 0, &mut norm);
        len_field(3, &norm, &mut model);
        let m = parse_model(&model).unwrap();
        assert_eq!(m.pieces.len(), 2);
        assert_eq!(m.pieces[1], RawPiece { piece: "▁a".into(), score: -1.5, kind: 1 });
        assert!(m.trainer_spec.byte_fallback);
        assert_eq!(m.normalizer_spec.name, "identity");
        assert!(!m.normalizer_spec.add_dummy_prefix);
        assert!(m.normalizer_spec.remove_extra_whitespaces);
    }

    #[test]
    fn corrupt_input_is_an_error_not_a_panic() {
        assert!(parse_model(&[0x0a, 0x05, 0x01]).is_err()); // length past the end
        assert!(parse_model(&[0xff; 12]).is_err()); // endless varint
        assert!(parse_model(&[0x07]).is_err()); // wire type 7
    }
}
