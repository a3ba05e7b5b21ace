//! Punkt training as NLTK 3.10's `PunktTrainer().train(text, finalize=True)` does it with its
//! default settings: the same word tokens and types, the same abbreviation scores
//! (`_reclassify_abbrev_types`: modified Dunning log-likelihood with NLTK's length, period and
//! penalty factors), the first annotation pass, the orthographic context table, the rare
//! abbreviations of the pair pass, then sentence starters and collocations
//! (`_col_log_likelihood`) — every float computed in the same order with the same libm
//! functions, so the parameters are the ones NLTK learns (`tests/test_punkt_trainer.py` checks
//! them set for set against `PunktTrainer`). Hand-written: no crate trains Punkt as NLTK does.
//!
//! Memory is about 12 bytes per word token plus the distinct types (NLTK: ~43 bytes of RAM per
//! byte of text); the tokenization and counting pass runs on rayon over line-aligned chunks.

use std::collections::{HashMap, HashSet};
use std::hint::black_box;

use rayon::prelude::*;

use super::chars::{is_re_digit, is_re_word};
use super::params::{PunktParameters, ORTHO_BEG_LC, ORTHO_BEG_UC, ORTHO_MID_LC, ORTHO_MID_UC, ORTHO_UNK_LC, ORTHO_UNK_UC};
use super::words::{is_numeric, word_tokenize_line};
use crate::text::is_python_whitespace;

/// `PunktTrainer.ABBREV`: the score from which a type is an abbreviation.
const ABBREV: f64 = 0.3;
/// `PunktTrainer.ABBREV_BACKOFF`: rare abbreviations occur fewer times than this.
const ABBREV_BACKOFF: u64 = 5;
/// `PunktTrainer.COLLOCATION`: minimal log-likelihood of a collocation.
const COLLOCATION: f64 = 7.88;
/// `PunktTrainer.SENT_STARTER`: minimal log-likelihood of a frequent sentence starter.
const SENT_STARTER: f64 = 30.0;
/// `PunktTrainer.MIN_COLLOC_FREQ`.
const MIN_COLLOC_FREQ: u64 = 1;
/// Text per tokenization task (line-aligned).
const CHUNK_BYTES: usize = 1 << 20;
const NUMBER: &str = "##number##";

// Facts of the token text (`PunktToken` properties), fixed at tokenization.
const PERIOD_FINAL: u16 = 1 << 0;
const PARASTART: u16 = 1 << 1;
const LINESTART: u16 = 1 << 2;
const FIRST_UPPER: u16 = 1 << 3;
const FIRST_LOWER: u16 = 1 << 4;
const INITIAL: u16 = 1 << 5;
const ALPHA: u16 = 1 << 6;
/// The first character is one of `internal_punctuation` (",:;").
const INTERNAL_PUNCT: u16 = 1 << 7;
/// The token is ".", "?" or "!" (`sent_end_chars`).
const SENT_END_CHAR: u16 = 1 << 8;
/// `_RE_ELLIPSIS` matches.
const ELLIPSIS_TOK: u16 = 1 << 9;
const DOUBLE_PERIOD_END: u16 = 1 << 10;
// Annotations of the first pass.
const SENTBREAK: u16 = 1 << 11;
const ABBR: u16 = 1 << 12;
const ELLIPSIS: u16 = 1 << 13;

const NO_ID: u32 = u32::MAX;

/// One word token: its type, `tok[:-1].lower()` for a period-final word, and flags.
#[derive(Clone, Copy)]
struct Tok {
    typ: u32,
    stem: u32,
    flags: u16,
}

impl Tok {
    #[inline]
    fn has(&self, f: u16) -> bool {
        self.flags & f != 0
    }
}

/// Strings (types and the stems and period-less forms derived from them) by id.
#[derive(Default)]
struct Strings {
    ids: HashMap<String, u32>,
    list: Vec<String>,
}

impl Strings {
    fn intern(&mut self, s: &str) -> u32 {
        if let Some(&id) = self.ids.get(s) {
            return id;
        }
        self.intern_owned(s.to_owned())
    }

    fn intern_owned(&mut self, s: String) -> u32 {
        if let Some(&id) = self.ids.get(&s) {
            return id;
        }
        let id = self.list.len() as u32;
        self.list.push(s.clone());
        self.ids.insert(s, id);
        id
    }

    fn get(&self, s: &str) -> Option<u32> {
        self.ids.get(s).copied()
    }
}

/// The tokens of one line-aligned chunk, with chunk-local string ids.
struct Chunk {
    toks: Vec<Tok>,
    strings: Strings,
}

/// Python's `str.lower()` into `buf` (the interpreter's, `crate::unicode`).
fn lower_into(s: &str, buf: &mut String) {
    buf.clear();
    if s.is_ascii() {
        buf.extend(s.bytes().map(|b| b.to_ascii_lowercase() as char));
    } else {
        buf.push_str(&crate::text::lower(s));
    }
}

/// The flags of a token's text.
fn text_flags(tok: &str) -> u16 {
    let mut flags = 0;
    let mut chars = tok.chars();
    let first = chars.next();
    if let Some(c) = first {
        // `tok[0].isupper()`, `tok[0].islower()` of the interpreter.
        let tables = crate::unicode::tables();
        if if c.is_ascii() { c.is_ascii_uppercase() } else { tables.isupper(c) } {
            flags |= FIRST_UPPER;
        }
        if if c.is_ascii() { c.is_ascii_lowercase() } else { tables.islower(c) } {
            flags |= FIRST_LOWER;
        }
        if matches!(c, ',' | ':' | ';') {
            flags |= INTERNAL_PUNCT;
        }
        // `_RE_INITIAL` = `[^\W\d]\.$`
        if is_re_word(c) && !is_re_digit(c) && tok.len() == c.len_utf8() + 1 && tok.ends_with('.') {
            flags |= INITIAL;
        }
    }
    // `_RE_ALPHA` = `[^\W\d]+$`
    if first.is_some() && tok.chars().all(|c| is_re_word(c) && !is_re_digit(c)) {
        flags |= ALPHA;
    }
    if tok.ends_with('.') {
        flags |= PERIOD_FINAL;
    }
    if tok.ends_with("..") {
        flags |= DOUBLE_PERIOD_END;
    }
    if matches!(tok, "." | "?" | "!") {
        flags |= SENT_END_CHAR;
    }
    if tok.len() >= 2 && tok.bytes().all(|b| b == b'.') {
        flags |= ELLIPSIS_TOK;
    }
    flags
}

/// `PunktBaseClass._tokenize_words` on the lines of one chunk. `parastart` says whether a blank
/// line came after the last non-blank line before the chunk.
fn tokenize_chunk(text: &str, mut parastart: bool) -> Chunk {
    let mut chunk = Chunk { toks: Vec::with_capacity(text.len() / 5), strings: Strings::default() };
    let mut spans = Vec::new();
    let mut buf = String::new();
    for line in text.split('\n') {
        if line.chars().all(is_python_whitespace) {
            parastart = true;
            continue;
        }
        spans.clear();
        word_tokenize_line(line, 0, &mut spans);
        for (k, &(a, b)) in spans.iter().enumerate() {
            let tok = &line[a..b];
            let mut flags = text_flags(tok);
            if k == 0 {
                flags |= LINESTART;
                if parastart {
                    flags |= PARASTART;
                }
            }
            lower_into(tok, &mut buf);
            let typ = if is_numeric(&buf) { chunk.strings.intern(NUMBER) } else { chunk.strings.intern(&buf) };
            // Only the first pass's abbreviation test reads the stem.
            let stem = if flags & PERIOD_FINAL != 0 && flags & (DOUBLE_PERIOD_END | SENT_END_CHAR | ELLIPSIS_TOK) == 0 {
                lower_into(&tok[..tok.len() - 1], &mut buf);
                chunk.strings.intern(&buf)
            } else {
                NO_ID
            };
            chunk.toks.push(Tok { typ, stem, flags });
        }
        if !spans.is_empty() {
            parastart = false;
        }
    }
    chunk
}

/// The text cut after a '\n' about every [`CHUNK_BYTES`]; each piece without its final '\n'
/// (the last piece whole), so that splitting the pieces at '\n' gives the lines of the text.
fn chunks(text: &str) -> Vec<(&str, bool)> {
    let mut out = Vec::new();
    let mut start = 0;
    while start < text.len() {
        let want = (start + CHUNK_BYTES).min(text.len());
        let cut = match memchr::memchr(b'\n', &text.as_bytes()[want..]) {
            Some(i) if want < text.len() => want + i,
            _ => text.len(),
        };
        // Is the line just before this chunk blank (then its first token starts a paragraph)?
        let parastart = start > 0 && {
            let before = &text[..start - 1];
            let line_start = before.rfind('\n').map_or(0, |i| i + 1);
            before[line_start..].chars().all(is_python_whitespace)
        };
        if cut == text.len() {
            out.push((&text[start..], parastart));
            break;
        }
        out.push((&text[start..cut], parastart));
        start = cut + 1;
    }
    out
}

/// `math.log` of CPython: `None` where it raises `ValueError` (x <= 0).
#[inline]
fn py_log(x: f64) -> Option<f64> {
    if x > 0.0 || x.is_nan() {
        Some(x.ln())
    } else {
        None
    }
}

/// `PunktTrainer._dunning_log_likelihood`.
fn dunning_log_likelihood(count_a: i64, count_b: i64, count_ab: i64, n: i64) -> f64 {
    let f = |x: i64| x as f64;
    let p1 = f(count_b) / f(n);
    // Opaque, so that the compiler does not fold the logarithms with its own arithmetic.
    let p2 = black_box(0.99f64);
    let null_hypo = f(count_ab) * (p1 + 1e-8).ln() + f(count_a - count_ab) * (1.0 - p1 + 1e-8).ln();
    let alt_hypo = f(count_ab) * p2.ln() + f(count_a - count_ab) * (1.0 - p2).ln();
    let likelihood = null_hypo - alt_hypo;
    -2.0 * likelihood
}

/// `PunktTrainer._col_log_likelihood`, its `ValueError`/`ZeroDivisionError` fallbacks included.
fn col_log_likelihood(count_a: i64, count_b: i64, count_ab: i64, n: i64) -> f64 {
    let f = |x: i64| x as f64;
    let p = f(count_b) / f(n);
    let p1 = f(count_ab) / f(count_a);
    let p2 = if n - count_a == 0 { 1.0 } else { f(count_b - count_ab) / f(n - count_a) };
    let summand1 = match (py_log(p), py_log(1.0 - p)) {
        (Some(lp), Some(lq)) => f(count_ab) * lp + f(count_a - count_ab) * lq,
        _ => 0.0,
    };
    let summand2 = match (py_log(p), py_log(1.0 - p)) {
        (Some(lp), Some(lq)) => f(count_b - count_ab) * lp + f(n - count_a - count_b + count_ab) * lq,
        _ => 0.0,
    };
    let summand3 = if count_a == count_ab || p1 <= 0.0 || p1 >= 1.0 {
        0.0
    } else {
        f(count_ab) * p1.ln() + f(count_a - count_ab) * (1.0 - p1).ln()
    };
    let summand4 = if count_b == count_ab || p2 <= 0.0 || p2 >= 1.0 {
        0.0
    } else {
        f(count_b - count_ab) * p2.ln() + f(n - count_a - count_b + count_ab) * (1.0 - p2).ln()
    };
    let likelihood = summand1 + summand2 - summand3 - summand4;
    -2.0 * likelihood
}

/// `_re_non_punct.search(typ)`: the type holds a letter-like word character.
fn is_non_punct(typ: &str) -> bool {
    typ.chars().any(|c| is_re_word(c) && !is_re_digit(c))
}

/// What training counted besides the parameters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PunktTrainingStats {
    /// Word tokens (NLTK's `_type_fdist.N()`).
    pub tokens: u64,
    /// Distinct token types.
    pub types: u64,
    /// Tokens marked as sentence breaks by the first pass.
    pub sentence_breaks: u64,
}

/// The trainer's tables over the interned strings.
struct Trainer {
    strings: Strings,
    toks: Vec<Tok>,
    /// `_type_fdist` by string id (ids past its end count 0).
    fdist: Vec<u64>,
    /// Number of ids that are token types (`0..n_types` may include derived strings too).
    n_types: usize,
    num_period_toks: u64,
    /// `type_no_period` of each type id.
    no_period: Vec<u32>,
    abbrevs: HashSet<u32>,
    /// Orthographic context flags; `None` = no entry.
    ortho: Vec<Option<u32>>,
}

impl Trainer {
    fn new(text: &str) -> Trainer {
        let parts: Vec<Chunk> = chunks(text).into_par_iter().map(|(t, p)| tokenize_chunk(t, p)).collect();
        let mut strings = Strings::default();
        let mut toks = Vec::with_capacity(parts.iter().map(|c| c.toks.len()).sum());
        for part in parts {
            let remap: Vec<u32> = part.strings.list.into_iter().map(|s| strings.intern_owned(s)).collect();
            toks.extend(part.toks.iter().map(|t| Tok {
                typ: remap[t.typ as usize],
                stem: if t.stem == NO_ID { NO_ID } else { remap[t.stem as usize] },
                flags: t.flags,
            }));
        }
        let mut fdist = vec![0u64; strings.list.len()];
        let mut num_period_toks = 0;
        for t in &toks {
            fdist[t.typ as usize] += 1;
            num_period_toks += t.has(PERIOD_FINAL) as u64;
        }
        let n_types = strings.list.len();
        let mut no_period = Vec::with_capacity(n_types);
        for id in 0..n_types {
            let s = &strings.list[id];
            let np = if s.ends_with('.') && s.chars().nth(1).is_some() {
                let stripped = s[..s.len() - 1].to_string();
                strings.intern_owned(stripped)
            } else {
                id as u32
            };
            no_period.push(np);
        }
        Trainer {
            ortho: Vec::new(),
            strings,
            toks,
            fdist,
            n_types,
            num_period_toks,
            no_period,
            abbrevs: HashSet::new(),
        }
    }

    fn count(&self, id: u32) -> u64 {
        self.fdist.get(id as usize).copied().unwrap_or(0)
    }

    /// `_type_fdist[s]`.
    fn count_of(&self, s: &str) -> u64 {
        self.strings.get(s).map_or(0, |id| self.count(id))
    }

    fn n(&self) -> u64 {
        self.toks.len() as u64
    }

    fn str(&self, id: u32) -> &str {
        &self.strings.list[id as usize]
    }

    /// `type_no_sentperiod` of a token.
    #[inline]
    fn no_sentperiod(&self, t: &Tok) -> u32 {
        if t.has(SENTBREAK) {
            self.no_period[t.typ as usize]
        } else {
            t.typ
        }
    }

    /// `_reclassify_abbrev_types` over the types of the text, adding those that score. (Its
    /// removal branch re-scores a period-less type whose period form was just added, with the
    /// same counts and so the same score: in one training call it never removes anything.)
    fn find_abbreviations(&mut self) {
        let (n, period_toks) = (self.n() as i64, self.num_period_toks as i64);
        for id in 0..self.n_types as u32 {
            if self.count(id) == 0 {
                continue; // a derived string, not a type of the text
            }
            let typ = self.str(id);
            if !is_non_punct(typ) || typ == NUMBER || !typ.ends_with('.') || self.abbrevs.contains(&id) {
                continue;
            }
            let stem_id = self.no_period[id as usize];
            let stem = self.str(stem_id);
            let num_periods = stem.matches('.').count() as i64 + 1;
            let num_nonperiods = stem.chars().count() as i64 - num_periods + 1;
            let with_period = self.count(id) as i64;
            let without_period = self.count(stem_id) as i64;
            let log_likelihood = dunning_log_likelihood(with_period + without_period, period_toks, with_period, n);
            let f_length = (-(num_nonperiods as f64)).exp();
            let f_periods = num_periods as f64;
            let f_penalty = (num_nonperiods as f64).powf(-(without_period as f64));
            let score = log_likelihood * f_length * f_periods * f_penalty;
            if score >= ABBREV {
                self.abbrevs.insert(stem_id);
            }
        }
    }

    /// `_first_pass_annotation` of every token.
    fn first_pass(&mut self) {
        let abbrev_strings: HashSet<&str> = self.abbrevs.iter().map(|&id| self.str(id)).collect();
        let is_abbr: Vec<bool> = self
            .strings
            .list
            .par_iter()
            .map(|s| abbrev_strings.contains(s.as_str()) || abbrev_strings.contains(s.rsplit('-').next().unwrap_or("")))
            .collect();
        self.toks.par_iter_mut().for_each(|t| {
            if t.has(SENT_END_CHAR) {
                t.flags |= SENTBREAK;
            } else if t.has(ELLIPSIS_TOK) {
                t.flags |= ELLIPSIS;
            } else if t.has(PERIOD_FINAL) && !t.has(DOUBLE_PERIOD_END) {
                t.flags |= if is_abbr[t.stem as usize] { ABBR } else { SENTBREAK };
            }
        });
    }

    /// `_get_orthography_data`.
    fn orthography(&mut self) {
        #[derive(PartialEq, Clone, Copy)]
        enum Context {
            Initial,
            Internal,
            Unknown,
        }
        let mut ortho: Vec<Option<u32>> = vec![None; self.strings.list.len()];
        let mut context = Context::Internal;
        for t in &self.toks {
            if t.has(PARASTART) && context != Context::Unknown {
                context = Context::Initial;
            }
            if t.has(LINESTART) && context == Context::Internal {
                context = Context::Unknown;
            }
            let typ = self.no_sentperiod(t);
            let flag = match (context, t.has(FIRST_LOWER), t.has(FIRST_UPPER)) {
                (Context::Initial, true, _) => ORTHO_BEG_LC,
                (Context::Internal, true, _) => ORTHO_MID_LC,
                (Context::Unknown, true, _) => ORTHO_UNK_LC,
                (Context::Initial, false, true) => ORTHO_BEG_UC,
                (Context::Internal, false, true) => ORTHO_MID_UC,
                (Context::Unknown, false, true) => ORTHO_UNK_UC,
                _ => 0,
            };
            if flag != 0 {
                let slot = &mut ortho[typ as usize];
                *slot = Some(slot.unwrap_or(0) | flag);
            }
            context = if t.has(SENTBREAK) {
                if self.is_number(t.typ) || t.has(INITIAL) {
                    Context::Unknown
                } else {
                    Context::Initial
                }
            } else if t.has(ELLIPSIS) || t.has(ABBR) {
                Context::Unknown
            } else {
                Context::Internal
            };
        }
        self.ortho = ortho;
    }

    fn is_number(&self, typ: u32) -> bool {
        self.str(typ).starts_with(NUMBER)
    }

    /// The pair pass of `_train_tokens` (rare abbreviations, sentence-starter and collocation
    /// counts), then `finalize_training`.
    fn pairs_and_finalize(&mut self) -> (HashSet<u32>, HashSet<(u32, u32)>) {
        let n_ids = self.strings.list.len();
        let non_punct: Vec<bool> = self.strings.list.par_iter().map(|s| is_non_punct(s)).collect();
        let number: Vec<bool> = self.strings.list.par_iter().map(|s| s.starts_with(NUMBER)).collect();
        let mut starter_fdist: HashMap<u32, u64> = HashMap::new();
        let mut colloc_fdist: HashMap<(u32, u32), u64> = HashMap::new();
        // `_type_fdist[typ] + _type_fdist[typ[:-1]]` by id of typ.
        let mut rare_counts: HashMap<u32, u64> = HashMap::new();
        for i in 0..self.toks.len().saturating_sub(1) {
            let (t1, t2) = (self.toks[i], self.toks[i + 1]);
            if !t1.has(PERIOD_FINAL) {
                continue;
            }
            // `_is_rare_abbrev_type`
            if !t1.has(ABBR) && t1.has(SENTBREAK) {
                let typ = self.no_period[t1.typ as usize];
                let count = match rare_counts.get(&typ) {
                    Some(&c) => c,
                    None => {
                        let s = self.str(typ);
                        let chopped = s.char_indices().next_back().map_or("", |(k, _)| &s[..k]);
                        let c = self.count(typ) + self.count_of(chopped);
                        rare_counts.insert(typ, c);
                        c
                    }
                };
                if !self.abbrevs.contains(&typ) && count < ABBREV_BACKOFF {
                    if t2.has(INTERNAL_PUNCT) {
                        self.abbrevs.insert(typ);
                    } else if t2.has(FIRST_LOWER) {
                        // NLTK reads a defaultdict here: the lookup leaves a 0 entry behind.
                        let typ2 = self.no_sentperiod(&t2) as usize;
                        let ctx = *self.ortho[typ2].get_or_insert(0);
                        if ctx & ORTHO_BEG_UC != 0 && ctx & ORTHO_MID_UC == 0 {
                            self.abbrevs.insert(typ);
                        }
                    }
                }
            }
            let number_or_initial = number[t1.typ as usize] || t1.has(INITIAL);
            // `_is_potential_sent_starter`
            if t1.has(SENTBREAK) && !number_or_initial && t2.has(ALPHA) {
                *starter_fdist.entry(t2.typ).or_default() += 1;
            }
            // `_is_potential_collocation`
            if t1.has(SENTBREAK) && number_or_initial && non_punct[t1.typ as usize] && non_punct[t2.typ as usize] {
                let key = (self.no_period[t1.typ as usize], self.no_sentperiod(&t2));
                *colloc_fdist.entry(key).or_default() += 1;
            }
        }
        debug_assert!(self.strings.list.len() == n_ids);
        let n = self.n() as i64;
        let sentbreaks = self.toks.iter().filter(|t| t.has(SENTBREAK)).count() as i64;
        let with_period = |tr: &Trainer, id: u32| tr.count(id) as i64 + tr.count_of(&format!("{}.", tr.str(id))) as i64;

        // `_find_sent_starters`
        let mut starters = HashSet::new();
        for (&typ, &at_break) in &starter_fdist {
            let at_break = at_break as i64;
            let typ_count = with_period(self, typ);
            if typ_count < at_break {
                continue;
            }
            let ll = col_log_likelihood(sentbreaks, typ_count, at_break, n);
            if ll >= SENT_STARTER && (n as f64 / sentbreaks as f64) > (typ_count as f64 / at_break as f64) {
                starters.insert(typ);
            }
        }
        // `_find_collocations`
        let mut collocations = HashSet::new();
        for (&(a, b), &count) in &colloc_fdist {
            if starters.contains(&b) {
                continue;
            }
            let (a_count, b_count, count) = (with_period(self, a), with_period(self, b), count as i64);
            if a_count > 1 && b_count > 1 && (MIN_COLLOC_FREQ as i64) < count && count <= a_count.min(b_count) {
                let ll = col_log_likelihood(a_count, b_count, count, n);
                if ll >= COLLOCATION && (n as f64 / a_count as f64) > (b_count as f64 / count as f64) {
                    collocations.insert((a, b));
                }
            }
        }
        (starters, collocations)
    }
}

/// Trains Punkt parameters on `text` exactly as NLTK's `PunktTrainer().train(text)` does.
pub fn train_punkt(text: &str) -> (PunktParameters, PunktTrainingStats) {
    let mut tr = Trainer::new(text);
    tr.find_abbreviations();
    tr.first_pass();
    tr.orthography();
    let (starters, collocations) = tr.pairs_and_finalize();
    let stats = PunktTrainingStats {
        tokens: tr.n(),
        types: (0..tr.n_types as u32).filter(|&id| tr.count(id) > 0).count() as u64,
        sentence_breaks: tr.toks.iter().filter(|t| t.has(SENTBREAK)).count() as u64,
    };
    let mut params = PunktParameters {
        abbrev_types: tr.abbrevs.iter().map(|&id| tr.str(id).to_string()).collect(),
        sent_starters: starters.iter().map(|&id| tr.str(id).to_string()).collect(),
        ortho_context: tr
            .ortho
            .iter()
            .enumerate()
            .filter_map(|(id, f)| f.map(|f| (tr.str(id as u32).to_string(), f)))
            .collect(),
        ..Default::default()
    };
    for (a, b) in collocations {
        params.add_collocation(tr.str(a), tr.str(b));
    }
    (params, stats)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_cover_the_lines_and_carry_paragraph_starts() {
        let mut text = String::new();
        for i in 0..200_000 {
            text.push_str(if i % 7 == 0 { "\n" } else { "Some words here.\n" });
        }
        let pieces = chunks(&text);
        assert!(pieces.len() > 2);
        let rejoined: Vec<&str> = pieces.iter().map(|(t, _)| *t).collect();
        assert_eq!(rejoined.join("\n"), text);
        for (k, (t, p)) in pieces.iter().enumerate().skip(1) {
            let start = t.as_ptr() as usize - text.as_ptr() as usize;
            let prev_line = text[..start - 1].rsplit('\n').next().unwrap();
            assert_eq!(*p, prev_line.is_empty(), "chunk {k}");
        }
        // Chunked tokenization equals one pass over the whole text.
        let whole = tokenize_chunk(&text, false);
        let parts: Vec<Chunk> = pieces.iter().map(|&(t, p)| tokenize_chunk(t, p)).collect();
        let flags: Vec<u16> = parts.iter().flat_map(|c| c.toks.iter().map(|t| t.flags)).collect();
        assert_eq!(flags, whole.toks.iter().map(|t| t.flags).collect::<Vec<_>>());
    }

    #[test]
    fn learns_abbreviations_starters_and_ortho_context() {
        let mut text = String::new();
        for i in 0..300 {
            text.push_str(&format!("Dr. Smith met Mr. Jones on day {i}. They talked about etc. and things. "));
            text.push_str("However, the weather was fine. The end came.\n\n");
        }
        let (p, stats) = train_punkt(&text);
        assert!(p.abbrev_types.contains("dr") && p.abbrev_types.contains("mr"), "{:?}", p.abbrev_types);
        // (Words that only ever end sentences look like abbreviations too, as in NLTK.)
        assert!(!p.abbrev_types.contains("smith") && !p.abbrev_types.contains("however"));
        assert!(p.ortho("smith") & ORTHO_UNK_UC != 0 && p.ortho("weather") & ORTHO_MID_LC != 0);
        assert!(stats.tokens > 5000 && stats.sentence_breaks > 0);
    }

    #[test]
    fn log_likelihoods_fall_back_as_python_does() {
        // p == 1: math.log(0) raises, NLTK's except makes the summand 0.
        let v = col_log_likelihood(5, 10, 5, 10);
        assert!(v.is_finite());
        // N == count_a: ZeroDivisionError, p2 = 1.
        assert!(col_log_likelihood(10, 4, 2, 10).is_finite());
        assert!(dunning_log_likelihood(3, 10, 2, 100).is_finite());
    }
}
