//! Which `sentencepiece` release the encoder reproduces (docs/tokenizer.md, "SentencePiece
//! versions"). The releases differ in how the Viterbi scores user-defined symbols and adds scores
//! (0.2.2 changed it), and in what they check when loading a model (0.2.1, 0.2.2, 0.2.3 each
//! added checks); the ids must match the release the user has installed.

use std::fmt;

/// A `sentencepiece` release whose encoding behaviour is reproduced.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SpmVersion {
    /// 0.2.0 (and, unverified, the 0.1 releases before it).
    V0_2_0,
    V0_2_1,
    V0_2_2,
    /// 0.2.3, also used for any later release; the default.
    #[default]
    V0_2_3,
}

impl SpmVersion {
    /// The newest behaviour known, used when `sentencepiece` is not installed.
    pub const NEWEST: SpmVersion = SpmVersion::V0_2_3;

    /// The behaviour for an installed `sentencepiece` version string ("0.2.3", "0.2.1.dev0",
    /// "0.1.99"): older releases get 0.2.0's, newer ones 0.2.3's.
    pub fn for_release(version: &str) -> Result<SpmVersion, String> {
        let numbers: Vec<u64> = version
            .split(['.', '+', '-'])
            .take(3)
            .map(|part| part.chars().take_while(char::is_ascii_digit).collect::<String>())
            .map_while(|digits| digits.parse().ok())
            .collect();
        let [major, minor, patch] = match numbers[..] {
            [a, b, c] => [a, b, c],
            [a, b] => [a, b, 0],
            _ => return Err(format!("not a sentencepiece version: {version:?} (expected e.g. \"0.2.3\")")),
        };
        Ok(match (major, minor, patch) {
            (0, 0 | 1, _) => SpmVersion::V0_2_0,
            (0, 2, 0) => SpmVersion::V0_2_0,
            (0, 2, 1) => SpmVersion::V0_2_1,
            (0, 2, 2) => SpmVersion::V0_2_2,
            _ => SpmVersion::V0_2_3,
        })
    }

    /// "0.2.0" ... "0.2.3".
    pub fn as_str(self) -> &'static str {
        match self {
            SpmVersion::V0_2_0 => "0.2.0",
            SpmVersion::V0_2_1 => "0.2.1",
            SpmVersion::V0_2_2 => "0.2.2",
            SpmVersion::V0_2_3 => "0.2.3",
        }
    }

    /// Whether the Viterbi is 0.2.2's: `f32` sums, user-defined symbols scored
    /// `0.1 × (bytes − 1)`, scores re-based on long inputs. Before: every piece candidate summed
    /// and compared in `f64`, user-defined symbols scored `bytes × max_score − 0.1`.
    pub(super) fn f32_scoring(self) -> bool {
        self >= SpmVersion::V0_2_2
    }
}

impl fmt::Display for SpmVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::SpmVersion::*;
    use super::*;

    #[test]
    fn releases_map_to_the_known_behaviours() {
        for (v, want) in [
            ("0.2.0", V0_2_0), ("0.1.99", V0_2_0), ("0.2.1", V0_2_1), ("0.2.1.dev0", V0_2_1), ("0.2.2", V0_2_2),
            ("0.2.3", V0_2_3), ("0.2.4", V0_2_3), ("0.3", V0_2_3), ("1.0.0rc1", V0_2_3), ("0.2.3+local", V0_2_3),
        ] {
            assert_eq!(SpmVersion::for_release(v), Ok(want), "{v}");
        }
        assert!(SpmVersion::for_release("banana").is_err());
        assert!(SpmVersion::for_release("").is_err());
        assert_eq!(SpmVersion::default().to_string(), "0.2.3");
    }
}
