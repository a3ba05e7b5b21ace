//! The Unicode data of the Python references (docs/tokenizer.md, "Unicode versions").
//!
//! Every Unicode-dependent step reproduces the Python object it stands for: lower-casing, NFKD,
//! NFC, combining classes, categories and `str.isdigit`/`islower`/`isupper` as the running
//! interpreter's `unicodedata` has them, and Punkt's `\w \s \d` as the regex engine NLTK compiles
//! its patterns with. Rust's own tables (std, `unicode-normalization`, `unicode-properties`)
//! are newer than most interpreters' and would otherwise decompose, case-map and classify
//! characters the interpreter does not know yet.
//!
//! The Python face computes the interpreter's tables once (cached on disk) and installs them in
//! this process before the first text is processed ([`install`]); without that (Rust callers,
//! `cargo test`) the built-in tables apply. With tables installed:
//! - a character the interpreter leaves unassigned (but Rust's tables assign) is unassigned:
//!   unchanged by lower-casing, NFKD and NFC, combining class 0, no category. Strings are
//!   split at such characters and each part normalized on its own, which is what Python's
//!   normalization does with them (a starter that composes with nothing);
//! - `isdigit`, `islower`, `isupper` and the regex classes are the interpreter's own sets.
//!
//! ASCII takes the fast paths it always took; only text with a character the tables mark pays a
//! lookup.

use std::borrow::Cow;
use std::sync::OnceLock;

use rayon::prelude::*;
use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};

/// A set of code points: a bitmap over the Basic Multilingual Plane, sorted inclusive ranges
/// above it.
#[derive(Debug, Clone)]
pub struct CharSet {
    bmp: Box<[u64; 1024]>,
    astral: Vec<(u32, u32)>,
}

impl CharSet {
    /// The set of the inclusive `ranges` (any order, overlaps allowed).
    pub fn from_ranges(ranges: &[(u32, u32)]) -> CharSet {
        let mut bmp = Box::new([0u64; 1024]);
        let mut astral = Vec::new();
        for &(lo, hi) in ranges {
            let hi = hi.min(0x10ffff);
            if lo > hi {
                continue;
            }
            for cp in lo..=hi.min(0xffff) {
                bmp[(cp >> 6) as usize] |= 1 << (cp & 63);
            }
            if hi > 0xffff {
                astral.push((lo.max(0x10000), hi));
            }
        }
        astral.sort_unstable();
        let mut merged: Vec<(u32, u32)> = Vec::with_capacity(astral.len());
        for (lo, hi) in astral {
            match merged.last_mut() {
                Some(last) if lo <= last.1.saturating_add(1) => last.1 = last.1.max(hi),
                _ => merged.push((lo, hi)),
            }
        }
        CharSet { bmp, astral: merged }
    }

    #[inline]
    pub fn contains(&self, c: char) -> bool {
        let cp = c as u32;
        if cp < 0x10000 {
            return (self.bmp[(cp >> 6) as usize] >> (cp & 63)) & 1 == 1;
        }
        let i = self.astral.partition_point(|&(_, hi)| hi < cp);
        self.astral.get(i).is_some_and(|&(lo, _)| lo <= cp)
    }

    /// Whether every code point of `range` (above the BMP) is a member.
    fn contains_all(&self, range: std::ops::RangeInclusive<u32>) -> bool {
        let (lo, hi) = (*range.start(), *range.end());
        debug_assert!(lo > 0xffff);
        let i = self.astral.partition_point(|&(_, end)| end < lo);
        self.astral.get(i).is_some_and(|&(start, end)| start <= lo && hi <= end)
    }

    /// The smallest member (`u32::MAX` for the empty set).
    fn min(&self) -> u32 {
        match self.bmp.iter().position(|&w| w != 0) {
            Some(i) => (i as u32) * 64 + self.bmp[i].trailing_zeros(),
            None => self.astral.first().map_or(u32::MAX, |r| r.0),
        }
    }
}

/// The interpreter's sets, as the Python face computes them (inclusive code point ranges).
#[derive(Debug, Clone, Default)]
pub struct PythonUnicode {
    /// Names the data ("python 3.11.7 unicodedata 14.0.0; regex 2026.11.19"), for fingerprints
    /// and manifests.
    pub id: String,
    /// `unicodedata.category(c) == "Cn"`.
    pub unassigned: Vec<(u32, u32)>,
    /// `str.isdigit`, `str.islower`, `str.isupper`.
    pub isdigit: Vec<(u32, u32)>,
    pub islower: Vec<(u32, u32)>,
    pub isupper: Vec<(u32, u32)>,
    /// The final-sigma context of `str.lower()`: characters skipped as case-ignorable, and
    /// characters that count as cased when not case-ignorable.
    pub case_ignorable: Vec<(u32, u32)>,
    pub cased: Vec<(u32, u32)>,
    /// `\w`, `\s`, `\d` of the engine NLTK's Punkt compiles with; `None` without NLTK.
    pub re_word: Option<Vec<(u32, u32)>>,
    pub re_space: Option<Vec<(u32, u32)>>,
    pub re_digit: Option<Vec<(u32, u32)>>,
}

/// The tables in force: built-in, or installed from the interpreter.
#[derive(Debug)]
pub struct UnicodeTables {
    id: Cow<'static, str>,
    /// Characters the interpreter leaves unassigned and Rust's tables assign.
    unassigned: Option<CharSet>,
    /// Its smallest member: most text is below it.
    min_unassigned: u32,
    /// The first UTF-8 byte of `min_unassigned`: no smaller byte starts a member.
    min_unassigned_lead: u8,
    isdigit: Option<CharSet>,
    islower: Option<CharSet>,
    isupper: Option<CharSet>,
    case_ignorable: Option<CharSet>,
    cased: Option<CharSet>,
    re_word: Option<CharSet>,
    re_space: Option<CharSet>,
    re_digit: Option<CharSet>,
    /// Characters the interpreter assigns that Rust's tables do not know (treated as
    /// unassigned; non-zero only with an interpreter newer than this build).
    python_only: usize,
}

static BUILTIN: UnicodeTables = UnicodeTables {
    id: Cow::Borrowed("builtin"),
    unassigned: None,
    min_unassigned: u32::MAX,
    min_unassigned_lead: u8::MAX,
    isdigit: None,
    islower: None,
    isupper: None,
    case_ignorable: None,
    cased: None,
    re_word: None,
    re_space: None,
    re_digit: None,
    python_only: 0,
};

static INSTALLED: OnceLock<UnicodeTables> = OnceLock::new();

/// The tables in force in this process.
#[inline]
pub fn tables() -> &'static UnicodeTables {
    INSTALLED.get().unwrap_or(&BUILTIN)
}

/// Whether [`install`] ran in this process.
pub fn installed() -> bool {
    INSTALLED.get().is_some()
}

/// Installs the interpreter's tables for this process (once; installing the same data again is
/// a no-op, other data an error). Returns the tables in force.
pub fn install(python: PythonUnicode) -> Result<&'static UnicodeTables, String> {
    let id = python.id.clone();
    let t = INSTALLED.get_or_init(|| UnicodeTables::from_python(python));
    if t.id == id {
        Ok(t)
    } else {
        Err(format!("Unicode tables {:?} are installed already", t.id))
    }
}

/// Code points no Unicode version assigns so far (planes 4 to 13), nor this build's tables.
const UNASSIGNED_PLANES: std::ops::RangeInclusive<u32> = 0x40000..=0xdffff;

/// Code points per block of [`UnicodeTables::from_python`]'s scan.
const SCAN_BLOCK: u32 = 0x8000;

/// Appends the run `r` to the sorted runs `runs`, joining it to the last one when they touch.
fn push_run(runs: &mut Vec<(u32, u32)>, r: (u32, u32)) {
    match runs.last_mut() {
        Some((_, hi)) if *hi + 1 == r.0 => *hi = r.1,
        _ => runs.push(r),
    }
}

/// Whether Rust's tables assign `c` (`unicode-properties`, the newest of them).
#[inline]
fn rust_assigned(c: char) -> bool {
    c.general_category() != GeneralCategory::Unassigned
}

impl UnicodeTables {
    /// The tables for the interpreter's sets.
    pub fn from_python(python: PythonUnicode) -> UnicodeTables {
        let python_cn = CharSet::from_ranges(&python.unassigned);
        // Characters unassigned in both already behave alike; keep the set small and tight.
        // Planes 4-13, unassigned in Rust's tables (a test checks it), are skipped when the
        // interpreter leaves them unassigned too: 640k lookups, most of this function's time
        // (start-up of every command).
        let skip = python_cn.contains_all(UNASSIGNED_PLANES).then_some(UNASSIGNED_PLANES);
        // The scan is split in blocks on the idle cores of a starting process; runs that meet
        // at a block edge are joined.
        let blocks: Vec<(Vec<(u32, u32)>, usize)> = (0..=0x10ffffu32 / SCAN_BLOCK)
            .into_par_iter()
            .map(|b| {
                let (mut masked, mut python_only) = (Vec::new(), 0);
                for cp in b * SCAN_BLOCK..((b + 1) * SCAN_BLOCK).min(0x110000) {
                    if skip.as_ref().is_some_and(|r| r.contains(&cp)) {
                        continue;
                    }
                    let Some(c) = char::from_u32(cp) else { continue };
                    match (python_cn.contains(c), rust_assigned(c)) {
                        (true, true) => push_run(&mut masked, (cp, cp)),
                        (false, false) => python_only += 1,
                        _ => {}
                    }
                }
                (masked, python_only)
            })
            .collect();
        let (mut masked, mut python_only) = (Vec::new(), 0);
        for (runs, n) in blocks {
            runs.into_iter().for_each(|r| push_run(&mut masked, r));
            python_only += n;
        }
        let unassigned = (!masked.is_empty()).then(|| CharSet::from_ranges(&masked));
        let set = |r: &Option<Vec<(u32, u32)>>| r.as_deref().map(CharSet::from_ranges);
        let min_unassigned = unassigned.as_ref().map_or(u32::MAX, CharSet::min);
        let min_unassigned_lead = char::from_u32(min_unassigned).map_or(u8::MAX, |c| {
            let mut buf = [0; 4];
            // ASCII is assigned everywhere; a lead byte is at least 0xC2 then, above every
            // continuation byte.
            c.encode_utf8(&mut buf).as_bytes()[0].max(0xc2)
        });
        UnicodeTables {
            min_unassigned,
            min_unassigned_lead,
            unassigned,
            isdigit: Some(CharSet::from_ranges(&python.isdigit)),
            islower: Some(CharSet::from_ranges(&python.islower)),
            isupper: Some(CharSet::from_ranges(&python.isupper)),
            case_ignorable: Some(CharSet::from_ranges(&python.case_ignorable)),
            cased: Some(CharSet::from_ranges(&python.cased)),
            re_word: set(&python.re_word),
            re_space: set(&python.re_space),
            re_digit: set(&python.re_digit),
            python_only,
            id: Cow::Owned(python.id),
        }
    }

    /// What the tables are: "builtin", or the id the Python face gave.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// How many characters the interpreter assigns that Rust's tables do not know.
    pub fn python_only(&self) -> usize {
        self.python_only
    }

    /// Whether the interpreter leaves `c` unassigned while Rust's tables assign it.
    #[inline]
    pub fn is_unassigned(&self, c: char) -> bool {
        (c as u32) >= self.min_unassigned && self.unassigned.as_ref().is_some_and(|s| s.contains(c))
    }

    /// Whether `s` holds a character [`is_unassigned`](Self::is_unassigned) is true for. Bytes
    /// below the smallest such character's lead byte are skipped without decoding (ASCII, and
    /// e.g. Latin-1 letters for Python 3.11, whose first unknown character is U+0558).
    #[inline]
    pub fn has_unassigned(&self, s: &str) -> bool {
        if self.unassigned.is_none() {
            return false;
        }
        let bytes = s.as_bytes();
        let mut i = 0;
        while let Some(k) = bytes[i..].iter().position(|&b| b >= self.min_unassigned_lead) {
            i += k;
            // A byte >= 0xC2 starts a character.
            let Some(c) = s[i..].chars().next() else { return false };
            if self.is_unassigned(c) {
                return true;
            }
            i += c.len_utf8();
        }
        false
    }

    /// `f` applied to each run of `s` between unassigned characters, which are kept as they are:
    /// how Python's case mapping and normalization treat them (for `s` with
    /// [`has_unassigned`](Self::has_unassigned)).
    pub fn map_assigned(&self, s: &str, mut f: impl FnMut(&str, &mut String)) -> String {
        let mut out = String::with_capacity(s.len());
        let mut run_start = 0;
        for (i, c) in s.char_indices() {
            if self.is_unassigned(c) {
                if run_start < i {
                    f(&s[run_start..i], &mut out);
                }
                out.push(c);
                run_start = i + c.len_utf8();
            }
        }
        if run_start < s.len() {
            f(&s[run_start..], &mut out);
        }
        out
    }

    /// `str.lower()` of text holding a capital sigma, with the interpreter's final-sigma context
    /// (`None` without installed tables: Rust's own [`str::to_lowercase`] applies). Characters it
    /// does not assign are kept; every other character maps on its own.
    pub fn lower_with_sigma(&self, s: &str) -> Option<String> {
        let (ignorable, cased) = (self.case_ignorable.as_ref()?, self.cased.as_ref()?);
        // `\p{cased} \p{case-ignorable}* Σ !(\p{case-ignorable}* \p{cased})`
        let next_is_cased = |mut chars: std::str::Chars<'_>, backwards: bool| {
            let first = if backwards { chars.rfind(|&c| !ignorable.contains(c)) } else { chars.find(|&c| !ignorable.contains(c)) };
            first.is_some_and(|c| cased.contains(c))
        };
        let mut out = String::with_capacity(s.len());
        for (i, c) in s.char_indices() {
            if c == '\u{3a3}' {
                let after = &s[i + c.len_utf8()..];
                let last = next_is_cased(s[..i].chars(), true) && !next_is_cased(after.chars(), false);
                out.push(if last { '\u{3c2}' } else { '\u{3c3}' });
            } else if self.is_unassigned(c) {
                out.push(c);
            } else {
                out.extend(c.to_lowercase());
            }
        }
        Some(out)
    }

    /// Python's `str.isdigit()` of one character; `builtin` when no tables are installed.
    #[inline]
    pub fn isdigit(&self, c: char, builtin: impl Fn(char) -> bool) -> bool {
        self.isdigit.as_ref().map_or_else(|| builtin(c), |s| s.contains(c))
    }

    /// Python's `str.islower()` of one character (std's `is_lowercase` built in).
    #[inline]
    pub fn islower(&self, c: char) -> bool {
        self.islower.as_ref().map_or_else(|| c.is_lowercase(), |s| s.contains(c))
    }

    /// Python's `str.isupper()` of one character (std's `is_uppercase` built in).
    #[inline]
    pub fn isupper(&self, c: char) -> bool {
        self.isupper.as_ref().map_or_else(|| c.is_uppercase(), |s| s.contains(c))
    }

    /// The regex engine's `\w`, `\s`, `\d` for one character; `builtin` when NLTK's engine gave
    /// no tables.
    #[inline]
    pub fn re_word(&self, c: char, builtin: impl Fn(char) -> bool) -> bool {
        self.re_word.as_ref().map_or_else(|| builtin(c), |s| s.contains(c))
    }

    #[inline]
    pub fn re_space(&self, c: char, builtin: impl Fn(char) -> bool) -> bool {
        self.re_space.as_ref().map_or_else(|| builtin(c), |s| s.contains(c))
    }

    #[inline]
    pub fn re_digit(&self, c: char, builtin: impl Fn(char) -> bool) -> bool {
        self.re_digit.as_ref().map_or_else(|| builtin(c), |s| s.contains(c))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn planes_4_to_13_are_unassigned_in_rust_tables() {
        // from_python skips them when the interpreter leaves them unassigned too.
        assert!(UNASSIGNED_PLANES.filter_map(char::from_u32).all(|c| !rust_assigned(c)));
        let python = PythonUnicode { unassigned: vec![(0x3134b, 0x3134f), (0x323b0, 0xe0000)], ..Default::default() };
        let t = UnicodeTables::from_python(python.clone());
        assert!(CharSet::from_ranges(&python.unassigned).contains_all(UNASSIGNED_PLANES));
        assert!(!CharSet::from_ranges(&[(0x40000, 0x4ffff), (0x50001, 0xdffff)]).contains_all(UNASSIGNED_PLANES));
        // An interpreter assigning in plane 4 (a future Unicode) is counted, not skipped.
        let newer = PythonUnicode { unassigned: vec![(0x3134b, 0x3134f), (0x323b0, 0x3ffff), (0x40100, 0xe0000)], ..Default::default() };
        assert_eq!(UnicodeTables::from_python(newer).python_only(), t.python_only() + 0x100);
    }

    #[test]
    fn masked_runs_are_whole_across_the_scan_blocks() {
        // CJK ideographs U+7F00-U+8100 (assigned in Rust's tables) unassigned by the interpreter:
        // a run over a block edge is one run, as a sequential scan finds it.
        let (lo, hi) = (SCAN_BLOCK - 0x100, SCAN_BLOCK + 0x100);
        let python = PythonUnicode { unassigned: vec![(lo, hi), (0x323b0, 0xe0000)], ..Default::default() };
        let t = UnicodeTables::from_python(python);
        let runs = &t.unassigned.as_ref().unwrap();
        assert_eq!(runs.min(), lo);
        assert!((lo..=hi).filter_map(char::from_u32).all(|c| t.is_unassigned(c)));
        assert!(!t.is_unassigned(char::from_u32(lo - 1).unwrap()) && !t.is_unassigned(char::from_u32(hi + 1).unwrap()));
        let mut joined = Vec::new();
        for r in [(1, 2), (3, 5), (7, 7), (8, 9)] {
            push_run(&mut joined, r);
        }
        assert_eq!(joined, [(1, 5), (7, 9)]);
    }

    #[test]
    fn char_sets_hold_exactly_their_ranges() {
        let set = CharSet::from_ranges(&[(0x41, 0x43), (0xffff, 0x10002), (0x1e030, 0x1e06d), (0x10efd, 0x10eff)]);
        for (c, want) in [('A', true), ('C', true), ('D', false), ('\u{ffff}', true), ('\u{10002}', true),
                          ('\u{10003}', false), ('\u{1e030}', true), ('\u{1e06d}', true), ('\u{1e06e}', false),
                          ('\u{10efc}', false), ('\u{10efd}', true)] {
            assert_eq!(set.contains(c), want, "{c:?}");
        }
        assert_eq!(set.min(), 0x41);
        assert_eq!(CharSet::from_ranges(&[]).min(), u32::MAX);
    }

    /// Tables of an interpreter that does not know U+A7CB, U+10EFD–U+10EFF and U+1E030–U+1E08F
    /// (all assigned after Unicode 14).
    fn unicode14_like() -> UnicodeTables {
        UnicodeTables::from_python(PythonUnicode {
            id: "test".into(),
            unassigned: vec![(0xa7cb, 0xa7cb), (0x10efd, 0x10eff), (0x1e030, 0x1e08f), (0xe0080, 0xe00ff)],
            isdigit: vec![(0x30, 0x39)],
            islower: vec![(0x61, 0x7a)],
            isupper: vec![(0x41, 0x5a)],
            case_ignorable: vec![(0x27, 0x27)],
            cased: vec![(0x41, 0x5a), (0x61, 0x7a), (0x391, 0x3a9), (0x3b1, 0x3c9), (0x295, 0x295)],
            ..Default::default()
        })
    }

    #[test]
    fn only_characters_rust_assigns_are_masked() {
        let t = unicode14_like();
        assert!(t.is_unassigned('\u{a7cb}') && t.is_unassigned('\u{1e030}') && t.is_unassigned('\u{10efd}'));
        // Unassigned in Rust's tables too: nothing to mask.
        assert!(!t.is_unassigned('\u{e0080}'));
        assert!(!t.is_unassigned('a') && !t.is_unassigned('\u{e9}'));
        assert!(t.has_unassigned("x\u{1e030}y") && !t.has_unassigned("Bäume – „ja“") && !t.has_unassigned(""));
        assert_eq!(t.min_unassigned, 0xa7cb);
        assert!(BUILTIN.unassigned.is_none() && !BUILTIN.has_unassigned("\u{1e030}"));
    }

    #[test]
    fn map_assigned_keeps_unassigned_characters_and_splits_there() {
        let t = unicode14_like();
        let upper = |s: &str, out: &mut String| out.push_str(&s.to_uppercase());
        assert_eq!(t.map_assigned("ab\u{a7cb}cd", upper), "AB\u{a7cb}CD");
        assert_eq!(t.map_assigned("\u{1e030}", upper), "\u{1e030}");
        assert_eq!(t.map_assigned("ab", upper), "AB");
    }

    #[test]
    fn final_sigma_follows_the_interpreters_cased_characters() {
        let t = unicode14_like();
        // U+0295 is cased in the test tables (Ll, as in Unicode 14), not in Rust's (Lo).
        assert_eq!("ΑΣ\u{295}".to_lowercase(), "ας\u{295}");
        assert_eq!(t.lower_with_sigma("ΑΣ\u{295}").unwrap(), "ασ\u{295}");
        assert_eq!(t.lower_with_sigma("ΑΣ ΑΣ' Σ ΑΣΑ").unwrap(), "ας ας' σ ασα");
        assert_eq!(t.lower_with_sigma("ΑΣ\u{a7cb}").unwrap(), "ας\u{a7cb}", "unassigned: neither cased nor ignorable");
        assert!(BUILTIN.lower_with_sigma("Σ").is_none());
    }

    #[test]
    fn python_sets_replace_the_builtin_predicates() {
        let t = unicode14_like();
        assert!(t.islower('a') && !t.islower('\u{e9}'), "the test set has ASCII only");
        assert!(BUILTIN.islower('\u{e9}'));
        assert!(t.isdigit('7', |_| false) && !t.isdigit('\u{664}', |_| true));
        assert!(t.re_word('\u{e9}', |_| true), "no regex tables given: the built-in predicate");
    }
}
