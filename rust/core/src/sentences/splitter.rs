//! [`PunktSentenceTokenizer`]: NLTK 3.10's `span_tokenize` (`realign_boundaries=True`):
//! 1. every `.`, `?`, `!` followed by a non-word punctuation character, or by whitespace and a
//!    further token, is a candidate; runs of candidates sharing one "previous word" collapse to
//!    the last one (`_match_potential_end_contexts`);
//! 2. the candidate's context is word-tokenized and annotated in two passes (type-based, then
//!    token-based: collocations, orthographic heuristic, sentence starters, initials and
//!    ordinals); it is a boundary when any token but the last ends a sentence;
//! 3. closing quotes and brackets after a boundary move onto the sentence they close
//!    (`_realign_boundaries`); the last sentence loses trailing whitespace.

use rayon::prelude::*;

use super::chars::{char_at, is_closing, is_non_word, is_re_space};
use super::params::{PunktParameters, ORTHO_BEG_LC, ORTHO_LC, ORTHO_MID_UC, ORTHO_UC};
use super::words::{tokenize_words, Token};
use crate::text::is_python_whitespace;

#[derive(PartialEq, Clone, Copy)]
enum Ortho {
    Starter,
    NotStarter,
    Unknown,
}

/// A potential sentence end found by `period_context_re`.
#[derive(Clone, Copy, Debug)]
struct Candidate {
    /// Byte offset of the `.`, `?` or `!`.
    start: usize,
    /// End of the `after_tok` group (the following punctuation or whitespace + next token).
    after_end: usize,
    /// Start of `next_tok` if the mark is followed by whitespace and a token.
    next_tok: Option<usize>,
}

/// A Punkt sentence tokenizer with fixed parameters; cheap to share between threads.
#[derive(Debug, Clone, Default)]
pub struct PunktSentenceTokenizer {
    params: PunktParameters,
}

impl PunktSentenceTokenizer {
    /// A tokenizer using `params`.
    pub fn new(params: PunktParameters) -> Self {
        PunktSentenceTokenizer { params }
    }

    /// The parameters in use.
    pub fn params(&self) -> &PunktParameters {
        &self.params
    }

    /// Sentences of `text`, as NLTK's `PunktSentenceTokenizer.tokenize(text)` returns them.
    pub fn tokenize<'t>(&self, text: &'t str) -> Vec<&'t str> {
        self.span_tokenize(text).into_iter().map(|(a, b)| &text[a..b]).collect()
    }

    /// Byte spans of the sentences (NLTK's `span_tokenize` with `realign_boundaries=True`).
    pub fn span_tokenize(&self, text: &str) -> Vec<(usize, usize)> {
        let slices = self.slices_from_text(text);
        realign_boundaries(text, &slices)
    }

    /// The spans of [`span_tokenize`](Self::span_tokenize) in code points, as NLTK's are.
    pub fn span_tokenize_chars(&self, text: &str) -> Vec<(usize, usize)> {
        // Byte offsets -> code-point offsets, walking the text once.
        let (mut byte, mut chars) = (0usize, 0usize);
        let mut to_chars = |target: usize| {
            chars += text[byte..target].chars().count();
            byte = target;
            chars
        };
        self.span_tokenize(text).into_iter().map(|(a, b)| (to_chars(a), to_chars(b))).collect()
    }

    /// The sentences of many texts, split in parallel on the rayon pool; one list per text.
    pub fn tokenize_many<'t, S: AsRef<str> + Sync>(&self, texts: &'t [S]) -> Vec<Vec<&'t str>> {
        texts.par_iter().map(|t| self.tokenize(t.as_ref())).collect()
    }

    /// `_slices_from_text`: a slice ends at every candidate whose context holds a break.
    fn slices_from_text(&self, text: &str) -> Vec<(usize, usize)> {
        let mut slices = Vec::new();
        let mut last_break = 0;
        let mut toks = Vec::new();
        for (cand, ctx_start) in match_potential_end_contexts(text) {
            if self.text_contains_sentbreak(&text[ctx_start..cand.after_end], &mut toks) {
                slices.push((last_break, cand.start + 1));
                last_break = cand.next_tok.unwrap_or(cand.start + 1);
            }
        }
        // Python's str.rstrip() whitespace.
        slices.push((last_break, text.trim_end_matches(is_python_whitespace).len()));
        slices
    }

    /// `text_contains_sentbreak`: does any token but the last end a sentence after both passes?
    fn text_contains_sentbreak(&self, ctx: &str, spans: &mut Vec<(usize, usize)>) -> bool {
        spans.clear();
        tokenize_words(ctx, spans);
        if spans.len() < 2 {
            return false;
        }
        let mut toks: Vec<Token> = spans.iter().map(|&(a, b)| Token::new(&ctx[a..b])).collect();
        for t in toks.iter_mut() {
            self.first_pass(t);
        }
        for i in 0..toks.len() - 1 {
            let (head, tail) = toks.split_at_mut(i + 1);
            self.second_pass(&mut head[i], &tail[0]);
            if head[i].sentbreak {
                return true;
            }
        }
        false
    }

    /// `_first_pass_annotation`: type-based decisions.
    fn first_pass(&self, t: &mut Token) {
        let tok = t.tok;
        if tok == "." || tok == "?" || tok == "!" {
            t.sentbreak = true;
        } else if t.is_ellipsis() {
            t.ellipsis = true;
        } else if t.period_final && !tok.ends_with("..") {
            let base = crate::text::lower(&tok[..tok.len() - 1]);
            let last_part = base.rsplit('-').next().unwrap_or("");
            if self.params.abbrev_types.contains(&base) || self.params.abbrev_types.contains(last_part) {
                t.abbr = true;
            } else {
                t.sentbreak = true;
            }
        }
    }

    /// `_second_pass_annotation`: token-based decisions on a pair of adjacent tokens.
    fn second_pass(&self, t1: &mut Token, t2: &Token) {
        if !t1.period_final {
            return;
        }
        let p = &self.params;
        let typ = t1.type_no_period();
        let next_typ = t2.type_no_sentperiod();
        let initial = t1.is_initial();

        // Collocation heuristic.
        if p.is_collocation(typ, next_typ) {
            t1.sentbreak = false;
            t1.abbr = true;
            return;
        }
        // Abbreviations and ellipses that also end a sentence.
        if (t1.abbr || t1.ellipsis) && !initial {
            if self.ortho_heuristic(t2) == Ortho::Starter {
                t1.sentbreak = true;
                return;
            }
            if t2.first_upper() && p.sent_starters.contains(next_typ) {
                t1.sentbreak = true;
                return;
            }
        }
        // Initials and ordinals.
        if initial || typ == "##number##" {
            let ortho = self.ortho_heuristic(t2);
            if ortho == Ortho::NotStarter {
                t1.sentbreak = false;
                t1.abbr = true;
                return;
            }
            if ortho == Ortho::Unknown && initial && t2.first_upper() && p.ortho(next_typ) & ORTHO_LC == 0 {
                t1.sentbreak = false;
                t1.abbr = true;
            }
        }
    }

    /// `_ortho_heuristic`: does orthographic evidence say `t` starts a sentence?
    fn ortho_heuristic(&self, t: &Token) -> Ortho {
        if matches!(t.tok, ";" | ":" | "," | "." | "!" | "?") {
            return Ortho::NotStarter;
        }
        let ctx = self.params.ortho(t.type_no_sentperiod());
        if t.first_upper() && ctx & ORTHO_LC != 0 && ctx & ORTHO_MID_UC == 0 {
            return Ortho::Starter;
        }
        if t.first_lower() && (ctx & ORTHO_UC != 0 || ctx & ORTHO_BEG_LC == 0) {
            return Ortho::NotStarter;
        }
        Ortho::Unknown
    }
}

/// Candidates of `period_context_re` = `[.?!](?=(?P<after_tok>NonWord|\s+(?P<next_tok>\S+)))`.
fn candidates(text: &str) -> impl Iterator<Item = Candidate> + '_ {
    let b = text.as_bytes();
    memchr::memchr3_iter(b'.', b'?', b'!', b).filter_map(move |i| {
        let c = char_at(text, i + 1)?;
        if is_non_word(c) {
            return Some(Candidate { start: i, after_end: i + 1 + c.len_utf8(), next_tok: None });
        }
        if !is_re_space(c) {
            return None;
        }
        let rest = &text[i + 1..];
        let ws = rest.find(|c: char| !is_re_space(c))?;
        let tok_start = i + 1 + ws;
        let tok_len = text[tok_start..].find(is_re_space).unwrap_or(text.len() - tok_start);
        Some(Candidate { start: i, after_end: tok_start + tok_len, next_tok: Some(tok_start) })
    })
}

/// `_match_potential_end_contexts`: each candidate with the start of its context (the word
/// before it), dropping candidates whose previous word overlaps the next candidate's.
fn match_potential_end_contexts(text: &str) -> Vec<(Candidate, usize)> {
    let mut out = Vec::new();
    let mut prev_slice = (0usize, 0usize);
    let mut prev: Option<Candidate> = None;
    for cand in candidates(text) {
        let before = &text.as_bytes()[prev_slice.1..cand.start];
        // Python's string.whitespace (ASCII only); an index of 0 counts as "not found".
        let idx = before.iter().rposition(|&c| matches!(c, b' ' | b'\t' | b'\n' | b'\r' | b'\x0b' | b'\x0c')).unwrap_or(0);
        let word_start = if idx > 0 { prev_slice.1 + idx + 1 } else { prev_slice.0 };
        if let Some(p) = prev {
            if prev_slice.1 <= word_start {
                out.push((p, prev_slice.0));
            }
        }
        prev = Some(cand);
        prev_slice = (word_start, cand.start);
    }
    if let Some(p) = prev {
        out.push((p, prev_slice.0));
    }
    out
}

/// Length of a match of `re_boundary_realignment` =
/// `["\')\]}‘’“”«»]+?(?:\s+|(?=--)|$)` (MULTILINE) at the start of `s`: (closing-run end, match end).
fn boundary_realignment(s: &str) -> Option<(usize, usize)> {
    let mut p = 0;
    loop {
        let c = char_at(s, p)?;
        if !is_closing(c) {
            return None;
        }
        p += c.len_utf8();
        match char_at(s, p) {
            None => return Some((p, p)),
            Some(d) if is_re_space(d) => {
                let ws = s[p..].find(|c: char| !is_re_space(c)).unwrap_or(s.len() - p);
                return Some((p, p + ws));
            }
            Some(_) if s[p..].starts_with("--") => return Some((p, p)),
            Some(_) => {}
        }
    }
}

/// `_realign_boundaries`: closing quotes/brackets after a break join the sentence before it.
fn realign_boundaries(text: &str, slices: &[(usize, usize)]) -> Vec<(usize, usize)> {
    let nonempty = |s: (usize, usize)| s.0 < s.1;
    let mut out = Vec::with_capacity(slices.len());
    let mut realign = 0;
    for (i, &s1) in slices.iter().enumerate() {
        let s1 = (s1.0 + realign, s1.1);
        let Some(&s2) = slices.get(i + 1) else {
            if nonempty(s1) {
                out.push(s1);
            }
            continue;
        };
        let s2_text = if s2.0 < s2.1 { &text[s2.0..s2.1] } else { "" };
        if let Some((closing_end, match_end)) = boundary_realignment(s2_text) {
            out.push((s1.0, s2.0 + closing_end));
            realign = match_end;
        } else {
            realign = 0;
            if nonempty(s1) {
                out.push(s1);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tok() -> PunktSentenceTokenizer {
        let mut p = PunktParameters::default();
        for a in ["dr", "mr", "e.g", "etc"] {
            p.abbrev_types.insert(a.to_string());
        }
        PunktSentenceTokenizer::new(p)
    }

    #[test]
    fn splits_simple_sentences_and_keeps_abbreviations() {
        let t = tok();
        assert_eq!(t.tokenize("Dr. Smith came. He left!  Why? "), vec!["Dr. Smith came.", "He left!", "Why?"]);
    }

    #[test]
    fn realigns_closing_quotes_and_brackets() {
        let t = tok();
        assert_eq!(t.tokenize("(Sent1.) Sent2."), vec!["(Sent1.)", "Sent2."]);
        assert_eq!(t.tokenize("\"Go home.\" She went."), vec!["\"Go home.\"", "She went."]);
    }

    #[test]
    fn repeated_marks_are_one_candidate() {
        let t = tok();
        assert_eq!(t.tokenize("Very bad acting!!! I promise."), vec!["Very bad acting!!!", "I promise."]);
    }

    #[test]
    fn empty_and_blank_text_has_no_sentences() {
        let t = tok();
        assert!(t.tokenize("").is_empty());
        assert!(t.tokenize("  \n ").is_empty());
    }

    #[test]
    fn char_spans_count_code_points_and_many_texts_keep_their_order() {
        let t = tok();
        let text = "Grüße aus Köln. Dr. Müller kam.";
        let bytes = t.span_tokenize(text);
        let chars = t.span_tokenize_chars(text);
        assert_eq!(bytes.len(), chars.len());
        for ((a, b), (ca, cb)) in bytes.iter().zip(&chars) {
            assert_eq!(text[*a..*b].chars().count(), cb - ca);
            assert_eq!(text[..*a].chars().count(), *ca);
        }
        let texts: Vec<String> = (0..50).map(|i| format!("Text {i}. Dr. Who? Yes.")).collect();
        let many = t.tokenize_many(&texts);
        assert_eq!(many, texts.iter().map(|x| t.tokenize(x)).collect::<Vec<_>>());
    }
}
