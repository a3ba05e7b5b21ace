//! The fields of SentencePiece's `ModelProto` (sentencepiece_model.proto, proto2) that encoding
//! reads, as prost structs written by hand (no protoc). Unknown fields are skipped; the getters
//! prost generates return the proto's defaults for absent fields.

/// `ModelProto { repeated SentencePiece pieces = 1; TrainerSpec trainer_spec = 2;
/// NormalizerSpec normalizer_spec = 3; SelfTestData self_test_data = 4;
/// NormalizerSpec denormalizer_spec = 5; }`
#[derive(Clone, PartialEq, prost::Message)]
pub struct ModelProto {
    #[prost(message, repeated, tag = "1")]
    pub pieces: Vec<SentencePiece>,
    #[prost(message, optional, tag = "2")]
    pub trainer_spec: Option<TrainerSpec>,
    #[prost(message, optional, tag = "3")]
    pub normalizer_spec: Option<NormalizerSpec>,
    /// Kept as bytes: sentencepiece ≤ 0.2.2 parses and runs it at load time, 0.2.3 reserves the
    /// field number and skips it, whatever it holds ([`SelfTestData`]).
    #[prost(bytes = "vec", optional, tag = "4")]
    pub self_test_data: Option<Vec<u8>>,
    /// Rules applied to decoded text (models trained with `--denormalization_rule_tsv`).
    #[prost(message, optional, tag = "5")]
    pub denormalizer_spec: Option<NormalizerSpec>,
}

/// `SelfTestData { repeated Sample samples = 1; }` with
/// `Sample { string input = 1; string expected = 2; }`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct SelfTestData {
    #[prost(message, repeated, tag = "1")]
    pub samples: Vec<SelfTestSample>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct SelfTestSample {
    #[prost(string, optional, tag = "1")]
    pub input: Option<String>,
    #[prost(string, optional, tag = "2")]
    pub expected: Option<String>,
}

/// `ModelProto.SentencePiece { string piece = 1; float score = 2; Type type = 3 [default NORMAL]; }`
#[derive(Clone, PartialEq, prost::Message)]
pub struct SentencePiece {
    #[prost(string, optional, tag = "1")]
    pub piece: Option<String>,
    #[prost(float, optional, tag = "2")]
    pub score: Option<f32>,
    /// `Type`: 1 NORMAL, 2 UNKNOWN, 3 CONTROL, 4 USER_DEFINED, 5 UNUSED, 6 BYTE. Kept as the raw
    /// number: SentencePiece's proto2 parser reads any other value as the default, NORMAL.
    #[prost(int32, optional, tag = "3", default = "1")]
    pub r#type: Option<i32>,
}

/// `TrainerSpec { ModelType model_type = 3 [default UNIGRAM]; bool treat_whitespace_as_suffix = 24;
/// bool byte_fallback = 35; string unk_surface = 44; }` (the parts that change how text is
/// encoded or decoded).
#[derive(Clone, PartialEq, prost::Message)]
pub struct TrainerSpec {
    /// `ModelType`: 1 UNIGRAM, 2 BPE, 3 WORD, 4 CHAR.
    #[prost(int32, optional, tag = "3", default = "1")]
    pub model_type: Option<i32>,
    #[prost(bool, optional, tag = "24")]
    pub treat_whitespace_as_suffix: Option<bool>,
    #[prost(bool, optional, tag = "35")]
    pub byte_fallback: Option<bool>,
    /// What the unknown piece decodes to; absent: " ⁇ " (the proto's default).
    #[prost(string, optional, tag = "44")]
    pub unk_surface: Option<String>,
}

/// `NormalizerSpec { string name = 1; bytes precompiled_charsmap = 2; bool add_dummy_prefix = 3
/// [default true]; bool remove_extra_whitespaces = 4 [default true]; bool escape_whitespaces = 5
/// [default true]; }` (the TSV rules only matter to the trainer).
#[derive(Clone, PartialEq, prost::Message)]
pub struct NormalizerSpec {
    #[prost(string, optional, tag = "1")]
    pub name: Option<String>,
    #[prost(bytes = "vec", optional, tag = "2")]
    pub precompiled_charsmap: Option<Vec<u8>>,
    #[prost(bool, optional, tag = "3", default = "true")]
    pub add_dummy_prefix: Option<bool>,
    #[prost(bool, optional, tag = "4", default = "true")]
    pub remove_extra_whitespaces: Option<bool>,
    #[prost(bool, optional, tag = "5", default = "true")]
    pub escape_whitespaces: Option<bool>,
}

#[cfg(test)]
mod tests {
    use prost::Message;

    use super::*;
    use crate::protobuf::decode;

    #[test]
    fn parses_pieces_and_specs() {
        let pieces = [("<unk>", 0.0, 2), ("▁a", -1.5, 1)]
            .map(|(p, s, t)| SentencePiece { piece: Some(p.into()), score: Some(s), r#type: Some(t) });
        let trainer = TrainerSpec { model_type: Some(1), byte_fallback: Some(true), ..Default::default() };
        let mut trainer = trainer.encode_to_vec();
        trainer.extend_from_slice(&[0xb8, 0x3e, 0x07]); // field 999 = 7: unknown, skipped
        let norm = NormalizerSpec { name: Some("identity".into()), add_dummy_prefix: Some(false), ..Default::default() };
        let mut model = ModelProto { pieces: pieces.to_vec(), normalizer_spec: Some(norm), ..Default::default() }.encode_to_vec();
        prost::encoding::bytes::encode(2, &trainer, &mut model);
        let m: ModelProto = decode(&model).unwrap();
        assert_eq!(m.pieces.len(), 2);
        assert_eq!(m.pieces[1], SentencePiece { piece: Some("▁a".into()), score: Some(-1.5), r#type: Some(1) });
        assert!(m.trainer_spec.unwrap().byte_fallback());
        let norm = m.normalizer_spec.unwrap();
        assert_eq!(norm.name(), "identity");
        assert!(!norm.add_dummy_prefix());
        assert!(norm.remove_extra_whitespaces());
    }

    #[test]
    fn corrupt_input_is_an_error_not_a_panic() {
        assert!(decode::<ModelProto>(&[0x0a, 0x05, 0x01]).is_err()); // length past the end
        assert!(decode::<ModelProto>(&[0xff; 12]).is_err()); // endless varint
        assert!(decode::<ModelProto>(&[0x07]).is_err()); // wire type 7
    }
}
