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
"""

from __future__ import annotations

import argparse
import gzip
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


def fetch_packages(dest: Path) -> Path:
    """Downloads (once) and unpacks the documentation packages; returns the unpacked root."""
    root = dest / "root"
    stamp = dest / ".unpacked"
    if stamp.exists():
        return root
    dest.mkdir(parents=True, exist_ok=True)
    subprocess.run(["apt-get", "download", *PACKAGES], cwd=dest, check=True, capture_output=True)
    for deb in sorted(dest.glob("*.deb")):
        subprocess.run(["dpkg-deb", "-x", str(deb), str(root)], check=True)
    stamp.touch()
    return root


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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--mb", type=float, default=100)
    ap.add_argument("--format", choices=("raw", "sentences"), default="raw")
    args = ap.parse_args()
    print(build(args.mb, args.format))


if __name__ == "__main__":
    main()
