//! What create-data is asked to do ([`CreateDataOptions`], the flags of the original tool as the
//! Python face passes them) and the resolved configuration a run works from ([`RunConfig`]).

use std::path::PathBuf;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::instances::InstanceConfig;
use super::masking::MaskingConfig;
use crate::corpus::{file_stamp, DocBoundary, DocumentOptions, LineReaderOptions, TextPolicy, MIN_MAX_LINE_BYTES};
use crate::error::{Error, Result};
use crate::hashing::sha256_hex;
use crate::progress::Progress;
use crate::tfrecord::Compression;

/// Raw bytes a line may hold per token of `max_line_tokens`: 4x the longest piece of a
/// SentencePiece model (16 characters of up to 4 bytes), so no sentence within the token limit
/// comes near it, while an unsplit book is refused after a few MB of reading.
pub const LINE_BYTES_PER_TOKEN: usize = 256;
/// What the user should do about a line over either limit.
pub const LINE_ADVICE: &str =
    "the input must hold one sentence per line (see `albert-fast prepare-corpus`), or raise max_line_tokens";

/// The marker directory's name, which no output file may take.
const PROGRESS_NAME: &str = super::resume::PROGRESS_DIR;

/// The options of `albert_fast._core.create_data` (one field per keyword argument).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateDataOptions {
    /// Files, directories or glob patterns.
    pub inputs: Vec<String>,
    /// The SentencePiece `.model` file.
    pub model_path: PathBuf,
    /// Where the shards go (must exist).
    pub output_dir: PathBuf,
    pub lowercase: bool,
    pub strip_accents: bool,
    /// Reproduce the reference's defects (tokenizer pipeline, Q7, Q9-Q13).
    pub reference_compat: bool,
    /// The `sentencepiece` release whose scoring the tokenizer reproduces ("0.2.3"; docs/tokenizer.md).
    pub sentencepiece_version: String,
    pub max_seq_length: usize,
    pub max_predictions_per_seq: usize,
    /// The stream key is the seed's two's-complement bits, so negative seeds work too.
    pub random_seed: i64,
    pub dupe_factor: usize,
    pub masked_lm_prob: f64,
    pub short_seq_prob: f64,
    pub do_permutation: bool,
    pub random_next_sentence: bool,
    pub do_whole_word_mask: bool,
    pub favor_shorter_ngram: bool,
    pub ngram: usize,
    /// Share of documents held out for evaluation (0 = none).
    pub eval_fraction: f64,
    /// A shard closes at the first document end after this many raw input bytes.
    pub shard_size_bytes: u64,
    /// Worker threads; the output does not depend on it.
    pub threads: usize,
    /// `"none"` or `"gzip"`.
    pub compression: String,
    /// A line that tokenizes to more pieces than this is an error (0 = no limit); so is one of
    /// more than [`LINE_BYTES_PER_TOKEN`] bytes per token of it, found while reading.
    pub max_line_tokens: usize,
    /// The original's `--output_file` list: the train shards are exactly these files (names in
    /// `output_dir`), sized to split the training text evenly; empty: `train-NNNNN-of-MMMMM`
    /// shards of `shard_size_bytes`.
    #[serde(default)]
    pub output_files: Vec<String>,
}

impl CreateDataOptions {
    /// The resume fingerprint: every option that shapes the output (not `threads` nor where the
    /// output goes; the sentencepiece release among them), the tokenizer model's SHA-256, the
    /// version, the Unicode tables in use, and each input file's path, size and modification
    /// time, hashed with SHA-256.
    pub fn fingerprint(&self, model_sha256: &str, files: &[PathBuf]) -> String {
        let mut shaping = self.clone();
        shaping.threads = 0;
        shaping.output_dir = PathBuf::new();
        shaping.inputs = Vec::new();
        let mut parts = vec![
            env!("CARGO_PKG_VERSION").to_string(),
            serde_json::to_string(&shaping).unwrap_or_default(),
            model_sha256.to_string(),
            crate::unicode::tables().id().to_string(),
        ];
        parts.extend(files.iter().map(|f| file_stamp(f)));
        sha256_hex(parts.iter().flat_map(|p| [p.as_bytes(), b"\n"]))
    }

    /// The run configuration for the expanded input `files`.
    pub fn run_config(&self, files: Vec<PathBuf>, fingerprint: String) -> Result<RunConfig> {
        Ok(RunConfig {
            inputs: files,
            output_dir: self.output_dir.clone(),
            instance: InstanceConfig {
                max_seq_length: self.max_seq_length,
                short_seq_prob: self.short_seq_prob,
                random_next_sentence: self.random_next_sentence,
                compat: self.reference_compat,
            },
            masking: MaskingConfig {
                max_predictions_per_seq: self.max_predictions_per_seq,
                masked_lm_prob: self.masked_lm_prob,
                do_whole_word_mask: self.do_whole_word_mask,
                ngram: self.ngram,
                favor_shorter_ngram: self.favor_shorter_ngram,
                do_permutation: self.do_permutation,
                compat: self.reference_compat,
            },
            dupe_factor: self.dupe_factor,
            random_seed: self.random_seed as u64,
            eval_fraction: self.eval_fraction,
            shard_size_bytes: self.shard_size_bytes,
            threads: self.threads,
            compression: Compression::parse(&self.compression)?,
            max_line_tokens: self.max_line_tokens,
            train_file_names: self.output_files.clone(),
            // Q7: the reference lets a file's last document continue into the next file.
            merge_documents_across_files: self.reference_compat,
            fingerprint,
        })
    }
}

/// Everything a run needs besides the tokenizer.
#[derive(Debug, Clone)]
pub struct RunConfig {
    pub inputs: Vec<PathBuf>,
    pub output_dir: PathBuf,
    pub instance: InstanceConfig,
    pub masking: MaskingConfig,
    pub dupe_factor: usize,
    pub random_seed: u64,
    pub eval_fraction: f64,
    pub shard_size_bytes: u64,
    pub threads: usize,
    pub compression: Compression,
    pub max_line_tokens: usize,
    /// Names of the train shards (see [`CreateDataOptions::output_files`]); empty: numbered.
    pub train_file_names: Vec<String>,
    /// Reference compat for Q7: documents continue across file boundaries.
    pub merge_documents_across_files: bool,
    /// Identifies (inputs, options, tokenizer); finished shards of a run with another
    /// fingerprint are never reused.
    pub fingerprint: String,
}

impl RunConfig {
    /// Validates the parameters that would otherwise fail deep inside a worker.
    pub fn validate(&self) -> Result<()> {
        if self.inputs.is_empty() {
            return Err(Error::InvalidInput("no input files".into()));
        }
        if self.instance.max_seq_length < 5 {
            return Err(Error::invalid_arg(
                "max_seq_length",
                format!("{} is too small (at least 5: [CLS] A [SEP] B [SEP])", self.instance.max_seq_length),
            ));
        }
        if !(0.0..=1.0).contains(&self.instance.short_seq_prob) {
            return Err(Error::invalid_arg("short_seq_prob", format!("{} is not in [0, 1]", self.instance.short_seq_prob)));
        }
        if !(0.0..=1.0).contains(&self.masking.masked_lm_prob) {
            return Err(Error::invalid_arg("masked_lm_prob", format!("{} is not in [0, 1]", self.masking.masked_lm_prob)));
        }
        if self.masking.ngram < 1 {
            return Err(Error::invalid_arg("ngram", "must be at least 1"));
        }
        if self.masking.max_predictions_per_seq < 1 {
            return Err(Error::invalid_arg("max_predictions_per_seq", "must be at least 1"));
        }
        if self.dupe_factor < 1 {
            return Err(Error::invalid_arg("dupe_factor", "must be at least 1"));
        }
        if !(0.0..1.0).contains(&self.eval_fraction) {
            return Err(Error::invalid_arg("eval_fraction", format!("{} is not in [0, 1)", self.eval_fraction)));
        }
        for (i, name) in self.train_file_names.iter().enumerate() {
            let plain = !name.is_empty() && !name.starts_with('.') && !name.contains(['/', '\\']) && name != PROGRESS_NAME;
            if !plain || self.train_file_names[..i].contains(name) {
                return Err(Error::invalid_arg("output_file", format!("{name:?} is not a distinct plain file name")));
            }
        }
        for p in &self.inputs {
            // A URL that cannot be read fails when it is opened, naming it.
            if !p.exists() && !crate::corpus::remote::is_url(p) {
                return Err(Error::NotFound(p.clone()));
            }
        }
        Ok(())
    }

    /// How create-data reads its input: blank-line documents of strict text (one sentence per
    /// line, see [`TextPolicy::Strict`]). `max_line_tokens` bounds the line length in bytes too,
    /// so the reader refuses an unsplit book before holding or tokenizing it whole.
    pub fn documents(&self, progress: &Arc<Progress>) -> DocumentOptions {
        let (max_line_bytes, long_line_hint) = match self.max_line_tokens {
            0 => (usize::MAX, String::new()),
            n => (
                n.saturating_mul(LINE_BYTES_PER_TOKEN).max(MIN_MAX_LINE_BYTES),
                format!(
                    " ({LINE_BYTES_PER_TOKEN} per token of max_line_tokens={n}; refused before tokenizing): {LINE_ADVICE}"
                ),
            ),
        };
        DocumentOptions {
            boundary: DocBoundary::BlankLine,
            merge_across_files: self.merge_documents_across_files,
            lines: LineReaderOptions {
                policy: TextPolicy::Strict,
                max_line_bytes,
                long_line_hint,
                progress: Some(progress.clone()),
            },
            ..Default::default()
        }
    }

    /// Length of the `masked_lm_*` features.
    pub fn masked_len(&self) -> usize {
        self.masking.max_predictions_per_seq * (1 + self.masking.do_permutation as usize)
    }
}
