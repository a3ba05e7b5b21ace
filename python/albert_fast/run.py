"""``albert-fast run CONFIG``: raw text to a verified Hugging Face model in one command. The
stages run in order, each into its own directory under ``run.output``; a finished stage records
what it was made from (config hash, input checksums, version, output fingerprint) in
``OUT/.stages/STAGE.json`` and is skipped while that still matches, an interrupted one resumes in
place, a changed one starts over (docs/run.md)."""

from __future__ import annotations

import difflib
import hashlib
import json
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

from pydantic import ValidationError

from albert_fast.config import (SECTION_MODELS, Config, config_from_dict, format_validation_error,
                                read_config_file)
from albert_fast.create_data import create_pretraining_data
from albert_fast.errors import ConfigError
from albert_fast.export_hf import export_hf, fill_mask_lines
from albert_fast.io_utils import atomic_write_json, ensure_output_dir, file_sha256, human_size
from albert_fast.prepare_corpus import prepare_corpus
from albert_fast.pretrain import pretrain
from albert_fast.runtime import PRECISIONS, STRATEGIES
from albert_fast.train_tokenizer import train_tokenizer

STAGES = ("prepare-corpus", "train-tokenizer", "create-data", "pretrain", "export-hf")
#: Output directory of each stage below ``run.output``.
STAGE_DIRS = {"prepare-corpus": "corpus", "train-tokenizer": "tokenizer", "create-data": "data",
              "pretrain": "model", "export-hf": "hf"}
#: Config sections each stage depends on (a change there re-runs the stage and those after it).
STAGE_SECTIONS = {"prepare-corpus": ("corpus",), "train-tokenizer": ("text", "tokenizer"),
                  "create-data": ("text", "data"), "pretrain": ("model", "data", "pretraining"),
                  "export-hf": ("text",)}
RECORDS = ".stages"


@dataclass
class RunSettings:
    """The ``run`` section of a run config."""

    input: list[str]
    output: Path
    prepare: dict = field(default_factory=dict)  # keyword options of prepare_corpus
    pretrain: dict = field(default_factory=dict)  # strategy, precision, ...
    create_data: dict = field(default_factory=dict)  # eval_fraction, compression, ...
    fill_mask: Optional[str] = None


_RUN_KEYS = {"input", "output", "prepare", "create_data", "pretrain", "fill_mask"}


def load_run_config(path: str | os.PathLike) -> tuple[RunSettings, Config, dict]:
    """Splits a run YAML into its ``run`` section and the validated :class:`Config`. Relative
    paths are taken relative to the current directory (where the command runs)."""
    raw = read_config_file(path)
    if not isinstance(raw, dict) or not isinstance(raw.get("run"), dict):
        raise ConfigError(f"{path}: a run config needs a 'run' section with input and output "
                          "(see configs/demo.yaml)")
    raw = dict(raw)
    section = raw.pop("run")
    unknown = set(section) - _RUN_KEYS
    if unknown:
        raise ConfigError(f"{path}: run.{sorted(unknown)[0]}: unknown key; run takes "
                          f"{', '.join(sorted(_RUN_KEYS))}")
    for key in ("input", "output"):
        if not section.get(key):
            raise ConfigError(f"{path}: run.{key} is missing")
    inputs = section["input"] if isinstance(section["input"], list) else [section["input"]]
    for opt in ("prepare", "create_data", "pretrain"):
        if not isinstance(section.get(opt, {}), dict):
            raise ConfigError(f"{path}: run.{opt} must be a mapping of options")
    settings = RunSettings([str(p) for p in inputs], Path(str(section["output"])),
                           dict(section.get("prepare") or {}), dict(section.get("pretrain") or {}),
                           dict(section.get("create_data") or {}), section.get("fill_mask"))
    cfg = config_from_dict(raw, source=str(path))
    check_stage_options(settings, cfg, str(path))
    return settings, cfg, section


#: ``run.<key>``: the stage function that takes those options, the arguments ``run`` passes
#: itself, and the config section whose fields the stage also takes as options.
_STAGE_OPTIONS = {"prepare": (prepare_corpus, {"inputs", "output", "config", "progress"}, "corpus"),
                  "create_data": (create_pretraining_data,
                                  {"inputs", "tokenizer", "output_dir", "config", "progress"},
                                  "data"),
                  "pretrain": (pretrain, {"config", "data", "output_dir", "progress"}, None)}


def check_stage_options(settings: RunSettings, cfg: Config, source: str) -> None:
    """Every option in ``run.prepare``, ``run.create_data`` and ``run.pretrain`` must be one its
    stage takes (a keyword of its Python function, or a field of the config section it
    overrides), with a valid value: a ConfigError naming ``run.SECTION.KEY`` before any stage
    runs, rather than a failure in that stage hours later."""
    import inspect

    for key, (func, fixed, section) in _STAGE_OPTIONS.items():
        options = getattr(settings, key)
        params = {n for n, p in inspect.signature(func).parameters.items()
                  if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)} - fixed
        fields = SECTION_MODELS[section].model_fields if section else {}
        overrides = {}
        for name, value in options.items():
            where = f"{source}: run.{key}.{name}"
            if name in fixed:
                raise ConfigError(f"{where}: set by albert-fast run itself (run.input, "
                                  "run.output and the config sections)")
            if name in fields:
                overrides[name] = value
            elif name not in params:
                known = sorted(params | set(fields))
                close = difflib.get_close_matches(name, known, n=2, cutoff=0.6)
                hint = f"; did you mean {' or '.join(map(repr, close))}?" if close else ""
                raise ConfigError(f"{where}: unknown option; {key} takes {', '.join(known)}"
                                  f"{hint}")
        if key == "pretrain":
            for name, allowed in (("strategy", STRATEGIES), ("precision", PRECISIONS)):
                if name in options and options[name] not in allowed:
                    raise ConfigError(f"{source}: run.pretrain.{name} = {options[name]!r}: "
                                      f"choose one of {', '.join(allowed)}")
        if overrides:
            try:
                SECTION_MODELS[section].model_validate(
                    dict(getattr(cfg, section).model_dump(), **overrides))
            except ValidationError as err:
                lines = [f"run.{key}.{line}" for line in format_validation_error(err)]
                raise ConfigError(f"{source}: " + "; ".join(lines)) from None


# --------------------------------------------------------------------------------------------
# Fingerprints

def _files_of(paths: Sequence[str | os.PathLike]) -> list[Path]:
    import glob

    files: list[Path] = []
    for spec in paths:
        p = Path(spec)
        if p.is_dir():
            files.extend(sorted(f for f in p.rglob("*") if f.is_file()
                                and not any(part.startswith(".") for part in f.relative_to(p).parts)))
        elif p.is_file():
            files.append(p)
        elif any(c in str(spec) for c in "*?["):
            files.extend(Path(f) for f in sorted(glob.glob(str(spec))) if Path(f).is_file())
        else:
            raise FileNotFoundError(2, "run.input: no such file or directory", str(spec))
    return files


def input_checksum(paths: Sequence[str | os.PathLike]) -> str:
    """SHA-256 over the names, sizes and contents of every input file."""
    h = hashlib.sha256()
    files = _files_of(paths)
    if not files:
        raise ConfigError(f"run.input {', '.join(map(str, paths))}: no files")
    for f in files:
        h.update(f"{f}\0{f.stat().st_size}\0{file_sha256(f)}\n".encode())
    return h.hexdigest()


def output_fingerprint(directory: Path) -> str:
    """Names and sizes of the files a stage wrote (a quick check that they are still there)."""
    h = hashlib.sha256()
    for f in _files_of([directory]) if directory.is_dir() else []:
        h.update(f"{f.relative_to(directory)}\0{f.stat().st_size}\n".encode())
    return h.hexdigest()


def config_hash(cfg: Config, stage: str, extra: Optional[dict] = None) -> str:
    dump = cfg.to_dict()
    part = {s: dump[s] for s in STAGE_SECTIONS[stage] if s in dump}  # corpus: with prepare-corpus
    if extra:
        part["run"] = extra
    return hashlib.sha256(json.dumps(part, sort_keys=True).encode()).hexdigest()


# --------------------------------------------------------------------------------------------
# Stage implementations (the Python APIs of the stages)

@dataclass
class StageContext:
    settings: RunSettings
    cfg: Config
    emit: Callable[[str], None]

    def dir(self, stage: str) -> Path:
        return self.settings.output / STAGE_DIRS[stage]


def _corpus_files(ctx: StageContext) -> str:
    """The prepared corpus shards (prepare-corpus also writes stats and Punkt parameters)."""
    return str(ctx.dir("prepare-corpus") / "corpus-*.txt")


def _stage_prepare_corpus(ctx: StageContext) -> dict:
    return _jsonable(prepare_corpus(ctx.settings.input, ctx.dir("prepare-corpus"), config=ctx.cfg,
                                    progress=False, **ctx.settings.prepare))


def _stage_train_tokenizer(ctx: StageContext) -> dict:
    return _jsonable(train_tokenizer(_corpus_files(ctx), ctx.dir("train-tokenizer"),
                                     config=ctx.cfg, progress=False))


def _stage_create_data(ctx: StageContext) -> dict:
    return _jsonable(create_pretraining_data(_corpus_files(ctx), ctx.dir("train-tokenizer"),
                                             ctx.dir("create-data"), config=ctx.cfg,
                                             progress=False, **ctx.settings.create_data))


def _stage_pretrain(ctx: StageContext) -> dict:
    opts = dict(ctx.settings.pretrain)
    out = ctx.dir("pretrain")
    out.mkdir(parents=True, exist_ok=True)
    result = pretrain(ctx.cfg, str(ctx.dir("create-data")), out, progress=ctx.emit, **opts)
    return {"step": result.step, "train": _jsonable(result.train),
            "eval": _jsonable(result.eval)}


def _stage_export_hf(ctx: StageContext) -> dict:
    texts = [str(f) for f in _files_of([_corpus_files(ctx)])][:4]
    report = export_hf(ctx.dir("pretrain"), ctx.dir("export-hf"),
                       tokenizer=ctx.dir("train-tokenizer"), data=ctx.dir("create-data"),
                       texts=texts, fill_mask_text=ctx.settings.fill_mask, emit=ctx.emit)
    return report.to_dict()


STAGE_FUNCS: dict[str, Callable[[StageContext], dict]] = {
    "prepare-corpus": _stage_prepare_corpus, "train-tokenizer": _stage_train_tokenizer,
    "create-data": _stage_create_data, "pretrain": _stage_pretrain, "export-hf": _stage_export_hf}


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=lambda o: getattr(o, "__dict__", str(o))))


# --------------------------------------------------------------------------------------------
# The run

@dataclass
class StageOutcome:
    stage: str
    status: str  # "ran", "skipped"
    seconds: float
    size_bytes: int
    result: dict


def _dir_size(d: Path) -> int:
    return sum(f.stat().st_size for f in d.rglob("*") if f.is_file()) if d.is_dir() else 0


def _version() -> str:
    from albert_fast import __version__

    return __version__


def _stage_inputs(stage: str, settings: RunSettings, records: dict) -> str:
    if stage == "prepare-corpus":
        return input_checksum(settings.input)
    before = STAGES[STAGES.index(stage) - 1]
    rec = records.get(before)
    if rec is None:
        out = settings.output / STAGE_DIRS[before]
        if not out.is_dir():
            raise ConfigError(f"stage {stage} needs the output of {before} in {out}, which does "
                              f"not exist; run without --from (or --from {before})")
        return "unrecorded:" + output_fingerprint(out)
    return hashlib.sha256(json.dumps([rec["inputs"], rec["config_hash"], rec["output"]]
                                     ).encode()).hexdigest()


def _read_record(path: Path) -> Optional[dict]:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None


def run_pipeline(config_path: str | os.PathLike, *, from_stage: Optional[str] = None,
                 until: Optional[str] = None, emit: Callable[[str], None] = None,
                 stage_funcs: Optional[dict] = None) -> list[StageOutcome]:
    """Runs the stages of a run config (see the module docstring); returns what each did."""
    emit = emit or (lambda line: print(line, flush=True))
    funcs = dict(STAGE_FUNCS, **(stage_funcs or {}))
    for name, value in (("--from", from_stage), ("--until", until)):
        if value is not None and value not in STAGES:
            raise ConfigError(f"{name} {value!r}: choose one of {', '.join(STAGES)}")
    first = STAGES.index(from_stage) if from_stage else 0
    last = STAGES.index(until) if until else len(STAGES) - 1
    if first > last:
        raise ConfigError(f"--from {from_stage} comes after --until {until}")
    settings, cfg, section = load_run_config(config_path)
    out = ensure_output_dir(settings.output)
    rec_dir = out / RECORDS
    rec_dir.mkdir(exist_ok=True)
    records = {s: _read_record(rec_dir / f"{s}.json") for s in STAGES}
    records = {s: r for s, r in records.items() if r is not None}
    ctx = StageContext(settings, cfg, emit)
    outcomes: list[StageOutcome] = []
    selected = STAGES[first:last + 1]
    invalidated: set[str] = set()  # finished before, but an earlier stage has just re-run
    for i, stage in enumerate(selected, 1):
        stage_dir = ctx.dir(stage)
        extra = {"prepare-corpus": settings.prepare, "create-data": settings.create_data,
                 "pretrain": settings.pretrain,
                 "export-hf": {"fill_mask": settings.fill_mask}}.get(stage)
        want = {"stage": stage, "config_hash": config_hash(cfg, stage, extra),
                "inputs": _stage_inputs(stage, settings, records), "version": _version()}
        rec = records.get(stage)
        header = f"[{i}/{len(selected)}] {stage} -> {stage_dir}"
        if rec and all(rec.get(k) == v for k, v in want.items()) and \
                rec.get("output") == output_fingerprint(stage_dir):
            emit(f"{header}: up to date, skipped")
            outcomes.append(StageOutcome(stage, "skipped", 0.0, _dir_size(stage_dir),
                                         rec.get("result", {})))
            continue
        (rec_dir / f"{stage}.json").unlink(missing_ok=True)
        records.pop(stage, None)
        if (rec is not None or stage in invalidated) and stage_dir.exists():
            # Made from other inputs or settings: start over rather than resume into it.
            emit(f"{header}: inputs or settings changed, starting over")
            shutil.rmtree(stage_dir)
        else:
            emit(f"{header}: running" + (" (resuming)" if stage_dir.exists() else ""))
        # Later stages depend on this one: their records are stale now.
        for later in STAGES[STAGES.index(stage) + 1:]:
            if records.pop(later, None) is not None:
                invalidated.add(later)
            (rec_dir / f"{later}.json").unlink(missing_ok=True)
        start = time.monotonic()
        result = funcs[stage](ctx)
        seconds = time.monotonic() - start
        want.update(output=output_fingerprint(stage_dir), seconds=round(seconds, 3),
                    finished=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                    result=result or {})
        atomic_write_json(rec_dir / f"{stage}.json", want)
        records[stage] = want
        emit(f"{header}: done in {seconds:.1f}s")
        outcomes.append(StageOutcome(stage, "ran", seconds, _dir_size(stage_dir), result or {}))
    emit(summary(outcomes, settings))
    return outcomes


def summary(outcomes: list[StageOutcome], settings: RunSettings) -> str:
    """The end-of-run table: time and output size per stage, final metrics, the HF model."""
    lines = ["", "summary", f"  {'stage':<16}{'status':<9}{'time':>9}{'size':>11}"]
    for o in outcomes:
        took = f"{o.seconds:>8.1f}s" if o.status == "ran" else f"{'-':>9}"
        lines.append(f"  {o.stage:<16}{o.status:<9}{took}{human_size(o.size_bytes):>11}")
    by = {o.stage: o.result for o in outcomes}
    pre = by.get("pretrain") or {}
    ev = pre.get("eval") or pre.get("train") or {}
    if ev:
        lines.append(f"  final (step {pre.get('step')}): masked_lm_accuracy "
                     f"{ev.get('masked_lm_accuracy', float('nan')):.4f}, masked_lm_loss "
                     f"{ev.get('masked_lm_loss', float('nan')):.4f}, sentence_order_accuracy "
                     f"{ev.get('sentence_order_accuracy', float('nan')):.4f}, "
                     f"sentence_order_loss {ev.get('sentence_order_loss', float('nan')):.4f}")
    exp = by.get("export-hf")
    if exp:
        hf = settings.output / STAGE_DIRS["export-hf"]
        lines.append(f"  Hugging Face model: {hf}  (AutoModelForMaskedLM.from_pretrained("
                     f"{str(hf)!r}))")
        if exp.get("fill_mask"):
            lines.extend("  " + line for line in fill_mask_lines(exp["fill_mask"],
                                                                 exp.get("fill_mask_text")))
    return "\n".join(lines)
