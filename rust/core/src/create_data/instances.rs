//! Segment pairing, sentence-order labels and truncation: one document in, masked
//! `[CLS] A [SEP] B [SEP]` instances out. The reference's defects (Q9 and its random-document
//! draw) are fixed unless `compat` (docs/create-data.md, "Q9: what a single-sentence chunk becomes").

use serde::{Deserialize, Serialize};

use super::masking::{mask_sequence, MaskScratch, MaskingConfig, MaskingVocab};
use super::rng::DataRng;

/// One document: its sentences' token ids back to back, and where each sentence ends.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Document {
    pub tokens: Vec<u32>,
    /// `tokens[ends[i - 1]..ends[i]]` is sentence i (non-empty).
    pub ends: Vec<u32>,
}

impl Document {
    pub fn num_sentences(&self) -> usize {
        self.ends.len()
    }

    pub fn sentence(&self, i: usize) -> &[u32] {
        let lo = if i == 0 { 0 } else { self.ends[i - 1] as usize };
        &self.tokens[lo..self.ends[i] as usize]
    }

    /// Appends one non-empty sentence.
    pub fn push_sentence(&mut self, ids: &[u32]) {
        if !ids.is_empty() {
            self.tokens.extend_from_slice(ids);
            self.ends.push(self.tokens.len() as u32);
        }
    }

    /// Tokens of sentences `lo..hi`.
    fn span(&self, lo: usize, hi: usize) -> &[u32] {
        if lo >= hi {
            return &[];
        }
        let a = if lo == 0 { 0 } else { self.ends[lo - 1] as usize };
        &self.tokens[a..self.ends[hi - 1] as usize]
    }
}

/// The pairing flags of `create_pretraining_data.py`.
#[derive(Debug, Clone, PartialEq)]
pub struct InstanceConfig {
    pub max_seq_length: usize,
    pub short_seq_prob: f64,
    pub random_next_sentence: bool,
    /// Reproduce Q9 (and the 10-tries random-document draw).
    pub compat: bool,
}

/// One training instance, unpadded.
#[derive(Debug, Clone, PartialEq)]
pub struct Instance {
    /// `[CLS] A [SEP] B [SEP]` after masking.
    pub input_ids: Vec<u32>,
    /// Length of `[CLS] A [SEP]` (segment id 0); the rest has segment id 1.
    pub first_segment_len: u32,
    pub token_boundary: Vec<u8>,
    pub masked_positions: Vec<u32>,
    pub masked_ids: Vec<u32>,
    /// SOP label (1 = swapped, or random next under NSP/Q9), written as `next_sentence_labels`.
    pub label: u8,
}

/// Counters of what instance creation did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstanceStats {
    pub instances: u64,
    pub real_tokens: u64,
    pub masked_positions: u64,
    pub label_ones: u64,
    /// Pairs whose B came from another document.
    pub random_document_pairs: u64,
    /// Chunks of a single one-token sentence that yield no instance (fixed mode).
    pub skipped_chunks: u64,
}

impl InstanceStats {
    pub fn add(&mut self, o: &InstanceStats) {
        self.instances += o.instances;
        self.real_tokens += o.real_tokens;
        self.masked_positions += o.masked_positions;
        self.label_ones += o.label_ones;
        self.random_document_pairs += o.random_document_pairs;
        self.skipped_chunks += o.skipped_chunks;
    }
}

/// Everything fixed across the documents of a run.
pub struct InstanceBuilder<'a> {
    pub cfg: &'a InstanceConfig,
    pub masking: &'a MaskingConfig,
    pub vocab: &'a MaskingVocab,
    cdf: Vec<f64>,
    scratch: MaskScratch,
    a: Vec<u32>,
    b: Vec<u32>,
}

impl<'a> InstanceBuilder<'a> {
    pub fn new(cfg: &'a InstanceConfig, masking: &'a MaskingConfig, vocab: &'a MaskingVocab) -> Self {
        InstanceBuilder { cfg, masking, vocab, cdf: masking.ngram_cdf(), scratch: MaskScratch::default(), a: Vec::new(), b: Vec::new() }
    }

    /// `create_instances_from_document` for `docs[doc_index]`, appending to `out`.
    pub fn from_document(
        &mut self,
        docs: &[Document],
        doc_index: usize,
        rng: &mut DataRng,
        out: &mut Vec<Instance>,
        stats: &mut InstanceStats,
    ) {
        let doc = &docs[doc_index];
        let n_sent = doc.num_sentences();
        let max_num_tokens = self.cfg.max_seq_length - 3;
        let mut target = max_num_tokens;
        if rng.random() < self.cfg.short_seq_prob {
            target = rng.randint(2, max_num_tokens);
        }
        let compat = self.cfg.compat;
        let rns = self.cfg.random_next_sentence;

        let mut chunk_start = 0usize; // first sentence of the current chunk
        let mut current_length = 0usize;
        let mut i = 0usize;
        while i < n_sent {
            current_length += doc.sentence(i).len();
            if i == n_sent - 1 || current_length >= target {
                let mut chunk_end = i + 1; // exclusive
                if !compat && chunk_end - chunk_start == 1 && chunk_end < n_sent {
                    // Q9 fix: pair a lone sentence with the one after it.
                    chunk_end += 1;
                    i += 1;
                }
                let chunk_len = chunk_end - chunk_start;
                self.a.clear();
                self.b.clear();
                let mut label = 0u8;
                let mut emit = true;
                if chunk_len >= 2 {
                    let a_end = chunk_start + rng.randint(1, chunk_len - 1);
                    self.a.extend_from_slice(doc.span(chunk_start, a_end));
                    if rns && rng.random() < 0.5 {
                        label = 1;
                        self.random_b(docs, doc_index, target, rng, stats);
                        // Put the unused sentences back.
                        i -= chunk_end - a_end;
                    } else if !rns && rng.random() < 0.5 {
                        label = 1;
                        self.b.extend_from_slice(doc.span(a_end, chunk_end));
                        std::mem::swap(&mut self.a, &mut self.b);
                    } else {
                        self.b.extend_from_slice(doc.span(a_end, chunk_end));
                    }
                } else if compat {
                    // Q9 as in the reference: a lone sentence always gets a random-document B.
                    self.a.extend_from_slice(doc.sentence(chunk_start));
                    label = 1;
                    self.random_b(docs, doc_index, target, rng, stats);
                } else {
                    // Fixed mode, last sentence of the document on its own.
                    let sentence = doc.sentence(chunk_start);
                    if rns && rng.random() < 0.5 {
                        self.a.extend_from_slice(sentence);
                        label = 1;
                        self.random_b(docs, doc_index, target, rng, stats);
                    } else if sentence.len() >= 2 {
                        let cut = self.split_point(sentence, rng);
                        self.a.extend_from_slice(&sentence[..cut]);
                        self.b.extend_from_slice(&sentence[cut..]);
                        if !rns && rng.random() < 0.5 {
                            label = 1;
                            std::mem::swap(&mut self.a, &mut self.b);
                        }
                    } else {
                        emit = false;
                        stats.skipped_chunks += 1;
                    }
                }
                if emit {
                    truncate_seq_pair(&mut self.a, &mut self.b, max_num_tokens, rng);
                    let inst = self.build(label, rng);
                    stats.instances += 1;
                    stats.real_tokens += inst.input_ids.len() as u64;
                    stats.masked_positions += inst.masked_positions.len() as u64;
                    stats.label_ones += label as u64;
                    out.push(inst);
                }
                chunk_start = i + 1;
                current_length = 0;
            }
            i += 1;
        }
    }

    /// Fills `self.b` from a random document until it reaches `target - len(A)` tokens.
    fn random_b(&mut self, docs: &[Document], doc_index: usize, target: usize, rng: &mut DataRng, stats: &mut InstanceStats) {
        let n = docs.len();
        let other = if self.cfg.compat {
            let mut r = doc_index;
            for _ in 0..10 {
                r = rng.randint(0, n - 1);
                if r != doc_index {
                    break;
                }
            }
            r
        } else if n >= 2 {
            let r = rng.randint(0, n - 2);
            if r >= doc_index { r + 1 } else { r }
        } else {
            doc_index
        };
        stats.random_document_pairs += 1;
        let target_b = target.saturating_sub(self.a.len());
        let rd = &docs[other];
        let start = rng.randint(0, rd.num_sentences() - 1);
        for j in start..rd.num_sentences() {
            self.b.extend_from_slice(rd.sentence(j));
            if self.b.len() >= target_b {
                break;
            }
        }
    }

    /// A cut `1..len` at a word start, uniform among them; any position if there is none.
    fn split_point(&self, sentence: &[u32], rng: &mut DataRng) -> usize {
        let starts: Vec<usize> = (1..sentence.len()).filter(|&k| self.vocab.is_word_start(sentence[k], false)).collect();
        if starts.is_empty() {
            rng.randint(1, sentence.len() - 1)
        } else {
            starts[rng.below(starts.len() as u64) as usize]
        }
    }

    fn build(&mut self, label: u8, rng: &mut DataRng) -> Instance {
        let v = self.vocab;
        let mut ids = Vec::with_capacity(self.a.len() + self.b.len() + 3);
        ids.push(v.cls_id);
        ids.extend_from_slice(&self.a);
        ids.push(v.sep_id);
        let first_segment_len = ids.len() as u32;
        ids.extend_from_slice(&self.b);
        ids.push(v.sep_id);
        let m = mask_sequence(&mut ids, self.masking, &self.cdf, v, rng, &mut self.scratch);
        Instance {
            input_ids: ids,
            first_segment_len,
            token_boundary: m.token_boundary,
            masked_positions: m.positions,
            masked_ids: m.labels,
            label,
        }
    }
}

/// Deletes tokens from the longer side (B when equal), front or back with equal odds, until the
/// pair fits `max_num_tokens`.
pub fn truncate_seq_pair(a: &mut Vec<u32>, b: &mut Vec<u32>, max_num_tokens: usize, rng: &mut DataRng) {
    // Removing from the front of a Vec is O(n); count front removals and drain once instead.
    let (mut a_front, mut b_front) = (0usize, 0usize);
    let (mut a_len, mut b_len) = (a.len(), b.len());
    while a_len + b_len > max_num_tokens {
        let front = rng.random() < 0.5;
        if a_len > b_len {
            if front { a_front += 1 }
            a_len -= 1;
        } else {
            if front { b_front += 1 }
            b_len -= 1;
        }
    }
    a.truncate(a_front + a_len);
    a.drain(..a_front);
    b.truncate(b_front + b_len);
    b.drain(..b_front);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tokenizer::PieceKind;

    fn vocab() -> MaskingVocab {
        let mut pieces: Vec<(String, PieceKind)> = ["<pad>", "<unk>", "[CLS]", "[SEP]", "[MASK]"]
            .iter()
            .map(|p| (p.to_string(), PieceKind::Control))
            .collect();
        for i in 5..500 {
            pieces.push((if i % 4 == 0 { format!("s{i}") } else { format!("\u{2581}w{i}") }, PieceKind::Normal));
        }
        MaskingVocab::new(pieces.iter().map(|(p, c)| (p.as_str(), *c)), 2, 3, 4)
    }

    fn corpus(rng: &mut DataRng, n_docs: usize) -> Vec<Document> {
        (0..n_docs)
            .map(|_| {
                let mut d = Document::default();
                for _ in 0..1 + rng.below(30) {
                    let len = 1 + rng.below(40) as usize;
                    let s: Vec<u32> = (0..len).map(|_| 5 + rng.below(495) as u32).collect();
                    d.push_sentence(&s);
                }
                d
            })
            .collect()
    }

    fn run(cfg: &InstanceConfig, docs: &[Document], seed: u64) -> (Vec<Instance>, InstanceStats) {
        let v = vocab();
        let m = MaskingConfig { compat: cfg.compat, ..Default::default() };
        let mut b = InstanceBuilder::new(cfg, &m, &v);
        let mut rng = DataRng::from_seed(seed);
        let mut out = Vec::new();
        let mut st = InstanceStats::default();
        for d in 0..docs.len() {
            b.from_document(docs, d, &mut rng, &mut out, &mut st);
        }
        (out, st)
    }

    #[test]
    fn truncation_keeps_both_sides_and_the_limit() {
        let mut rng = DataRng::from_seed(1);
        for _ in 0..500 {
            let la = 1 + rng.below(300) as usize;
            let lb = 1 + rng.below(300) as usize;
            let mut a: Vec<u32> = (0..la as u32).collect();
            let mut b: Vec<u32> = (1000..1000 + lb as u32).collect();
            truncate_seq_pair(&mut a, &mut b, 61, &mut rng);
            assert!(a.len() + b.len() <= 61 && !a.is_empty() && !b.is_empty());
            assert!(a.windows(2).all(|w| w[1] == w[0] + 1), "a contiguous slice survives");
            assert!(b.windows(2).all(|w| w[1] == w[0] + 1));
        }
    }

    #[test]
    fn lengths_segments_and_labels() {
        let mut rng = DataRng::from_seed(3);
        let docs = corpus(&mut rng, 60);
        for compat in [false, true] {
            for rns in [false, true] {
                let cfg = InstanceConfig { max_seq_length: 64, short_seq_prob: 0.1, random_next_sentence: rns, compat };
                let (insts, st) = run(&cfg, &docs, 5);
                assert!(!insts.is_empty());
                assert_eq!(st.instances as usize, insts.len());
                for inst in &insts {
                    let n = inst.input_ids.len();
                    assert!((5..=64).contains(&n));
                    assert_eq!(inst.input_ids[0], 2);
                    let f = inst.first_segment_len as usize;
                    assert_eq!(inst.input_ids[f - 1], 3, "first segment ends with [SEP]");
                    assert_eq!(inst.input_ids[n - 1], 3);
                    assert!(f >= 3 && n - f >= 2, "A and B non-empty");
                    assert!(inst.label <= 1);
                    assert_eq!(inst.token_boundary.len(), n);
                }
            }
        }
    }

    #[test]
    fn sop_labels_are_balanced_only_when_q9_is_fixed() {
        let mut rng = DataRng::from_seed(8);
        let docs = corpus(&mut rng, 400);
        let share = |compat: bool| {
            let cfg = InstanceConfig { max_seq_length: 128, short_seq_prob: 0.2, random_next_sentence: false, compat };
            let (_, st) = run(&cfg, &docs, 9);
            (st.label_ones as f64 / st.instances as f64, st.random_document_pairs)
        };
        let (fixed, fixed_random) = share(false);
        let (compat, compat_random) = share(true);
        assert!((fixed - 0.5).abs() < 0.03, "{fixed}");
        assert_eq!(fixed_random, 0, "SOP never draws another document when Q9 is fixed");
        assert!(compat > fixed + 0.02, "compat {compat} vs fixed {fixed}");
        assert!(compat_random > 0);
    }

    #[test]
    fn single_sentence_documents_still_give_instances() {
        let docs: Vec<Document> = (0..20)
            .map(|k| {
                let mut d = Document::default();
                d.push_sentence(&[10 + k, 20, 31, 41]);
                d
            })
            .collect();
        let cfg = InstanceConfig { max_seq_length: 32, short_seq_prob: 0.0, random_next_sentence: false, compat: false };
        let (insts, st) = run(&cfg, &docs, 1);
        assert_eq!(insts.len(), 20);
        assert_eq!(st.random_document_pairs, 0);
    }

    #[test]
    fn deterministic_for_a_seed() {
        let mut rng = DataRng::from_seed(3);
        let docs = corpus(&mut rng, 30);
        let cfg = InstanceConfig { max_seq_length: 64, short_seq_prob: 0.1, random_next_sentence: false, compat: false };
        assert_eq!(run(&cfg, &docs, 4).0, run(&cfg, &docs, 4).0);
        assert_ne!(run(&cfg, &docs, 4).0, run(&cfg, &docs, 5).0);
    }
}
