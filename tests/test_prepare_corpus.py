"""prepare-corpus: document boundary modes, cleaning rules, bad input, resume, determinism, CLI,
and the output read back by NLTK (differential) and by the SentencePiece trainer (round trip)."""

from __future__ import annotations

import bz2
import gzip
import json
import os
from pathlib import Path

import pytest
from conftest import run_cli
from data_fixtures import prep, punkt_dir, read_docs  # noqa: F401 (punkt_dir: a fixture)
from nltk.tokenize.punkt import PunktSentenceTokenizer, PunktTrainer

import albert_fast
from albert_fast.errors import ConfigError, InputError


def test_blank_line_mode_one_document_per_paragraph(tmp_path, punkt_dir):
    f = tmp_path / "book.txt"
    f.write_text("Tom went home. He slept.\n\n\nThe next day\nhe woke up.\n")
    stats = prep([f], tmp_path / "out", punkt_dir, doc_boundary="blank-line")
    assert read_docs(tmp_path / "out") == [["Tom went home.", "He slept."], ["The next day he woke up."]]
    assert stats["documents"] == 2 and stats["sentences"] == 3


def test_file_mode_one_document_per_file_and_paragraphs_end_sentences(tmp_path, punkt_dir):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.txt").write_text("Chapter one\n\nTom went home. He slept.\n")
    (tmp_path / "in" / "b.txt.gz").write_bytes(gzip.compress(b"Second file. Two sentences.\n"))
    prep([tmp_path / "in"], tmp_path / "out", punkt_dir, doc_boundary="file")
    assert read_docs(tmp_path / "out") == [
        ["Chapter one", "Tom went home.", "He slept."],
        ["Second file.", "Two sentences."],
    ]


def test_line_mode_one_document_per_line(tmp_path, punkt_dir):
    f = tmp_path / "lines.txt.bz2"
    f.write_bytes(bz2.compress(b"First doc. Still first.\nSecond doc.\n"))
    prep([f], tmp_path / "out", punkt_dir, doc_boundary="line")
    assert read_docs(tmp_path / "out") == [["First doc.", "Still first."], ["Second doc."]]


def test_jsonl_mode_with_nested_field_and_bad_lines(tmp_path, punkt_dir):
    import zstandard

    rows = [{"meta": {"body": "One. Two."}}, {"meta": {}}, {"meta": {"body": "Three.\n\nFour"}}]
    data = "\n".join(json.dumps(r) for r in rows) + "\n{broken\n"
    f = tmp_path / "crawl.jsonl.zst"
    f.write_bytes(zstandard.ZstdCompressor().compress(data.encode()))
    stats = prep([f], tmp_path / "out", punkt_dir, jsonl_field="meta.body")
    assert stats["input"]["files_by_mode"] == {"jsonl": 1}
    assert read_docs(tmp_path / "out") == [["One.", "Two."], ["Three.", "Four"]]
    assert stats["dropped"]["json_missing_field"] == 1
    assert stats["dropped"]["json_invalid_lines"] == 1
    assert any("crawl.jsonl.zst:4: invalid JSON" in w for w in stats["warnings"])


def test_doc_mode_reads_wikiextractor_output(tmp_path, punkt_dir):
    f = tmp_path / "wiki_00"
    f.write_text('<doc id="12" url="https://en.wikipedia.org/wiki?curid=12" title="Anarchism">\nAnarchism\n\n'
                 "Anarchism is a political philosophy. It is old.\n</doc>\n"
                 '<doc id="25" title="Autism">\nAutism\n\nAutism is a condition.\n</doc>\n')
    stats = prep([f], tmp_path / "out", punkt_dir)  # auto detects <doc>
    assert stats["input"]["files_by_mode"] == {"doc": 1}
    assert read_docs(tmp_path / "out") == [
        ["Anarchism", "Anarchism is a political philosophy.", "It is old."],
        ["Autism", "Autism is a condition."],
    ]


def test_cleaning_rules_and_their_counts(tmp_path, punkt_dir):
    f = tmp_path / "dirty.txt"
    f.write_text(
        "Cafe\u0301 au  lait\u0007 is\tgood.\n7\n\n"  # NFC, control char, whitespace, short line
        "Same doc.\n\nSame doc.\n\n"  # duplicate document
        "\ufeffBOM here.\n"
    )
    stats = prep([f], tmp_path / "out", punkt_dir, doc_boundary="blank-line")
    assert read_docs(tmp_path / "out") == [["Café au lait is good."], ["Same doc."], ["BOM here."]]
    assert stats["dropped"]["short_lines"] == 1
    assert stats["dropped"]["duplicate_documents"] == 1
    assert stats["dropped"]["control_chars"] == 2
    assert stats["changed"]["lines_normalized_nfc"] == 1


def test_min_line_chars_and_no_dedup(tmp_path, punkt_dir):
    f = tmp_path / "a.txt"
    f.write_text("Short.\n\nShort.\n\nA much longer line.\n")
    prep([f], tmp_path / "out", punkt_dir, min_line_chars=10, dedup=False)
    assert read_docs(tmp_path / "out") == [["A much longer line."]]
    prep([f], tmp_path / "out2", punkt_dir, dedup=False)
    assert read_docs(tmp_path / "out2") == [["Short."], ["Short."], ["A much longer line."]]


def test_no_clean_keeps_text_but_still_one_sentence_per_line(tmp_path, punkt_dir):
    f = tmp_path / "a.txt"
    f.write_text("Cafe\u0301  au lait.  Next\nline here.\n\nx\n\nx\n")
    prep([f], tmp_path / "out", punkt_dir, clean=False)
    assert read_docs(tmp_path / "out") == [["Cafe\u0301  au lait.", "Next line here."], ["x"], ["x"]]


def test_output_matches_nltk_sentence_for_sentence(examples_dir, tmp_path, punkt_dir):
    """End to end differential: every shard line is an NLTK sentence of the cleaned paragraph."""
    from albert_fast import _core

    src = examples_dir / "de-HMann3.txt"
    prep([src], tmp_path / "out", punkt_dir, dedup=False, doc_boundary="blank-line")
    from nltk.tokenize.punkt import PunktParameters
    from nltk.tabdata import PunktDecoder

    dec, params = PunktDecoder(), PunktParameters()
    with open(punkt_dir / "abbrev_types.txt") as f:
        params.abbrev_types = dec.txt2set(f)
    with open(punkt_dir / "collocations.tab") as f:
        params.collocations = set(dec.tab2tups(f))
    with open(punkt_dir / "sent_starters.txt") as f:
        params.sent_starters = dec.txt2set(f)
    with open(punkt_dir / "ortho_context.tab") as f:
        params.ortho_context = dec.tab2intdict(f)
    nltk = PunktSentenceTokenizer(params)
    expected = []
    for block in src.read_text(encoding="utf-8").split("\n\n"):
        lines = [" ".join(l.split()) for l in block.split("\n")]
        para = "\n".join(l for l in lines if len(l) >= 2)
        sents = [" ".join(s.split()) for s in nltk.tokenize(para)]
        if sents:
            expected.append(sents)
    assert read_docs(tmp_path / "out") == expected
    assert _core  # the splitter used above is the Rust one, via prepare_corpus
    # auto groups these wrapped paragraphs into documents; each paragraph is still split on its
    # own, so the sentences are the same, in the same order.
    stats = prep([src], tmp_path / "grouped", punkt_dir, dedup=False)
    assert stats["files"][0]["mode"] == "group" and stats["documents"] < len(expected)
    assert sum(read_docs(tmp_path / "grouped"), []) == sum(expected, [])


def test_deterministic_for_any_thread_count_and_sharded(examples_dir, tmp_path, punkt_dir):
    a = prep([examples_dir], tmp_path / "a", punkt_dir, threads=1, shard_size_mb=0.05)
    b = prep([examples_dir], tmp_path / "b", punkt_dir, threads=2, shard_size_mb=0.05)
    names = sorted(p.name for p in (tmp_path / "a").glob("corpus-*.txt"))
    assert len(names) == len(a["shards"]) > 3
    assert names == sorted(p.name for p in (tmp_path / "b").glob("corpus-*.txt"))
    for n in names:
        assert (tmp_path / "a" / n).read_bytes() == (tmp_path / "b" / n).read_bytes()
    assert a["fingerprint"] == b["fingerprint"]
    # Documents are never split across shards: every shard ends with a blank line.
    assert all((tmp_path / "a" / n).read_text().endswith(".\n\n") or (tmp_path / "a" / n).read_text().endswith("\n\n") for n in names)


def test_rerun_resumes_and_keeps_finished_shards(examples_dir, tmp_path, punkt_dir):
    out = tmp_path / "out"
    first = prep([examples_dir], out, punkt_dir, shard_size_mb=0.05)
    assert prep([examples_dir], out, punkt_dir, shard_size_mb=0.05)["resumed"] == "already complete"
    # Simulate a run killed after shard 2: journal lists shards 0-2, later shards and stats gone.
    shards = sorted(out.glob("corpus-*.txt"))
    kept = {p.name: p.read_bytes() for p in shards[:3]}
    for p in shards[3:]:
        p.unlink()
    (out / "stats.json").unlink()
    (out / ".corpus-00003.txt.tmp-99999").write_text("half-written")
    (out / ".prepare-state.json").write_text(json.dumps({"fingerprint": first["fingerprint"], "shards": first["shards"][:3]}))
    again = prep([examples_dir], out, punkt_dir, shard_size_mb=0.05)
    assert again["resumed_shards"] == 3
    assert again["sentences"] == first["sentences"] and again["shards"] == first["shards"]
    assert {n: (out / n).read_bytes() for n in kept} == kept
    assert not list(out.glob(".*tmp*"))
    # Another run's settings into the same directory: refused, nothing overwritten.
    with pytest.raises(InputError, match="earlier prepare-corpus run"):
        prep([examples_dir], out, punkt_dir, shard_size_mb=1)


def test_punkt_trained_on_sample_by_default_and_reused(examples_dir, tmp_path):
    out = tmp_path / "out"
    stats = albert_fast.prepare_corpus([examples_dir / "en-twain4.txt"], out, punkt_sample_mb=0.05)
    assert stats["punkt"]["source"] == "trained"
    assert 0 < stats["punkt"]["sample_bytes"] <= 0.05 * 1024 * 1024
    assert all((out / "punkt" / n).is_file() for n in ("abbrev_types.txt", "ortho_context.tab"))
    (out / "stats.json").unlink()
    again = albert_fast.prepare_corpus([examples_dir / "en-twain4.txt"], out, punkt_sample_mb=0.05)
    assert again["punkt"]["reused"] is True
    # Other sample settings would retrain: refused while an earlier run's output is there, and
    # the parameters its shards were made with stay untouched.
    before = (out / "punkt" / "ortho_context.tab").read_bytes()
    with pytest.raises(InputError, match="earlier prepare-corpus run"):
        albert_fast.prepare_corpus([examples_dir / "en-twain4.txt"], out, punkt_sample_mb=0.04)
    assert (out / "punkt" / "ortho_context.tab").read_bytes() == before


def test_punkt_sample_bound_holds_for_a_single_long_line(tmp_path):
    # One 3 MB line: the sample is cut at whitespace inside it, not taken whole.
    f = tmp_path / "one-line.txt"
    f.write_text("This is one sentence of a very long line. " * 75_000 + "\n", encoding="utf-8")
    stats = albert_fast.prepare_corpus([f], tmp_path / "out", punkt_sample_mb=0.25)
    assert 0.2 * 1024 * 1024 < stats["punkt"]["sample_bytes"] <= 0.25 * 1024 * 1024


def test_an_nltk_failure_is_one_line_in_our_words(tmp_path):
    # A damaged .zip on NLTK_DATA's path makes nltk.data.find raise zipfile.BadZipFile.
    (tmp_path / "in.txt").write_text("One sentence. Another one.\n", encoding="utf-8")
    (tmp_path / "nltk").mkdir(mode=0o700)
    (tmp_path / "nltk" / "data.zip").write_bytes(b"not a zip")
    r = run_cli("prepare-corpus", str(tmp_path / "in.txt"), "-o", str(tmp_path / "out"),
                "--language", "english", env={"NLTK_DATA": str(tmp_path / "nltk" / "data.zip")})
    assert r.returncode == 2, r.stderr
    assert r.stderr.count("\n") == 1 and "Traceback" not in r.stderr, r.stderr
    assert "punkt_language 'english': NLTK failed searching its data path" in r.stderr
    assert "BadZipFile: File is not a zip file" in r.stderr and "--punkt-params" in r.stderr


def _compressed(ext: str, data: bytes) -> bytes:
    import zstandard

    if ext == "zst":  # with a checksum: any damage is found
        return zstandard.ZstdCompressor(level=19, write_checksum=True).compress(data)
    return gzip.compress(data) if ext == "gz" else bz2.compress(data)


@pytest.mark.parametrize("ext,name", [("zst", "zstd"), ("gz", "gzip"), ("bz2", "bzip2")])
def test_corrupt_or_truncated_compressed_input_is_named_in_plain_words(tmp_path, punkt_dir, ext, name):
    import re

    text = "".join(f"This is sentence {i} of the corpus. And another {i * 7 % 13}.\n" for i in range(30000))
    data = _compressed(ext, text.encode())
    bad = bytearray(data)
    bad[int(len(data) * 0.97)] ^= 0xC8  # zstd said "Destination buffer is too small" here
    cases = {"bad": (bytes(bad), rf"corrupt {name} data in \S*bad.txt.{ext} at byte \d+ \(of {len(data)}\): "
                                 "the file is damaged; recompress it from the original"),
             "cut": (data[:-40], rf"truncated {name} data in \S*cut.txt.{ext}: the file ends inside "
                                 rf"compressed data \({len(data) - 40} bytes\)")}
    for stem, (content, expected) in cases.items():
        f = tmp_path / f"{stem}.txt.{ext}"
        f.write_bytes(content)
        r = run_cli("prepare-corpus", str(f), "-o", str(tmp_path / f"out-{stem}"), "--punkt-params",
                    str(punkt_dir), "--no-progress")
        assert r.returncode == 2 and r.stderr.count("\n") == 1, r.stderr
        assert re.search(expected, r.stderr), r.stderr


def test_default_punkt_parameters_are_nltks_on_the_sample(literature_dir, tmp_path):
    # Already-clean paragraphs, one file, sample larger than the file: the sample is the file's
    # paragraphs joined by blank lines, which NLTK's PunktTrainer gets as its text.
    paras = [p.strip() for p in (literature_dir / "en-twain1.txt").read_text(encoding="utf-8").split("\n\n")]
    paras = [" ".join(p.split()) for p in paras if len(p.strip()) > 2]
    src = tmp_path / "book.txt"
    src.write_text("\n\n".join(paras) + "\n", encoding="utf-8")
    out = tmp_path / "out"
    stats = albert_fast.prepare_corpus([src], out, punkt_sample_mb=5)
    assert stats["punkt"]["sample_bytes"] == len("\n\n".join(paras).encode("utf-8"))
    trainer = PunktTrainer()
    trainer.train("\n\n".join(paras), finalize=True)
    p = trainer.get_params()
    expected = {
        "abbrev_types.txt": sorted(p.abbrev_types),
        "sent_starters.txt": sorted(p.sent_starters),
        "collocations.tab": sorted(f"{a}\t{b}" for a, b in p.collocations),
        "ortho_context.tab": sorted(f"{k}\t{v}" for k, v in p.ortho_context.items()),
    }
    for name, lines in expected.items():
        text = (out / "punkt" / name).read_text(encoding="utf-8")
        assert (text.split("\n") if text else []) == lines, name
    assert len(expected["abbrev_types.txt"]) > 5 and len(expected["sent_starters.txt"]) > 5


def test_invalid_utf8_is_decoded_lossily_and_counted(tmp_path, punkt_dir):
    f = tmp_path / "bad.txt"
    f.write_bytes(b"Caf\xe9 is open. Good \xff\xfe news.\n")
    stats = prep([f], tmp_path / "out", punkt_dir)
    assert stats["input"]["invalid_utf8_sequences"] == 3  # \xe9, \xff, \xfe
    assert read_docs(tmp_path / "out") == [["Caf\ufffd is open.", "Good \ufffd\ufffd news."]]


def test_binary_file_fails_naming_it_and_writes_nothing(tmp_path, punkt_dir):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.txt").write_text("Fine text here.\n")
    (tmp_path / "in" / "model.bin").write_bytes(b"\x00\x01\x02\x03" * 100)
    with pytest.raises(InputError, match="model.bin: not a text file"):
        prep([tmp_path / "in"], tmp_path / "out", punkt_dir)
    assert list((tmp_path / "out").iterdir()) == []


def test_empty_input_and_missing_path_are_clear_errors(tmp_path, punkt_dir):
    empty = tmp_path / "empty.txt"
    empty.write_text("\n\n  \n")
    with pytest.raises(InputError, match="no text"):
        prep([empty], tmp_path / "out", punkt_dir)
    assert not list((tmp_path / "out").glob("corpus-*"))
    with pytest.raises(FileNotFoundError):
        prep([tmp_path / "nope.txt"], tmp_path / "out2", punkt_dir)
    with pytest.raises(ConfigError, match="unknown prepare_corpus option"):
        prep([empty], tmp_path / "out3", punkt_dir, shard_mb=3)


@pytest.mark.slow
def test_single_100mb_line_streams_with_bounded_lines(tmp_path, punkt_dir):
    f = tmp_path / "huge.txt"
    sentence = b"This is one sentence of a very long line. "
    with open(f, "wb") as out:
        for _ in range(100 * 1024 * 1024 // len(sentence) + 1):
            out.write(sentence)
        out.write(b"\n")
    stats = prep([f], tmp_path / "out", punkt_dir, dedup=False, doc_boundary="blank-line")
    assert stats["input"]["long_lines_split"] >= 6
    assert stats["sentences"] >= 100 * 1024 * 1024 // len(sentence) - 10
    with open(tmp_path / "out" / "corpus-00000.txt", encoding="utf-8") as fh:
        assert fh.readline() == "This is one sentence of a very long line.\n"


def test_cli_prepare_corpus(examples_dir, tmp_path, punkt_dir):
    out = tmp_path / "out"
    r = run_cli("prepare-corpus", str(examples_dir / "en-twain4.txt"), "-o", str(out),
                "--punkt-params", str(punkt_dir), "--doc-boundary", "blank-line", "--threads", "2")
    assert r.returncode == 0, r.stderr
    assert "documents" in r.stdout and (out / "stats.json").is_file()
    r = run_cli("prepare-corpus", str(tmp_path / "missing.txt"), "-o", str(tmp_path / "o2"),
                "--punkt-params", str(punkt_dir))
    assert r.returncode == 2 and "missing.txt" in r.stderr and "Traceback" not in r.stderr
    blocker = tmp_path / "file"
    blocker.write_text("x")
    r = run_cli("prepare-corpus", str(examples_dir / "en-twain4.txt"), "-o", str(blocker / "sub"),
                "--punkt-params", str(punkt_dir))
    assert r.returncode == 2 and "cannot create output directory" in r.stderr
    r = run_cli("prepare-corpus", str(examples_dir / "en-twain4.txt"), "-o", str(tmp_path / "o3"),
                "--punkt-params", str(tmp_path))
    assert r.returncode == 2 and "not a punkt_tab directory" in r.stderr


def test_round_trip_into_train_tokenizer_and_create_data(examples_dir, tmp_path, punkt_dir):
    """The produced shards are what the next stages read: train-tokenizer learns from them and
    create-data turns them into instances whose documents are our documents."""
    from albert_fast.records import read_examples

    repo = Path(__file__).resolve().parent.parent
    out = tmp_path / "corpus"
    stats = prep([examples_dir], out, punkt_dir, shard_size_mb=0.1)
    assert len(stats["shards"]) >= 2
    tok = albert_fast.train_tokenizer(out, tmp_path / "tok", config=repo / "configs" / "tiny.yaml", progress=False)
    assert (tmp_path / "tok" / "spiece.model").is_file() and tok["sentences"] == stats["sentences"]
    summary = albert_fast.create_pretraining_data(out, tmp_path / "tok", tmp_path / "data",
                                                  config=repo / "configs" / "tiny.yaml", dupe_factor=1)
    assert summary["documents"] == stats["documents"]
    assert summary["instances"] > 100
    first = next(read_examples(next((tmp_path / "data").glob("*.tfrecord"))))
    assert first["input_ids"][0] == 2 and 3 in first["input_ids"]  # [CLS] ... [SEP]


def test_cli_reads_the_corpus_section_of_the_config_and_flags_override_it(tmp_path, punkt_dir):
    f = tmp_path / "a.txt"
    f.write_text("One doc. Two sentences.\nSecond line doc.\n")
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text(f"corpus:\n  doc_boundary: line\n  punkt_params: {punkt_dir}\n  min_line_chars: 0\n")
    r = run_cli("prepare-corpus", str(f), "-o", str(tmp_path / "out"), "--config", str(cfg), "--json")
    assert r.returncode == 0, r.stderr
    stats = json.loads(r.stdout)
    assert stats["settings"]["doc_boundary"] == "line" and stats["documents"] == 2
    r = run_cli("prepare-corpus", str(f), "-o", str(tmp_path / "out2"), "--config", str(cfg),
                "--doc-boundary", "file", "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["documents"] == 1


def test_language_without_installed_model_falls_back_to_training(examples_dir, tmp_path):
    with pytest.warns(UserWarning, match="no installed NLTK punkt_tab model for 'klingon'"):
        stats = albert_fast.prepare_corpus([examples_dir / "en-twain4.txt"], tmp_path / "out",
                                           punkt_language="klingon", punkt_sample_mb=0.05)
    assert stats["punkt"]["source"] == "trained"


def test_cancel_stops_the_run_and_leaves_no_half_written_shard(examples_dir, tmp_path, punkt_dir):
    """What Ctrl-C does in the CLI: the progress handle is cancelled, the Rust run stops."""
    from albert_fast import _core

    handle = _core.Progress()
    handle.cancel()
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(KeyboardInterrupt):
        _core.prepare_corpus([str(examples_dir)], str(out), str(punkt_dir), progress=handle)
    assert not list(out.glob("corpus-*")) and not list(out.glob(".corpus-*"))
    assert not (out / "stats.json").exists()


def test_python_face_accepts_a_config_path_or_dict(tmp_path, punkt_dir):
    f = tmp_path / "a.txt"
    f.write_text("One doc. Two sentences.\nSecond line doc.\n")
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text(f"corpus:\n  doc_boundary: line\n  punkt_params: {punkt_dir}\n")
    assert albert_fast.prepare_corpus(f, tmp_path / "o1", config=cfg)["documents"] == 2
    d = {"corpus": {"doc_boundary": "file", "punkt_params": str(punkt_dir)}}
    assert albert_fast.prepare_corpus(f, tmp_path / "o2", config=d)["documents"] == 1
