"""TFRecord I/O, differential against TensorFlow both ways; corrupt files; `albert-fast inspect`
output and `--stats` values on a hand-made file whose statistics are known exactly."""

from __future__ import annotations

import gzip
import hashlib
import json
import random
from pathlib import Path

import numpy as np
import pytest
from conftest import EXAMPLES, run_cli

from albert_fast import InputError, _core
from albert_fast.records import (
    FEATURE_NAMES,
    RecordReader,
    RecordWriter,
    dataset_stats,
    decode_example,
    encode_example,
    feature_spec,
    format_instance,
    read_examples,
    read_records,
    record_files,
    tf_feature_spec,
)

SEQ, PREDS = 32, 5


@pytest.fixture(scope="session")
def tf():
    tensorflow = pytest.importorskip("tensorflow")
    return tensorflow


def _instance(rng: random.Random, seq: int = SEQ, preds: int = PREDS, slots: int | None = None) -> dict:
    """A random instance in the reference layout (spec §7), with a padded tail."""
    slots = preds if slots is None else slots
    n = rng.randint(5, seq)
    ids = [2] + [rng.randint(5, 30000) for _ in range(n - 2)] + [3]
    sep = rng.randint(2, n - 2)
    segments = [0] * sep + [1] * (n - sep)
    boundary = [1] + [rng.randint(0, 1) for _ in range(n - 2)] + [1]
    k = rng.randint(0, min(preds, n - 2))
    positions = sorted(rng.sample(range(1, n - 1), k))
    labels = [ids[p] for p in positions]
    for p in positions:
        ids[p] = rng.choice([4, 4, 4, 4, 4, 4, 4, 4, ids[p], rng.randint(0, 30000)])
    pad = seq - n
    return {
        "input_ids": ids + [0] * pad,
        "input_mask": [1] * n + [0] * pad,
        "segment_ids": segments + [0] * pad,
        "token_boundary": boundary + [0] * pad,
        "masked_lm_positions": positions + [0] * (slots - k),
        "masked_lm_ids": labels + [0] * (slots - k),
        "masked_lm_weights": [1.0] * k + [0.0] * (slots - k),
        "next_sentence_labels": [rng.randint(0, 1)],
    }


def _typed(inst: dict) -> dict:
    return {k: ("float" if k == "masked_lm_weights" else "int64", v) for k, v in inst.items()}


def _write(path: Path, instances: list[dict], compression: str = "none") -> Path:
    with RecordWriter(str(path), compression) as w:
        for inst in instances:
            w.write_example(_typed(inst))
    return path


def _tf_read(tf, path: Path, spec: dict, gzip_: bool) -> list[dict]:
    ds = tf.data.TFRecordDataset([str(path)], compression_type="GZIP" if gzip_ else "")
    tf_spec = tf_feature_spec(spec)
    return [
        {k: v.numpy().tolist() for k, v in tf.io.parse_single_example(rec, tf_spec).items()} for rec in ds
    ]


# ---------------------------------------------------------------------------------------------
# Differential: our writer -> TensorFlow's reader and parser


@pytest.mark.parametrize("compression", ["none", "gzip"])
def test_our_records_parse_with_tensorflow_and_the_reference_spec(tf, tmp_path, compression):
    rng = random.Random(7)
    instances = [_instance(rng) for _ in range(60)]
    path = _write(tmp_path / f"ours.{compression}.tfrecord", instances, compression)
    # The full feature table of docs/data-format.md ...
    got = _tf_read(tf, path, feature_spec(SEQ, PREDS), compression == "gzip")
    assert got == instances
    # ... and exactly the spec run_pretraining.py parses (no token_boundary).
    spec = feature_spec(SEQ, PREDS, token_boundary=False)
    assert list(spec) == [n for n in FEATURE_NAMES if n != "token_boundary"]
    got = _tf_read(tf, path, spec, compression == "gzip")
    assert got == [{k: v for k, v in inst.items() if k != "token_boundary"} for inst in instances]
    # Our reader agrees, as lists and as numpy arrays.
    assert list(read_examples(path)) == instances
    arrays = list(read_examples(path, numpy=True))
    assert arrays[0]["input_ids"].dtype == np.int64 and arrays[0]["masked_lm_weights"].dtype == np.float32
    assert [{k: v.tolist() for k, v in a.items()} for a in arrays] == instances


def test_permutation_doubles_masked_lm_lengths_q14(tf, tmp_path):
    rng = random.Random(3)
    instances = [_instance(rng, slots=2 * PREDS) for _ in range(5)]
    path = _write(tmp_path / "perm.tfrecord", instances)
    spec = feature_spec(SEQ, PREDS, do_permutation=True)
    assert spec["masked_lm_ids"] == ("int64", 2 * PREDS)
    assert _tf_read(tf, path, spec, False) == instances
    # Q14: the original run_pretraining.py spec (length max_predictions_per_seq) rejects it.
    with pytest.raises(tf.errors.InvalidArgumentError):
        _tf_read(tf, path, feature_spec(SEQ, PREDS), False)


def test_negative_ints_floats_and_empty_lists_round_trip_through_tensorflow(tf):
    feats = {
        "neg": [-1, -(2**63), 2**63 - 1, 0],
        "f": [0.1, -2.5, 3.4e38],
        "empty_i": ("int64", []),
        "empty_f": ("float", []),
        "b": [b"", b"\x00\xff", "ä".encode()],
    }
    data = encode_example(feats)
    ex = tf.train.Example.FromString(data)
    assert list(ex.features.feature["neg"].int64_list.value) == feats["neg"]
    assert list(ex.features.feature["f"].float_list.value) == list(np.float32(feats["f"]).astype(float))
    assert ex.features.feature["empty_i"].WhichOneof("kind") == "int64_list"
    assert ex.features.feature["empty_f"].WhichOneof("kind") == "float_list"
    assert list(ex.features.feature["b"].bytes_list.value) == feats["b"]
    # TensorFlow serializes each feature to the same bytes (packed lists; map order is its own).
    for name, values in feats.items():
        one = encode_example({name: values})
        assert tf.train.Example.FromString(one).SerializeToString() == one, name
    back = decode_example(data)
    assert back["neg"] == feats["neg"] and back["empty_f"] == [] and back["b"] == feats["b"]
    arr = decode_example(data, numpy=True)
    assert arr["neg"].tolist() == feats["neg"] and arr["empty_f"].shape == (0,) and arr["b"] == feats["b"]
    assert arr["f"].tolist() == back["f"]
    assert back["f"] == list(np.float32(feats["f"]).astype(float))


# ---------------------------------------------------------------------------------------------
# Differential: TensorFlow's writer -> our reader


def _tf_example(tf, inst: dict) -> bytes:
    feature = {}
    for name, values in inst.items():
        if name == "masked_lm_weights":
            feature[name] = tf.train.Feature(float_list=tf.train.FloatList(value=values))
        else:
            feature[name] = tf.train.Feature(int64_list=tf.train.Int64List(value=values))
    return tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString()


@pytest.mark.parametrize("compression", ["none", "gzip"])
def test_tensorflow_records_read_by_ours(tf, tmp_path, compression):
    rng = random.Random(11)
    instances = [_instance(rng) for _ in range(40)]
    serialized = [_tf_example(tf, inst) for inst in instances]
    path = tmp_path / "tf.tfrecord"
    options = tf.io.TFRecordOptions(compression_type="GZIP" if compression == "gzip" else "")
    with tf.io.TFRecordWriter(str(path), options) as w:
        for s in serialized:
            w.write(s)
    assert list(read_records(path)) == serialized
    got = list(read_examples(path))
    assert [{k: g[k] for k in FEATURE_NAMES} for g in got] == instances
    assert sorted(got[0]) == sorted(FEATURE_NAMES)
    # Framing is byte-identical: the same records written by our writer give TensorFlow's file.
    ours = _core.RecordWriter(str(tmp_path / "ours.tfrecord"), compression)
    for s in serialized:
        ours.write(s)
    ours.close()
    if compression == "gzip":
        assert gzip.decompress((tmp_path / "ours.tfrecord").read_bytes()) == gzip.decompress(path.read_bytes())
    else:
        assert (tmp_path / "ours.tfrecord").read_bytes() == path.read_bytes()


def test_masked_crc32c_known_answer_and_framing():
    # crc32c("123456789") = 0xE3069283 (RFC 3720), masked as TensorFlow does.
    crc = 0xE3069283
    masked = ((((crc >> 15) | (crc << 17)) & 0xFFFFFFFF) + 0xA282EAD8) & 0xFFFFFFFF
    assert _core.masked_crc32c(b"123456789") == masked
    framed = _core.frame_record(b"123456789")
    assert framed[:8] == (9).to_bytes(8, "little")
    assert framed[8:12] == _core.masked_crc32c(framed[:8]).to_bytes(4, "little")
    assert framed[12:21] == b"123456789" and framed[21:] == masked.to_bytes(4, "little")


# ---------------------------------------------------------------------------------------------
# Corrupt input


@pytest.fixture
def good_file(tmp_path) -> Path:
    rng = random.Random(5)
    return _write(tmp_path / "good.tfrecord", [_instance(rng) for _ in range(3)])


def _corrupt_variants(good: Path) -> dict[str, tuple[bytes, str]]:
    data = good.read_bytes()
    flipped = bytearray(data)
    flipped[40] ^= 0x01
    return {
        "truncated": (data[:-7], "truncated"),
        "bad_data_crc": (bytes(flipped), "data checksum mismatch"),
        "not_tfrecord": (b"just some text that is not a tfrecord file\n", "not a TFRecord file"),
        "truncated_gzip": (gzip.compress(data)[:-30], "gzip"),
    }


@pytest.mark.parametrize("variant", ["truncated", "bad_data_crc", "not_tfrecord", "truncated_gzip"])
def test_corrupt_files_raise_clear_errors(good_file, tmp_path, variant):
    content, needle = _corrupt_variants(good_file)[variant]
    bad = tmp_path / f"{variant}.tfrecord"
    bad.write_bytes(content)
    with pytest.raises(InputError) as err:
        list(read_examples(bad))
    msg = str(err.value)
    assert str(bad) in msg and "at byte" in msg and needle in msg, msg
    out = run_cli("inspect", str(bad), "--stats")
    assert out.returncode == 2
    assert str(bad) in out.stderr and needle in out.stderr, out.stderr
    assert "Traceback" not in out.stderr


def test_explicit_compression_and_bad_names(good_file, tmp_path):
    from albert_fast import ConfigError

    gz = tmp_path / "g.tfrecord.gz"
    gz.write_bytes(gzip.compress(good_file.read_bytes()))
    assert list(read_records(gz, "gzip")) == list(read_records(good_file)) == list(read_records(gz))
    with pytest.raises(InputError, match="not a TFRecord file"):
        list(read_records(gz, "none"))
    with pytest.raises(ConfigError, match="compression"):
        RecordReader(str(gz), "zstd")
    with pytest.raises(ConfigError, match="compression"):
        RecordWriter(str(tmp_path / "x.tfrecord"), "lz4")
    # The CLI without --stats fails the same way on a file that is not TFRecords at all.
    out = run_cli("inspect", str(EXAMPLES / "en-twain4.txt"))
    assert out.returncode == 2 and "en-twain4.txt" in out.stderr and "not a TFRecord file" in out.stderr
    assert "Traceback" not in out.stderr


def test_malformed_example_with_valid_checksums(tmp_path):
    path = tmp_path / "proto.tfrecord"
    with RecordWriter(str(path)) as w:
        w.write(encode_example({"input_ids": [1, 2]}))
        w.write(b"\x0a\x10\x0a")  # a Features field announcing 16 bytes, holding 1
    it = read_examples(path)
    assert next(it) == {"input_ids": [1, 2]}
    with pytest.raises(InputError, match=r"proto\.tfrecord: record 1 at byte \d+: malformed tf.train.Example"):
        next(it)
    out = run_cli("inspect", str(path), "--stats")
    assert out.returncode == 2 and "record 0" in out.stderr and "not an ALBERT pretraining instance" in out.stderr
    assert "missing feature" in out.stderr and "Traceback" not in out.stderr


def test_missing_path_and_empty_directory_are_clear_errors(tmp_path):
    out = run_cli("inspect", str(tmp_path / "nope.tfrecord"))
    assert out.returncode == 2 and "nope.tfrecord" in out.stderr and "Traceback" not in out.stderr
    out = run_cli("inspect", str(tmp_path))
    assert out.returncode == 2 and "no TFRecord files" in out.stderr


def test_writer_is_atomic(tmp_path):
    path = tmp_path / "atomic.tfrecord"
    with pytest.raises(RuntimeError):
        with RecordWriter(str(path)) as w:
            w.write(b"x")
            assert not path.exists()
            raise RuntimeError("boom")
    assert not path.exists() and list(tmp_path.iterdir()) == []
    with RecordWriter(str(path), "gzip") as w:
        w.write(b"x")
    assert list(read_records(path)) == [b"x"] and w.records_written == 1
    with pytest.raises(ValueError, match="closed"):
        w.write(b"y")


# ---------------------------------------------------------------------------------------------
# inspect: the original log format


VOCAB = ["<pad>", "<unk>", "[CLS]", "[SEP]", "[MASK]"] + [f"▁w{i}" for i in range(5, 60)] + ["s"] * 40


def _hand_instances() -> list[dict]:
    """Four instances (max_seq_length 12, max_predictions_per_seq 4) whose statistics are worked
    out by hand in test_stats_of_a_hand_made_dataset."""

    def inst(ids, boundary, segments, positions, labels, sop):
        n = len(ids)
        k = len(positions)
        return {
            "input_ids": ids + [0] * (12 - n),
            "input_mask": [1] * n + [0] * (12 - n),
            "segment_ids": segments + [0] * (12 - n),
            "token_boundary": boundary + [0] * (12 - n),
            "masked_lm_positions": positions + [0] * (4 - k),
            "masked_lm_ids": labels + [0] * (4 - k),
            "masked_lm_weights": [1.0] * k + [0.0] * (4 - k),
            "next_sentence_labels": [sop],
        }

    return [
        # A: [CLS] ▁a [MASK]=b c [MASK]=d [SEP] ▁e r [SEP]: span 2..4 (1 word, 3 pieces:
        # mask, kept, mask), span 7 (random, starts mid-word).
        inst([2, 10, 4, 12, 4, 3, 14, 99, 3], [1, 1, 1, 0, 0, 1, 1, 0, 1], [0] * 6 + [1] * 3,
             [2, 3, 4, 7], [11, 12, 13, 15], 1),
        # B: full length; span 1..2 (2 words: mask, kept), span 6 (mask).
        inst([2, 4, 21, 22, 23, 3, 4, 25, 26, 27, 28, 3], [1] * 12, [0] * 6 + [1] * 6,
             [1, 2, 6], [20, 21, 24], 0),
        # C: span 1 (mask) ends mid-word.
        inst([2, 4, 31, 3, 32, 3], [1, 1, 0, 1, 1, 1], [0, 0, 0, 0, 1, 1], [1], [30], 0),
        # D: span 1..3 (2 words: ▁x y ▁z, all mask).
        inst([2, 4, 4, 4, 3, 50, 3], [1, 1, 0, 1, 1, 1, 1], [0] * 5 + [1] * 2, [1, 2, 3], [40, 41, 42], 1),
    ]


@pytest.fixture
def hand_dir(tmp_path) -> Path:
    d = tmp_path / "data"
    d.mkdir()
    inst = _hand_instances()
    _write(d / "train-00000-of-00002.tfrecord", inst[:2])
    _write(d / "train-00001-of-00002.tfrecord", inst[2:], "gzip")
    (d / ".train-00002-of-00002.tfrecord.tmp-123").write_bytes(b"half-written")
    (d / "manifest.json").write_text("{}")
    return d


def test_format_instance_is_the_original_log_format():
    inst = _hand_instances()[2]
    text = format_instance(inst, VOCAB)
    assert text == (
        "*** Example ***\n"
        "tokens: [CLS] [MASK] ▁w31 [SEP] ▁w32 [SEP]\n"
        "masked_lm_labels: 1:▁w30\n"
        "input_ids: 2 4 31 3 32 3 0 0 0 0 0 0\n"
        "input_mask: 1 1 1 1 1 1 0 0 0 0 0 0\n"
        "segment_ids: 0 0 0 0 1 1 0 0 0 0 0 0\n"
        "token_boundary: 1 1 0 1 1 1 0 0 0 0 0 0\n"
        "masked_lm_positions: 1 0 0 0\n"
        "masked_lm_ids: 30 0 0 0\n"
        "masked_lm_weights: 1.0 0.0 0.0 0.0\n"
        "next_sentence_labels: 0\n"
    )
    # Without a tokenizer the tokens line shows ids (and masked_lm_ids are the labels).
    assert format_instance(inst).splitlines()[1] == "tokens: 2 4 31 3 32 3"
    assert "masked_lm_labels" not in format_instance(inst)
    # Every real label, by position; padding entries (weight 0) are left out.
    assert format_instance(_hand_instances()[0], VOCAB).splitlines()[2] == (
        "masked_lm_labels: 2:▁w11 3:▁w12 4:▁w13 7:▁w15")


def test_inspect_prints_instances_across_files(hand_dir):
    out = run_cli("inspect", str(hand_dir), "-n", "3")
    assert out.returncode == 0, out.stderr
    blocks = out.stdout.split("*** Example ***\n")[1:]
    assert len(blocks) == 3
    expected = [format_instance(i) for i in _hand_instances()[:3]]
    assert ["*** Example ***\n" + b for b in blocks] == expected
    assert run_cli("inspect", str(hand_dir), "-n", "0").stdout == ""


def test_inspect_empty_file(tmp_path):
    empty = tmp_path / "empty.tfrecord"
    empty.write_bytes(b"")
    out = run_cli("inspect", str(empty))
    assert out.returncode == 0 and out.stdout == "" and "no records" in out.stderr
    out = run_cli("inspect", str(empty), "--stats")
    s = json.loads(out.stdout)
    assert s["instances"] == 0 and s["length"] == {"count": 0} and s["mask_rate"] is None


@pytest.fixture(scope="session")
def spiece(tmp_path_factory) -> Path:
    """A small SentencePiece model with ALBERT's special ids (<pad>=0 <unk>=1 [CLS]=2 [SEP]=3 [MASK]=4)."""
    spm = pytest.importorskip("sentencepiece")
    d = tmp_path_factory.mktemp("tok")
    spm.SentencePieceTrainer.train(
        input=str(EXAMPLES / "en-twain4.txt"), model_prefix=str(d / "spiece"), vocab_size=300,
        pad_id=0, unk_id=1, bos_id=-1, eos_id=-1, control_symbols=["[CLS]", "[SEP]", "[MASK]"],
        minloglevel=2,
    )
    return d / "spiece.model"


def test_inspect_shows_pieces_from_the_manifest_tokenizer(hand_dir, spiece):
    import sentencepiece as spm

    sp = spm.SentencePieceProcessor(model_file=str(spiece))
    assert [sp.id_to_piece(i) for i in range(5)] == ["<pad>", "<unk>", "[CLS]", "[SEP]", "[MASK]"]
    sha = hashlib.sha256(spiece.read_bytes()).hexdigest()
    (hand_dir / "manifest.json").write_text(json.dumps({"tokenizer": str(spiece), "spiece_sha256": sha}))
    out = run_cli("inspect", str(hand_dir / "train-00001-of-00002.tfrecord"), "-n", "1")
    assert out.returncode == 0, out.stderr
    pieces = " ".join(sp.id_to_piece(i) for i in [2, 4, 31, 3, 32, 3])
    assert out.stdout.splitlines()[1] == f"tokens: {pieces}"
    assert "[CLS] [MASK]" in pieces
    # The nested form {"tokenizer": {"path": ..., "spiece_sha256": ...}} works too.
    (hand_dir / "manifest.json").write_text(json.dumps({"tokenizer": {"path": str(spiece.parent), "spiece_sha256": sha}}))
    assert run_cli("inspect", str(hand_dir), "-n", "1").stdout.splitlines()[1].startswith("tokens: [CLS] ")
    # A tokenizer that changed since the data was made is not trusted: ids, and a note.
    (hand_dir / "manifest.json").write_text(json.dumps({"tokenizer": str(spiece), "spiece_sha256": "0" * 64}))
    out = run_cli("inspect", str(hand_dir), "-n", "1")
    assert out.returncode == 0 and out.stdout.splitlines()[1] == "tokens: 2 10 4 12 4 3 14 99 3"
    assert "has changed" in out.stderr
    # create-data's form: {"tokenizer": {"model_file": NAME, "spiece_sha256": ...}}, NAME relative
    # to the manifest's directory.
    (hand_dir / "manifest.json").write_text(json.dumps({"tokenizer": {"model_file": "spiece.model", "spiece_sha256": sha}}))
    out = run_cli("inspect", str(hand_dir), "-n", "1")
    assert out.stdout.splitlines()[1] == "tokens: 2 10 4 12 4 3 14 99 3" and "not found" in out.stderr
    (hand_dir / "spiece.model").write_bytes(spiece.read_bytes())
    out = run_cli("inspect", str(hand_dir), "-n", "1")
    assert out.stdout.splitlines()[1].startswith("tokens: [CLS] ") and out.stderr == ""
    # --tokenizer overrides the manifest.
    out = run_cli("inspect", str(hand_dir), "-n", "1", "--tokenizer", str(spiece.parent))
    assert out.stdout.splitlines()[1].startswith("tokens: [CLS] ")


# ---------------------------------------------------------------------------------------------
# --stats


def test_stats_of_a_hand_made_dataset(hand_dir):
    out = run_cli("inspect", str(hand_dir), "--stats")
    assert out.returncode == 0, out.stderr
    s = json.loads(out.stdout)
    assert [f["instances"] for f in s["files"]] == [2, 2]
    assert s["instances"] == 4 and s["max_seq_length"] == 12 and s["prediction_slots"] == 4
    lengths = [9, 12, 6, 7]
    assert s["length"]["mean"] == pytest.approx(np.mean(lengths))
    for key, q in [("min", 0), ("p5", 5), ("p25", 25), ("p50", 50), ("p75", 75), ("p95", 95), ("max", 100)]:
        assert s["length"][key] == pytest.approx(np.percentile(lengths, q)), key
    assert s["full_length_share"] == 0.25
    assert s["real_tokens"] == 34 and s["predictions"] == 11
    assert s["mask_rate"] == pytest.approx(11 / 34)
    assert s["masked_per_instance"]["mean"] == pytest.approx(11 / 4)
    assert s["masked_per_instance"]["p50"] == pytest.approx(3.0)
    r = s["replacement"]
    assert (r["mask"], r["kept"], r["random"]) == (8, 2, 1)
    assert r["mask_share"] == pytest.approx(8 / 11)
    spans = s["masked_spans"]
    assert spans["count"] == 6
    assert spans["words_histogram"] == {"1": 4, "2": 2}
    assert spans["words"]["mean"] == pytest.approx(8 / 6)
    assert spans["pieces"]["max"] == 3 and spans["pieces"]["mean"] == pytest.approx((3 + 1 + 2 + 1 + 1 + 3) / 6)
    assert (spans["starting_mid_word"], spans["ending_mid_word"]) == (1, 1)
    assert s["sop"] == {"labels": {"0": 2, "1": 2}, "swapped_share": 0.5}
    assert s["token_boundary_share"] == pytest.approx(29 / 34)
    assert s["segment_b_share"] == pytest.approx(13 / 34)
    assert s["positions_out_of_range"] == 0 and s["mask_id"] == 4


def test_stats_take_the_mask_id_from_the_tokenizer(hand_dir, spiece):
    from albert_fast import Tokenizer

    tok = Tokenizer(spiece)
    assert dataset_stats(hand_dir, tokenizer=tok)["replacement"]["mask"] == 8
    # With another id for [MASK], the positions showing 4 are random replacements.
    s = dataset_stats(hand_dir, mask_id=98)
    assert (s["replacement"]["mask"], s["replacement"]["random"]) == (0, 9)
    out = run_cli("inspect", str(hand_dir), "--stats", "--tokenizer", str(spiece))
    assert json.loads(out.stdout)["mask_id"] == 4


def _oracle_stats(examples: list[dict]) -> dict:
    """A plain-Python reading of the definitions in docs/data-format.md."""
    lengths, masked, spans_w = [], [], []
    rep = {"mask": 0, "kept": 0, "random": 0}
    mid_start = mid_end = 0
    for ex in examples:
        n = sum(ex["input_mask"])
        lengths.append(n)
        preds = [(p, i) for p, i, w in zip(ex["masked_lm_positions"], ex["masked_lm_ids"], ex["masked_lm_weights"]) if w > 0]
        masked.append(len(preds))
        for p, i in preds:
            shown = ex["input_ids"][p]
            rep["mask" if shown == 4 else "kept" if shown == i else "random"] += 1
        pos = sorted(p for p, _ in preds)
        b = ex["token_boundary"]
        runs: list[list[int]] = []
        for p in pos:
            if runs and runs[-1][-1] == p - 1:
                runs[-1].append(p)
            else:
                runs.append([p])
        for run in runs:
            spans_w.append(1 + sum(1 for p in run[1:] if b[p] == 1))
            mid_start += run[0] > 0 and b[run[0]] == 0
            nxt = run[-1] + 1
            mid_end += nxt < n and b[nxt] == 0
    return {"lengths": lengths, "masked": masked, "rep": rep, "spans_w": spans_w, "mid": (mid_start, mid_end)}


def test_stats_agree_with_a_python_oracle_on_random_data(tmp_path):
    rng = random.Random(2024)
    instances = [_instance(rng, seq=64, preds=10) for _ in range(400)]
    _write(tmp_path / "a.tfrecord", instances[:150])
    _write(tmp_path / "b.tfrecord.gz", instances[150:], "gzip")
    s = dataset_stats(tmp_path)
    o = _oracle_stats(instances)
    assert s["instances"] == 400
    for key, q in [("min", 0), ("p25", 25), ("p50", 50), ("p95", 95), ("max", 100)]:
        assert s["length"][key] == pytest.approx(np.percentile(o["lengths"], q))
        assert s["masked_per_instance"][key] == pytest.approx(np.percentile(o["masked"], q))
    r = s["replacement"]
    assert {k: r[k] for k in ("mask", "kept", "random")} == o["rep"]
    hist = {k: o["spans_w"].count(k) for k in sorted(set(o["spans_w"]))}
    assert s["masked_spans"]["words_histogram"] == hist
    assert (s["masked_spans"]["starting_mid_word"], s["masked_spans"]["ending_mid_word"]) == o["mid"]
    labels = [i["next_sentence_labels"][0] for i in instances]
    assert s["sop"]["labels"] == {0: labels.count(0), 1: labels.count(1)}


def test_record_files_skips_hidden_and_foreign_files(hand_dir):
    (hand_dir / "notes.txt").write_text("x")
    names = [p.name for p in record_files(hand_dir)]
    assert names == ["train-00000-of-00002.tfrecord", "train-00001-of-00002.tfrecord"]
