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
be meaningless (bench_spm_sample_size.py): the packages above plus EXTRA_PACKAGES (the Sphinx
sources of the Linux kernel's, pandas', scikit-learn's, statsmodels', SageMath's, GHC's... manuals;
the HTML manuals and API references of PostgreSQL, the JDK, Rust, Erlang, Racket, Qt, C++,
SciPy...; translated manuals, man pages and GNOME help; Vim's help; GCIDE's and WordNet's
definitions), MORE_PACKAGES (LibreOffice's, KiCad's and more of GIMP's help, Django's and other
Sphinx sources, man pages in 14 more languages, FreeBSD's man pages, info manuals, FOLDOC, the
Jargon File, fortunes, the Doxygen references of VTK, QGIS, wxWidgets, deal.II, Eigen, GNU Radio...)
and the shared literature corpus, one sentence per line, every sentence once. About 3 MB of
whole documents are held out (in a second file, and none of their sentences in the first), drawn
package by package in proportion to each package's distinct bytes. Translations are taken in the
languages (LANGUAGES: Latin, Cyrillic, Greek, Chinese, Japanese) whose sentence ends the
``--unique`` splitter (``unique_sentences``) finds. Doxygen's and rustdoc's source listings (code)
are included like every HTML page. Packages are fetched incrementally: one added to a list is
downloaded and unpacked on the next run.

    python benches/make_tech_corpus.py --unique   -> benches/data/tech-unique-{train,heldout}.txt
"""

from __future__ import annotations

import argparse
import gzip
import functools
import html
import multiprocessing
import random
import re
import subprocess
import sys
from pathlib import Path
from typing import Iterator

import make_corpus  # benches/ is on sys.path: run as a script or imported
import make_data_corpus

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"
PACKAGES = ("perl-doc", "python3.11-doc", "manpages", "manpages-dev")
MAN_SECTIONS = ("man2", "man3", "man5", "man7")
#: For ``--unique`` only (the repeated corpora above keep their bytes): more English technical
#: prose. Versions are not pinned; a package whose newest version is gone from the mirror is
#: taken at the next version apt knows.
EXTRA_PACKAGES = (
    # Sphinx reStructuredText sources
    "linux-doc-6.1", "python-pandas-doc", "cmake-doc", "python-sklearn-doc", "python-astropy-doc",
    "python-statsmodels-doc", "python-sympy-doc", "twisted-doc", "sphinx-doc", "ghc-doc",
    # HTML manuals and API references
    "postgresql-doc-15", "openjdk-17-doc", "rust-web-doc", "erlang-doc", "racket-doc",
    "qtbase5-doc-html", "cppreference-doc-en-html", "python-scipy-doc", "scala-doc",
    "libstdc++-12-doc", "groovy-doc", "derby-doc", "lilypond-doc-html", "maxima-doc", "octave-doc",
    "sagemath-doc", "qtdeclarative5-doc-html", "git-doc", "nodejs-doc", "debian-policy",
    "developers-reference", "libboost1.81-doc", "sqlite3-doc", "fp-docs-3.2.2", "crystal-doc",
    "pike8.0-doc", "libgtk-3-doc", "libgtk-4-doc", "libglib2.0-doc", "python-biopython-doc",
    "ruby3.1-doc", "python-sqlalchemy-doc", "python-dask-doc", "python-xarray-doc",
    "python-celery-doc", "python-pytest-doc", "qt3d5-doc-html", "qtcharts5-doc-html",
    "qtmultimedia5-doc-html", "qttools5-doc-html", "qtwebengine5-doc-html",
    "qtconnectivity5-doc-html", "qtlocation5-doc-html", "qtquickcontrols2-5-doc-html",
    "qtsensors5-doc-html", "qtxmlpatterns5-doc-html",
    # also in German and French
    "debian-handbook", "debian-reference-en", "debian-reference-de", "debian-reference-fr",
    "manpages-de", "manpages-fr", "gnome-user-docs", "gnome-devel-docs", "gimp-help-en",
    "gimp-help-de", "gimp-help-fr", "gnucash-docs",
    # help files and dictionaries' definitions
    "vim-runtime", "dict-gcide", "wordnet-base")
#: For ``--unique`` too, added to pass 10M distinct sentences (issue 12's 10M-sentence sample),
#: unpacked apart from EXTRA_PACKAGES (so the first 4.95M-sentence build's download is reused as
#: it is). Prose first: help in many languages, man pages, manuals.
MORE_PACKAGES = (
    # LibreOffice's help (HTML), one package per language
    *(f"libreoffice-help-{lang}" for lang in (
        "en-us", "de", "fr", "es", "it", "pt", "pt-br", "nl", "pl", "sv", "cs", "ca", "da", "fi",
        "hu", "id", "sl", "tr", "gl", "eu")),
    *(f"kicad-doc-{lang}" for lang in ("en", "de", "fr", "es", "it", "pl", "id")),
    *(f"manpages-{lang}" for lang in (
        "es", "it", "pl", "nl", "pt-br", "ro", "cs", "da", "fi", "hu", "id", "sv", "vi", "nb")),
    "debian-reference-es", "debian-reference-it", "debian-reference-pt",
    "freebsd-manpages", "glibc-doc", "tcl8.6-doc", "tk8.6-doc",
    # HTML and Sphinx manuals
    "python-django-doc", "python-flask-doc", "python-werkzeug-doc", "python-cryptography-doc",
    "python-pil-doc", "python-pygame-doc", "python-skimage-doc", "python-setuptools-doc",
    "python-jinja2-doc", "python-babel-doc", "python-reportlab-doc", "r-doc-html", "harden-doc",
    "debian-faq", "maint-guide", "debian-kernel-handbook", "libghc-lens-doc",
    # info manuals, dictionaries, fortunes
    "bash-doc", "zsh-doc", "guile-3.0-doc", "gnuplot-doc", "gettext-doc", "libtool-doc",
    "dict-foldoc", "dict-jargon", "fortunes", "fortunes-de", "fortunes-es", "fortunes-it",
    # more help translations; API references (Doxygen, haddock, javadoc)
    "libreoffice-help-et", "libreoffice-help-vi",
    *(f"gimp-help-{lang}" for lang in (
        "es", "it", "nl", "pt-br", "sv", "ca", "cs", "da", "fi", "nn", "ro", "sl", "pt")),
    "wx3.2-doc", "vtk9-doc", "libdeal.ii-doc", "libghc-pandoc-doc", "libcommons-lang3-java-doc",
    "python-requests-doc", "qgis-api-doc", "libeigen3-doc", "libgtkmm-3.0-doc", "libglibmm-2.4-doc",
    "libxerces-c-doc", "gnuradio-doc", "libvigraimpex-doc", "libdune-common-doc", "libmia-2.4-doc",
    "libsfml-doc", "dict-devil",
    # Cyrillic, Greek, Chinese and Japanese
    *(f"libreoffice-help-{lang}" for lang in ("ru", "el", "ja", "zh-cn", "zh-tw")),
    *(f"manpages-{lang}" for lang in ("ru", "uk", "ja", "zh")),
    *(f"kicad-doc-{lang}" for lang in ("ru", "ja", "zh")))
LITERATURE = next((p for p in (HERE.parent.parent / "shared" / "corpora" / "literature",
                               HERE.parent.parent.parent / "shared" / "corpora" / "literature")
                   if p.is_dir()), HERE.parent.parent / "shared" / "corpora" / "literature")


def fetch_packages(dest: Path, packages: tuple[str, ...] = PACKAGES) -> Path:
    """Downloads and unpacks (each once: a package added to the list is fetched on the next
    run) the documentation packages; returns the unpacked root."""
    root = dest / "root"
    dest.mkdir(parents=True, exist_ok=True)
    for package in packages:
        if not any(dest.glob(f"{package}_*.deb")):
            _download(package, dest)
    for deb in sorted(dest.glob("*.deb")):
        stamp = dest / f".{deb.name}.unpacked"
        if not stamp.exists():
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


#: Where ``--unique`` looks in the unpacked EXTRA_PACKAGES and MORE_PACKAGES (besides every HTML
#: page): Sphinx reStructuredText sources (their HTML renderings are skipped), man pages (English
#: and translated), GNOME's Mallard and DocBook help pages, info manuals, Vim's help files and
#: dictionaries' definitions.
#: Translations taken: the languages whose sentence ends ``unique_sentences`` finds (a capital
#: letter of any script after the full stop: Latin, Cyrillic, Greek; or Chinese and Japanese
#: full stops) — not, e.g., Korean, Arabic or Hindi; "C" is GNOME help's English.
LANGUAGES = frozenset("C ca cs da de en es et eu fi fr gl hr hu id it lt lv nb nl nn oc pl pt ro sk "
                      "sl sv tr vi ru uk bg be mk sr el ja zh".split())
#: Manuals that hold several languages in one package: the language is the first directory
#: below the manual's own that looks like a language tag (``de-DE``, ``pt_BR``, ``ja``).
MULTILINGUAL = ("debian-handbook", "sagemath", "harden-doc")
_LANGUAGE_TAG = re.compile(r"[a-z]{2,3}(?:[-_][A-Za-z]{2,4})?(?:@\w+)?|C")
DICTIONARY_CHUNK = 500  # paragraphs (dictd) / glosses (WordNet) per document


def taken_language(tag: str) -> bool:
    """Whether a language directory's tag (``pt_BR``, ``de-DE``, ``sr@latin``) is in LANGUAGES."""
    return re.split(r"[-_@]", tag)[0] in LANGUAGES


def unique_sources(root: Path, extras: tuple[Path, ...]) -> list[tuple[str, str]]:
    """Every document of the ``--unique`` corpus as (renderer, path[#part]), in a fixed order:
    the repeated corpora's sources in ``root`` plus the sources in each of ``extras`` (the
    unpacked EXTRA_PACKAGES, MORE_PACKAGES)."""
    refs = [("pod", str(p)) for p in sorted(root.rglob("*.pod"))]
    refs += [("text", str(p)) for p in
             sorted(root.glob("usr/share/doc/python3.11/html/_sources/**/*.rst.txt"))]
    refs += [("man", str(p)) for section in MAN_SECTIONS
             for p in sorted((root / "usr/share/man" / section).glob("*.gz"))]
    for extra in extras:
        refs += _extra_sources(extra)
    refs += [("text", str(p)) for p in sorted(LITERATURE.glob("*.txt"))]
    return refs


def _extra_sources(extra: Path) -> list[tuple[str, str]]:
    kernel = extra / "usr/share/doc/linux-doc-6.1"
    refs = [("text", str(p)) for p in sorted((kernel / "Documentation").rglob("*.gz"))
            if p.name.endswith((".rst.gz", ".txt.gz"))]
    doc = extra / "usr/share/doc"
    seen: set[Path] = set()  # doc directories are often symlinks of each other
    sphinx_trees = []
    for sources in sorted(doc.glob("*/**/_sources")):
        if "/." in str(sources.relative_to(doc)) or sources.is_relative_to(kernel) \
                or sources.resolve() in seen or _other_language(sources.relative_to(doc).parts):
            continue  # a build copy, or the kernel's (its .rst.gz above are the same text)
        seen.add(sources.resolve())
        sphinx_trees.append(sources.parent.resolve())
        refs += [("text", str(p)) for p in sorted(sources.rglob("*"))
                 if p.name.endswith((".txt", ".txt.gz")) and p.is_file() and p.resolve() not in seen
                 and not seen.add(p.resolve())]
    sphinx_trees += [kernel.resolve()]
    for page in sorted(extra.glob("usr/share/**/*.html")):
        real = page.resolve()
        rel = page.relative_to(extra).parts
        if not real.is_file() or real in seen or any(real.is_relative_to(t) for t in sphinx_trees) \
                or _other_language(rel):
            continue
        seen.add(real)
        refs.append(("html", str(page)))
    man = extra / "usr/share/man"
    refs += [("man", str(p)) for p in sorted(man.glob("man*/*.gz"))]
    for lang in sorted(d.name for d in man.glob("*") if not d.name.startswith("man")):
        if taken_language(lang):
            refs += [("man", str(p)) for p in sorted((man / lang).glob("man*/*.gz"))]
    help_ = extra / "usr/share/help"
    for lang in sorted(d.name for d in help_.glob("*")):
        if taken_language(lang):
            refs += [("html", str(p)) for p in sorted((help_ / lang).rglob("*"))
                     if p.suffix in (".page", ".xml")]  # Mallard, DocBook
    refs += [("info", str(p)) for p in sorted(extra.glob("usr/share/info/**/*.info*.gz"))]
    refs += [("text", str(p)) for p in sorted(extra.glob("usr/share/vim/vim*/doc/*.txt"))]
    fortunes = sorted(p for p in extra.glob("usr/share/games/fortunes/**/*") if p.is_file()
                      and not p.is_symlink() and p.suffix != ".dat")
    refs += [("fortune", str(p)) for p in fortunes  # a UTF-8 copy (.u8) when there is one
             if p.suffix == ".u8" or p.with_name(p.name + ".u8") not in fortunes]
    for dictionary in sorted(extra.glob("usr/share/dictd/*.dict.dz")):
        refs += [("dict", f"{dictionary}#{i}") for i in
                 range(len(_dict_paragraphs(str(dictionary))) // DICTIONARY_CHUNK + 1)]
    for part in ("noun", "verb", "adj", "adv"):
        data = extra / "usr/share/wordnet" / f"data.{part}"
        if data.exists():
            refs += [("wordnet", f"{data}#{i}") for i in range(len(_wordnet_glosses(str(data)))
                                                               // DICTIONARY_CHUNK + 1)]
    return refs


def _other_language(parts: tuple[str, ...]) -> bool:
    """Whether a path (as its parts) lies in a multilingual manual's language not taken."""
    for name in MULTILINGUAL:
        if name in parts:
            tag = next((p for p in parts[parts.index(name) + 1:] if _LANGUAGE_TAG.fullmatch(p)), None)
            return tag is not None and not taken_language(tag)
    return False


def render(ref: tuple[str, str]) -> str:
    """The text of one document of ``unique_sources``."""
    kind, where = ref
    path, _, part = where.partition("#")
    if kind == "pod":
        return _render(["pod2text", "--utf8", path])
    if kind == "man":
        source = gzip.decompress(Path(path).read_bytes())
        if source.startswith(b".so "):  # an alias of another page
            return ""
        return _render(["groff", "-k", "-mandoc", "-Tutf8", "-P-cbou", "-rLL=80n"], source)
    if kind == "dict":
        i = int(part) * DICTIONARY_CHUNK
        return "\n\n".join(_dict_paragraphs(path)[i:i + DICTIONARY_CHUNK])
    if kind == "wordnet":
        i = int(part) * DICTIONARY_CHUNK
        return "\n\n".join(_wordnet_glosses(path)[i:i + DICTIONARY_CHUNK])
    data = Path(path).read_bytes()
    text = (gzip.decompress(data) if path.endswith(".gz") else data).decode("utf-8", errors="replace")
    if kind == "fortune":  # one fortune after another, a "%" line between them
        return re.sub(r"^%$", "", text, flags=re.M)
    if kind == "info":  # node separators (\x1f) and the "File: ..., Node: ..." lines after them off
        return re.sub(r"\x1f\n?(?:File: [^\n]*\n)?", "\n\n", text)
    return html_text(text) if kind == "html" else text


_HTML_DROP = re.compile(r"<(script|style|nav|header|footer|info)\b.*?</\1\s*>|<!--.*?-->",
                        re.S | re.I)
_HTML_BLOCK = re.compile(r"</?(?:p|div|li|dd|dt|pre|tr|td|th|table|h[1-6]|br|section|blockquote"
                         r"|ul|ol|dl|title|item|note|desc|para|listitem|entry|term|screen"
                         r"|programlisting)\b[^>]*>", re.I)
_HTML_TAG = re.compile(r"<[^>]*>")


def html_text(page: str) -> str:
    """Visible text of an HTML (or Mallard/DocBook XML) page, a blank line at every block element so
    paragraphs stay apart. Regular expressions rather than an HTML parser, for speed over the
    GBs of generated pages."""
    text = _HTML_BLOCK.sub("\n\n", _HTML_DROP.sub(" ", page))
    return html.unescape(_HTML_TAG.sub("", text))


@functools.lru_cache(maxsize=1)
def _dict_paragraphs(path: str) -> list[str]:
    """A dictd dictionary's entries (GCIDE, FOLDOC, the Jargon File: the dict file is
    gzip-compatible dictzip), paragraph by paragraph, with GCIDE's source tags (``[1913
    Webster]``) and the markup and cross-reference braces off."""
    text = gzip.decompress(Path(path).read_bytes()).decode("utf-8", errors="replace")
    text = re.sub(r"^\s*\[[^\]\n]*\]\s*$", "", text, flags=re.M).replace("{", "").replace("}", "")
    return [p for p in re.split(r"\n\s*\n", text) if p.strip()]


@functools.lru_cache(maxsize=4)
def _wordnet_glosses(path: str) -> list[str]:
    """WordNet's glosses (definitions and examples: what follows `` | `` on a synset line)."""
    lines = Path(path).read_text(encoding="utf-8", errors="replace").splitlines()
    return [line.split(" | ", 1)[1].strip() for line in lines
            if not line.startswith("  ") and " | " in line]


def clean(text: str) -> str:
    """Trailing spaces off, runs of blank lines to one: the paragraph layout stays."""
    lines = [line.rstrip() for line in text.replace("\r", "").split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def sentences(paragraph: str) -> list[str]:
    """One paragraph, joined to one line, split as make_data_corpus splits books."""
    line = re.sub(r"\s+", " ", paragraph).strip()
    return [s.strip() for s in make_data_corpus._SENTENCE_END.split(line) if s.strip()]


_UPPER = "".join(re.escape(c) for c in map(chr, range(0x10000)) if c.isupper())
#: make_data_corpus's sentence end (kept as it is for the repeated corpora's bytes), with a capital
#: of any script after it, and Chinese/Japanese full stops (no space after them).
_UNIQUE_SENTENCE_END = re.compile(
    "(?<=[.!?])[\"'\u201c\u201d\u00bb\u00ab]?\\s+(?=[\"'\u201e\u00bb\u00ab(]?[" + _UPPER + "])"
    "|(?<=[\u3002\uff01\uff1f])\\s*(?=[^\\s\u300d\u300f\uff09])")


def unique_sentences(paragraph: str) -> list[str]:
    """``sentences`` for the ``--unique`` corpus, whose translations need the wider splitter."""
    line = re.sub(r"\s+", " ", paragraph).strip()
    return [s.strip() for s in _UNIQUE_SENTENCE_END.split(line) if s.strip()]


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


def build_unique(heldout_mb: float = 3.0, seed: int = 12345) -> tuple[Path, Path]:
    """Writes (once) ``data/tech-unique-train.txt`` and ``data/tech-unique-heldout.txt``: every
    distinct sentence of all the sources once, one per line (no blank lines: no sentence
    repeats), and ``data/tech-unique-packages.tsv`` (documents, bytes and held-out share per
    package). The documents are shuffled with ``seed``; about ``heldout_mb`` MB of whole
    documents go to the held-out file, drawn package by package in proportion to the package's
    bytes (``heldout_documents``), and a sentence of theirs never appears in the training file.
    Rendering runs on all CPUs into a spool file (so the held-out draw can see every document's
    size); the output does not depend on how many."""
    train, heldout = DATA / "tech-unique-train.txt", DATA / "tech-unique-heldout.txt"
    if train.exists() and heldout.exists():
        return train, heldout
    roots = [fetch_packages(DATA / "debian-docs"),
             fetch_packages(DATA / "debian-docs-extra", EXTRA_PACKAGES),
             fetch_packages(DATA / "debian-docs-more", MORE_PACKAGES)]
    refs = unique_sources(roots[0], tuple(roots[1:]))
    random.Random(seed).shuffle(refs)
    owners = PackageIndex(roots)
    spool = train.with_suffix(".spool")
    docs: list[tuple[str, int]] = []  # (package, bytes) of each non-empty document, spool order
    with multiprocessing.Pool() as pool, atomic_open(spool) as f:
        for ref, doc in zip(refs, pool.imap(_document_sentences, refs, chunksize=8)):
            if doc:
                f.write("\n".join(doc) + "\n\n")
                docs.append((owners.package(ref[1].partition("#")[0]),
                             sum(len(s.encode("utf-8")) + 1 for s in doc)))
    with open(spool, encoding="utf-8", newline="\n") as f:
        distinct = _first_occurrence_bytes(_spooled(f))
    held = heldout_documents(docs, distinct, heldout_mb * 1e6, random.Random(seed))
    seen: set[str] = set()
    kept = 0
    with open(spool, encoding="utf-8", newline="\n") as f, atomic_open(heldout) as out:
        for i, doc in enumerate(_spooled(f)):
            if i in held:
                out.write("\n".join(doc) + "\n")
                seen.update(doc)
    with open(spool, encoding="utf-8", newline="\n") as f, atomic_open(train) as out:
        for i, doc in enumerate(_spooled(f)):
            if i in held:
                continue
            for s in doc:
                if s not in seen:
                    seen.add(s)
                    out.write(s + "\n")
                    kept += 1
    spool.unlink()
    _write_package_table(DATA / "tech-unique-packages.tsv", docs, distinct, held)
    print(f"{len(docs)} documents from {len({p for p, _ in docs})} packages; {kept:,} unique training "
          f"sentences ({train.stat().st_size / 1e6:.1f} MB), {len(held)} held-out documents "
          f"({heldout.stat().st_size / 1e6:.2f} MB)", file=sys.stderr)
    return train, heldout


def _spooled(f) -> Iterator[list[str]]:
    """The documents of a spool file: sentences one per line, a blank line after each document."""
    doc: list[str] = []
    for line in f:
        if line == "\n":
            yield doc
            doc = []
        else:
            doc.append(line[:-1])


def _first_occurrence_bytes(docs: Iterator[list[str]]) -> list[int]:
    """Per document, the bytes of its sentences that no earlier document has: what it adds to
    the distinct text."""
    seen: set[str] = set()
    out = []
    for doc in docs:
        n = 0
        for s in doc:
            if s not in seen:
                seen.add(s)
                n += len(s.encode("utf-8")) + 1
        out.append(n)
    return out


def heldout_documents(docs: list[tuple[str, int]], distinct: list[int], target: float,
                      rng: random.Random) -> set[int]:
    """Indices of the held-out documents: per package (in sorted order, each package's documents
    shuffled with ``rng``), documents are taken while the package's held-out bytes stay within half
    a document of its share of ``target`` — its share of the distinct text (``distinct``: each
    document's bytes not in an earlier one; a package of boilerplate-heavy API pages renders many
    bytes but adds few). So every package is held out in
    proportion to its size, up to one document's rounding (a package whose share is under half of
    its smallest document has none held out), and a package of many pages (Rust's API) does not
    fill the held-out file as a draw by document would make it."""
    by_package: dict[str, list[int]] = {}
    for i, (package, _) in enumerate(docs):
        by_package.setdefault(package, []).append(i)
    total = sum(distinct)
    held: set[int] = set()
    for package in sorted(by_package):
        indices = by_package[package]
        rng.shuffle(indices)
        quota = target * sum(distinct[i] for i in indices) / total
        got = 0
        for i in indices:
            if got + docs[i][1] / 2 <= quota:
                held.add(i)
                got += docs[i][1]
    return held


def _write_package_table(path: Path, docs: list[tuple[str, int]], distinct: list[int],
                         held: set[int]) -> None:
    rows: dict[str, list[int]] = {}
    for i, (package, n) in enumerate(docs):
        row = rows.setdefault(package, [0, 0, 0, 0, 0])
        row[0] += 1
        row[1] += n
        row[2] += distinct[i]
        if i in held:
            row[3] += 1
            row[4] += n
    with atomic_open(path) as f:
        f.write("package\tdocuments\tbytes\tdistinct_bytes\theldout_documents\theldout_bytes\n")
        for package, row in sorted(rows.items(), key=lambda kv: (-kv[1][2], kv[0])):
            f.write("\t".join([package, *map(str, row)]) + "\n")


class PackageIndex:
    """Which package a file of the unpacked roots comes from, from each ``.deb``'s file list
    (``dpkg-deb -c``, cached next to the ``.deb``); the shared literature corpus is
    ``literature``. A path is looked up as the file it resolves to, as given, then by its
    directories (a symlinked directory belongs to the package that ships the link)."""

    def __init__(self, roots: list[Path]) -> None:
        self.roots = [(r, r.resolve(), self._files(r.parent)) for r in roots]

    @staticmethod
    def _files(dest: Path) -> dict[str, str]:
        owner: dict[str, str] = {}
        for deb in sorted(dest.glob("*.deb")):
            cache = dest / f".{deb.name}.files"
            if not cache.exists():
                listing = subprocess.run(["dpkg-deb", "-c", str(deb)], capture_output=True,
                                         text=True, check=True).stdout
                names = [line.split(None, 5)[5].partition(" -> ")[0].removeprefix("./").rstrip("/")
                         for line in listing.splitlines() if line.strip()]
                with atomic_open(cache) as f:
                    f.write("".join(n + "\n" for n in names))
            package = deb.name.split("_")[0]
            for name in cache.read_text(encoding="utf-8").splitlines():
                owner.setdefault(name, package)
        return owner

    def package(self, path: str) -> str:
        p = Path(path)
        if p.is_relative_to(LITERATURE):
            return "literature"
        real = p.resolve()
        for root, real_root, owner in self.roots:
            candidates = []
            if real.is_relative_to(real_root):
                candidates.append(real.relative_to(real_root))
            if p.is_relative_to(root):
                rel = p.relative_to(root)
                candidates += [rel, *rel.parents]
            for c in candidates:
                if str(c) in owner:
                    return owner[str(c)]
        return "unknown"


def _document_sentences(ref: tuple[str, str]) -> list[str]:
    """One document's sentences, paragraph by paragraph; none for a document under 200 chars."""
    doc = clean(render(ref))
    return [s for p in re.split(r"\n\s*\n", doc) for s in unique_sentences(p)] if len(doc) > 200 else []


class atomic_open:
    """A text file written under a temporary name and renamed into place when complete."""

    def __init__(self, path: Path) -> None:
        self.path, self.tmp = path, path.with_suffix(".tmp")

    def __enter__(self):
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.f = open(self.tmp, "w", encoding="utf-8", newline="\n")
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
