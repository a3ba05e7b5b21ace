//! TFRecord files of `tf.train.Example` protos, as the original `create_pretraining_data.py`
//! writes them and `run_pretraining.py` reads them (docs/data-format.md): the record framing
//! and the Example codec.

mod example;
mod example_proto;
mod framing;

pub use example::{decode_example, decode_example_into, encode_example, Feature, FeatureValues};
pub use framing::{frame_record, masked_crc32c, Compression, RecordReader, RecordWriter, FOOTER_LEN, HEADER_LEN};
