"""Builds a reproducible N-MB corpus of English technical prose from Debian's documentation
packages: perl-doc (POD rendered with pod2text), python3.11-doc (the reStructuredText sources of
the Python documentation) and manpages/manpages-dev (sections 2, 3, 5, 7 rendered with groff).

Each rendered file is one document; its paragraphs keep their own lines with a blank line between
them, as software documentation comes. ``--format sentences`` instead writes create-data's input
(paragraphs joined, split into one sentence per line with make_data_corpus's regex, a blank line
between documents). Documents are shuffled with a fixed seed and repeated (reshuffled each round)
until the size is reached: about 40 MB of the text is unique; say so wherever a result built on
more of it is reported. Needs `apt-get download` (Debian's mirror), dpkg-deb, pod2text and groff.

    python benches/make_tech_corpus.py --mb 100                      -> benches/data/tech-raw-100mb.txt
    python benches/make_tech_corpus.py --mb 100 --format sentences   -> benches/data/tech-sentences-100mb.txt

``--unique`` writes a corpus with no repeated text at all, for studies where repetition would
be meaningless (bench_spm_sample_size.py): the packages above plus EXTRA_PACKAGES (the Linux
kernel's documentation sources, pandas' and CMake's Sphinx sources, PostgreSQL's and the JDK's
HTML manuals) and the shared literature corpus, one sentence per line, every sentence once; a few
whole documents are held out (in a second file, and none of their sentences in the first).

    python benches/make_tech_corpus.py --unique   -> benches/data/tech-unique-{train,heldout}.txt
"""

from __future__ import annotations

import argparse
import gzip
import html.parser
import random
import re
import subprocess
import sys
from pathlib import Path

import make_corpus  # benches/ is on sys.path: run as a script or imported
import make_data_corpus

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"
PACKAGES = ("perl-doc", "python3.11-doc", "manpages", "manpages-dev")
MAN_SECTIONS = ("man2", "man3", "man5", "man7")
#: For ``--unique`` only (the repeated corpora above keep their bytes): more English technical
#: prose. Versions are not pinned; a package whose newest version is gone from the mirror is
#: taken at the next version apt knows.
EXTRA_PACKAGES = ("linux-doc-6.1", "python-pandas-doc", "cmake-doc", "postgresql-doc-15",
                  "openjdk-17-doc")
LITERATURE = next((p for p in (HERE.parent.parent / "shared" / "corpora" / "literature",
                               HERE.parent.parent.parent / "shared" / "corpora" / "literature")
                   if p.is_dir()), HERE.parent.parent / "shared" / "corpora" / "literature")


def fetch_packages(dest: Path, packages: tuple[str, ...] = PACKAGES) -> Path:
    """Downloads (once) and unpacks the documentation packages; returns the unpacked root."""
    root = dest / "root"
    stamp = dest / ".unpacked"
    if stamp.exists():
        return root
    dest.mkdir(parents=True, exist_ok=True)
    for package in packages:
        _download(package, dest)
    for deb in sorted(dest.glob("*.deb")):
        subprocess.run(["dpkg-deb", "-x", str(deb), str(root)], check=True)
    stamp.touch()
    return root


def _download(package: str, dest: Path) -> None:
    """``apt-get download``, falling back to older versions when the index names one the mirror
    no longer has (a stale security index answers 404)."""
    if subprocess.run(["apt-get", "download", package], cwd=dest, capture_output=True).returncode == 0:
        return
    madison = subprocess.run(["apt-cache", "madison", package], capture_output=True, text=True).stdout
    versions = dict.fromkeys(line.split("|")[1].strip() for line in madison.splitlines() if "|" in line)
    for version in versions:
        if subprocess.run(["apt-get", "download", f"{package}={version}"], cwd=dest,
                          capture_output=True).returncode == 0:
            return
    raise SystemExit(f"apt-get download {package}: no version could be downloaded")


def _render(cmd: list[str], data: bytes | None = None) -> str:
    out = subprocess.run(cmd, input=data, capture_output=True, check=False)
    return out.stdout.decode("utf-8", errors="replace")


def pod_documents(root: Path) -> list[str]:
    return [_render(["pod2text", "--utf8", str(p)]) for p in sorted(root.rglob("*.pod"))]


def rst_documents(root: Path) -> list[str]:
    return [p.read_text(encoding="utf-8", errors="replace")
            for p in sorted(root.glob("usr/share/doc/python3.11/html/_sources/**/*.rst.txt"))]


def man_documents(root: Path) -> list[str]:
    docs = []
    for section in MAN_SECTIONS:
        for page in sorted((root / "usr/share/man" / section).glob("*.gz")):
            source = gzip.decompress(page.read_bytes())
            if source.startswith(b".so "):  # an alias of another page
                continue
            text = _render(["groff", "-mandoc", "-Tutf8", "-P-cbou", "-rLL=80n"], source)
            docs.append(text)
    return docs


def kernel_documents(root: Path) -> list[str]:
    base = root / "usr/share/doc/linux-doc-6.1/Documentation"
    return [gzip.decompress(p.read_bytes()).decode("utf-8", errors="replace")
            for p in sorted(base.rglob("*.gz")) if p.name.endswith((".rst.gz", ".txt.gz"))]


def sphinx_source_documents(root: Path) -> list[str]:
    return [p.read_text(encoding="utf-8", errors="replace")
            for name in ("python-pandas-doc/html", "cmake-data/html")
            for p in sorted((root / "usr/share/doc" / name / "_sources").rglob("*.txt"))]


class _HtmlText(html.parser.HTMLParser):
    """Visible text of an HTML page, a blank line at every block element (paragraphs stay apart)."""
    BLOCKS = {"p", "div", "li", "dd", "dt", "pre", "tr", "table", "h1", "h2", "h3", "h4", "h5",
              "h6", "br", "section", "blockquote", "ul", "ol", "dl"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skip = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style", "nav", "header", "footer"):
            self.skip += 1
        elif tag in self.BLOCKS:
            self.parts.append("\n\n")

    def handle_endtag(self, tag):
        if tag in ("script", "style", "nav", "header", "footer"):
            self.skip = max(0, self.skip - 1)
        elif tag in self.BLOCKS:
            self.parts.append("\n\n")

    def handle_data(self, data):
        if not self.skip:
            self.parts.append(data)


def html_documents(root: Path) -> list[str]:
    docs = []
    for name in ("postgresql-doc-15/html", "openjdk-17-jre-headless/api"):
        for page in sorted((root / "usr/share/doc" / name).rglob("*.html")):
            parser = _HtmlText()
            parser.feed(page.read_text(encoding="utf-8", errors="replace"))
            docs.append("".join(parser.parts))
    return docs


def literature_documents() -> list[str]:
    return [p.read_text(encoding="utf-8") for p in sorted(LITERATURE.glob("*.txt"))]


def clean(text: str) -> str:
    """Trailing spaces off, runs of blank lines to one: the paragraph layout stays."""
    lines = [line.rstrip() for line in text.replace("\r", "").split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def sentences(paragraph: str) -> list[str]:
    """One paragraph, joined to one line, split as make_data_corpus splits books."""
    line = re.sub(r"\s+", " ", paragraph).strip()
    return [s.strip() for s in make_data_corpus._SENTENCE_END.split(line) if s.strip()]


def build(mb: float, fmt: str = "raw", seed: int = 12345) -> Path:
    """Writes (once) and returns ``data/tech-FMT-MBmb.txt``; the same arguments give the same bytes."""
    out = DATA / f"tech-{fmt}-{mb:g}mb.txt"
    if out.exists():
        return out
    root = fetch_packages(DATA / "debian-docs")
    docs = [clean(d) for d in pod_documents(root) + rst_documents(root) + man_documents(root)]
    docs = [d for d in docs if len(d) > 200]
    if fmt == "sentences":
        docs = ["\n".join(s for p in re.split(r"\n\s*\n", d)
                          for s in sentences(p)) for d in docs]
    unique = sum(len(d.encode("utf-8")) + 2 for d in docs)
    print(f"{len(docs)} documents, {unique / 1e6:.1f} MB unique", file=sys.stderr)
    return make_corpus.write_repeated(docs, out, mb, random.Random(seed))


def build_unique(heldout_docs: int = 200, seed: int = 12345) -> tuple[Path, Path]:
    """Writes (once) ``data/tech-unique-train.txt`` and ``data/tech-unique-heldout.txt``: every
    distinct sentence of all the sources once, one per line (no blank lines: no sentence
    repeats). ``heldout_docs`` whole documents, drawn with ``seed``, go to the held-out file; a
    sentence of theirs never appears in the training file."""
    train, heldout = DATA / "tech-unique-train.txt", DATA / "tech-unique-heldout.txt"
    if train.exists() and heldout.exists():
        return train, heldout
    root = fetch_packages(DATA / "debian-docs")
    extra = fetch_packages(DATA / "debian-docs-extra", EXTRA_PACKAGES)
    docs = (pod_documents(root) + rst_documents(root) + man_documents(root) + kernel_documents(extra)
            + sphinx_source_documents(extra) + html_documents(extra) + literature_documents())
    docs = [d for d in (clean(d) for d in docs) if len(d) > 200]
    random.Random(seed).shuffle(docs)

    def split(doc: str) -> list[str]:
        return [s for p in re.split(r"\n\s*\n", doc) for s in sentences(p)]

    held = [split(d) for d in docs[:heldout_docs]]
    held_set = {s for doc in held for s in doc}
    seen: set[str] = set(held_set)
    kept = 0
    with atomic_open(train) as f:
        for doc in docs[heldout_docs:]:
            for s in split(doc):
                if s not in seen:
                    seen.add(s)
                    f.write(s + "\n")
                    kept += 1
    with atomic_open(heldout) as f:
        for doc in held:
            f.write("\n".join(doc) + "\n")
    print(f"{len(docs)} documents; {kept:,} unique training sentences ({train.stat().st_size / 1e6:.1f} MB), "
          f"{heldout_docs} held-out documents ({heldout.stat().st_size / 1e6:.1f} MB)", file=sys.stderr)
    return train, heldout


class atomic_open:
    """A text file written under a temporary name and renamed into place when complete."""

    def __init__(self, path: Path) -> None:
        self.path, self.tmp = path, path.with_suffix(".tmp")

    def __enter__(self):
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.f = open(self.tmp, "w", encoding="utf-8")
        return self.f

    def __exit__(self, exc_type, *_):
        self.f.close()
        if exc_type is None:
            self.tmp.replace(self.path)
        else:
            self.tmp.unlink(missing_ok=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--mb", type=float, default=100)
    ap.add_argument("--format", choices=("raw", "sentences"), default="raw")
    ap.add_argument("--unique", action="store_true",
                    help="write the unique-sentence corpus and its held-out file instead")
    args = ap.parse_args()
    if args.unique:
        print(*build_unique(), sep="\n")
    else:
        print(build(args.mb, args.format))


if __name__ == "__main__":
    main()
