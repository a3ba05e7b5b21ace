//! One error type for the whole core. Every variant carries enough context (a path, a field,
//! a value) that the message alone tells a user what went wrong; the bindings map each kind to
//! the matching Python exception.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An I/O failure on a named path.
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A path the user named does not exist.
    #[error("no such file or directory: {0}")]
    NotFound(PathBuf),
    /// Input that cannot be used (empty corpus, binary file, corrupt record, ...).
    #[error("{0}")]
    InvalidInput(String),
    /// A bad parameter value; names the parameter.
    #[error("invalid value for {name}: {message}")]
    InvalidArgument { name: String, message: String },
    /// A SentencePiece model that cannot be parsed or used.
    #[error("{path}: not a usable SentencePiece model: {message}")]
    BadModel { path: PathBuf, message: String },
    /// A corrupt or truncated TFRecord file: the record's index and byte offset, as the
    /// decoding errors of `inspect` and `pretrain` name them.
    #[error("{path}: record {record} at byte {offset}: corrupt TFRecord: {message}")]
    CorruptRecord { path: PathBuf, offset: u64, record: u64, message: String },
    /// The run was cancelled (e.g. Ctrl-C from Python).
    #[error("interrupted")]
    Interrupted,
}

pub type Result<T> = std::result::Result<T, Error>;

/// The payload of an `io::Error` whose message is already complete (it names the file, e.g. a
/// corrupt compressed stream): [`Error::io`] passes it on as is, without the path in front.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct DescribedIo(pub String);

impl Error {
    /// Wraps an `io::Error` with the path it happened on; a missing file becomes `NotFound`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        let path = path.into();
        if source.kind() == std::io::ErrorKind::NotFound {
            Error::NotFound(path)
        } else if let Some(d) = source.get_ref().and_then(|e| e.downcast_ref::<DescribedIo>()) {
            Error::InvalidInput(d.0.clone())
        } else {
            Error::Io { path, source }
        }
    }

    pub fn invalid_arg(name: impl Into<String>, message: impl Into<String>) -> Self {
        Error::InvalidArgument { name: name.into(), message: message.into() }
    }
}
