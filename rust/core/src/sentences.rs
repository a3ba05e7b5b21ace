//! Punkt sentence boundary detection (Kiss & Strunk 2006), a re-implementation of NLTK 3.10's
//! `PunktSentenceTokenizer` that splits text exactly as NLTK does given the same parameters.
//!
//! Parameters are read from (and written to) NLTK's plain-text `punkt_tab` layout: a directory
//! holding `abbrev_types.txt`, `collocations.tab`, `sent_starters.txt` and `ortho_context.tab`
//! (`nltk.tokenize.punkt.load_punkt_params` / `save_punkt_params`).
//!
//! The algorithm, as NLTK runs it (`span_tokenize` with `realign_boundaries=True`):
//! 1. every `.`, `?`, `!` followed by a non-word punctuation character, or by whitespace and a
//!    further token, is a candidate; runs of candidates sharing one "previous word" collapse to
//!    the last one (`_match_potential_end_contexts`);
//! 2. the candidate's context (previous word, the mark, the following token) is word-tokenized
//!    with NLTK's punctuation-splitting rules and annotated in two passes (type-based, then
//!    token-based: collocations, orthographic heuristic, frequent sentence starters, initials and
//!    ordinals); the candidate is a boundary when any token but the last ends a sentence;
//! 3. closing quotes and brackets after a boundary move onto the sentence they close
//!    (`_realign_boundaries`); the last sentence loses trailing whitespace.
//!
//! NLTK's regular expressions run on the third-party `regex` engine, whose `\s` is Unicode
//! `White_Space` (= [`char::is_whitespace`]) and whose `\w` is the UTS #18 word class; Python's
//! `str.strip()`/`rstrip()` (used in a few places) also treat U+001C–U+001F as whitespace. Each
//! helper below names which of the two it reproduces. All offsets here are byte offsets into
//! UTF-8 text; NLTK's are code-point offsets into the same text, so the sentences are identical.

use std::collections::{HashMap, HashSet};
use std::fs;
use std::io::Write;
use std::path::Path;

use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};

use crate::atomic::AtomicFile;
use crate::error::{Error, Result};
use crate::text::is_python_whitespace;

/// Orthographic context flags (NLTK's `_ORTHO_*`): where a word type was seen and with which case.
pub const ORTHO_BEG_UC: u32 = 1 << 1;
pub const ORTHO_MID_UC: u32 = 1 << 2;
pub const ORTHO_UNK_UC: u32 = 1 << 3;
pub const ORTHO_BEG_LC: u32 = 1 << 4;
pub const ORTHO_MID_LC: u32 = 1 << 5;
pub const ORTHO_UNK_LC: u32 = 1 << 6;
pub const ORTHO_UC: u32 = ORTHO_BEG_UC | ORTHO_MID_UC | ORTHO_UNK_UC;
pub const ORTHO_LC: u32 = ORTHO_BEG_LC | ORTHO_MID_LC | ORTHO_UNK_LC;

/// The four files of NLTK's `punkt_tab` layout.
pub const PUNKT_FILES: [&str; 4] = ["abbrev_types.txt", "collocations.tab", "sent_starters.txt", "ortho_context.tab"];

/// Learned Punkt parameters (NLTK's `PunktParameters`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PunktParameters {
    /// Abbreviation types, lower-case, without the final period ("dr", "e.g").
    pub abbrev_types: HashSet<String>,
    /// Collocations (type before the period, type after), stored as first -> {second}.
    pub collocations: HashMap<String, HashSet<String>>,
    /// Frequent sentence starters (lower-case types).
    pub sent_starters: HashSet<String>,
    /// Orthographic context flags per type (`ORTHO_*`).
    pub ortho_context: HashMap<String, u32>,
}

/// Splits a punkt_tab file into lines the way Python's text-mode iteration does (universal
/// newlines), dropping one trailing newline per line (`tabdata.rm_nl`).
fn punkt_lines(text: &str) -> Vec<String> {
    let unified = text.replace("\r\n", "\n").replace('\r', "\n");
    match unified.strip_suffix('\n').unwrap_or(&unified) {
        _ if unified.is_empty() => Vec::new(),
        body => body.split('\n').map(str::to_string).collect(),
    }
}

impl PunktParameters {
    /// Number of collocation pairs.
    pub fn num_collocations(&self) -> usize {
        self.collocations.values().map(HashSet::len).sum()
    }

    /// True if (`first`, `second`) is a known collocation.
    pub fn is_collocation(&self, first: &str, second: &str) -> bool {
        self.collocations.get(first).is_some_and(|s| s.contains(second))
    }

    /// Adds a collocation pair.
    pub fn add_collocation(&mut self, first: &str, second: &str) {
        self.collocations.entry(first.to_string()).or_default().insert(second.to_string());
    }

    /// Orthographic context flags of a type (0 if never seen).
    pub fn ortho(&self, typ: &str) -> u32 {
        self.ortho_context.get(typ).copied().unwrap_or(0)
    }

    /// Loads a `punkt_tab` directory as NLTK's `load_punkt_params` does. A missing file is an
    /// error naming it; so is an `ortho_context.tab` line that is not `TYPE<TAB>INTEGER`.
    pub fn load_dir(dir: impl AsRef<Path>) -> Result<Self> {
        let dir = dir.as_ref();
        if !dir.is_dir() {
            return Err(Error::InvalidInput(format!(
                "{}: not a punkt_tab directory (expected a directory holding {})",
                dir.display(),
                PUNKT_FILES.join(", ")
            )));
        }
        let read = |name: &str| -> Result<String> {
            let path = dir.join(name);
            let bytes = fs::read(&path).map_err(|e| Error::io(&path, e))?;
            String::from_utf8(bytes)
                .map_err(|e| Error::InvalidInput(format!("{}: not UTF-8 ({e})", path.display())))
        };
        let mut params = PunktParameters {
            abbrev_types: punkt_lines(&read("abbrev_types.txt")?).into_iter().collect(),
            sent_starters: punkt_lines(&read("sent_starters.txt")?).into_iter().collect(),
            ..Default::default()
        };
        for line in punkt_lines(&read("collocations.tab")?) {
            let line = line.as_str();
            let mut parts = line.split('\t');
            // NLTK keeps lines with other field counts as tuples that never match a pair.
            if let (Some(a), Some(b), None) = (parts.next(), parts.next(), parts.next()) {
                params.add_collocation(a, b);
            }
        }
        let ortho_path = dir.join("ortho_context.tab");
        for (n, line) in punkt_lines(&read("ortho_context.tab")?).iter().enumerate() {
            let mut parts = line.split('\t');
            let (Some(typ), Some(flags), None) = (parts.next(), parts.next(), parts.next()) else {
                return Err(Error::InvalidInput(format!(
                    "{}: line {}: expected TYPE<TAB>FLAGS, got {line:?}",
                    ortho_path.display(),
                    n + 1
                )));
            };
            let flags: i64 = flags.trim().parse().map_err(|_| {
                Error::InvalidInput(format!(
                    "{}: line {}: flags {flags:?} is not an integer",
                    ortho_path.display(),
                    n + 1
                ))
            })?;
            // Python ints are unbounded; only the low 7 bits carry flags.
            params.ortho_context.insert(typ.to_string(), (flags & 0x7f) as u32);
        }
        Ok(params)
    }

    /// Writes the parameters as a `punkt_tab` directory (sorted lines, so the files are
    /// deterministic; NLTK writes set order). Each file appears atomically.
    pub fn save_dir(&self, dir: impl AsRef<Path>) -> Result<()> {
        let dir = dir.as_ref();
        fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let write = |name: &str, mut lines: Vec<String>| -> Result<()> {
            lines.sort();
            let path = dir.join(name);
            let mut f = AtomicFile::create(&path)?;
            f.write_all(lines.join("\n").as_bytes()).map_err(|e| Error::io(&path, e))?;
            f.commit()
        };
        write("abbrev_types.txt", self.abbrev_types.iter().cloned().collect())?;
        write("sent_starters.txt", self.sent_starters.iter().cloned().collect())?;
        write(
            "collocations.tab",
            self.collocations.iter().flat_map(|(a, bs)| bs.iter().map(move |b| format!("{a}\t{b}"))).collect(),
        )?;
        write("ortho_context.tab", self.ortho_context.iter().map(|(t, f)| format!("{t}\t{f}")).collect())
    }
}

// ----------------------------------------------------------------------------------------------
// Character classes
// ----------------------------------------------------------------------------------------------

/// `\s` of the `regex` engine: Unicode White_Space.
#[inline]
fn is_re_space(c: char) -> bool {
    c.is_whitespace()
}

/// `\d` of the `regex` engine: general category Nd.
#[inline]
fn is_re_digit(c: char) -> bool {
    if c.is_ascii() {
        return c.is_ascii_digit();
    }
    c.general_category() == GeneralCategory::DecimalNumber
}

/// `\w` of the `regex` engine (UTS #18): Alphabetic, marks, Nd, Pc, Join_Control.
#[inline]
fn is_re_word(c: char) -> bool {
    if c.is_ascii() {
        return c.is_ascii_alphanumeric() || c == '_';
    }
    c.is_alphabetic()
        || matches!(
            c.general_category(),
            GeneralCategory::NonspacingMark
                | GeneralCategory::SpacingMark
                | GeneralCategory::EnclosingMark
                | GeneralCategory::DecimalNumber
                | GeneralCategory::ConnectorPunctuation
        )
        || c == '\u{200C}'
        || c == '\u{200D}'
}

/// `PunktLanguageVars._re_non_word_chars`: characters that cannot appear within words.
#[inline]
fn is_non_word(c: char) -> bool {
    matches!(
        c,
        ')' | '"' | ';' | '}' | ']' | '*' | ':' | '@' | '\'' | '(' | '{' | '[' | '?' | '!'
            | '\u{2018}' | '\u{2019}' | '\u{201c}' | '\u{201d}' | '\u{ab}' | '\u{bb}'
    )
}

/// `PunktLanguageVars._re_word_start`: characters a word token may start with.
#[inline]
fn is_word_start(c: char) -> bool {
    !matches!(c, '(' | '"' | '`' | '{' | '[' | ':' | ';' | '&' | '#' | '*' | '@' | ')' | '}' | ']' | '-' | ',')
}

/// Closing punctuation of `PunktLanguageVars.re_boundary_realignment`.
#[inline]
fn is_closing(c: char) -> bool {
    matches!(c, '"' | '\'' | ')' | ']' | '}' | '\u{2018}' | '\u{2019}' | '\u{201c}' | '\u{201d}' | '\u{ab}' | '\u{bb}')
}

#[inline]
fn char_at(s: &str, i: usize) -> Option<char> {
    s.get(i..).and_then(|t| t.chars().next())
}

// ----------------------------------------------------------------------------------------------
// Word tokenization (PunktLanguageVars.word_tokenize)
// ----------------------------------------------------------------------------------------------

/// Byte length of a match of `_re_multi_char_punct` = `(?:\-{2,}|\.{2,}|(?:\.\s){2,}\.)` at `i`.
fn multi_char_len(s: &str, i: usize) -> Option<usize> {
    let b = s.as_bytes();
    match b.get(i) {
        Some(b'-') => {
            let run = b[i..].iter().take_while(|&&x| x == b'-').count();
            (run >= 2).then_some(run)
        }
        Some(b'.') => {
            let run = b[i..].iter().take_while(|&&x| x == b'.').count();
            if run >= 2 {
                return Some(run);
            }
            // Spaced ellipsis ". . .": greedy repetitions of ".\s", then a final ".".
            let mut pair_starts = Vec::new();
            let mut p = i;
            while b.get(p) == Some(&b'.') {
                match char_at(s, p + 1) {
                    Some(c) if is_re_space(c) => {
                        pair_starts.push(p);
                        p += 1 + c.len_utf8();
                    }
                    _ => break,
                }
            }
            let k = pair_starts.len();
            if k >= 2 && b.get(p) == Some(&b'.') {
                Some(p + 1 - i)
            } else if k >= 3 {
                // Backtrack one repetition: its "." is the final one.
                Some(pair_starts[k - 1] + 1 - i)
            } else {
                None
            }
        }
        _ => None,
    }
}

/// The lookahead that ends a word token at `j` in `_word_tokenize_fmt`.
#[inline]
fn word_ends_at(s: &str, j: usize) -> bool {
    let Some(c) = char_at(s, j) else { return true };
    if is_re_space(c) || is_non_word(c) || multi_char_len(s, j).is_some() {
        return true;
    }
    if c == ',' {
        return match char_at(s, j + 1) {
            None => true,
            Some(d) => is_re_space(d) || is_non_word(d) || multi_char_len(s, j + 1).is_some(),
        };
    }
    false
}

/// NLTK's `word_tokenize` on one line (no '\n' in it): byte spans of the tokens.
fn word_tokenize_line(s: &str, base: usize, out: &mut Vec<(usize, usize)>) {
    let mut i = 0;
    while let Some(c) = char_at(s, i) {
        if is_re_space(c) {
            i += c.len_utf8();
            continue;
        }
        let end = if let Some(len) = multi_char_len(s, i) {
            i + len
        } else if is_word_start(c) {
            // \S+? up to the first position where the word-end lookahead holds.
            let mut j = i + c.len_utf8();
            while !word_ends_at(s, j) {
                j += char_at(s, j).map_or(1, char::len_utf8);
            }
            j
        } else {
            i + c.len_utf8()
        };
        out.push((base + i, base + end));
        i = end;
    }
}

/// `PunktBaseClass._tokenize_words` without the line/paragraph flags (the tokenizer does not use
/// them): lines split on '\n'; a line that is blank to Python's `str.strip()` yields no tokens.
fn tokenize_words(text: &str, out: &mut Vec<(usize, usize)>) {
    let mut base = 0;
    for line in text.split('\n') {
        if !line.chars().all(is_python_whitespace) {
            word_tokenize_line(line, base, out);
        }
        base += line.len() + 1;
    }
}

/// The word tokens NLTK's Punkt sees in `text` (for tests and debugging).
pub fn punkt_word_tokenize(text: &str) -> Vec<&str> {
    let mut spans = Vec::new();
    tokenize_words(text, &mut spans);
    spans.into_iter().map(|(a, b)| &text[a..b]).collect()
}

// ----------------------------------------------------------------------------------------------
// Tokens and their annotation
// ----------------------------------------------------------------------------------------------

/// `PunktToken._RE_NUMERIC` = `^-?[\.,]?\d[\d,\.-]*\.?$` on the lower-cased token.
fn is_numeric(s: &str) -> bool {
    let mut chars = s.chars().peekable();
    if chars.peek() == Some(&'-') {
        chars.next();
    }
    if matches!(chars.peek(), Some('.') | Some(',')) {
        chars.next();
    }
    match chars.next() {
        Some(c) if is_re_digit(c) => {}
        _ => return false,
    }
    chars.all(|c| is_re_digit(c) || matches!(c, ',' | '.' | '-'))
}

struct Token<'a> {
    tok: &'a str,
    typ: String,
    period_final: bool,
    sentbreak: bool,
    abbr: bool,
    ellipsis: bool,
}

#[derive(PartialEq, Clone, Copy)]
enum Ortho {
    Starter,
    NotStarter,
    Unknown,
}

impl<'a> Token<'a> {
    fn new(tok: &'a str) -> Self {
        let lower = tok.to_lowercase();
        let typ = if is_numeric(&lower) { "##number##".to_string() } else { lower };
        Token { tok, typ, period_final: tok.ends_with('.'), sentbreak: false, abbr: false, ellipsis: false }
    }

    fn type_no_period(&self) -> &str {
        if self.typ.ends_with('.') && self.typ.chars().nth(1).is_some() {
            &self.typ[..self.typ.len() - 1]
        } else {
            &self.typ
        }
    }

    fn type_no_sentperiod(&self) -> &str {
        if self.sentbreak {
            self.type_no_period()
        } else {
            &self.typ
        }
    }

    fn first_upper(&self) -> bool {
        self.tok.chars().next().is_some_and(char::is_uppercase)
    }

    fn first_lower(&self) -> bool {
        self.tok.chars().next().is_some_and(char::is_lowercase)
    }

    /// `_RE_INITIAL` = `[^\W\d]\.$`: one letter and a period.
    fn is_initial(&self) -> bool {
        let mut cs = self.tok.chars();
        matches!((cs.next(), cs.next(), cs.next()), (Some(c), Some('.'), None) if is_re_word(c) && !is_re_digit(c))
    }

    /// `_RE_ELLIPSIS` = `\.\.+$`.
    fn is_ellipsis(&self) -> bool {
        self.tok.len() >= 2 && self.tok.bytes().all(|b| b == b'.')
    }
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
            let base = tok[..tok.len() - 1].to_lowercase();
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
    fn word_tokenizer_splits_punctuation_like_nltk() {
        assert_eq!(punkt_word_tokenize("Hello, world!"), vec!["Hello", ",", "world", "!"]);
        assert_eq!(punkt_word_tokenize("(Sent1.) Sent2."), vec!["(", "Sent1.", ")", "Sent2."]);
        assert_eq!(punkt_word_tokenize("wait... what"), vec!["wait", "...", "what"]);
        assert_eq!(punkt_word_tokenize("so . . . on"), vec!["so", ". . .", "on"]);
        assert_eq!(punkt_word_tokenize("a--b 1,000"), vec!["a", "--", "b", "1,000"]);
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
    fn params_round_trip_through_punkt_tab_dir() {
        let mut p = PunktParameters::default();
        p.abbrev_types.insert("dr".into());
        p.sent_starters.insert("however".into());
        p.add_collocation("s", "bach");
        p.ortho_context.insert("the".into(), ORTHO_BEG_UC | ORTHO_MID_LC);
        let dir = std::env::temp_dir().join(format!("albert-fast-punkt-{}", std::process::id()));
        p.save_dir(&dir).unwrap();
        let q = PunktParameters::load_dir(&dir).unwrap();
        assert_eq!(p, q);
        fs::write(dir.join("ortho_context.tab"), "the\tx").unwrap();
        let err = PunktParameters::load_dir(&dir).unwrap_err().to_string();
        assert!(err.contains("ortho_context.tab") && err.contains("line 1"), "{err}");
        fs::remove_dir_all(&dir).unwrap();
        let err = PunktParameters::load_dir(&dir).unwrap_err().to_string();
        assert!(err.contains("not a punkt_tab directory"), "{err}");
    }
}
