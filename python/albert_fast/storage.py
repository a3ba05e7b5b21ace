"""Inputs and outputs named by URL -- ``gs://bucket/path``, ``s3://bucket/path``, any other
fsspec protocol -- next to local paths (``file://`` URLs are local paths). Everything goes
through fsspec (gcsfs, s3fs); ``s3://`` honours ``AWS_ENDPOINT_URL`` (and
``AWS_ENDPOINT_URL_S3``) as boto does, so S3-compatible stores work too.

The Rust core reads URLs through :func:`core_open` (registered by the extension): ranged reads
of a chunk at a time with the next chunk prefetched, so memory stays bounded and a span of a
plain file is read without the bytes before it.

Commit rules (docs/cluster.md, "Object storage"): an object appears whole or not at all -- a
file is written locally, then uploaded with one PUT or a completed multipart upload
(:func:`put_file`), never streamed under its final name. A directory-like output is complete
when the file its stage writes last is there (create-data: ``manifest.json``, prepare-corpus:
``stats.json``, train-tokenizer: ``tokenizer_config.json``, export-hf:
``albert_fast_export.json``, a pretraining checkpoint: TensorFlow's ``checkpoint`` file):
:func:`upload_dir` uploads that file last and, when replacing an earlier output, deletes it
first.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
import threading
import uuid
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, Iterable, Optional, Sequence

from albert_fast import _core

__all__ = ["is_url", "local_path", "join", "exists", "size", "version", "read_bytes", "read_json",
           "write_bytes", "write_json", "put_file", "remove", "remove_tree", "listdir",
           "expand_inputs", "ensure_output", "fetch", "fetch_dir", "upload_dir", "cache_dir", "stdin_spool_dir",
           "temp_dir", "Mirror", "for_tensorflow", "core_open", "core_size", "core_version"]

_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]+://")


def is_url(path: Any) -> bool:
    """True for ``scheme://...`` other than ``file://``."""
    s = os.fspath(path) if not isinstance(path, str) else path
    return bool(_URL.match(s)) and not s.startswith("file://")


def local_path(path: Any) -> str:
    """A local path as a plain path (``file://`` removed); URLs unchanged."""
    s = os.fspath(path)
    return s[len("file://"):] if s.startswith("file://") else s


def join(base: Any, *parts: str) -> str:
    """``base/part/...`` for a URL or a local path."""
    base = local_path(base)
    if is_url(base):
        return "/".join([base.rstrip("/"), *(p.strip("/") for p in parts)])
    return os.path.join(base, *parts)


def _filesystem(url: str):
    """(fsspec filesystem, path inside it) of a URL."""
    try:
        import fsspec
    except ImportError:
        raise OSError(f"{url}: URLs need fsspec: install `pip install 'albert-fast[cloud]'`") from None

    protocol = url.split("://", 1)[0]
    options: dict[str, Any] = {}
    if protocol in ("s3", "s3a"):
        endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
        if endpoint:
            options["client_kwargs"] = {"endpoint_url": endpoint}
    try:
        return fsspec.core.url_to_fs(url, **options)
    except (ImportError, ValueError) as err:
        package = {"gs": "gcsfs", "gcs": "gcsfs", "s3": "s3fs", "s3a": "s3fs"}.get(protocol)
        hint = (f"; install it with `pip install 'albert-fast[cloud]'` ({package})" if package
                else "")
        raise OSError(f"{url}: cannot open {protocol}:// URLs ({err}){hint}") from None


def _fail(path: str, err: BaseException, doing: str) -> OSError:
    """An fsspec/botocore error as an OSError naming the URL (kept type for missing/denied)."""
    if isinstance(err, FileNotFoundError):
        return FileNotFoundError(2, "No such file or directory", path)
    if isinstance(err, PermissionError):
        return PermissionError(13, f"permission denied ({doing})", path)
    detail = str(err) or type(err).__name__
    return OSError(f"{path}: cannot {doing}: {detail}")


def exists(path: Any) -> bool:
    path = local_path(path)
    if not is_url(path):
        return os.path.exists(path)
    fs, p = _filesystem(path)
    try:
        return fs.exists(p)
    except Exception as err:  # noqa: BLE001 - any store error means "cannot tell"
        raise _fail(path, err, "look it up") from None


def _info(path: str) -> dict:
    fs, p = _filesystem(path)
    try:
        return fs.info(p)
    except Exception as err:  # noqa: BLE001
        raise _fail(path, err, "read its metadata") from None


def size(path: Any) -> int:
    path = local_path(path)
    if not is_url(path):
        return os.path.getsize(path)
    return int(_info(path)["size"])


def version(path: Any) -> str:
    """A tag that changes when the object is replaced: ETag or generation (mtime locally)."""
    path = local_path(path)
    if not is_url(path):
        return str(os.stat(path).st_mtime_ns)
    info = _info(path)
    for key in ("generation", "ETag", "etag", "md5Hash", "crc32c", "mtime", "LastModified", "updated"):
        if info.get(key):
            return str(info[key]).strip('"')
    return str(info.get("size", ""))


def read_bytes(path: Any) -> bytes:
    path = local_path(path)
    if not is_url(path):
        return Path(path).read_bytes()
    fs, p = _filesystem(path)
    try:
        return fs.cat_file(p)
    except Exception as err:  # noqa: BLE001
        raise _fail(path, err, "read it") from None


def read_json(path: Any) -> Optional[Any]:
    """A JSON file's value, or None when it is missing or not JSON."""
    try:
        return json.loads(read_bytes(path).decode("utf-8"))
    except (FileNotFoundError, UnicodeDecodeError, json.JSONDecodeError):
        return None


def put_file(local: Any, path: Any) -> None:
    """Moves the local file ``local`` to ``path`` as a whole: a rename next to a local target,
    one upload (a single PUT or a completed multipart upload) to a URL."""
    path = local_path(path)
    if not is_url(path):
        final = Path(path)
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp = final.with_name(f".{final.name}.tmp-{os.getpid()}")
        shutil.copyfile(local, tmp)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, final)
        return
    fs, p = _filesystem(path)
    try:
        fs.put_file(os.fspath(local), p)
    except Exception as err:  # noqa: BLE001
        raise _fail(path, err, "write it") from None


def write_bytes(path: Any, data: bytes) -> None:
    """Writes ``data`` to ``path`` whole (see :func:`put_file`)."""
    path = local_path(path)
    if not is_url(path):
        from albert_fast.io_utils import atomic_path

        Path(path).parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(path) as tmp:
            tmp.write_bytes(data)
        return
    fs, p = _filesystem(path)
    try:
        fs.pipe_file(p, data)
    except Exception as err:  # noqa: BLE001
        raise _fail(path, err, "write it") from None


def write_json(path: Any, value: Any) -> None:
    write_bytes(path, (json.dumps(value, indent=2, ensure_ascii=False) + "\n").encode("utf-8"))


def move(src: Any, dst: Any) -> None:
    """Gives the file or object ``src`` the name ``dst``: a rename locally, a copy inside the
    store (no data through this machine) and a delete for a URL."""
    src, dst = local_path(src), local_path(dst)
    if not is_url(src):
        os.replace(src, dst)
        return
    fs, p = _filesystem(src)
    _, q = _filesystem(dst)
    try:
        fs.copy(p, q)
        fs.rm_file(p)
    except Exception as err:  # noqa: BLE001
        raise _fail(dst, err, "write it") from None


def remove(path: Any) -> None:
    """Removes a file or object; a missing one is fine."""
    path = local_path(path)
    if not is_url(path):
        Path(path).unlink(missing_ok=True)
        return
    fs, p = _filesystem(path)
    try:
        fs.rm_file(p)
    except FileNotFoundError:
        pass
    except Exception as err:  # noqa: BLE001
        raise _fail(path, err, "delete it") from None


def remove_tree(path: Any) -> None:
    """Removes a directory (or every object under a prefix); a missing one is fine."""
    path = local_path(path)
    if not is_url(path):
        shutil.rmtree(path, ignore_errors=True)
        return
    fs, p = _filesystem(path)
    try:
        if fs.exists(p):
            fs.rm(p, recursive=True)
    except FileNotFoundError:
        pass
    except Exception as err:  # noqa: BLE001
        raise _fail(path, err, "delete it") from None


def listdir(path: Any) -> list[str]:
    """Names directly under a directory or prefix (empty when there is none)."""
    path = local_path(path)
    if not is_url(path):
        return sorted(os.listdir(path)) if os.path.isdir(path) else []
    fs, p = _filesystem(path)
    try:
        entries = fs.ls(p, detail=False, refresh=True)
    except FileNotFoundError:
        return []
    except Exception as err:  # noqa: BLE001
        raise _fail(path, err, "list it") from None
    return sorted({e.rstrip("/").rsplit("/", 1)[-1] for e in entries if e.rstrip("/") != p.rstrip("/")})



def expand_inputs(specs: Sequence[Any]) -> tuple[list[str], int]:
    """URL inputs expanded as the core expands local ones (objects, "directories" walked
    recursively with hidden entries skipped, globs; a prepare-corpus output contributes its
    shards only, a `datasets` save_to_disk directory its data files); local specs are returned unchanged for the core. Returns the list and the
    number of hidden entries skipped."""
    out: list[str] = []
    skipped = 0
    for spec in specs:
        spec = local_path(spec)
        if not is_url(spec):
            out.append(spec)
            continue
        protocol = spec.split("://", 1)[0]
        fs, p = _filesystem(spec)
        try:
            if any(c in p for c in "*?["):
                found = sorted(fs.glob(p))
                files = [f for f in found if fs.isfile(f)]
                if not found:
                    raise OSError(f"{spec}: glob pattern matches no files")
            elif fs.isfile(p):
                files = [p]
            elif fs.isdir(p):
                files, hidden = _directory_inputs(fs, spec, p.rstrip("/"))
                skipped += hidden
            else:
                raise FileNotFoundError(2, "No such file or directory", spec)
        except (OSError, _core.AlbertFastError):
            raise
        except Exception as err:  # noqa: BLE001
            raise _fail(spec, err, "list it") from None
        out.extend(f if f.startswith(f"{protocol}://") else f"{protocol}://{f}" for f in files)
    return out, skipped


def _directory_inputs(fs: Any, spec: str, root: str) -> tuple[list[str], int]:
    """The input objects under a "directory" URL, picked as the core's walk picks them from a
    local directory (``corpus/inputs.rs``), at every level: a prepare-corpus output gives its
    shards, a `datasets` save_to_disk directory its data files, any other its objects and
    subdirectories in name order, hidden entries skipped. Returns them and the number of hidden
    entries skipped."""
    tree: dict[str, Any] = {}  # name -> subtree, or None for an object
    for f in fs.find(root):
        *dirs, name = f[len(root):].strip("/").split("/")
        node = tree
        for d in dirs:
            node = node.setdefault(d, {})
        node[name] = None
    files: list[str] = []
    hidden = 0

    def walk(node: dict[str, Any], here: str, url: str) -> None:
        nonlocal hidden
        objects = {name for name, sub in node.items() if sub is None}
        if _core.PREPARED_STATE_FILE in objects:
            files.extend(f"{here}/{n}" for n in sorted(objects) if _core.is_prepared_shard_name(n))
            return
        dataset = _core.dataset_files(
            url,
            fs.cat_file(f"{here}/dataset_dict.json").decode("utf-8") if "dataset_dict.json" in objects else None,
            fs.cat_file(f"{here}/state.json").decode("utf-8") if {"state.json", "dataset_info.json"} <= objects else None)
        if dataset is not None:
            for n in dataset:
                if n not in objects:
                    raise FileNotFoundError(2, "No such file or directory", f"{url}/{n}")
            if not dataset and here == root:
                raise OSError(f"{spec}: a datasets directory without data files")
            files.extend(f"{here}/{n}" for n in dataset)
            return
        for name in sorted(node):
            if name.startswith("."):
                hidden += 1
            elif node[name] is None:
                files.append(f"{here}/{name}")
            else:
                walk(node[name], f"{here}/{name}", f"{url}/{name}")

    walk(tree, root, spec.rstrip("/"))
    if not files:
        raise OSError(f"{spec}: directory contains no input files (hidden files are skipped)")
    return files, hidden

def ensure_output(path: Any) -> str:
    """Creates a local output directory (see :func:`albert_fast.io_utils.ensure_output_dir`) or
    checks that a URL prefix takes objects, by writing and deleting a probe object, so a run
    fails at once with a clear message rather than after hours of work. Returns the path."""
    path = local_path(path)
    if not is_url(path):
        from albert_fast.io_utils import ensure_output_dir

        return str(ensure_output_dir(path))
    probe = join(path, f".albert-fast-write-check-{uuid.uuid4().hex}")
    fs, p = _filesystem(probe)
    try:
        fs.pipe_file(p, b"")
        fs.rm_file(p)
    except FileNotFoundError:
        raise OSError(f"{path}: cannot write there: the bucket does not exist") from None
    except PermissionError:
        raise PermissionError(13, "cannot write there: permission denied", path) from None
    except Exception as err:  # noqa: BLE001
        raise OSError(f"{path}: cannot write there: {err}") from None
    return path.rstrip("/")


def cache_dir(*parts: str) -> Path:
    """``$ALBERT_FAST_CACHE`` (default ``~/.cache/albert-fast``)/parts, created."""
    root = Path(os.environ.get("ALBERT_FAST_CACHE") or Path.home() / ".cache" / "albert-fast")
    d = root.joinpath(*parts)
    d.mkdir(parents=True, exist_ok=True)
    return d


def stdin_spool_dir(output: Any) -> Path:
    """Where the copy of standard input lives while a run writes ``output``: the (local)
    output directory itself, or for a URL a cache directory of that output's own (a stable
    name, so a re-run with the same text resumes; one per output, so runs into other outputs
    never share, or remove, each other's copy)."""
    output = local_path(output)
    return cache_dir("stdin", _cache_key(output)) if is_url(output) else Path(output)


def _cache_key(url: str) -> str:
    return hashlib.sha256(url.encode()).hexdigest()[:16]


def fetch(url: Any, local: Any) -> Path:
    """Downloads one object to ``local`` (atomically); a copy made earlier of the same object
    version (see :func:`version`) is kept."""
    url, local = local_path(url), Path(local)
    stamp = f"{size(url)}:{version(url)}"
    seen = local.with_name(f".{local.name}.version")
    if local.is_file() and seen.is_file() and seen.read_text() == stamp:
        return local
    local.parent.mkdir(parents=True, exist_ok=True)
    tmp = local.with_name(f".{local.name}.tmp-{os.getpid()}-{threading.get_ident()}")
    fs, p = _filesystem(url)
    try:
        fs.get_file(p, str(tmp))
        os.replace(tmp, local)
        seen.write_text(stamp)
    except Exception as err:  # noqa: BLE001
        tmp.unlink(missing_ok=True)
        raise _fail(url, err, "download it") from None
    return local


def fetch_dir(url: Any, names: Optional[Iterable[str]] = None, local: Any = None) -> Path:
    """A local copy of a URL directory (only ``names`` when given; local paths are returned as
    they are), under :func:`cache_dir` unless ``local`` says where."""
    url = local_path(url)
    if not is_url(url):
        return Path(url)
    target = Path(local) if local is not None else cache_dir("fetched", _cache_key(url))
    fs, root = _filesystem(url)
    try:
        if names is None:
            listed = [f for f in fs.find(root.rstrip("/"))]
            rels = [f[len(root.rstrip("/")):].strip("/") for f in listed]
        else:
            rels = [n for n in names if fs.exists(f"{root.rstrip('/')}/{n}")]
    except Exception as err:  # noqa: BLE001
        raise _fail(url, err, "list it") from None
    for rel in rels:
        fetch(join(url, rel), target / rel)
    return target


def upload_dir(local: Any, url: Any, last: Sequence[str] = (), delete_extra: bool = False) -> None:
    """Uploads the files under ``local`` to ``url``: the names in ``last`` (the output's
    completion files) are deleted there first and uploaded after everything else, so the
    prefix never looks complete before it is. With ``delete_extra``, objects under ``url`` that
    ``local`` no longer has are deleted afterwards (a mirror)."""
    local, url = Path(local), local_path(url)
    files = sorted(p for p in local.rglob("*") if p.is_file())
    rel = {p: p.relative_to(local).as_posix() for p in files}
    for name in last:
        remove(join(url, name))
    for p in files:
        if rel[p] not in last:
            put_file(p, join(url, rel[p]))
    for name in last:
        if (local / name).is_file():
            put_file(local / name, join(url, name))
    if delete_extra:
        fs, root = _filesystem(url)
        root = root.rstrip("/")
        keep = set(rel.values())
        for f in fs.find(root):
            if f[len(root):].strip("/") not in keep:
                fs.rm_file(f)


class Mirror:
    """A local working copy of a directory in object storage, for a stage that writes a
    directory over time (pretrain's run directory): :meth:`pull` copies what the bucket holds
    (a run resumes from it), :meth:`push` uploads what changed since the last push -- the
    ``last`` names (the directory's pointer files, e.g. TensorFlow's ``checkpoint``) after the
    rest -- and deletes objects whose files are gone (checkpoints rotated out). Files named in
    ``skip`` (a lock file) stay local."""

    def __init__(self, url: str, last: Sequence[str] = (), skip: Sequence[str] = ()) -> None:
        self.url = local_path(url).rstrip("/")
        self.last = tuple(last)
        self.skip = frozenset(skip)
        self.local = cache_dir("mirrors", _cache_key(self.url))
        self._pushed: dict[str, tuple[int, int]] = {}

    def pull(self) -> Path:
        if exists(self.url):
            fetch_dir(self.url, local=self.local)
        self._pushed = self._state()
        return self.local

    def _state(self) -> dict[str, tuple[int, int]]:
        return {p.relative_to(self.local).as_posix(): (p.stat().st_size, p.stat().st_mtime_ns)
                for p in self.local.rglob("*") if p.is_file() and not p.name.endswith(".version")
                and ".tmp-" not in p.name and p.name not in self.skip}

    def push(self) -> None:
        now = self._state()
        changed = [r for r, st in now.items() if self._pushed.get(r) != st]
        for rel in sorted(changed, key=lambda r: r in self.last):
            put_file(self.local / rel, join(self.url, rel))
        for rel in sorted(set(self._pushed) - set(now)):
            remove(join(self.url, rel))
        self._pushed = now


#: URL schemes tf.data reads by itself: its GCS file system, and its in-memory one (``ram://``:
#: notebooks and tests); others are staged.
TENSORFLOW_SCHEMES = ("gs", "ram")


def for_tensorflow(spec: str) -> str:
    """A path TensorFlow can read for ``spec``: local paths and ``gs://`` (``ram://``) URLs as they are;
    other URLs (``s3://``: TensorFlow has no S3 filesystem any more) are downloaded to
    :func:`cache_dir` first (a directory, an object, or a glob's objects), kept there for the
    next run."""
    spec = local_path(spec)
    if not is_url(spec) or spec.split("://", 1)[0] in TENSORFLOW_SCHEMES:
        return spec
    fs, p = _filesystem(spec)
    try:
        if any(c in p for c in "*?["):
            parent = spec[:spec.rfind("/", 0, min(spec.find(c) for c in "*?[" if c in spec))]
            target = cache_dir("staged", _cache_key(parent))
            for url in expand_inputs([spec])[0]:
                fetch(url, target / url[len(parent):].strip("/"))
            return str(target / spec[len(parent):].strip("/"))
        if fs.isfile(p):
            base, name = spec.rsplit("/", 1)
            return str(fetch(spec, cache_dir("staged", _cache_key(base)) / name))
    except OSError:
        raise
    except Exception as err:  # noqa: BLE001
        raise _fail(spec, err, "list it") from None
    return str(fetch_dir(spec, local=cache_dir("staged", _cache_key(spec))))


# ------------------------------------------------------------------------------------------
# What the Rust core calls to read URLs (rust/py/src/storage.rs)

_PREFETCH = ThreadPoolExecutor(max_workers=8, thread_name_prefix="albert-fast-read")
_FIRST_CHUNK = 256 << 10
_MAX_CHUNK = 16 << 20


class _RangeReader:
    """Sequential ranged reads of one object from an offset: chunks grow from 256 KiB to
    16 MiB, the next one fetched while the current one is consumed."""

    def __init__(self, url: str, offset: int) -> None:
        self.url = url
        self.fs, self.path = _filesystem(url)
        self.end = size(url)
        self.pos = min(offset, self.end)
        self.chunk = b""
        self.at = 0
        self.next_size = _FIRST_CHUNK
        self.pending: Optional[Future] = None
        self._request()

    def _request(self) -> None:
        if self.pos >= self.end:
            self.pending = None
            return
        start, stop = self.pos, min(self.end, self.pos + self.next_size)
        self.pos = stop
        self.next_size = min(self.next_size * 2, _MAX_CHUNK)
        self.pending = _PREFETCH.submit(self.fs.cat_file, self.path, start=start, end=stop)

    def read(self, n: int) -> bytes:
        if self.at >= len(self.chunk):
            if self.pending is None:
                return b""
            try:
                self.chunk = self.pending.result()
            except Exception as err:  # noqa: BLE001
                raise _fail(self.url, err, "read it") from None
            self.at = 0
            self._request()
        out = self.chunk[self.at:self.at + n]
        self.at += len(out)
        return out

    def close(self) -> None:
        if self.pending is not None:
            self.pending.cancel()
        self.chunk = b""


def core_open(url: str, offset: int) -> _RangeReader:
    return _RangeReader(url, offset)


def core_size(url: str) -> int:
    return size(url)


def core_version(url: str) -> str:
    return version(url)


def temp_dir(prefix: str = "albert-fast-") -> tempfile.TemporaryDirectory:
    """A local scratch directory for files on their way to object storage."""
    return tempfile.TemporaryDirectory(prefix=prefix)
