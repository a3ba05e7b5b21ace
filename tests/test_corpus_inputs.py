"""prepare-corpus inputs people have (issue 14): Parquet files and shards, Hugging Face `datasets`
directories written by `save_to_disk`, standard input; and what it says about a corpus' layout
(per-file layout, grouping of paragraph layouts, stats.json's document report). Every dataset is
built here, locally (no hub)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import run_cli
from data_fixtures import prep, punkt_dir, read_docs  # noqa: F401 (punkt_dir: a fixture)

from albert_fast.errors import InputError
from albert_fast.tokenizer import MODEL_FILE

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")

LAYOUTS = Path(__file__).parent / "fixtures" / "layout"
ROWS = ["Tom went home. He slept well.", None, "A second doc. It has\ntwo lines.", "", "Third one. Short."]
EXPECTED = [["Tom went home.", "He slept well."], ["A second doc.", "It has two lines."], ["Third one.", "Short."]]


def test_parquet_rows_are_documents_from_the_text_column(tmp_path, punkt_dir):
    f = tmp_path / "a.parquet"
    # Row groups of 2 rows: the reader streams across row groups.
    pq.write_table(pa.table({"id": list(range(len(ROWS))), "content": ROWS}), f, row_group_size=2)
    stats = prep([f], tmp_path / "out", punkt_dir, text_column="content")
    assert read_docs(tmp_path / "out") == EXPECTED
    assert stats["files"][0]["mode"] == "row" and stats["input"]["files_by_mode"] == {"row": 1}
    assert stats["dropped"]["rows_without_text"] == 1
    # largest_documents name the 1-based row.
    assert {(d["file"].rsplit("/", 1)[-1], d["line"]) for d in stats["largest_documents"]} == {
        ("a.parquet", 1), ("a.parquet", 3), ("a.parquet", 5)}


def test_nested_column_large_strings_and_a_directory_of_parquet_shards(tmp_path, punkt_dir):
    shards = tmp_path / "corpus" / "data"
    shards.mkdir(parents=True)
    meta = pa.array([{"body": t, "n": 1} for t in ROWS[:3]], pa.struct([("body", pa.large_string()), ("n", pa.int64())]))
    pq.write_table(pa.table({"meta": meta}), shards / "train-00000-of-00002.parquet")
    pq.write_table(pa.table({"meta": pa.array([{"body": t, "n": 2} for t in ROWS[3:]], meta.type)}),
                   shards / "train-00001-of-00002.parquet", compression="zstd")
    (tmp_path / "corpus" / "README.md").write_text("# a dataset card: not text to train on\n")
    stats = prep([tmp_path / "corpus" / "data"], tmp_path / "out", punkt_dir, text_column="meta.body")
    assert read_docs(tmp_path / "out") == EXPECTED
    assert [Path(f["file"]).name for f in stats["files"]] == [
        "train-00000-of-00002.parquet", "train-00001-of-00002.parquet"]


def test_missing_or_non_text_column_is_a_clear_error_listing_the_string_columns(tmp_path, punkt_dir):
    f = tmp_path / "a.parquet"
    pq.write_table(pa.table({"id": [1], "content": ["x"], "meta": pa.array([{"title": "t"}])}), f)
    with pytest.raises(InputError, match=r'a.parquet: no column "text"; string columns: content, meta.title '
                                         r"\(choose one with --text-column\)"):
        prep([f], tmp_path / "out", punkt_dir)
    with pytest.raises(InputError, match=r'column "id" holds Int64, not text'):
        prep([f], tmp_path / "out", punkt_dir, text_column="id")
    assert not list((tmp_path / "out").glob("corpus-*"))
    # Named .parquet but not Parquet: says so, naming the file.
    bad = tmp_path / "b.parquet"
    bad.write_bytes(b"this is not parquet at all\n")
    with pytest.raises(InputError, match="b.parquet: not a readable Parquet file"):
        prep([bad], tmp_path / "out2", punkt_dir)


def test_cli_text_column_flag_and_help(tmp_path, punkt_dir):
    f = tmp_path / "a.parquet"
    pq.write_table(pa.table({"content": ROWS}), f)
    r = run_cli("prepare-corpus", str(f), "-o", str(tmp_path / "out"), "--punkt-params", str(punkt_dir),
                "--text-column", "content")
    assert r.returncode == 0, r.stderr
    assert "short -> row: 3 documents" in r.stdout, r.stdout
    assert read_docs(tmp_path / "out") == EXPECTED
    r = run_cli("prepare-corpus", str(f), "-o", str(tmp_path / "out2"), "--punkt-params", str(punkt_dir))
    assert r.returncode == 2 and "string columns: content (choose one with --text-column)" in r.stderr
    assert "Traceback" not in r.stderr
    help_text = " ".join(run_cli("prepare-corpus", "--help").stdout.split())
    assert "--text-column" in help_text and "Parquet" in help_text and "standard input" in help_text


def test_datasets_save_to_disk_directory(tmp_path, punkt_dir):
    datasets = pytest.importorskip("datasets")
    ds = datasets.Dataset.from_dict({"text": ROWS, "id": list(range(len(ROWS)))})
    ds.save_to_disk(str(tmp_path / "ds"), num_shards=2)
    files = sorted(p.name for p in (tmp_path / "ds").iterdir())
    assert files == ["data-00000-of-00002.arrow", "data-00001-of-00002.arrow", "dataset_info.json", "state.json"]
    stats = prep([tmp_path / "ds"], tmp_path / "out", punkt_dir)
    assert read_docs(tmp_path / "out") == EXPECTED
    assert [Path(f["file"]).name for f in stats["files"]] == ["data-00000-of-00002.arrow", "data-00001-of-00002.arrow"]
    # A DatasetDict: the split must be named (the test split is not training text).
    datasets.DatasetDict({"train": ds, "test": ds}).save_to_disk(str(tmp_path / "dd"))
    with pytest.raises(InputError, match=r"a datasets DatasetDict with splits; give the split to read: .*dd/train"):
        prep([tmp_path / "dd"], tmp_path / "out2", punkt_dir)
    stats = prep([tmp_path / "dd" / "train"], tmp_path / "out3", punkt_dir)
    assert read_docs(tmp_path / "out3") == EXPECTED


def test_datasets_text_rows_that_are_lines_keep_blank_line_documents(tmp_path, punkt_dir):
    """`datasets`' text loader makes one row per line, blank rows between documents: such rows are
    read as the lines of a text file, not as one document each."""
    datasets = pytest.importorskip("datasets")
    lines = []
    for d in range(20):
        lines += [f"Document {d} starts here.", f"It goes on in document {d}.", "It ends now.", ""]
    datasets.Dataset.from_dict({"text": lines}).save_to_disk(str(tmp_path / "ds"))
    stats = prep([tmp_path / "ds"], tmp_path / "out", punkt_dir)
    assert stats["files"][0]["mode"] == "blank-line"
    assert stats["documents"] == 20 and read_docs(tmp_path / "out")[0] == lines[:3]


def test_parquet_input_resumes_like_text(tmp_path, punkt_dir):
    f = tmp_path / "a.parquet"
    rows = [f"Document number {i}. It has a second sentence about {i}." for i in range(3000)]
    pq.write_table(pa.table({"text": rows}), f, row_group_size=500)
    out = tmp_path / "out"
    first = prep([f], out, punkt_dir, shard_size_mb=0.05)
    assert len(first["shards"]) >= 3
    assert prep([f], out, punkt_dir, shard_size_mb=0.05)["resumed"] == "already complete"
    shards = sorted(out.glob("corpus-*.txt"))
    kept = shards[0].read_bytes()
    for p in shards[1:]:
        p.unlink()
    (out / "stats.json").unlink()
    (out / ".prepare-state.json").write_text(json.dumps({"fingerprint": first["fingerprint"], "shards": first["shards"][:1]}))
    again = prep([f], out, punkt_dir, shard_size_mb=0.05)
    assert again["resumed_shards"] == 1 and again["shards"] == first["shards"]
    assert shards[0].read_bytes() == kept


def test_planned_run_reports_the_documents_and_layouts_as_the_local_run(tmp_path, punkt_dir):
    # Shards that start inside a Parquet file and inside files whose layout decides their mode
    # (the per-file report, layout warnings and document lengths come from the planned steps).
    f = tmp_path / "a.parquet"
    rows = [f"Document number {i}. It has a second sentence about {i}." for i in range(1500)]
    pq.write_table(pa.table({"text": rows}), f, row_group_size=400)
    inputs = [f, *sorted(LAYOUTS.glob("*.txt"))]
    for mode in ("auto", "blank-line"):  # blank-line on paragraph lines: layout warnings
        kw = dict(shard_size_mb=0.01, doc_boundary=mode, target_document_kb=2)
        local = prep(inputs, tmp_path / f"local-{mode}", punkt_dir, **kw)
        planned = prep(inputs, tmp_path / f"planned-{mode}", punkt_dir, cluster="local:2", **kw)
        assert len(local["shards"]) > 10 and len(local["files"]) == len(inputs)
        assert bool(local["warnings"]) == (mode == "blank-line"), local["warnings"]
        assert {k: v for k, v in planned.items() if k != "output"} == {k: v for k, v in local.items() if k != "output"}
        for p in (tmp_path / f"local-{mode}").glob("corpus-*.txt"):
            assert (tmp_path / f"planned-{mode}" / p.name).read_bytes() == p.read_bytes(), p.name


def test_standard_input(tmp_path, punkt_dir):
    text = "One sentence here. Another one.\n\nSecond doc.\n"
    cmd = [sys.executable, "-m", "albert_fast", "prepare-corpus", "-", "-o", str(tmp_path / "out"),
           "--punkt-params", str(punkt_dir)]
    r = subprocess.run(cmd, input=text, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert read_docs(tmp_path / "out") == [["One sentence here.", "Another one."], ["Second doc."]]
    assert "- (stdin)" in r.stdout
    stats = json.loads((tmp_path / "out" / "stats.json").read_text())
    assert [f["file"] for f in stats["files"]] == ["-"] and ".stdin-" not in json.dumps(stats)
    assert not list((tmp_path / "out").glob(".stdin-*")), "the copy of standard input is removed"
    # The same text again resumes (the copy is stamped by its content); other text is refused.
    r = subprocess.run(cmd, input=text, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0 and "already complete" in r.stdout, r.stdout + r.stderr
    r = subprocess.run(cmd, input="Other text.\n", capture_output=True, text=True, timeout=300)
    assert r.returncode == 2 and "earlier prepare-corpus run" in r.stderr


def test_standard_input_into_train_tokenizer(tmp_path, examples_dir):
    text = (examples_dir / "en-twain4.txt").read_text(encoding="utf-8")[:120_000]
    r = subprocess.run([sys.executable, "-m", "albert_fast", "train-tokenizer", "-", "-o", str(tmp_path / "tok"),
                        "--vocab-size", "400"], input=text, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "tok" / MODEL_FILE).is_file()
    assert not list((tmp_path / "tok").glob(".stdin-*"))


# --- what the corpus looks like -------------------------------------------------------------


def test_layouts_choose_document_modes_and_stats_report_them(tmp_path, punkt_dir):
    names = ["grimm-paragraph-lines.txt", "hmann-wrapped.txt", "twain-sentences.txt", "man-pipe.txt"]
    stats = prep([LAYOUTS / n for n in names], tmp_path / "out", punkt_dir, target_document_kb=4)
    by_file = {Path(f["file"]).name: f for f in stats["files"]}
    assert {n: (by_file[n]["layout"], by_file[n]["mode"]) for n in names} == {
        "grimm-paragraph-lines.txt": ("paragraph-lines", "group"),
        "hmann-wrapped.txt": ("wrapped", "group"),
        "twain-sentences.txt": ("sentences", "blank-line"),
        "man-pipe.txt": ("wrapped", "group"),
    }
    # Grimm (one paragraph per line, no blank lines) is no longer one giant document, and a
    # wrapped book is no longer one paragraph per document: ~24 KB files in ~4 KB documents.
    for n in ("grimm-paragraph-lines.txt", "hmann-wrapped.txt"):
        assert 3 <= by_file[n]["documents"] <= 12, (n, by_file[n])
    lengths = stats["document_lengths"]
    assert lengths["bytes"]["max"] >= lengths["bytes"]["p90_at_most"] >= lengths["bytes"]["p50_at_most"] > 0
    assert sum(n for _, n in lengths["sentences"]["histogram"]) == stats["documents"]
    largest = stats["largest_documents"]
    assert largest and largest == sorted(largest, key=lambda d: -d["bytes"])
    # blank-line on the paragraph-per-line file: one document, and a warning that says so.
    one = prep([LAYOUTS / "grimm-paragraph-lines.txt"], tmp_path / "one", punkt_dir, doc_boundary="blank-line")
    assert one["documents"] <= 2  # the excerpt holds one blank line
    assert any("blank-line makes each file one document" in w for w in one["warnings"]), one["warnings"]


def test_cli_prints_the_document_report(tmp_path, punkt_dir):
    r = run_cli("prepare-corpus", str(LAYOUTS / "hmann-wrapped.txt"), str(LAYOUTS / "twain-sentences.txt"),
                "-o", str(tmp_path / "out"), "--punkt-params", str(punkt_dir))
    assert r.returncode == 0, r.stderr
    assert "document length: median <=" in r.stdout
    assert "hmann-wrapped.txt" in r.stdout and "wrapped -> group" in r.stdout
    assert "sentences -> blank-line" in r.stdout and "largest documents:" in r.stdout
