"""ALBERT weights between our model, Hugging Face's ``AlbertForPreTraining`` and original TF1
checkpoints, all keyed by the original TF variable names (docs/export.md): the name maps,
reading any of the three sources, putting weights into a model (warm start, ``albert-fast
import``) and our model as HF's ``config.json`` and state dict."""

from __future__ import annotations

import json
import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

import yaml

from albert_fast.checkpoints import (RUN_CONFIG, WEIGHTS_NAME, check_same_architecture,
                                     checkpoint_prefix, load_model, run_tokenizer, save_weights)
from albert_fast.config import (Config, ModelConfig, as_config, config_from_dict,
                                format_validation_error)
from albert_fast.errors import ConfigError, ModelError
from albert_fast.io_utils import atomic_dir
from albert_fast.runtime import quiet_tensorflow
from albert_fast.tokenizer import MODEL_FILE, TOKENIZER_CONFIG

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
_MAPPING_PREFIX = "bert/encoder/embedding_hidden_mapping_in/"
_HF_MAPPING = "albert.encoder.embedding_hidden_mapping_in."


# --------------------------------------------------------------------------------------------
# Names

def reference_variable_map(model: Any) -> dict[str, Any]:
    """{original TF checkpoint name: variable} for every weight of our model, in creation
    order."""
    from albert_fast.model import reference_name

    names = {}
    for var in model.weights:
        name = reference_name(var.path)
        if name in names:
            raise RuntimeError(f"two variables map to the reference name {name}")
        names[name] = var
    return names


def hf_parameter_name(reference: str) -> tuple[str, bool]:
    """A reference TF variable name -> (Hugging Face ``AlbertForPreTraining`` parameter name,
    whether the weight must be transposed). Mirrors the mapping of transformers'
    ``load_tf_weights_in_albert`` (convert_albert_original_tf_checkpoint_to_pytorch)."""
    name = reference
    transpose = name.endswith("/kernel")
    # Most specific first: the head and pooler scopes, then the encoder's pieces.
    replacements = [
        ("cls/predictions/transform/dense/", "predictions.dense."),
        ("cls/predictions/transform/LayerNorm/", "predictions.LayerNorm."),
        ("cls/predictions/output_bias", "predictions.bias"),
        ("cls/seq_relationship/output_weights", "sop_classifier.classifier.weight"),
        ("cls/seq_relationship/output_bias", "sop_classifier.classifier.bias"),
        ("bert/pooler/dense/", "albert.pooler."),
        (_MAPPING_PREFIX, _HF_MAPPING),
        ("bert/encoder/transformer/group_", "albert.encoder.albert_layer_groups."),
        ("/inner_group_", ".albert_layers."),
        ("attention_1/self/", "attention."),
        ("attention_1/output/dense/", "attention.dense."),
        ("ffn_1/intermediate/output/dense/", "ffn_output."),
        ("ffn_1/intermediate/dense/", "ffn."),
        ("/LayerNorm_1/", "/full_layer_layer_norm."),
        ("/LayerNorm/", "/attention.LayerNorm."),
    ]
    if name.startswith("bert/embeddings/LayerNorm/"):
        name = name.replace("bert/embeddings/LayerNorm/", "albert.embeddings.LayerNorm.")
    elif name.startswith("bert/embeddings/"):
        name = name.replace("bert/embeddings/", "albert.embeddings.") + ".weight"
    else:
        for old, new in replacements:
            name = name.replace(old, new)
    name = name.replace("/", ".")
    name = (name.replace(".kernel", ".weight").replace(".gamma", ".weight")
            .replace(".beta", ".bias"))
    return name, transpose


def hf_parameter_map(model: Any) -> dict[str, tuple[Any, bool]]:
    """{HF parameter name: (our variable, transpose?)}. The tied MLM decoder
    (``predictions.decoder.weight``/``.bias``) is the word-embedding table and
    ``predictions.bias`` in HF, so it has no entry of its own."""
    out = {}
    for ref, var in reference_variable_map(model).items():
        hf, transpose = hf_parameter_name(ref)
        out[hf] = (var, transpose)
    return out


def model_weights(model: Any) -> dict[str, Any]:
    """{original TF variable name: numpy array} of every weight of our model."""
    return {name: var.numpy() for name, var in reference_variable_map(model).items()}


_NAMES_CACHE: dict[str, list[str]] = {}


def reference_names(model_config: ModelConfig) -> list[str]:
    """Every original TF variable name of a model with this architecture."""
    key = model_config.model_dump_json()
    if key not in _NAMES_CACHE:
        from albert_fast.model import build_pretraining_model

        _NAMES_CACHE[key] = list(reference_variable_map(build_pretraining_model(model_config)))
    return list(_NAMES_CACHE[key])


# --------------------------------------------------------------------------------------------
# Reading weights from any source

@dataclass
class Weights:
    """Weights keyed by the original TF variable names, with where they came from."""

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
    import tensorflow as tf

    prefix: Optional[str] = str(path)
    if path.is_dir():
        prefix = checkpoint_prefix(path) or _single_checkpoint(path)
        if prefix is None:
            if not any(path.iterdir()):
                raise ModelError(f"{path}: empty directory, no checkpoint")
            raise ModelError(f"{path}: neither a Hugging Face ALBERT directory (config.json + "
                             "model.safetensors) nor a directory with a TF checkpoint")
    elif not Path(str(prefix) + ".index").is_file():
        raise FileNotFoundError(2, "no such checkpoint, run or Hugging Face directory", str(path))
    names = {n for n, _ in tf.train.list_variables(prefix)}
    if any(n.startswith("bert/") for n in names):
        return "tf1"
    return "ours"


def _single_checkpoint(directory: Path) -> Optional[str]:
    found = sorted(directory.glob("*.index"))
    return str(found[0])[:-len(".index")] if len(found) == 1 else None


def read_weights(source: str | os.PathLike, config: Optional[Config] = None) -> Weights:
    """Reads all ALBERT weights of ``source`` (see :func:`detect_kind`)."""
    quiet_tensorflow()
    kind = detect_kind(source)
    if kind == "hf":
        return read_hf_weights(source)
    if kind == "tf1":
        return read_tf1_weights(source, config)
    model, ckpt = load_model(source, config)
    return Weights(model_weights(model), "ours", ckpt.prefix, ckpt.config.model,
                   run_tokenizer(ckpt.run_dir, strict=False), ckpt.config.text.model_dump())


def _tf1_prefix(source: str | os.PathLike) -> str:
    import tensorflow as tf

    path = Path(source)
    if not path.is_dir():
        return str(path)
    prefix = tf.train.latest_checkpoint(str(path)) or _single_checkpoint(path)
    if prefix is None:
        found = len(list(path.glob("*.index")))
        raise ModelError(f"{path}: expected one TF checkpoint (*.index), found {found}")
    return prefix


def read_tf1_weights(source: str | os.PathLike, config: Optional[Config] = None) -> Weights:
    """An original ``run_pretraining.py`` checkpoint: variables under their original names
    (optimizer slots and ``global_step`` are skipped). The architecture comes from ``config``
    or an ``albert_config.json`` beside the checkpoint."""
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
                   tok if (tok / MODEL_FILE).is_file() else None)


def read_hf_weights(source: str | os.PathLike) -> Weights:
    """A Hugging Face ALBERT directory (``AlbertForPreTraining``, ``AlbertForMaskedLM`` or a bare
    ``AlbertModel``): safetensors read with numpy (``pytorch_model.bin`` needs torch)."""
    import numpy as np

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
    tensors = {}
    for ref in reference_names(model_config):
        hf, transpose = hf_parameter_name(ref)
        if hf in state:
            value = np.asarray(state[hf])
            tensors[ref] = value.T if transpose else value
    mapping_w = _HF_MAPPING + "weight"
    if model_config.embedding_size == model_config.hidden_size and mapping_w in state:
        # HF always has the projection; ours (like the reference) only when E != H, so it must
        # be the identity to be dropped without changing the model.
        w = np.asarray(state[mapping_w])
        b = np.asarray(state[_HF_MAPPING + "bias"])
        if not (np.allclose(w, np.eye(w.shape[0]), atol=1e-6) and np.allclose(b, 0, atol=1e-6)):
            raise ModelError(f"{path}: embedding_size == hidden_size but the HF model's "
                             "embedding_hidden_mapping_in is not the identity; the reference "
                             "architecture has no projection in that case, so it cannot be "
                             "imported")
    text = {}
    tok_cfg = path / TOKENIZER_CONFIG
    if tok_cfg.is_file():
        t = json.loads(tok_cfg.read_text(encoding="utf-8"))
        text = {"lowercase": bool(t.get("do_lower_case", True)),
                "strip_accents": not bool(t.get("keep_accents", False))}
    return Weights(tensors, "hf", str(path), model_config,
                   path if (path / MODEL_FILE).is_file() else None, text)


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
        raise ConfigError(f"{where}: {'; '.join(format_validation_error(err))}") from None


# --------------------------------------------------------------------------------------------
# Putting weights into a model (warm start, import)

@dataclass
class AssignReport:
    loaded: list[str]
    missing: list[str]  # model variables the source has no value for (kept as initialised)
    unused: list[str]  # source tensors no model variable takes


def _group0_name(name: str) -> str:
    return re.sub(r"transformer/group_\d+/", "transformer/group_0/", name)


def assign_weights(model: Any, weights: Weights, init_from_group0: bool = False,
                   require_all: bool = False) -> AssignReport:
    """Assigns ``weights`` to our model by original variable name. Shapes must match (the error
    names the variable, both shapes and the source); with ``init_from_group0`` every layer group
    takes group 0's weights (the reference's assignment map). ``require_all``: every model
    variable must receive a value."""
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


def import_weights(source: str | os.PathLike, output: str | os.PathLike,
                   config: Config | str | os.PathLike | dict | None = None,
                   init_from_group0: bool = False, emit: Callable[[str], None] = print) -> Path:
    """``albert-fast import``: converts an HF ALBERT directory, an original TF1 checkpoint or one
    of our checkpoints into our format: ``OUT/config.yaml`` and the checkpoint ``OUT/model``
    (usable as ``init_checkpoint``, by ``export-hf`` and ``pretrain``'s warm start), plus the
    tokenizer (``spiece.model``, ``tokenizer_config.json``) when the source has one. ``config``
    (a Config, config file or dict) gives a TF1 checkpoint's architecture."""
    from albert_fast.model import build_pretraining_model

    config = None if config is None else as_config(config)
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
    with atomic_dir(output) as tmp:
        save_weights(model, tmp / WEIGHTS_NAME)
        (tmp / RUN_CONFIG).write_text(yaml.safe_dump(cfg.to_dict(), sort_keys=False),
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
    shutil.copyfile(src_dir / MODEL_FILE, out / MODEL_FILE)
    (out / TOKENIZER_CONFIG).write_text(json.dumps({
        "model_file": MODEL_FILE, "lowercase": cfg.text.lowercase,
        "strip_accents": cfg.text.strip_accents}, indent=2) + "\n", encoding="utf-8")


# --------------------------------------------------------------------------------------------
# Our model as Hugging Face's

def hf_config_dict(model_config: ModelConfig, special: dict[str, int]) -> dict:
    """``config.json`` for ``AlbertForPreTraining``."""
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

    state = {}
    for hf_name, (var, transpose) in hf_parameter_map(model).items():
        value = np.asarray(var.numpy(), dtype=np.float32)
        state[hf_name] = np.ascontiguousarray(value.T if transpose else value)
    c = model.config
    if c.embedding_size == c.hidden_size:
        state[_HF_MAPPING + "weight"] = np.eye(c.hidden_size, dtype=np.float32)
        state[_HF_MAPPING + "bias"] = np.zeros(c.hidden_size, dtype=np.float32)
    return state
