"""Hugging Face export and weight import (spec §8, §9).

* :func:`export_hf` turns one of our checkpoints into a directory that ``transformers`` loads with
  no conversion step (``config.json``, ``model.safetensors``, ``spiece.model``, tokenizer files)
  and then *verifies* it: ``AlbertForPreTraining`` must give our MLM and SOP logits within
  ``1e-4`` on a batch of instances, the slow and the fast ``AlbertTokenizer`` must give our
  tokenizer's ids, and the ``fill-mask`` pipeline must run. Everything is written to a hidden
  sibling directory first and renamed to the final name only after the checks passed.
* :func:`read_weights` reads the weights of an ALBERT model from any of three sources, keyed by
  the original TF variable names of ``modeling.py`` (spec §8): one of our checkpoints (a run
  directory, a checkpoint prefix, a ``best``/import directory), a Hugging Face ALBERT directory
  (safetensors or ``pytorch_model.bin``), or an original TF1 checkpoint
  (``bert/embeddings/word_embeddings``, ...). :func:`assign_weights` puts them into a model
  (``init_from_group0`` honoured), used by the trainer's ``init_checkpoint`` and by
  :func:`import_weights` (``albert-fast import``).

The name correspondence is the one of :mod:`albert_fast.model` (``reference_variable_map``,
``hf_parameter_name``); this module adds no second map.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Optional, Sequence

from albert_fast.config import Config, ModelConfig, config_from_dict, load_config
from albert_fast.errors import ConfigError, InputError, ModelError

#: Tolerance of the logits parity check (float32), as the issue asks.
LOGITS_TOLERANCE = 1e-4
#: Our ``hidden_act`` -> Hugging Face's name for the same function. The original's "gelu" is
#: the tanh approximation, which HF calls "gelu_new" (HF's "gelu" is the exact erf form).
HF_ACTIVATION = {"gelu": "gelu_new", "gelu_new": "gelu_new",
                 "gelu_pytorch_tanh": "gelu_pytorch_tanh", "gelu_exact": "gelu",
                 "gelu_python": "gelu_python", "relu": "relu", "tanh": "tanh",
                 "linear": "linear", "swish": "swish", "silu": "silu"}
#: HF ``hidden_act`` -> ours (the inverse, with HF's exact "gelu" kept exact).
FROM_HF_ACTIVATION = {"gelu_new": "gelu", "gelu": "gelu_exact", "gelu_pytorch_tanh": "gelu",
                      "gelu_fast": "gelu", "gelu_python": "gelu_exact", "relu": "relu",
                      "tanh": "tanh", "linear": "linear", "swish": "swish", "silu": "silu"}
#: AlbertConfig fields that are albert_config fields of the same name and meaning.
_SHARED_FIELDS = ("vocab_size", "embedding_size", "hidden_size", "num_hidden_layers",
                  "num_hidden_groups", "num_attention_heads", "intermediate_size",
                  "inner_group_num", "hidden_dropout_prob", "attention_probs_dropout_prob",
                  "max_position_embeddings", "type_vocab_size", "initializer_range")
#: HF parameters that are views of others (the MLM decoder is tied to the word embeddings and
#: to ``predictions.bias``); HF rebuilds them on load.
_HF_TIED = ("predictions.decoder.weight", "predictions.decoder.bias")
_MAPPING_PREFIX = "bert/encoder/embedding_hidden_mapping_in/"
#: Texts that exercise every rule of the tokenizer pipeline (spec §2): case, accents, Q3 quotes,
#: the digit-comma rule, odd whitespace, special tokens, non-Latin scripts.
PROBE_TEXTS = (
    "The quick brown fox jumps over the lazy dog.",
    "Bäume, Öl und Straße: Ça va? naïve café ÉCOLE",
    "``Quoted,'' he said -- in 1998, 2,000 men (and 3,5 kg) x19, y20.",
    "  lots   of\tspaces\u00a0and\u2003odd\x1cseparators\u3000 ",
    "[CLS] a [MASK] b [SEP] <unk> <pad>",
    "Ἀθῆναι, Москва, 東京, ﬁne ligatures ＡＢＣ ①",
)


# --------------------------------------------------------------------------------------------
# Optional dependencies

def _require_hf(what: str) -> None:
    """Raises a clear error when the ``hf`` extra (transformers, torch, safetensors) is
    missing."""
    import importlib.util

    # find_spec, not import: torch must not be loaded next to TensorFlow (see run_hf_worker).
    missing = [m for m in ("transformers", "safetensors", "torch", "sentencepiece")
               if importlib.util.find_spec(m) is None]
    if missing:
        raise ModelError(
            f"{what} needs {', '.join(missing)}: install the Hugging Face extra with "
            "`pip install 'albert-fast[hf]'` (see docs/export.md for the torch wheel choice)")


def _quiet_tf() -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


# --------------------------------------------------------------------------------------------
# Our checkpoints

@dataclass
class CheckpointSource:
    """One of our checkpoints: the TF checkpoint prefix and the config it was trained with."""

    prefix: str
    config: Config
    config_path: Optional[Path]
    run_dir: Path
    step: Optional[int] = None


def _read_run_config(path: Path) -> Config:
    from albert_fast.config import load_config

    return load_config(path)


def resolve_checkpoint(source: str | os.PathLike, config: Optional[Config] = None
                       ) -> CheckpointSource:
    """Finds the checkpoint and its config for ``source``: a run directory (its latest
    ``ckpt-N``), a directory with a ``model`` checkpoint (``RUN/best``, an ``albert-fast import``
    output), or a checkpoint prefix (``RUN/ckpt-500``). ``config`` (when given) must agree with
    the recorded one on every ``model`` field."""
    import tensorflow as tf

    path = Path(source)
    if not path.exists() and not Path(str(path) + ".index").is_file():
        raise FileNotFoundError(2, "no such run directory or checkpoint", str(path))
    if path.is_dir():
        prefix = tf.train.latest_checkpoint(str(path))
        if prefix is None and (path / "model.index").is_file():
            prefix = str(path / "model")
        if prefix is None:
            raise ModelError(f"{path}: no checkpoint in this directory (a run that has not saved "
                             "a checkpoint yet, or not a run directory)")
        run_dir = path
    else:
        if not Path(str(path) + ".index").is_file():
            raise ModelError(f"{path}: not a checkpoint (expected {path}.index)")
        prefix = str(path)
        run_dir = path.parent
    config_path = next((p / "config.yaml" for p in (run_dir, run_dir.parent)
                        if (p / "config.yaml").is_file()), None)
    recorded = _read_run_config(config_path) if config_path else None
    if recorded is None and config is None:
        raise ConfigError(f"{run_dir}: no config.yaml beside the checkpoint; give the config it "
                          "was trained with (--config)")
    if recorded is not None and config is not None:
        check_same_architecture(config.model, recorded.model, str(config.source),
                                str(config_path))
    cfg = recorded if recorded is not None else config
    assert cfg is not None
    step = _step_of(prefix)
    return CheckpointSource(prefix, cfg, config_path, run_dir, step)


def _step_of(prefix: str) -> Optional[int]:
    tail = prefix.rsplit("-", 1)
    return int(tail[1]) if len(tail) == 2 and tail[1].isdigit() else None


def check_same_architecture(given: ModelConfig, recorded: ModelConfig, given_src: str,
                            recorded_src: str) -> None:
    """Raises ConfigError naming every ``model`` field on which two configs disagree."""
    diffs = [f"model.{k} = {v!r} in {given_src} but {recorded.model_dump()[k]!r} in "
             f"{recorded_src}" for k, v in given.model_dump().items()
             if recorded.model_dump()[k] != v]
    if diffs:
        raise ConfigError("the config disagrees with the checkpoint: " + "; ".join(diffs))


def load_model(source: str | os.PathLike, config: Optional[Config] = None) -> tuple[Any, CheckpointSource]:
    """Builds our Keras model and restores the weights of one of our checkpoints into it."""
    _quiet_tf()
    import tensorflow as tf

    from albert_fast.model import build_pretraining_model

    ckpt = resolve_checkpoint(source, config)
    model = build_pretraining_model(ckpt.config.model)
    restore_weights(model, ckpt.prefix, str(ckpt.config_path or "the config"))
    return model, ckpt


#: Lists of the model's trainable variables (in ``model.trainable_variables`` order) inside
#: our checkpoints. Keras 3 layers do not expose Dense kernels to ``tf.train.Checkpoint``'s
#: object graph under the model, so a checkpoint of ``model`` alone misses them; the
#: optimizer's variable list (training checkpoints) and an explicit ``weights`` list
#: (``best/``, import outputs) hold every weight.
_WEIGHT_LISTS = (("optimizer", "_trainable_variables"),
                 ("optimizer", "inner_optimizer", "_trainable_variables"),
                 ("weights",))


def _checkpoint_weight_keys(reader: Any) -> Optional[list[str]]:
    from tensorflow.core.protobuf import trackable_object_graph_pb2

    graph = trackable_object_graph_pb2.TrackableObjectGraph()
    graph.ParseFromString(reader.get_tensor("_CHECKPOINTABLE_OBJECT_GRAPH"))

    def child(node: int, name: str) -> Optional[int]:
        return next((c.node_id for c in graph.nodes[node].children if c.local_name == name),
                    None)

    for path in _WEIGHT_LISTS:
        node: Optional[int] = 0
        for name in path:
            node = child(node, name) if node is not None else None
        if node is None:
            continue
        keys = []
        for i in range(len(graph.nodes[node].children)):
            item = child(node, str(i))
            attrs = graph.nodes[item].attributes if item is not None else []
            key = next((a.checkpoint_key for a in attrs if a.name == "VARIABLE_VALUE"), None)
            if key is None:
                break
            keys.append(key)
        else:
            return keys
    return None


def restore_weights(model: Any, prefix: str, config_src: str) -> None:
    """Restores every weight of our model from one of our checkpoints; ModelError when the
    checkpoint does not fit the architecture."""
    import tensorflow as tf

    try:
        reader = tf.train.load_checkpoint(prefix)
        keys = _checkpoint_weight_keys(reader)
    except (tf.errors.OpError, ValueError) as err:
        raise ModelError(f"{prefix}: cannot read the checkpoint: {str(err).splitlines()[0]}"
                         ) from None
    variables = model.trainable_variables
    if keys is None:
        raise ModelError(f"{prefix}: the checkpoint has no list of the model's weights (not a "
                         "checkpoint of albert_fast's trainer or import)")
    if len(keys) != len(variables):
        raise ModelError(f"{prefix}: the checkpoint holds {len(keys)} weights but the model of "
                         f"{config_src} has {len(variables)}; it was trained with another "
                         "architecture")
    from albert_fast.model import reference_name

    for key, var in zip(keys, variables):
        value = reader.get_tensor(key)
        if tuple(value.shape) != tuple(var.shape):
            raise ModelError(f"{prefix}: {reference_name(var.path)} has shape "
                             f"{tuple(value.shape)} in the checkpoint but {tuple(var.shape)} in "
                             f"the model of {config_src}; it was trained with another "
                             "architecture")
        var.assign(value)


def save_weights(model: Any, prefix: str | os.PathLike) -> None:
    """Writes a weights-only checkpoint that :func:`restore_weights` reads completely."""
    import tensorflow as tf

    tf.train.Checkpoint(model=model, weights=list(model.trainable_variables)).write(str(prefix))


def model_weights(model: Any) -> dict[str, Any]:
    """{original TF variable name: numpy array} of every weight of our model."""
    from albert_fast.model import reference_variable_map

    return {name: var.numpy() for name, var in reference_variable_map(model).items()}


# --------------------------------------------------------------------------------------------
# Reading weights from any source

@dataclass
class Weights:
    """Weights keyed by the original TF variable names (spec §8), with where they came from."""

    tensors: dict[str, Any]
    kind: str  # "ours", "hf" or "tf1"
    source: str
    model_config: Optional[ModelConfig] = None
    tokenizer_dir: Optional[Path] = None
    text: dict = field(default_factory=dict)  # lowercase/strip_accents the tokenizer was made with


def detect_kind(source: str | os.PathLike) -> str:
    """``hf`` (a directory with config.json and model.safetensors/pytorch_model.bin), ``ours``
    (a run directory, ``model``/``ckpt-N`` checkpoint) or ``tf1`` (an original checkpoint whose
    variables are named ``bert/...``)."""
    path = Path(source)
    if path.is_dir() and (path / "config.json").is_file() and any(
            (path / n).is_file() for n in ("model.safetensors", "pytorch_model.bin")):
        return "hf"
    _quiet_tf()
    import tensorflow as tf

    prefix = str(path)
    if path.is_dir():
        prefix = tf.train.latest_checkpoint(str(path)) or (
            str(path / "model") if (path / "model.index").is_file() else None)
        if prefix is None:
            found = sorted(path.glob("*.index"))
            if len(found) == 1:
                prefix = str(found[0])[:-len(".index")]
        if prefix is None:
            if not any(path.iterdir()):
                raise ModelError(f"{path}: empty directory, no checkpoint")
            raise ModelError(f"{path}: neither a Hugging Face ALBERT directory (config.json + "
                             "model.safetensors) nor a directory with a TF checkpoint")
    elif not Path(prefix + ".index").is_file():
        raise FileNotFoundError(2, "no such checkpoint, run or Hugging Face directory", str(path))
    names = {n for n, _ in tf.train.list_variables(prefix)}
    if any(n.startswith("bert/") for n in names):
        return "tf1"
    return "ours"


def read_weights(source: str | os.PathLike, config: Optional[Config] = None) -> Weights:
    """Reads all ALBERT weights of ``source`` (see :func:`detect_kind`)."""
    kind = detect_kind(source)
    if kind == "hf":
        return read_hf_weights(source)
    if kind == "tf1":
        return read_tf1_weights(source, config)
    model, ckpt = load_model(source, config)
    tok_dir = find_tokenizer(ckpt.run_dir)
    return Weights(model_weights(model), "ours", ckpt.prefix, ckpt.config.model, tok_dir,
                   ckpt.config.text.model_dump())


def _tf1_prefix(source: str | os.PathLike) -> str:
    import tensorflow as tf

    path = Path(source)
    if not path.is_dir():
        return str(path)
    prefix = tf.train.latest_checkpoint(str(path))
    if prefix is None:
        found = sorted(path.glob("*.index"))
        if len(found) != 1:
            raise ModelError(f"{path}: expected one TF checkpoint (*.index), found {len(found)}")
        prefix = str(found[0])[:-len(".index")]
    return prefix


def read_tf1_weights(source: str | os.PathLike, config: Optional[Config] = None) -> Weights:
    """An original ``run_pretraining.py`` checkpoint: variables under the names of spec §8
    (optimizer slots and ``global_step`` are skipped). The architecture comes from ``config``
    or an ``albert_config.json`` beside the checkpoint."""
    _quiet_tf()
    import tensorflow as tf

    prefix = _tf1_prefix(source)
    reader = tf.train.load_checkpoint(prefix)
    tensors = {}
    for name in reader.get_variable_to_shape_map():
        if not (name.startswith("bert/") or name.startswith("cls/")):
            continue  # global_step
        if name.endswith(("/adam_m", "/adam_v", "/lamb_m", "/lamb_v")) or "/Momentum" in name:
            continue  # optimizer slots: warm start takes weights only
        tensors[name] = reader.get_tensor(name)
    model_config = config.model if config is not None else None
    beside = Path(prefix).parent / "albert_config.json"
    if model_config is None and beside.is_file():
        raw = json.loads(beside.read_text(encoding="utf-8"))
        model_config = _model_config({k: v for k, v in raw.items()
                                      if k in ModelConfig.model_fields}, str(beside))
    tok = Path(prefix).parent
    return Weights(tensors, "tf1", prefix, model_config,
                   tok if (tok / "spiece.model").is_file() else None)


def read_hf_weights(source: str | os.PathLike) -> Weights:
    """A Hugging Face ALBERT directory (``AlbertForPreTraining``, ``AlbertForMaskedLM`` or a bare
    ``AlbertModel``): safetensors read with numpy (``pytorch_model.bin`` needs torch)."""
    import numpy as np

    from albert_fast.model import hf_parameter_name

    path = Path(source)
    hf_config = json.loads((path / "config.json").read_text(encoding="utf-8"))
    if hf_config.get("model_type", "albert") != "albert":
        raise ModelError(f"{path}/config.json: model_type is {hf_config.get('model_type')!r}, "
                         "not 'albert'")
    model_config = model_config_from_hf(hf_config, str(path / "config.json"))
    state = _read_hf_state(path)
    if not any(k.startswith("albert.") for k in state):
        # AlbertModel saves its parameters without the "albert." prefix.
        state = {(k if k.startswith(("predictions.", "sop_classifier.")) else "albert." + k): v
                 for k, v in state.items()}
    names = reference_names(model_config)
    tensors = {}
    for ref in names:
        hf, transpose = hf_parameter_name(ref)
        if hf in state:
            value = np.asarray(state[hf])
            tensors[ref] = value.T if transpose else value
    mapping_w = "albert.encoder.embedding_hidden_mapping_in.weight"
    if model_config.embedding_size == model_config.hidden_size and mapping_w in state:
        # HF always has the projection; ours (like the reference) only when E != H, so it must
        # be the identity to be dropped without changing the model.
        w = np.asarray(state[mapping_w])
        b = np.asarray(state["albert.encoder.embedding_hidden_mapping_in.bias"])
        if not (np.allclose(w, np.eye(w.shape[0]), atol=1e-6) and np.allclose(b, 0, atol=1e-6)):
            raise ModelError(f"{path}: embedding_size == hidden_size but the HF model's "
                             "embedding_hidden_mapping_in is not the identity; the reference "
                             "architecture has no projection in that case, so it cannot be "
                             "imported")
    text = {}
    tok_cfg = path / "tokenizer_config.json"
    if tok_cfg.is_file():
        t = json.loads(tok_cfg.read_text(encoding="utf-8"))
        text = {"lowercase": bool(t.get("do_lower_case", True)),
                "strip_accents": not bool(t.get("keep_accents", False))}
    return Weights(tensors, "hf", str(path), model_config,
                   path if (path / "spiece.model").is_file() else None, text)


def _read_hf_state(path: Path) -> dict[str, Any]:
    st = path / "model.safetensors"
    if st.is_file():
        from safetensors.numpy import load_file

        return load_file(str(st))
    try:
        import torch
    except ImportError:
        raise ModelError(f"{path}/pytorch_model.bin: reading it needs torch; install "
                         "albert-fast[hf] or convert it to model.safetensors") from None
    state = torch.load(str(path / "pytorch_model.bin"), map_location="cpu", weights_only=True)
    return {k: v.float().numpy() for k, v in state.items()}


def model_config_from_hf(hf: dict, where: str = "config.json") -> ModelConfig:
    """Our ``model`` section from an ``AlbertConfig`` dict."""
    values = {k: hf[k] for k in _SHARED_FIELDS if k in hf}
    act = hf.get("hidden_act", "gelu_new")
    if act not in FROM_HF_ACTIVATION:
        raise ModelError(f"{where}: hidden_act {act!r} has no counterpart here; supported: "
                         f"{', '.join(sorted(FROM_HF_ACTIVATION))}")
    values["hidden_act"] = FROM_HF_ACTIVATION[act]
    eps = hf.get("layer_norm_eps", 1e-12)
    if abs(float(eps) - 1e-12) > 1e-15:
        raise ModelError(f"{where}: layer_norm_eps = {eps}; ALBERT (and this model) uses 1e-12")
    if hf.get("position_embedding_type", "absolute") != "absolute":
        raise ModelError(f"{where}: position_embedding_type "
                         f"{hf['position_embedding_type']!r}; only 'absolute' is ALBERT's")
    return _model_config(values, where)


def _model_config(values: dict, where: str) -> ModelConfig:
    from pydantic import ValidationError

    try:
        return ModelConfig.model_validate(values)
    except ValidationError as err:
        from albert_fast.config import format_validation_error

        raise ConfigError(f"{where}: {'; '.join(format_validation_error(err))}") from None


def reference_names(model_config: ModelConfig) -> list[str]:
    """Every original TF variable name of a model with this architecture."""
    return list(_names_model(model_config))


_NAMES_CACHE: dict[str, list[str]] = {}


def _names_model(model_config: ModelConfig) -> list[str]:
    key = model_config.model_dump_json()
    if key not in _NAMES_CACHE:
        from albert_fast.model import build_pretraining_model, reference_variable_map

        _quiet_tf()
        _NAMES_CACHE[key] = list(reference_variable_map(build_pretraining_model(model_config)))
    return _NAMES_CACHE[key]


# --------------------------------------------------------------------------------------------
# Putting weights into a model (warm start, import)

@dataclass
class AssignReport:
    loaded: list[str]
    missing: list[str]  # model variables the source has no value for (kept as initialised)
    unused: list[str]  # source tensors no model variable takes


def _group0_name(name: str) -> str:
    import re

    return re.sub(r"transformer/group_\d+/", "transformer/group_0/", name)


def assign_weights(model: Any, weights: Weights, init_from_group0: bool = False,
                   require_all: bool = False) -> AssignReport:
    """Assigns ``weights`` to our model by original variable name. Shapes must match (the error
    names the variable, both shapes and the source); with ``init_from_group0`` every layer group
    takes group 0's weights (the reference's assignment map). ``require_all``: every model
    variable must receive a value."""
    from albert_fast.model import reference_variable_map

    variables = reference_variable_map(model)
    loaded, missing = [], []
    used = set()
    for name, var in variables.items():
        src = _group0_name(name) if init_from_group0 else name
        if src not in weights.tensors:
            missing.append(name)
            continue
        value = weights.tensors[src]
        if tuple(value.shape) != tuple(var.shape):
            raise ModelError(
                f"{weights.source}: {src} has shape {tuple(value.shape)} but the model's "
                f"{name} is {tuple(var.shape)}; the checkpoint was trained with another "
                "architecture than the config says")
        var.assign(value.astype(var.dtype if isinstance(var.dtype, str) else "float32"))
        loaded.append(name)
        used.add(src)
    unused = [n for n in weights.tensors if n not in used
              and not (n.startswith(_MAPPING_PREFIX) and n not in variables)]
    if not loaded:
        raise ModelError(f"{weights.source}: none of its {len(weights.tensors)} tensors matches "
                         "a variable of the model; not an ALBERT checkpoint?")
    if require_all and missing:
        raise ModelError(f"{weights.source}: no value for {len(missing)} model variable(s), "
                         f"e.g. {', '.join(missing[:3])}")
    return AssignReport(loaded, missing, unused)


def warm_start(model: Any, init_checkpoint: str, init_from_group0: bool,
               emit: Callable[[str], None] = print) -> AssignReport:
    """``pretraining.init_checkpoint``: weights only (no optimizer state) from one of our
    checkpoints, a Hugging Face ALBERT directory or an original TF1 checkpoint."""
    weights = read_weights(init_checkpoint)
    report = assign_weights(model, weights, init_from_group0)
    note = " (group 0 -> all groups)" if init_from_group0 else ""
    emit(f"warm-started {len(report.loaded)} weights from {weights.kind} checkpoint "
         f"{weights.source}{note}")
    if report.missing:
        emit(f"note: {len(report.missing)} variable(s) not in the checkpoint keep their fresh "
             f"initialisation: {', '.join(report.missing[:5])}"
             + (" ..." if len(report.missing) > 5 else ""))
    return report


# --------------------------------------------------------------------------------------------
# Atomic directories

class _StagingDir:
    """Writes a directory under a hidden temporary sibling and renames it to the final name on
    success; on failure removes it (nothing half-written under the final name)."""

    def __init__(self, final: str | os.PathLike) -> None:
        self.final = Path(final)
        self.tmp = self.final.with_name(f".{self.final.name}.tmp-{os.getpid()}")

    def __enter__(self) -> Path:
        from albert_fast.io_utils import ensure_output_dir

        if self.final.exists() and not self.final.is_dir():
            raise FileExistsError(17, "output exists and is not a directory", str(self.final))
        ensure_output_dir(self.final.parent if str(self.final.parent) else Path("."))
        # Staging directories of earlier exports that were killed (SIGKILL leaves them).
        for stale in self.final.parent.glob(f".{self.final.name}.tmp-*"):
            shutil.rmtree(stale, ignore_errors=True)
        self.tmp.mkdir()
        return self.tmp

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if exc_type is not None:
            shutil.rmtree(self.tmp, ignore_errors=True)
            return
        for f in self.tmp.rglob("*"):
            if f.is_file():
                with open(f, "rb") as fh:
                    os.fsync(fh.fileno())
        old = self.final.with_name(f".{self.final.name}.old-{os.getpid()}")
        if self.final.exists():
            os.replace(self.final, old)
        os.replace(self.tmp, self.final)
        shutil.rmtree(old, ignore_errors=True)


# --------------------------------------------------------------------------------------------
# Import (conversion into our format)

def import_weights(source: str | os.PathLike, output: str | os.PathLike,
                   config: Optional[Config] = None, init_from_group0: bool = False,
                   emit: Callable[[str], None] = print) -> Path:
    """Converts an HF ALBERT directory, an original TF1 checkpoint or one of our checkpoints
    into our format: ``OUT/config.yaml`` and the checkpoint ``OUT/model`` (usable as
    ``init_checkpoint``, by ``export-hf`` and ``pretrain``'s warm start), plus the tokenizer
    (``spiece.model``, ``tokenizer_config.json``) when the source has one."""
    import yaml

    from albert_fast.model import build_pretraining_model

    _quiet_tf()
    import tensorflow as tf

    weights = read_weights(source, config)
    model_config = weights.model_config
    if config is not None and model_config is not None and weights.kind != "tf1":
        check_same_architecture(config.model, model_config, str(config.source), weights.source)
    if model_config is None:
        raise ConfigError(f"{weights.source}: the architecture is unknown; give the "
                          "albert_config (--config) or put albert_config.json beside the "
                          "checkpoint")
    base = config.to_dict() if config is not None else Config().to_dict()
    if config is None:  # the default 512 tokens may exceed a small model's positions
        base["data"]["max_seq_length"] = min(base["data"]["max_seq_length"],
                                             model_config.max_position_embeddings)
    cfg = config_from_dict({**base, "model": model_config.model_dump(mode="json"),
                            **({"text": weights.text} if weights.text else {})},
                           source=str(weights.source))
    model = build_pretraining_model(cfg.model)
    report = assign_weights(model, weights, init_from_group0)
    with _StagingDir(output) as tmp:
        save_weights(model, tmp / "model")
        (tmp / "config.yaml").write_text(yaml.safe_dump(cfg.to_dict(), sort_keys=False),
                                         encoding="utf-8")
        if weights.tokenizer_dir is not None:
            _copy_tokenizer(weights.tokenizer_dir, tmp, cfg)
        (tmp / "import.json").write_text(json.dumps({
            "source": str(source), "kind": weights.kind, "loaded": len(report.loaded),
            "missing": report.missing, "unused": report.unused,
            "init_from_group0": init_from_group0}, indent=2) + "\n", encoding="utf-8")
    emit(f"imported {len(report.loaded)} weights from {weights.kind} {weights.source} into "
         f"{output}")
    if report.missing:
        emit(f"note: {len(report.missing)} variable(s) not in the source were initialised "
             f"fresh: {', '.join(report.missing[:5])}")
    return Path(output)


def _copy_tokenizer(src_dir: Path, out: Path, cfg: Config) -> None:
    shutil.copyfile(src_dir / "spiece.model", out / "spiece.model")
    (out / "tokenizer_config.json").write_text(json.dumps({
        "model_file": "spiece.model", "lowercase": cfg.text.lowercase,
        "strip_accents": cfg.text.strip_accents}, indent=2) + "\n", encoding="utf-8")


# --------------------------------------------------------------------------------------------
# Export

def find_tokenizer(run_dir: Path) -> Optional[Path]:
    """A ``spiece.model`` recorded for a run: in the run directory, its ``tokenizer/``
    subdirectory, or the tokenizer named in ``RUN/inputs.json`` (written by ``albert-fast
    run``)."""
    for d in (run_dir, run_dir / "tokenizer", run_dir.parent):
        if (d / "spiece.model").is_file():
            return d
    rec = run_dir / "inputs.json"
    if rec.is_file():
        tok = json.loads(rec.read_text(encoding="utf-8")).get("tokenizer")
        if tok:
            p = Path(tok)
            return p if p.is_dir() else p.parent
    return None


def _tokenizer_model(tokenizer: str | os.PathLike) -> Path:
    p = Path(tokenizer)
    model = p / "spiece.model" if p.is_dir() else p
    if not model.is_file():
        raise FileNotFoundError(2, "no SentencePiece model (spiece.model) here", str(model))
    return model


def _special_ids(model_file: Path) -> dict[str, int]:
    import sentencepiece as spm

    sp = spm.SentencePieceProcessor(model_file=str(model_file))
    ids = {}
    for tok in ("<pad>", "<unk>", "[CLS]", "[SEP]", "[MASK]"):
        i = sp.piece_to_id(tok)
        if tok != "<unk>" and i == sp.unk_id():
            raise ModelError(f"{model_file}: has no {tok} piece; an ALBERT tokenizer needs "
                             "<pad>, <unk>, [CLS], [SEP] and [MASK]")
        ids[tok] = i
    ids["__size__"] = sp.get_piece_size()
    return ids


def hf_config_dict(model_config: ModelConfig, special: dict[str, int]) -> dict:
    """``config.json`` for ``AlbertForPreTraining`` (spec §9)."""
    import transformers

    cfg = {k: getattr(model_config, k) for k in _SHARED_FIELDS}
    cfg.update({
        "architectures": ["AlbertForPreTraining"],
        "model_type": "albert",
        "hidden_act": HF_ACTIVATION[model_config.hidden_act],
        "layer_norm_eps": 1e-12,
        "classifier_dropout_prob": 0.1,
        "position_embedding_type": "absolute",
        "pad_token_id": special["<pad>"],
        "bos_token_id": special["[CLS]"],
        "eos_token_id": special["[SEP]"],
        "tie_word_embeddings": True,
        "torch_dtype": "float32",
        "transformers_version": transformers.__version__,
    })
    return cfg


def hf_state_dict(model: Any) -> dict[str, Any]:
    """{HF parameter name: float32 numpy array} for ``AlbertForPreTraining``; the tied decoder
    is left to HF. When embedding_size == hidden_size the reference has no projection, HF always
    has one: it gets the identity."""
    import numpy as np

    from albert_fast.model import hf_parameter_map

    state = {}
    for hf_name, (var, transpose) in hf_parameter_map(model).items():
        value = np.asarray(var.numpy(), dtype=np.float32)
        state[hf_name] = np.ascontiguousarray(value.T if transpose else value)
    c = model.config
    if c.embedding_size == c.hidden_size:
        state["albert.encoder.embedding_hidden_mapping_in.weight"] = np.eye(
            c.hidden_size, dtype=np.float32)
        state["albert.encoder.embedding_hidden_mapping_in.bias"] = np.zeros(
            c.hidden_size, dtype=np.float32)
    return state


def write_hf_tokenizer(model_file: Path, out: Path, lowercase: bool, strip_accents: bool,
                       max_length: int) -> None:
    """``spiece.model``, ``tokenizer_config.json``, ``special_tokens_map.json`` and the fast
    tokenizer's ``tokenizer.json``, written by transformers itself (slow tokenizer built with the
    data's normalization, fast one converted from it) so the files are what HF expects."""
    from transformers import AlbertTokenizer, AlbertTokenizerFast

    slow = AlbertTokenizer(vocab_file=str(model_file), do_lower_case=lowercase,
                           keep_accents=not strip_accents, remove_space=True,
                           model_max_length=max_length)
    slow.save_pretrained(str(out))
    fast = AlbertTokenizerFast.from_pretrained(str(out), from_slow=True)
    fast.save_pretrained(str(out))
    _align_fast_whitespace(out / "tokenizer.json")
    _only_special_added_tokens(out / "tokenizer.json")
    cfg_path = out / "tokenizer_config.json"
    cfg = json.loads(cfg_path.read_text(encoding="utf-8"))
    # The converter registers SentencePiece's user_defined_symbols ("-", "(", ...) as added
    # tokens; loaded back, both tokenizers would then cut the text at them first and lose the
    # "▁" sentencepiece puts before them ("said -- in": "▁said", "▁", "-", "-"). They stay
    # ordinary vocabulary pieces (score 0, so Viterbi still keeps them whole).
    decoder = cfg.get("added_tokens_decoder", {})
    cfg["added_tokens_decoder"] = {k: v for k, v in decoder.items() if v.get("special")}
    cfg.pop("from_slow", None)  # else AutoTokenizer re-converts and ignores tokenizer.json
    cfg.update({"do_lower_case": lowercase, "keep_accents": not strip_accents,
                "remove_space": True, "tokenizer_class": "AlbertTokenizer"})
    cfg_path.write_text(json.dumps(cfg, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


#: What Python's ``str.split()`` treats as whitespace (spec §2 step 1; includes U+001C..U+001F).
_PY_WHITESPACE = ("[\t\n\x0b\x0c\r\x1c-\x1f\x85\xa0\u1680\u2000-\u200a\u2028\u2029"
                  "\u202f\u205f\u3000]")


def _align_fast_whitespace(path: Path) -> None:
    """transformers' converter gives the fast tokenizer no equivalent of the slow one's
    ``" ".join(text.strip().split())``: trailing whitespace becomes an extra "▁" piece and
    U+001C..U+001F stay. Two normalizers in front (Python's whitespace -> " ", strip) make the
    fast tokenizer give the slow one's (and our) ids."""
    tok = json.loads(path.read_text(encoding="utf-8"))
    norm = tok.get("normalizer")
    steps = norm["normalizers"] if norm and norm.get("type") == "Sequence" else (
        [norm] if norm else [])
    front = [{"type": "Replace", "pattern": {"Regex": _PY_WHITESPACE}, "content": " "},
             {"type": "Strip", "strip_left": True, "strip_right": True}]
    tok["normalizer"] = {"type": "Sequence", "normalizers": front + steps}
    path.write_text(json.dumps(tok, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


def _only_special_added_tokens(path: Path) -> None:
    tok = json.loads(path.read_text(encoding="utf-8"))
    tok["added_tokens"] = [t for t in tok.get("added_tokens", []) if t.get("special")]
    path.write_text(json.dumps(tok, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


@dataclass
class ExportReport:
    """What :func:`export_hf` wrote and measured."""

    output_dir: str
    source: str
    step: Optional[int]
    mlm_max_abs_diff: Optional[float] = None
    sop_max_abs_diff: Optional[float] = None
    batch_source: str = ""
    tokenizer_texts: int = 0
    tokenizer_ties: int = 0  # fast tokenizer: exact Viterbi ties broken the other way
    fill_mask: list = field(default_factory=list)
    fill_mask_text: str = ""
    verified: bool = False

    def to_dict(self) -> dict:
        return dict(self.__dict__)


def export_hf(source: str | os.PathLike, output_dir: str | os.PathLike, *,
              tokenizer: Optional[str | os.PathLike] = None,
              config: Optional[Config] = None,
              data: Optional[str | os.PathLike] = None,
              texts: Optional[Iterable[str | os.PathLike]] = None,
              verify: bool = True, batch_size: int = 8,
              fill_mask_text: Optional[str] = None,
              emit: Callable[[str], None] = print) -> ExportReport:
    """Exports a checkpoint of ours (run directory, ``best``/import directory or checkpoint
    prefix) as a Hugging Face ``AlbertForPreTraining`` directory and verifies it.

    Args:
        tokenizer: the ``spiece.model`` (or its directory) the data was made with; default: the
            one recorded with the run (see :func:`find_tokenizer`).
        config: must agree with the run's recorded config (otherwise ConfigError).
        data: create-data output (directory or TFRecord files) whose first instances are the
            logits check's batch; without it a random batch of valid ids is used.
        texts: text files whose lines (up to 2 000) join :data:`PROBE_TEXTS` in the tokenizer
            parity check.
        verify: run the checks (needs torch); a mismatch raises ModelError and nothing is
            written under ``output_dir``.
    """
    _quiet_tf()
    from safetensors.numpy import save_file

    if verify:
        _require_hf("export-hf's verification")
    model, ckpt = load_model(source, config)
    cfg = ckpt.config
    tok_dir = Path(tokenizer) if tokenizer else find_tokenizer(ckpt.run_dir)
    if tok_dir is None:
        raise ModelError(f"{source}: no tokenizer recorded with this run; give the "
                         "spiece.model the data was made with (--tokenizer)")
    model_file = _tokenizer_model(tok_dir)
    lowercase, strip_accents = _text_settings(model_file, cfg)
    special = _special_ids(model_file)
    if special["__size__"] != cfg.model.vocab_size:
        raise ConfigError(f"{model_file} has {special['__size__']} pieces but the model's "
                          f"vocab_size is {cfg.model.vocab_size} (Q5: they must agree)")
    report = ExportReport(str(output_dir), ckpt.prefix, ckpt.step)
    with _StagingDir(output_dir) as tmp:
        (tmp / "config.json").write_text(
            json.dumps(hf_config_dict(cfg.model, special), indent=2) + "\n", encoding="utf-8")
        save_file(hf_state_dict(model), str(tmp / "model.safetensors"),
                  metadata={"format": "pt"})
        task: dict[str, Any] = {"dir": str(tmp), "model_file": str(model_file),
                                "lowercase": lowercase, "strip_accents": strip_accents,
                                "max_length": cfg.model.max_position_embeddings,
                                "verify": verify}
        work = tmp / ".verify"
        if verify:
            import numpy as np

            batch, report.batch_source = _verification_batch(data, cfg, special, batch_size)
            ours = model({k: batch[k] for k in ("input_ids", "input_mask", "segment_ids",
                                                "masked_lm_positions")}, training=False)
            work.mkdir()
            np.savez(work / "batch.npz", **{k: np.asarray(batch[k]) for k in
                                            ("input_ids", "input_mask", "segment_ids",
                                             "masked_lm_positions")},
                     mlm_logits=np.asarray(ours["mlm_logits"]),
                     sop_logits=np.asarray(ours["sop_logits"]))
            probe = list(PROBE_TEXTS) + _text_lines(texts or [])
            encode = our_encoder(model_file, lowercase, strip_accents)
            task.update(batch=str(work / "batch.npz"), texts=probe,
                        ids=[list(encode(t)) for t in probe], fill_mask_text=fill_mask_text)
        result = run_hf_worker(task)
        shutil.rmtree(work, ignore_errors=True)
        if verify:
            report.mlm_max_abs_diff = result["mlm_max_abs_diff"]
            report.sop_max_abs_diff = result["sop_max_abs_diff"]
            report.tokenizer_texts = result["tokenizer_texts"]
            report.tokenizer_ties = result["tokenizer_ties"]
            report.fill_mask = result["fill_mask"]
            report.fill_mask_text = result["fill_mask_text"]
            report.verified = True
            emit(f"logits parity on {report.batch_source}: MLM max |diff| "
                 f"{report.mlm_max_abs_diff:.2e}, SOP {report.sop_max_abs_diff:.2e} "
                 f"(tolerance {LOGITS_TOLERANCE:g})")
            emit(f"tokenizer parity: slow and fast AutoTokenizer give our ids on "
                 f"{report.tokenizer_texts} texts" + (
                     f" (fast: {report.tokenizer_ties} exact Viterbi tie(s) broken the other "
                     "way)" if report.tokenizer_ties else ""))
        (tmp / "albert_fast_export.json").write_text(
            json.dumps(report.to_dict(), indent=2, default=str) + "\n", encoding="utf-8")
    emit(f"exported {ckpt.prefix} to {output_dir}")
    return report


def _text_settings(model_file: Path, cfg: Config) -> tuple[bool, bool]:
    """The normalization the data was made with: the run's ``text`` section, which must agree
    with what the tokenizer directory recorded at training time (Q1)."""
    lowercase, strip = cfg.text.lowercase, cfg.text.strip_accents
    rec = model_file.parent / "tokenizer_config.json"
    if rec.is_file():
        t = json.loads(rec.read_text(encoding="utf-8"))
        for key, ours in (("lowercase", lowercase), ("strip_accents", strip)):
            if key in t and bool(t[key]) != ours:
                raise ConfigError(f"{rec}: {key} = {t[key]} but the run's config has "
                                  f"text.{key} = {ours}; the tokenizer and the data must use "
                                  "one normalization (Q1)")
    if cfg.data.reference_compat:
        raise ConfigError("data.reference_compat = true: the data was tokenized like the "
                          "original FullTokenizer (Q2, no Q3 quote replacement), which no "
                          "Hugging Face tokenizer reproduces; export would change the ids")
    return lowercase, strip


def _text_lines(paths: Iterable[str | os.PathLike], limit: int = 2000) -> list[str]:
    lines: list[str] = []
    for p in paths:
        with open(p, encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.strip():
                    lines.append(line.rstrip("\n"))
                if len(lines) >= limit:
                    return lines
    return lines


def _verification_batch(data: Optional[str | os.PathLike], cfg: Config, special: dict,
                        batch_size: int) -> tuple[dict, str]:
    """The first ``batch_size`` instances of the create-data output, or a random batch."""
    import numpy as np

    d = cfg.data
    if data is not None:
        from albert_fast.train import _parser, feature_spec, find_data_files

        import tensorflow as tf

        files = find_data_files(str(data))
        spec = feature_spec(d.max_seq_length, d.max_predictions_per_seq)
        ds = tf.data.TFRecordDataset(files.eval[:1] if not files.eval_is_train else files.train[:1])
        for feats in ds.map(_parser(spec)).batch(batch_size).take(1):
            batch = {k: v.numpy() for k, v in feats.items()}
            return batch, f"{batch['input_ids'].shape[0]} instances of {data}"
        raise InputError(f"{data}: no instances to verify the export with")
    rng = np.random.default_rng(0)
    n, seq, m = batch_size, min(d.max_seq_length, 64), min(d.max_predictions_per_seq, 8)
    ids = rng.integers(5, cfg.model.vocab_size, size=(n, seq), dtype=np.int32)
    lengths = rng.integers(seq // 2, seq + 1, size=n)
    mask = (np.arange(seq)[None, :] < lengths[:, None]).astype(np.int32)
    ids[:, 0] = special["[CLS]"]
    ids = np.where(mask == 1, ids, special["<pad>"]).astype(np.int32)
    segments = ((np.arange(seq)[None, :] >= (lengths // 2)[:, None]) & (mask == 1)).astype(np.int32)
    positions = np.stack([np.sort(rng.choice(np.arange(1, lengths[i]), m, replace=False))
                          for i in range(n)]).astype(np.int32)
    return ({"input_ids": ids, "input_mask": mask, "segment_ids": segments,
             "masked_lm_positions": positions}, f"a random batch of {n} (no --data given)")


def our_encoder(model_file: Path, lowercase: bool, strip_accents: bool) -> Callable[[str], list]:
    """Our tokenizer's ``encode``: the Rust ``albert_fast.Tokenizer`` in its Hugging Face
    pipeline mode. In a build without it, :func:`_spec_encoder` (spec §2 written out over the
    ``sentencepiece`` library) stands in."""
    try:
        from albert_fast.tokenizer import Tokenizer
    except ImportError:
        return _spec_encoder(model_file, lowercase, strip_accents)
    tok = Tokenizer(model_file, lowercase=lowercase, strip_accents=strip_accents)
    return tok.encode


def _spec_encoder(model_file: Path, lowercase: bool, strip_accents: bool) -> Callable[[str], list]:
    """Spec §2 as the data pipeline applies it (defaults, i.e. not reference_compat): special
    tokens kept whole, whitespace collapsed, Q3 quotes, optional accent stripping (Q1) and
    lower-casing, SentencePiece, the digit-comma rule as intended (Q2 fixed)."""
    import re
    import unicodedata

    import sentencepiece as spm

    sp = spm.SentencePieceProcessor(model_file=str(model_file))
    specials = ("[CLS]", "[SEP]", "[MASK]", "<unk>", "<pad>")
    split = re.compile("(" + "|".join(re.escape(t) for t in specials) + ")")

    def normalize(text: str) -> str:
        text = " ".join(text.strip().split()).replace("``", '"').replace("''", '"')
        if strip_accents:
            text = "".join(c for c in unicodedata.normalize("NFKD", text)
                           if not unicodedata.combining(c))
        return text.lower() if lowercase else text

    def pieces(text: str) -> list[str]:
        out: list[str] = []
        for piece in sp.encode(normalize(text), out_type=str):
            if len(piece) > 1 and piece[-1] == "," and piece[-2].isdigit():
                cur = sp.encode(piece[:-1].replace("\u2581", ""), out_type=str)
                if piece[0] != "\u2581" and cur and cur[0][0] == "\u2581":
                    cur = cur[1:] if len(cur[0]) == 1 else [cur[0][1:]] + cur[1:]
                out.extend(cur + [","])
            else:
                out.append(piece)
        return out

    def encode(text: str) -> list[int]:
        ids: list[int] = []
        for chunk in split.split(text):
            if chunk in specials:
                ids.append(sp.piece_to_id(chunk))
            elif chunk.strip():
                ids.extend(sp.piece_to_id(p) for p in pieces(chunk))
        return ids

    return encode


# --------------------------------------------------------------------------------------------
# The Hugging Face side, in a separate process. Loading transformers' PyTorch models into a
# process that has TensorFlow loaded aborts in LLVM ("Option ... registered more than once");
# a fresh interpreter also makes the check independent of our process state.

def run_hf_worker(task: dict) -> dict:
    """Runs :func:`hf_worker` in a fresh interpreter; raises its ModelError/ValueError here."""
    import subprocess
    import tempfile

    package_root = str(Path(__file__).resolve().parent.parent)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([package_root] + [p for p in env.get(
        "PYTHONPATH", "").split(os.pathsep) if p])
    env["USE_TF"] = "0"  # transformers need not load TensorFlow there...
    env["USE_TORCH"] = "1"  # ...but must load PyTorch, whatever the caller's process chose
    env.setdefault("TOKENIZERS_PARALLELISM", "false")
    with tempfile.TemporaryDirectory(prefix="albert-fast-hf-") as tmp:
        task_file, result_file = Path(tmp) / "task.json", Path(tmp) / "result.json"
        task_file.write_text(json.dumps(task), encoding="utf-8")
        proc = subprocess.run([sys.executable, "-m", "albert_fast.export", str(task_file),
                               str(result_file)], env=env, capture_output=True, text=True)
        if not result_file.is_file():
            tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-8:])
            raise ModelError(f"the Hugging Face check process failed (exit {proc.returncode}):"
                             f"\n{tail}")
        result = json.loads(result_file.read_text(encoding="utf-8"))
    if "error" in result:
        kind = ValueError if result.get("kind") == "ValueError" else ModelError
        raise kind(result["error"])
    return result


def hf_worker(task: dict) -> dict:
    """The HF side of an export: writes the tokenizer files, then (``verify``) compares HF's
    logits with ours, HF's slow and fast tokenizers with our ids, and runs fill-mask."""
    hf_dir, model_file = Path(task["dir"]), Path(task["model_file"])
    write_hf_tokenizer(model_file, hf_dir, task["lowercase"], task["strip_accents"],
                       task["max_length"])
    if not task["verify"]:
        return {}
    result: dict[str, Any] = {}
    if task.get("batch"):  # a tokenizer-only task has no model to check
        result["mlm_max_abs_diff"], result["sop_max_abs_diff"] = check_logits(hf_dir,
                                                                              task["batch"])
    result["tokenizer_texts"], result["tokenizer_ties"] = check_tokenizer(
        hf_dir, task["texts"], task["ids"], task["lowercase"], task["strip_accents"])
    if task.get("batch"):
        result["fill_mask_text"], result["fill_mask"] = check_fill_mask(
            hf_dir, task.get("fill_mask_text"))
    return result


def check_logits(hf_dir: Path, batch_file: str) -> tuple[float, float]:
    """MLM and SOP logits of HF's ``AlbertForPreTraining`` vs ours (saved with the batch);
    ModelError beyond :data:`LOGITS_TOLERANCE`."""
    import numpy as np
    import torch
    from transformers import AlbertForPreTraining

    batch = dict(np.load(batch_file))
    hf = AlbertForPreTraining.from_pretrained(str(hf_dir))
    hf.eval()
    with torch.no_grad():
        out = hf(input_ids=torch.as_tensor(batch["input_ids"], dtype=torch.long),
                 attention_mask=torch.as_tensor(batch["input_mask"], dtype=torch.long),
                 token_type_ids=torch.as_tensor(batch["segment_ids"], dtype=torch.long))
    pred = out.prediction_logits.numpy()
    pos = batch["masked_lm_positions"].astype(np.int64)
    hf_mlm = np.take_along_axis(pred, pos[:, :, None], axis=1)
    mlm_diff = float(np.max(np.abs(hf_mlm - batch["mlm_logits"])))
    sop_diff = float(np.max(np.abs(out.sop_logits.numpy() - batch["sop_logits"])))
    if not (mlm_diff <= LOGITS_TOLERANCE and sop_diff <= LOGITS_TOLERANCE):
        raise ModelError(f"export check failed: Hugging Face's AlbertForPreTraining differs from "
                         f"our model by {mlm_diff:.3g} (MLM logits) and {sop_diff:.3g} (SOP "
                         f"logits), tolerance {LOGITS_TOLERANCE:g}; nothing was written")
    return mlm_diff, sop_diff


def check_tokenizer(hf_dir: Path, texts: Sequence[str], ids: Sequence[Sequence[int]],
                    lowercase: bool, strip_accents: bool) -> tuple[int, int]:
    """Slow and fast ``AutoTokenizer.from_pretrained(hf_dir)`` must give exactly our ``ids``
    for every text; ModelError naming the first text that differs. One allowance, for the fast
    tokenizer only: an exact Viterbi tie (the same pieces' text, the same total score, e.g.
    "▁"+"ken" vs "▁k"+"en"), which the ``tokenizers`` library breaks differently from
    sentencepiece. Returns (texts checked, ties seen)."""
    import sentencepiece as spm
    from transformers import AutoTokenizer

    sp = spm.SentencePieceProcessor(model_file=str(hf_dir / "spiece.model"))
    ties = 0
    for use_fast in (False, True):
        hf = AutoTokenizer.from_pretrained(str(hf_dir), use_fast=use_fast)
        kind = "fast" if use_fast else "slow"
        theirs_all = hf(list(texts), add_special_tokens=False)["input_ids"]
        for text, ours, theirs in zip(texts, ids, theirs_all):
            ours, theirs = list(ours), list(theirs)
            if ours == theirs:
                continue
            if use_fast and _viterbi_tie(sp, ours, theirs):
                ties += 1
                continue
            at = next((i for i, (a, b) in enumerate(zip(ours, theirs)) if a != b),
                      min(len(ours), len(theirs)))
            lo = max(0, at - 3)
            raise ModelError(
                f"export check failed: the {kind} Hugging Face tokenizer gives other ids "
                f"than ours for {text[:200]!r} from token {at}: "
                f"{hf.convert_ids_to_tokens(theirs[lo:at + 5])} vs "
                f"{hf.convert_ids_to_tokens(ours[lo:at + 5])} "
                f"(do_lower_case={lowercase}, keep_accents={not strip_accents}); nothing "
                "was written")
    return len(texts), ties


def _viterbi_tie(sp: Any, ours: list[int], theirs: list[int]) -> bool:
    """True when two segmentations spell the same text with the same total piece score."""
    def spelled(ids: list[int]) -> str:
        return "".join(sp.id_to_piece(i) for i in ids)

    def score(ids: list[int]) -> float:
        return sum(sp.get_score(i) for i in ids)

    return spelled(ours) == spelled(theirs) and abs(score(ours) - score(theirs)) <= 1e-4


def check_fill_mask(hf_dir: Path, text: Optional[str] = None, top_k: int = 5
                    ) -> tuple[str, list]:
    """Runs ``pipeline("fill-mask", model=hf_dir)`` once; returns the text and its
    predictions."""
    from transformers import pipeline

    fill = pipeline("fill-mask", model=str(hf_dir), tokenizer=str(hf_dir), device="cpu")
    text = text or f"The capital of France is {fill.tokenizer.mask_token}."
    if fill.tokenizer.mask_token not in text:
        raise ValueError(f"fill-mask text {text!r} has no {fill.tokenizer.mask_token}")
    preds = fill(text, top_k=top_k)
    if not preds or not all("token_str" in p for p in preds):
        raise ModelError(f"export check failed: fill-mask returned {preds!r}")
    return text, [{"token_str": p["token_str"], "score": float(p["score"])} for p in preds]


def print_fill_mask(preds: list, text: str, stream: Any = sys.stdout) -> None:
    print(f"fill-mask: {text}", file=stream)
    for p in preds:
        print(f"  {p['score']:.4f}  {p['token_str']}", file=stream)


def _worker_main(argv: Sequence[str]) -> int:
    task_file, result_file = argv
    task = json.loads(Path(task_file).read_text(encoding="utf-8"))
    try:
        result = hf_worker(task)
    except (ModelError, ValueError, OSError) as err:
        result = {"error": str(err), "kind": type(err).__name__}
    Path(result_file).write_text(json.dumps(result), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(_worker_main(sys.argv[1:]))
