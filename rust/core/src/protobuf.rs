//! Decoding of prost messages with the byte offset of a failure, which prost's `DecodeError`
//! does not carry: shared by the `tf.train.Example` and SentencePiece `ModelProto` readers.

use prost::{DecodeError, Message};

/// Decodes `bytes` as `M`; on failure, the offset where decoding stopped and prost's
/// description of the problem with the path of fields it was in, outermost first.
pub(crate) fn decode<M: Message + Default>(bytes: &[u8]) -> Result<M, (usize, String)> {
    let mut msg = M::default();
    let mut rest = bytes;
    match msg.merge(&mut rest) {
        Ok(()) => Ok(msg),
        Err(e) => Err((bytes.len() - rest.len(), describe(&e))),
    }
}

/// prost writes "failed to decode Protobuf message: Inner.field: Outer.field: problem".
fn describe(e: &DecodeError) -> String {
    let text = e.to_string();
    let mut rest = text.strip_prefix("failed to decode Protobuf message: ").unwrap_or(&text);
    let mut path = Vec::new();
    while let Some((head, tail)) = rest.split_once(": ") {
        if head.contains(' ') || !head.contains('.') {
            break;
        }
        path.push(head);
        rest = tail;
    }
    if path.is_empty() {
        return rest.to_string();
    }
    path.reverse();
    format!("{rest} (in {})", path.join(" > "))
}
