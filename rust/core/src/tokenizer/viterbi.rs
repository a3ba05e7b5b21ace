//! SentencePiece's unigram Viterbi (`Model::EncodeOptimized` of `unigram_model.cc`), then runs
//! of unknown pieces merged as `PopulateSentencePieceText` does. Hand-written: the ids must match
//! SentencePiece's exactly, which takes its float arithmetic and tie-breaking, not just any
//! best path.

use super::vocab::{PieceKind, Vocab};

/// One node of the Viterbi table: the best path ending at this byte position.
#[derive(Debug, Clone, Copy)]
struct BestNode {
    id: i32,
    score: f32,
    start: i32,
}

/// A piece of the segmentation: id and byte range in the normalized text.
#[derive(Debug, Clone, Copy)]
pub(super) struct Span {
    pub(super) id: u32,
    pub(super) start: u32,
    pub(super) end: u32,
}

/// Reusable buffers, one set per thread in `encode_batch`.
#[derive(Debug, Default)]
pub struct Scratch {
    /// The SentencePiece-normalized text of the chunk being encoded.
    pub(super) normalized: String,
    best: Vec<BestNode>,
    spans: Vec<Span>,
    /// The segmentation of `normalized`, unknown runs merged.
    pub(super) merged: Vec<Span>,
}

impl Vocab {
    /// Viterbi segmentation into `scratch.spans`, then runs of unknown pieces merged into
    /// `scratch.merged` (as `PopulateSentencePieceText` does).
    pub(super) fn spm_encode(&self, normalized: &str, scratch: &mut Scratch) {
        self.viterbi(normalized, &mut scratch.best, &mut scratch.spans);
        scratch.merged.clear();
        let mut prev_unk = false;
        for &span in &scratch.spans {
            let is_unk = span.id == self.unk_id;
            match scratch.merged.last_mut() {
                Some(last) if is_unk && prev_unk && self.byte_ids.is_none() => last.end = span.end,
                _ => scratch.merged.push(span),
            }
            prev_unk = is_unk;
        }
    }

    /// `Model::EncodeOptimized` of `unigram_model.cc`: the best path ending at each byte
    /// position, extended by every vocabulary piece starting at each character. Scores are
    /// summed in `f32` like the C++ (user-defined symbols get `len * max_score - 0.1` computed
    /// in `f64`, compared in `f64`, stored as `f32`), and a later candidate wins only when
    /// strictly better, so ties resolve exactly as SentencePiece resolves them.
    fn viterbi(&self, normalized: &str, best: &mut Vec<BestNode>, spans: &mut Vec<Span>) {
        spans.clear();
        let bytes = normalized.as_bytes();
        let size = bytes.len();
        if size == 0 {
            return;
        }
        best.clear();
        best.resize(size + 1, BestNode { id: -1, score: 0.0, start: -1 });
        let unk_score = self.min_score - 10.0f32;
        let mut start = 0usize;
        while start < size {
            let till_here = best[start].score;
            let mblen = one_char_len(bytes[start]).min(size - start);
            let mut has_single_node = false;
            self.trie.common_prefix_search(&bytes[start..], |len, id| {
                let kind = self.kinds[id as usize];
                if kind == PieceKind::Unused {
                    return;
                }
                let target = &mut best[start + len];
                if kind == PieceKind::UserDefined {
                    let score = f64::from(len as f32 * self.max_score) - 0.1;
                    let candidate = score + f64::from(till_here);
                    if target.start == -1 || candidate > f64::from(target.score) {
                        *target = BestNode { id, score: candidate as f32, start: start as i32 };
                    }
                } else {
                    let candidate = self.scores[id as usize] + till_here;
                    if target.start == -1 || candidate > target.score {
                        *target = BestNode { id, score: candidate, start: start as i32 };
                    }
                }
                if len == mblen {
                    has_single_node = true;
                }
            });
            if !has_single_node {
                let target = &mut best[start + mblen];
                let candidate = unk_score + till_here;
                if target.start == -1 || candidate > target.score {
                    *target = BestNode { id: self.unk_id as i32, score: candidate, start: start as i32 };
                }
            }
            start += mblen;
        }
        let mut end = size;
        while end > 0 {
            let node = best[end];
            // Every character start is reachable (the unknown fallback guarantees it), so
            // `start` is never -1 here.
            let node_start = node.start.max(0) as usize;
            spans.push(Span { id: node.id as u32, start: node_start as u32, end: end as u32 });
            if node_start >= end {
                break;
            }
            end = node_start;
        }
        spans.reverse();
    }
}

/// SentencePiece's `OneCharLen`: the UTF-8 sequence length announced by a lead byte.
#[inline]
fn one_char_len(lead: u8) -> usize {
    const LEN: [u8; 16] = [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4];
    LEN[(lead >> 4) as usize] as usize
}
