//! Reading corpora, shared by every stage: which files ([`inputs`]), opening them with
//! decompression ([`open`]) or as Parquet/Arrow ([`columnar`]), their lines ([`lines`]) and
//! layout ([`layout`]), the documents they hold ([`documents`]), where those lie when their
//! text is not needed ([`spans`]) and the layout of a prepare-corpus output directory
//! ([`prepared`]); inputs named by URL are read through [`remote`].

pub mod columnar;
pub mod documents;
pub mod inputs;
pub mod layout;
pub mod lines;
pub mod open;
pub mod prepared;
pub mod remote;
pub mod spans;

pub use documents::{profile_head, profile_inputs, read_documents, read_span, DocBoundary, DocumentOptions, FileReport, Flow, RawDocument, ReaderStats, Source};
pub use layout::{Layout, LineProfile, ProfileSummary};
pub use inputs::{expand_inputs, expand_inputs_detailed, file_size, file_stamp, total_size, InputSet};
pub use lines::{read_all_lines, InputStats, LineReader, LineReaderOptions, Position, TextPolicy, DEFAULT_MAX_LINE_BYTES, MIN_MAX_LINE_BYTES};
pub use open::{open_raw, open_reader, Compression};
pub use spans::{hash_lines, read_document_spans, DocumentSpan};
