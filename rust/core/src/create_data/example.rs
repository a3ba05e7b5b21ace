//! One instance -> the reference's `tf.train.Example` bytes, without allocating per instance.

use super::instances::Instance;
use crate::tfrecord::{encode_example, FeatureValues};

/// Reusable buffers for [`encode_instance`].
#[derive(Default)]
pub struct ExampleBuffers {
    input_mask: Vec<u8>,
    segment_ids: Vec<u8>,
    masked_lm_weights: Vec<f32>,
}

/// Serializes one instance as the reference's `tf.train.Example` (docs/data-format.md) with
/// `tfrecord::encode_example`: the four sequence features padded with 0 to `max_seq_length`,
/// `masked_lm_*` padded to `masked_len`, and the SOP label under its historical name
/// `next_sentence_labels`. Ids and flags go in as they are held (`u32`/`u8`, padding implied),
/// so nothing is widened or copied but the two 0/1 masks.
pub fn encode_instance(inst: &Instance, max_seq_length: usize, masked_len: usize, b: &mut ExampleBuffers, out: &mut Vec<u8>) {
    let n = inst.input_ids.len();
    let first = (inst.first_segment_len as usize).min(n);
    let m = inst.masked_positions.len().min(masked_len);
    b.input_mask.clear();
    b.input_mask.resize(n, 1);
    b.segment_ids.clear();
    b.segment_ids.resize(first, 0);
    b.segment_ids.resize(n, 1);
    b.masked_lm_weights.clear();
    b.masked_lm_weights.resize(m, 1.0);
    b.masked_lm_weights.resize(masked_len, 0.0);
    let label = [inst.label];
    let seq = |values| FeatureValues::UInt8 { values, len: max_seq_length };
    encode_example(
        &[
            ("input_ids", FeatureValues::UInt32 { values: &inst.input_ids, len: max_seq_length }),
            ("input_mask", seq(&b.input_mask)),
            ("segment_ids", seq(&b.segment_ids)),
            ("token_boundary", seq(&inst.token_boundary)),
            ("masked_lm_positions", FeatureValues::UInt32 { values: &inst.masked_positions[..m], len: masked_len }),
            ("masked_lm_ids", FeatureValues::UInt32 { values: &inst.masked_ids[..m.min(inst.masked_ids.len())], len: masked_len }),
            ("masked_lm_weights", FeatureValues::Float(&b.masked_lm_weights)),
            ("next_sentence_labels", FeatureValues::UInt8 { values: &label, len: 1 }),
        ],
        out,
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::create_data::rng::DataRng;
    use std::collections::HashMap;

    #[test]
    fn example_has_the_reference_features_padded() {
        use crate::tfrecord::{decode_example, Feature};
        let inst = Instance {
            input_ids: vec![2, 10, 4, 3, 12, 13, 3],
            first_segment_len: 4,
            token_boundary: vec![1, 1, 0, 1, 1, 0, 1],
            masked_positions: vec![2, 5],
            masked_ids: vec![11, 13],
            label: 1,
        };
        let (mut b, mut out) = (ExampleBuffers::default(), Vec::new());
        encode_instance(&inst, 10, 4, &mut b, &mut out);
        let f: HashMap<String, Feature> = decode_example(&out).unwrap().into_iter().collect();
        let int = |k: &str| match &f[k] {
            Feature::Int64(v) => v.clone(),
            other => panic!("{k}: {other:?}"),
        };
        assert_eq!(f.len(), 8);
        assert_eq!(int("input_ids"), vec![2, 10, 4, 3, 12, 13, 3, 0, 0, 0]);
        assert_eq!(int("input_mask"), vec![1, 1, 1, 1, 1, 1, 1, 0, 0, 0]);
        assert_eq!(int("segment_ids"), vec![0, 0, 0, 0, 1, 1, 1, 0, 0, 0]);
        assert_eq!(int("token_boundary"), vec![1, 1, 0, 1, 1, 0, 1, 0, 0, 0]);
        assert_eq!(int("masked_lm_positions"), vec![2, 5, 0, 0]);
        assert_eq!(int("masked_lm_ids"), vec![11, 13, 0, 0]);
        assert_eq!(int("next_sentence_labels"), vec![1]);
        match &f["masked_lm_weights"] {
            Feature::Float(w) => assert_eq!(w, &vec![1.0, 1.0, 0.0, 0.0]),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn encode_instance_matches_padded_int64_features() {
        let mut rng = DataRng::from_seed(6);
        for _ in 0..200 {
            let n = 5 + rng.below(60) as usize;
            let f = 2 + rng.below((n - 3) as u64) as usize;
            let m = rng.below(9) as usize;
            let inst = Instance {
                input_ids: (0..n).map(|_| rng.below(40_000) as u32).collect(),
                first_segment_len: f as u32,
                token_boundary: (0..n).map(|_| rng.below(2) as u8).collect(),
                masked_positions: (0..m).map(|k| (k * 3 + 1) as u32).collect(),
                masked_ids: (0..m).map(|_| rng.below(300) as u32).collect(),
                label: rng.below(2) as u8,
            };
            let (l, p) = (64usize, 8usize);
            let pad = |v: Vec<i64>, len: usize| {
                let mut v = v;
                v.resize(len, 0);
                v
            };
            let ids = pad(inst.input_ids.iter().map(|&x| x as i64).collect(), l);
            let mask = pad(vec![1; n], l);
            let seg = pad((0..n).map(|i| (i >= f) as i64).collect(), l);
            let tb = pad(inst.token_boundary.iter().map(|&x| x as i64).collect(), l);
            let pos = pad(inst.masked_positions.iter().map(|&x| x as i64).collect(), p);
            let lab = pad(inst.masked_ids.iter().map(|&x| x as i64).collect(), p);
            let mut w = vec![1.0f32; m];
            w.resize(p, 0.0);
            let label = [inst.label as i64];
            let mut expected = Vec::new();
            encode_example(
                &[
                    ("input_ids", FeatureValues::Int64(&ids)),
                    ("input_mask", FeatureValues::Int64(&mask)),
                    ("segment_ids", FeatureValues::Int64(&seg)),
                    ("token_boundary", FeatureValues::Int64(&tb)),
                    ("masked_lm_positions", FeatureValues::Int64(&pos)),
                    ("masked_lm_ids", FeatureValues::Int64(&lab)),
                    ("masked_lm_weights", FeatureValues::Float(&w)),
                    ("next_sentence_labels", FeatureValues::Int64(&label)),
                ],
                &mut expected,
            );
            let (mut b, mut got) = (ExampleBuffers::default(), Vec::new());
            encode_instance(&inst, l, p, &mut b, &mut got);
            assert_eq!(got, expected);
        }
    }
}
