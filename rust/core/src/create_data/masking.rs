//! Masked-LM predictions: whole-word groups, n-gram spans with weights 1/n, 80/10/10, optional
//! permutation and `token_boundary`. Everything that depends on piece strings is computed once
//! per vocabulary in [`MaskingVocab`], so the per-token path only indexes arrays. The reference's
//! defects (Q6, Q10, Q11, Q13) are fixed unless `compat` (docs/create-data.md, quirk table).

use unicode_properties::{GeneralCategoryGroup, UnicodeGeneralCategory};

use super::rng::DataRng;
use crate::error::{Error, Result};
use crate::tokenizer::{PieceKind, Tokenizer, ALBERT_SPECIALS};

/// Per-id view of a vocabulary, built once.
#[derive(Debug, Clone)]
pub struct MaskingVocab {
    /// Word-start flag per id under the fixed rule.
    start_fixed: Vec<bool>,
    /// Word-start flag per id under the reference's rule (Q10).
    start_compat: Vec<bool>,
    /// Ids a fixed-mode "random word" is drawn from (Q13).
    ordinary: Vec<u32>,
    pub cls_id: u32,
    pub sep_id: u32,
    pub mask_id: u32,
}

/// Characters the reference lists as punctuation pieces. Its string literal repeats `"` where
/// `'` was meant, so the apostrophe is *not* in the set; "€" and "£" are added as bytes and never
/// match a `str` piece.
const REFERENCE_SPECIAL_CHARS: &str = "!\"#$%&()*+,-./:;?@[\\]^_`{|}~";

/// The reference's `_is_start_piece_sp` (quirk Q10), exactly.
pub fn is_start_piece_reference(piece: &str) -> bool {
    if piece.starts_with('\u{2581}') || piece.starts_with('<') {
        return true;
    }
    let mut chars = piece.chars();
    if let (Some(c), None) = (chars.next(), chars.next()) {
        if REFERENCE_SPECIAL_CHARS.contains(c) {
            return true;
        }
    }
    // `not all(c.lower() in english_chars | special_pieces for c in piece)`. Python's lower()
    // maps A–Z and the Kelvin sign U+212A to a–z; every other character stays outside the set.
    piece
        .chars()
        .any(|c| !(c.is_ascii_alphabetic() || c == '\u{212A}' || REFERENCE_SPECIAL_CHARS.contains(c)))
}

/// The intended rule (fix of Q10): a piece starts a word iff it begins with "▁", is a special,
/// user-defined or unknown symbol, or consists only of punctuation and symbol characters.
pub fn is_start_piece_fixed(piece: &str, class: PieceKind) -> bool {
    match class {
        PieceKind::Control | PieceKind::UserDefined | PieceKind::Unknown => true,
        PieceKind::Byte => false,
        PieceKind::Normal | PieceKind::Unused => {
            piece.starts_with('\u{2581}')
                || (!piece.is_empty()
                    && piece.chars().all(|c| {
                        // `unicodedata.category(c)[0] in "PS"`: a character the interpreter
                        // does not assign is Cn there.
                        matches!(
                            c.general_category_group(),
                            GeneralCategoryGroup::Punctuation | GeneralCategoryGroup::Symbol
                        ) && !crate::unicode::tables().is_unassigned(c)
                    }))
        }
    }
}

impl MaskingVocab {
    /// Builds the view from `(piece, class)` for ids `0..n`, and the ids of the three specials.
    pub fn new<'a, I>(pieces: I, cls_id: u32, sep_id: u32, mask_id: u32) -> Self
    where
        I: IntoIterator<Item = (&'a str, PieceKind)>,
    {
        let mut start_fixed = Vec::new();
        let mut start_compat = Vec::new();
        let mut ordinary = Vec::new();
        for (id, (piece, class)) in pieces.into_iter().enumerate() {
            start_fixed.push(is_start_piece_fixed(piece, class));
            start_compat.push(is_start_piece_reference(piece));
            if matches!(class, PieceKind::Normal | PieceKind::UserDefined | PieceKind::Byte) {
                ordinary.push(id as u32);
            }
        }
        MaskingVocab { start_fixed, start_compat, ordinary, cls_id, sep_id, mask_id }
    }

    /// The view of a SentencePiece vocabulary; `[CLS]`, `[SEP]` and `[MASK]` must exist.
    pub fn from_tokenizer(tok: &Tokenizer) -> Result<Self> {
        let id = |(piece, _): (&str, u32)| {
            tok.piece_to_id(piece).filter(|&i| tok.id_to_piece(i) == piece).ok_or_else(|| Error::BadModel {
                path: tok.source().to_path_buf(),
                message: format!("the vocabulary has no {piece} symbol"),
            })
        };
        let [_, _, cls, sep, mask] = ALBERT_SPECIALS;
        let (cls, sep, mask) = (id(cls)?, id(sep)?, id(mask)?);
        let pieces = (0..tok.vocab_size() as u32).map(|i| (tok.id_to_piece(i), tok.piece_kind(i)));
        Ok(MaskingVocab::new(pieces, cls, sep, mask))
    }

    pub fn vocab_size(&self) -> usize {
        self.start_fixed.len()
    }

    /// Whether `id` starts a word under the chosen rule.
    #[inline]
    pub fn is_word_start(&self, id: u32, compat: bool) -> bool {
        let table = if compat { &self.start_compat } else { &self.start_fixed };
        table.get(id as usize).copied().unwrap_or(true)
    }

    /// Ids eligible as fixed-mode random replacements.
    pub fn ordinary_ids(&self) -> &[u32] {
        &self.ordinary
    }
}

/// The masking flags of `create_pretraining_data.py`.
#[derive(Debug, Clone, PartialEq)]
pub struct MaskingConfig {
    pub max_predictions_per_seq: usize,
    pub masked_lm_prob: f64,
    pub do_whole_word_mask: bool,
    pub ngram: usize,
    pub favor_shorter_ngram: bool,
    pub do_permutation: bool,
    /// Reproduce Q10, Q11 and Q13.
    pub compat: bool,
}

impl Default for MaskingConfig {
    fn default() -> Self {
        MaskingConfig {
            max_predictions_per_seq: 20,
            masked_lm_prob: 0.15,
            do_whole_word_mask: true,
            ngram: 3,
            favor_shorter_ngram: true,
            do_permutation: false,
            compat: false,
        }
    }
}

impl MaskingConfig {
    /// Cumulative n-gram weights: p(n) ∝ 1/n, reversed when `favor_shorter_ngram` is off.
    pub fn ngram_cdf(&self) -> Vec<f64> {
        let mut p: Vec<f64> = (1..=self.ngram.max(1)).map(|n| 1.0 / n as f64).collect();
        if !self.favor_shorter_ngram {
            p.reverse();
        }
        let total: f64 = p.iter().sum();
        let mut acc = 0.0;
        p.iter()
            .map(|x| {
                acc += x / total;
                acc
            })
            .collect()
    }

    /// `min(cap, max(1, round_half_even(len * masked_lm_prob)))`, with `len` counting
    /// `[CLS]` and both `[SEP]`s; 0 when `masked_lm_prob == 0`.
    pub fn num_to_predict(&self, seq_len: usize) -> usize {
        if self.masked_lm_prob == 0.0 {
            return 0;
        }
        let rounded = (seq_len as f64 * self.masked_lm_prob).round_ties_even().max(0.0) as usize;
        self.max_predictions_per_seq.min(rounded.max(1))
    }
}

/// Result of masking one sequence. `positions` are ascending and unique; `labels[k]` is the
/// original id at `positions[k]`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Masked {
    pub token_boundary: Vec<u8>,
    pub positions: Vec<u32>,
    pub labels: Vec<u32>,
}

/// Reusable buffers so that masking allocates nothing per sequence in steady state.
#[derive(Default)]
pub struct MaskScratch {
    /// Candidate positions, group after group.
    flat: Vec<u32>,
    /// `flat[offsets[g]..offsets[g + 1]]` are group g's positions.
    offsets: Vec<u32>,
    /// Exclusive group index an n-gram starting at group g may reach.
    limit: Vec<u32>,
    order: Vec<u32>,
    covered: Vec<bool>,
    selected: Vec<u32>,
    picks: Vec<(u32, u32)>,
}

/// Masks `tokens` (`[CLS] A [SEP] B [SEP]`) in place and returns the predictions.
pub fn mask_sequence(
    tokens: &mut [u32],
    cfg: &MaskingConfig,
    cdf: &[f64],
    vocab: &MaskingVocab,
    rng: &mut DataRng,
    scratch: &mut MaskScratch,
) -> Masked {
    let n_tok = tokens.len();
    let compat = cfg.compat;
    let mut token_boundary = vec![0u8; n_tok];
    let s = scratch;
    s.flat.clear();
    s.offsets.clear();
    s.limit.clear();

    // Candidate groups. `after_special` marks the first piece after [CLS]/[SEP]: in fixed mode
    // it always opens a new group (Q11).
    let mut after_special = true;
    let mut segment_starts: Vec<u32> = Vec::with_capacity(3);
    for (i, &t) in tokens.iter().enumerate() {
        if t == vocab.cls_id || t == vocab.sep_id {
            token_boundary[i] = 1;
            after_special = true;
            segment_starts.push(s.offsets.len() as u32);
            continue;
        }
        let start = vocab.is_word_start(t, compat);
        let joins = cfg.do_whole_word_mask && !s.offsets.is_empty() && !start && (compat || !after_special);
        if !joins {
            s.offsets.push(s.flat.len() as u32);
            if start {
                token_boundary[i] = 1;
            }
        }
        s.flat.push(i as u32);
        after_special = false;
    }
    let n_groups = s.offsets.len();
    s.offsets.push(s.flat.len() as u32);

    let num_to_predict = cfg.num_to_predict(n_tok);
    if num_to_predict == 0 || n_groups == 0 {
        return Masked { token_boundary, ..Default::default() };
    }

    // Where an n-gram starting at group g must stop: the end of the sequence (compat), or the
    // end of g's segment (fixed, Q11). `segment_starts` holds the group count at each special.
    for g in 0..n_groups as u32 {
        let lim = if compat {
            n_groups as u32
        } else {
            segment_starts.iter().copied().find(|&b| b > g).unwrap_or(n_groups as u32)
        };
        s.limit.push(lim);
    }

    s.covered.clear();
    s.covered.resize(n_tok, false);
    s.order.clear();
    s.order.extend(0..n_groups as u32);
    rng.shuffle(&mut s.order);

    s.picks.clear();
    let original: Vec<u32> = tokens.to_vec();
    let vocab_size = vocab.vocab_size().max(1);
    for k in 0..s.order.len() {
        if s.picks.len() >= num_to_predict {
            break;
        }
        let g = s.order[k] as usize;
        let Some((lo, hi)) = choose_span(s, g, draw_ngram(cdf, rng), s.picks.len(), num_to_predict) else {
            continue;
        };
        if s.flat[lo..hi].iter().any(|&p| s.covered[p as usize]) {
            continue;
        }
        for idx in lo..hi {
            let p = s.flat[idx] as usize;
            s.covered[p] = true;
            let replacement = if rng.random() < 0.8 {
                vocab.mask_id
            } else if rng.random() < 0.5 {
                original[p]
            } else if compat || vocab.ordinary.is_empty() {
                // Q13: any id, specials included.
                rng.below(vocab_size as u64) as u32
            } else {
                vocab.ordinary[rng.below(vocab.ordinary.len() as u64) as usize]
            };
            tokens[p] = replacement;
            s.picks.push((p as u32, original[p]));
        }
    }

    if cfg.do_permutation {
        // Second pass: up to num_to_predict further uncovered positions whose tokens are
        // permuted among themselves.
        rng.shuffle(&mut s.order);
        s.selected.clear();
        for k in 0..s.order.len() {
            if s.selected.len() >= num_to_predict {
                break;
            }
            let g = s.order[k] as usize;
            let Some((lo, hi)) = choose_span(s, g, draw_ngram(cdf, rng), s.selected.len(), num_to_predict) else {
                continue;
            };
            if s.flat[lo..hi].iter().any(|&p| s.covered[p as usize]) {
                continue;
            }
            for idx in lo..hi {
                let p = s.flat[idx];
                s.covered[p as usize] = true;
                s.selected.push(p);
            }
        }
        s.selected.sort_unstable();
        let mut permuted = s.selected.clone();
        rng.shuffle(&mut permuted);
        let before: Vec<u32> = tokens.to_vec();
        for (&src, &tgt) in s.selected.iter().zip(permuted.iter()) {
            tokens[src as usize] = before[tgt as usize];
            s.picks.push((src, before[src as usize]));
        }
    }

    s.picks.sort_unstable_by_key(|&(p, _)| p);
    Masked {
        token_boundary,
        positions: s.picks.iter().map(|&(p, _)| p).collect(),
        labels: s.picks.iter().map(|&(_, l)| l).collect(),
    }
}

/// Draws an n-gram length in `1..=cdf.len()`.
#[inline]
fn draw_ngram(cdf: &[f64], rng: &mut DataRng) -> usize {
    let u = rng.random();
    cdf.iter().position(|&c| u < c).unwrap_or(cdf.len() - 1) + 1
}

/// The reference's span loop: groups `g..g+n` (cut at the limit), falling back to shorter
/// n-grams while the span would exceed `num_to_predict`; `None` if even one group is too many.
/// Returns a range into `flat`.
#[inline]
fn choose_span(s: &MaskScratch, g: usize, n: usize, already: usize, num_to_predict: usize) -> Option<(usize, usize)> {
    let lo = s.offsets[g] as usize;
    let lim = s.limit[g] as usize;
    let mut n = n;
    loop {
        let end = (g + n).min(lim);
        let hi = s.offsets[end] as usize;
        if already + (hi - lo) <= num_to_predict {
            return Some((lo, hi));
        }
        if n == 1 {
            return None;
        }
        n -= 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CLS: u32 = 2;
    const SEP: u32 = 3;
    const MASK: u32 = 4;

    /// A toy vocabulary: 0..5 specials, then word starts ("▁w7") and continuations ("x8").
    fn vocab() -> (MaskingVocab, Vec<String>) {
        let mut pieces: Vec<(String, PieceKind)> = vec![
            ("<pad>".into(), PieceKind::Control),
            ("<unk>".into(), PieceKind::Unknown),
            ("[CLS]".into(), PieceKind::Control),
            ("[SEP]".into(), PieceKind::Control),
            ("[MASK]".into(), PieceKind::Control),
        ];
        for i in 5..200 {
            let p = if i % 3 == 0 { format!("x{}", ["a", "b", "c"][i % 3]) } else { format!("\u{2581}w{i}") };
            pieces.push((p, PieceKind::Normal));
        }
        let v = MaskingVocab::new(pieces.iter().map(|(p, c)| (p.as_str(), *c)), CLS, SEP, MASK);
        (v, pieces.into_iter().map(|(p, _)| p).collect())
    }

    fn sequence(rng: &mut DataRng, len_a: usize, len_b: usize) -> Vec<u32> {
        let mut t = vec![CLS];
        t.extend((0..len_a).map(|_| 5 + rng.below(195) as u32));
        t.push(SEP);
        t.extend((0..len_b).map(|_| 5 + rng.below(195) as u32));
        t.push(SEP);
        t
    }

    #[test]
    fn reference_word_start_rule_q10() {
        assert!(is_start_piece_reference("\u{2581}the"));
        assert!(is_start_piece_reference("<unk>"));
        assert!(is_start_piece_reference(","));
        assert!(!is_start_piece_reference("ing"));
        assert!(!is_start_piece_reference("ING"));
        assert!(!is_start_piece_reference("a,")); // all chars in the set, not a single special
        assert!(is_start_piece_reference("'")); // apostrophe missing from the list
        assert!(!is_start_piece_reference("ume")); // plain letters: a continuation
        assert!(is_start_piece_reference("\u{e4}ume"));
        assert!(is_start_piece_reference("98"));
        assert!(!is_start_piece_reference("\u{212A}m"));
    }

    #[test]
    fn fixed_word_start_rule_q10() {
        assert!(is_start_piece_fixed("\u{2581}b\u{e4}ume", PieceKind::Normal));
        assert!(!is_start_piece_fixed("\u{e4}ume", PieceKind::Normal));
        assert!(!is_start_piece_fixed("98", PieceKind::Normal));
        assert!(is_start_piece_fixed(",", PieceKind::Normal));
        assert!(is_start_piece_fixed("\u{20ac}", PieceKind::Normal));
        assert!(is_start_piece_fixed("\u{bb}", PieceKind::Normal));
        assert!(is_start_piece_fixed("(", PieceKind::UserDefined));
        assert!(is_start_piece_fixed("[MASK]", PieceKind::Control));
    }

    #[test]
    fn count_rule_rounds_half_to_even() {
        let cfg = MaskingConfig { max_predictions_per_seq: 20, masked_lm_prob: 0.5, ..Default::default() };
        assert_eq!(cfg.num_to_predict(5), 2); // 2.5 -> 2
        assert_eq!(cfg.num_to_predict(7), 4); // 3.5 -> 4
        assert_eq!(cfg.num_to_predict(100), 20);
        let cfg = MaskingConfig { masked_lm_prob: 0.15, ..Default::default() };
        assert_eq!(cfg.num_to_predict(3), 1); // max(1, 0)
        assert_eq!(cfg.num_to_predict(130), 20);
        let cfg = MaskingConfig { masked_lm_prob: 0.0, ..Default::default() };
        assert_eq!(cfg.num_to_predict(500), 0);
    }

    #[test]
    fn positions_sorted_unique_never_special_and_counted() {
        let (v, _) = vocab();
        let mut rng = DataRng::from_seed(11);
        let mut scratch = MaskScratch::default();
        for compat in [false, true] {
            for perm in [false, true] {
                for wwm in [false, true] {
                    let cfg = MaskingConfig { compat, do_permutation: perm, do_whole_word_mask: wwm, ..Default::default() };
                    let cdf = cfg.ngram_cdf();
                    for _ in 0..300 {
                        let la = 1 + rng.below(200) as usize;
                        let lb = 1 + rng.below(200) as usize;
                        let orig = sequence(&mut rng, la, lb);
                        let mut toks = orig.clone();
                        let m = mask_sequence(&mut toks, &cfg, &cdf, &v, &mut rng, &mut scratch);
                        let ntp = cfg.num_to_predict(orig.len());
                        let cap = ntp * (1 + perm as usize);
                        assert!(m.positions.len() <= cap);
                        assert!(!m.positions.is_empty());
                        assert!(m.positions.windows(2).all(|w| w[0] < w[1]), "sorted, unique");
                        for (&p, &l) in m.positions.iter().zip(&m.labels) {
                            assert!(orig[p as usize] != CLS && orig[p as usize] != SEP);
                            assert_eq!(orig[p as usize], l);
                        }
                        // Unmasked positions are untouched.
                        for i in 0..orig.len() {
                            if !m.positions.contains(&(i as u32)) {
                                assert_eq!(orig[i], toks[i]);
                            }
                        }
                        assert_eq!(m.token_boundary.len(), orig.len());
                        for (i, &t) in orig.iter().enumerate() {
                            if t == CLS || t == SEP {
                                assert_eq!(m.token_boundary[i], 1);
                            }
                        }
                        if !perm {
                            assert!(m.positions.len() <= ntp);
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn fills_the_budget_on_long_sequences() {
        let (v, _) = vocab();
        let mut rng = DataRng::from_seed(2);
        let mut scratch = MaskScratch::default();
        let cfg = MaskingConfig::default();
        let cdf = cfg.ngram_cdf();
        let mut total = 0;
        for _ in 0..200 {
            let mut toks = sequence(&mut rng, 250, 250);
            total += mask_sequence(&mut toks, &cfg, &cdf, &v, &mut rng, &mut scratch).positions.len();
        }
        // The fallback to shorter n-grams almost always reaches the cap.
        assert!(total as f64 / 200.0 > 19.5, "{total}");
    }

    #[test]
    fn mask_keep_random_rates() {
        let (v, _) = vocab();
        let mut rng = DataRng::from_seed(9);
        let mut scratch = MaskScratch::default();
        let cfg = MaskingConfig::default();
        let cdf = cfg.ngram_cdf();
        let (mut masked, mut kept, mut random, mut special_random) = (0, 0, 0, 0);
        for _ in 0..3000 {
            let orig = sequence(&mut rng, 60, 60);
            let mut toks = orig.clone();
            let m = mask_sequence(&mut toks, &cfg, &cdf, &v, &mut rng, &mut scratch);
            for &p in &m.positions {
                let (o, t) = (orig[p as usize], toks[p as usize]);
                if t == MASK {
                    masked += 1;
                } else if t == o {
                    kept += 1;
                } else {
                    random += 1;
                    if t < 5 {
                        special_random += 1;
                    }
                }
            }
        }
        let total = (masked + kept + random) as f64;
        assert!((masked as f64 / total - 0.8).abs() < 0.01);
        // a random draw can coincide with the original piece, so "kept" is a hair above 10%
        assert!((kept as f64 / total - 0.1).abs() < 0.01);
        assert!((random as f64 / total - 0.1).abs() < 0.01);
        assert_eq!(special_random, 0, "Q13 fixed: random replacements are ordinary pieces");
    }

    #[test]
    fn fixed_mode_groups_do_not_cross_sep_q11() {
        let (v, pieces) = vocab();
        let cont = (5..200u32).find(|&i| !pieces[i as usize].starts_with('\u{2581}')).unwrap();
        let start = (5..200u32).find(|&i| pieces[i as usize].starts_with('\u{2581}')).unwrap();
        // [CLS] start cont [SEP] cont cont [SEP]: compat joins B's leading pieces to A's word.
        let seq = vec![CLS, start, cont, SEP, cont, cont, SEP];
        let mut rng = DataRng::from_seed(1);
        let mut scratch = MaskScratch::default();
        for compat in [false, true] {
            let cfg = MaskingConfig { compat, masked_lm_prob: 1.0, ngram: 1, ..Default::default() };
            let cdf = cfg.ngram_cdf();
            let mut toks = seq.clone();
            let m = mask_sequence(&mut toks, &cfg, &cdf, &v, &mut rng, &mut scratch);
            assert_eq!(m.token_boundary, vec![1, 1, 0, 1, 0, 0, 1]);
            // 4 candidate positions in one (compat) or two (fixed) groups; budget 7 covers all.
            assert_eq!(m.positions, vec![1, 2, 4, 5]);
        }
        // With a budget of 2 the fixed mode can only take a group within one segment.
        for _ in 0..50 {
            let cfg = MaskingConfig { masked_lm_prob: 2.0 / 7.0, ngram: 3, ..Default::default() };
            let cdf = cfg.ngram_cdf();
            let mut toks = seq.clone();
            let m = mask_sequence(&mut toks, &cfg, &cdf, &v, &mut rng, &mut scratch);
            assert!(m.positions == vec![1, 2] || m.positions == vec![4, 5], "{:?}", m.positions);
        }
    }

    #[test]
    fn without_whole_word_every_piece_is_a_group() {
        let (v, _) = vocab();
        let mut rng = DataRng::from_seed(4);
        let mut scratch = MaskScratch::default();
        let cfg = MaskingConfig { do_whole_word_mask: false, ngram: 1, masked_lm_prob: 1.0 / 7.0, ..Default::default() };
        let cdf = cfg.ngram_cdf();
        for _ in 0..100 {
            let mut toks = sequence(&mut rng, 2, 2);
            let m = mask_sequence(&mut toks, &cfg, &cdf, &v, &mut rng, &mut scratch);
            assert_eq!(m.positions.len(), 1);
        }
    }

    #[test]
    fn ngram_weights() {
        let cfg = MaskingConfig::default();
        let cdf = cfg.ngram_cdf();
        assert!((cdf[0] - 6.0 / 11.0).abs() < 1e-12 && (cdf[1] - 9.0 / 11.0).abs() < 1e-12);
        let rev = MaskingConfig { favor_shorter_ngram: false, ..Default::default() }.ngram_cdf();
        assert!((rev[0] - 2.0 / 11.0).abs() < 1e-12);
    }
}
