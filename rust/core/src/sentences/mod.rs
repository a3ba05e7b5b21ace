//! Punkt sentence boundary detection (Kiss & Strunk 2006) as NLTK 3.10's
//! `PunktSentenceTokenizer` does it, given the same parameters. Hand-written: no crate
//! reproduces NLTK's regular expressions and annotation passes to the sentence. [`train_punkt`]
//! learns the parameters as NLTK's `PunktTrainer` does.

mod chars;
mod params;
mod splitter;
mod trainer;
mod words;

pub use params::{
    PunktParameters, ORTHO_BEG_LC, ORTHO_BEG_UC, ORTHO_LC, ORTHO_MID_LC, ORTHO_MID_UC, ORTHO_UC, ORTHO_UNK_LC,
    ORTHO_UNK_UC, PUNKT_FILES,
};
pub use splitter::PunktSentenceTokenizer;
pub use trainer::{train_punkt, PunktTrainingStats};
pub use words::punkt_word_tokenize;
