//! SentencePiece's unigram Viterbi (`Model::EncodeOptimized` of `unigram_model.cc`), then runs
//! of unknown pieces merged as `PopulateSentencePieceText` does. Hand-written: the ids must match
//! SentencePiece's exactly, which takes its float arithmetic and tie-breaking, not just any
//! best path — and those changed in sentencepiece 0.2.2 ([`SpmVersion::f32_scoring`]).

use super::spm_version::SpmVersion;
use super::vocab::{PieceKind, Vocab};

/// One node of the Viterbi table: the best path ending at this byte position.
#[derive(Debug, Clone, Copy)]
struct BestNode {
    id: i32,
    score: f32,
    start: i32,
}

impl BestNode {
    /// Takes the candidate ending here when it is the first or strictly better (ties keep the
    /// earlier one, as SentencePiece does).
    #[inline]
    fn offer(&mut self, id: i32, score: f32, start: usize) {
        if self.start == -1 || score > self.score {
            *self = BestNode { id, score, start: start as i32 };
        }
    }
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
    /// The SentencePiece-normalized text of the chunk being encoded (UTF-8 unless the model's
    /// charsmap has replacements that are not).
    pub(super) normalized: Vec<u8>,
    best: Vec<BestNode>,
    spans: Vec<Span>,
    /// The segmentation of `normalized`, unknown runs merged.
    pub(super) merged: Vec<Span>,
}

impl Vocab {
    /// Viterbi segmentation into `scratch.spans`, then runs of unknown pieces merged into
    /// `scratch.merged` (as `PopulateSentencePieceText` does).
    pub(super) fn spm_encode(&self, normalized: &[u8], version: SpmVersion, scratch: &mut Scratch) {
        if version.f32_scoring() {
            self.viterbi_f32(normalized, &mut scratch.best);
        } else {
            self.viterbi_f64(normalized, &mut scratch.best);
        }
        backtrack(&scratch.best, &mut scratch.spans);
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

    /// `Model::EncodeOptimized` of sentencepiece ≥ 0.2.2: the best path ending at each byte
    /// position, extended by every vocabulary piece starting at each character. Scores are
    /// summed in `f32`; a user-defined symbol of `n` bytes scores `(float)(0.1 × (n − 1))`; once
    /// the score so far leaves ±100000 every open position is re-based to it (`kScoreResetThreshold`,
    /// the reason long lines differ from ≤ 0.2.1); a later candidate wins only when strictly
    /// better, so ties resolve as in SentencePiece.
    fn viterbi_f32(&self, bytes: &[u8], best: &mut Vec<BestNode>) {
        const RESET_THRESHOLD: f32 = 100_000.0;
        let size = bytes.len();
        best.clear();
        best.resize(size + 1, BestNode { id: -1, score: 0.0, start: -1 });
        let unk_score = self.min_score - 10.0f32;
        let mut start = 0usize;
        while start < size {
            let mut till_here = best[start].score;
            // SentencePiece's two comparisons (a range's `contains` would differ on NaN).
            #[allow(clippy::manual_range_contains)]
            let out_of_range = till_here < -RESET_THRESHOLD || till_here > RESET_THRESHOLD;
            if out_of_range {
                // SentencePiece re-bases `start` and every position reached so far beyond it
                // (up to its `max_frontier`); none lies further than the longest piece (or an
                // unknown character) from `start`, and positions not reached have start -1.
                let offset = till_here;
                let frontier = (start + self.max_piece_bytes.max(4)).min(size);
                for (i, node) in best.iter_mut().enumerate().take(frontier + 1).skip(start) {
                    if i == start || node.start != -1 {
                        node.score -= offset;
                    }
                }
                till_here = 0.0;
            }
            let mblen = one_char_len(bytes[start]).min(size - start);
            let mut has_single_node = false;
            self.trie.common_prefix_search(&bytes[start..], |len, id| {
                let kind = self.kinds[id as usize];
                if kind == PieceKind::Unused {
                    return;
                }
                let score = if kind == PieceKind::UserDefined { (0.1 * (len as f64 - 1.0)) as f32 } else { self.scores[id as usize] };
                best[start + len].offer(id, score + till_here, start);
                if len == mblen {
                    has_single_node = true;
                }
            });
            if !has_single_node {
                best[start + mblen].offer(self.unk_id as i32, unk_score + till_here, start);
            }
            start += mblen;
        }
    }

    /// `Model::EncodeOptimized` of sentencepiece ≤ 0.2.1: the same lattice, but a piece's
    /// candidate is computed and compared in `f64` (`score` of a conditional with a double
    /// branch), a user-defined symbol of `n` bytes scores `(float)n × max_score − 0.1`, and the
    /// stored best is rounded to `f32`; the unknown candidate stays `f32`; no re-basing.
    fn viterbi_f64(&self, bytes: &[u8], best: &mut Vec<BestNode>) {
        let size = bytes.len();
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
                let score = if kind == PieceKind::UserDefined {
                    f64::from(len as f32 * self.max_score) - 0.1
                } else {
                    f64::from(self.scores[id as usize])
                };
                let candidate = score + f64::from(till_here);
                let target = &mut best[start + len];
                if target.start == -1 || candidate > f64::from(target.score) {
                    *target = BestNode { id, score: candidate as f32, start: start as i32 };
                }
                if len == mblen {
                    has_single_node = true;
                }
            });
            if !has_single_node {
                best[start + mblen].offer(self.unk_id as i32, unk_score + till_here, start);
            }
            start += mblen;
        }
    }
}

/// The best path, from the table's last position back to the first, into `spans`.
fn backtrack(best: &[BestNode], spans: &mut Vec<Span>) {
    spans.clear();
    let mut end = best.len().saturating_sub(1);
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

/// SentencePiece's `OneCharLen`: the UTF-8 sequence length announced by a lead byte.
#[inline]
fn one_char_len(lead: u8) -> usize {
    const LEN: [u8; 16] = [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4];
    LEN[(lead >> 4) as usize] as usize
}
