"""ALBERT in Keras 3, built as ``modeling.py`` of google-research/albert builds it with every
``albert_config`` field honoured (docs/pretraining.md, "Model"). Written with ``keras.ops`` only,
so the same layers run on the TensorFlow, JAX and PyTorch backends. Variable paths are the
reference's TF variable names below one top-level ``albert/`` scope
(``albert/bert/embeddings/word_embeddings``, ...), so weights convert by name
(:mod:`albert_fast.convert`)."""

from __future__ import annotations

import math
from typing import Any, Callable, Optional

import keras
from keras import ops

from albert_fast.config import ModelConfig

LAYER_NORM_EPSILON = 1e-12  # tf.contrib.layers.layer_norm's epsilon, used by the reference.
ATTENTION_MASK_ADDER = -10000.0  # the reference adds this to the scores of padding positions.
MODEL_SCOPE = "albert"  # top-level scope of every variable path; stripped for reference names.


# --------------------------------------------------------------------------------------------
# Activations

def _gelu_tanh(x: Any) -> Any:
    return ops.gelu(x, approximate=True)


def _gelu_exact(x: Any) -> Any:
    return ops.gelu(x, approximate=False)


# The reference's get_activation knows "linear", "relu", "gelu" (tanh approximation) and "tanh".
# The extra names are Hugging Face's (where "gelu" is the *exact* gelu and "gelu_new" the tanh
# one); we keep the reference's meaning of "gelu" and accept "gelu_exact" for the erf form.
ACTIVATIONS: dict[str, Optional[Callable[[Any], Any]]] = {
    "linear": None,
    "gelu": _gelu_tanh,
    "gelu_new": _gelu_tanh,
    "gelu_pytorch_tanh": _gelu_tanh,
    "gelu_exact": _gelu_exact,
    "gelu_python": _gelu_exact,
    "relu": ops.relu,
    "tanh": ops.tanh,
    "swish": ops.silu,
    "silu": ops.silu,
}

# albert_config values the reference accepts but that no published model uses and we do not
# implement; any other value than this one is rejected with a clear error.
_UNSUPPORTED_DEFAULTS = {"net_structure_type": 0, "gap_size": 0, "num_memory_blocks": 0,
                         "down_scale_factor": 1}


def get_activation(name: str) -> Optional[Callable[[Any], Any]]:
    """Maps an ``albert_config.hidden_act`` value to a function (None for linear)."""
    key = name.lower()
    if key not in ACTIVATIONS:
        raise ValueError(
            f"albert_config.hidden_act: unsupported activation {name!r}; "
            f"choose one of {', '.join(sorted(ACTIVATIONS))}")
    return ACTIVATIONS[key]


def check_model_config(config: ModelConfig) -> None:
    """Raises ValueError for architecture values that cannot be built."""
    for field, supported in _UNSUPPORTED_DEFAULTS.items():
        value = getattr(config, field)
        if value != supported:
            raise ValueError(
                f"albert_config.{field} = {value}: only {supported} is supported (the "
                "experimental variants of the reference are not implemented; every published "
                f"ALBERT model uses {field} = {supported})")
    if config.hidden_size % config.num_attention_heads:
        raise ValueError(
            f"albert_config.hidden_size ({config.hidden_size}) is not a multiple of "
            f"num_attention_heads ({config.num_attention_heads})")
    if config.num_hidden_groups > config.num_hidden_layers:
        raise ValueError(
            f"albert_config.num_hidden_groups ({config.num_hidden_groups}) exceeds "
            f"num_hidden_layers ({config.num_hidden_layers}); some groups would never be used")
    get_activation(config.hidden_act)


def group_of_layer(layer_idx: int, num_hidden_layers: int, num_hidden_groups: int) -> int:
    """The parameter group layer ``layer_idx`` uses, exactly as the reference computes it."""
    return int(layer_idx / num_hidden_layers * num_hidden_groups)


def _init(config: ModelConfig) -> keras.initializers.Initializer:
    # TF1's truncated_normal_initializer and Keras' TruncatedNormal both cut at 2 stddev.
    return keras.initializers.TruncatedNormal(stddev=config.initializer_range)


def _dense(units: int, config: ModelConfig, name: str, activation=None) -> keras.layers.Dense:
    return keras.layers.Dense(units, activation=activation, kernel_initializer=_init(config),
                              bias_initializer="zeros", name=name)


def _layer_norm(name: str) -> keras.layers.LayerNormalization:
    return keras.layers.LayerNormalization(epsilon=LAYER_NORM_EPSILON, name=name)


def _build_in_scope(scope: str, layer: keras.layers.Layer, shape: tuple) -> None:
    """Builds ``layer`` below an extra name scope, so its variable paths carry the reference's
    intermediate scopes (``attention_1/self/query``, ``ffn_1/intermediate/output/dense``)."""
    import contextlib

    with contextlib.ExitStack() as stack:
        for part in scope.split("/"):
            stack.enter_context(keras.name_scope(part))
        layer.build(shape)


def _track_as_attributes(owner: keras.layers.Layer, layers: list, prefix: str) -> None:
    """Also holds each layer of a list as an attribute (``group_0``, ...): TensorFlow's
    object-based checkpoints follow attributes but not Keras' tracked lists, and without this a
    checkpoint of the model alone (warm start, ``best``) would miss the transformer weights."""
    for index, layer in enumerate(layers):
        setattr(owner, f"{prefix}_{index}", layer)


# --------------------------------------------------------------------------------------------
# Layers

class AlbertEmbeddings(keras.layers.Layer):
    """Scope ``bert/embeddings``: word + token-type + position embeddings of width
    ``embedding_size``, LayerNorm, dropout."""

    def __init__(self, config: ModelConfig, **kwargs: Any) -> None:
        super().__init__(name="embeddings", **kwargs)
        self.config = config
        self.layer_norm = _layer_norm("LayerNorm")
        self.dropout = keras.layers.Dropout(config.hidden_dropout_prob)

    def build(self, input_shape: Any = None) -> None:
        c = self.config
        self.word_embeddings = self.add_weight(
            shape=(c.vocab_size, c.embedding_size), initializer=_init(c), name="word_embeddings")
        self.token_type_embeddings = self.add_weight(
            shape=(c.type_vocab_size, c.embedding_size), initializer=_init(c),
            name="token_type_embeddings")
        self.position_embeddings = self.add_weight(
            shape=(c.max_position_embeddings, c.embedding_size), initializer=_init(c),
            name="position_embeddings")
        self.layer_norm.build((None, None, c.embedding_size))

    def call(self, input_ids: Any, segment_ids: Any, training: bool = False) -> Any:
        seq_len = ops.shape(input_ids)[1]
        x = ops.take(self.word_embeddings, input_ids, axis=0)
        x = x + ops.take(self.token_type_embeddings, segment_ids, axis=0)
        x = x + ops.expand_dims(self.position_embeddings[:seq_len], 0)
        x = self.layer_norm(ops.cast(x, self.compute_dtype))
        return self.dropout(x, training=training)


class AlbertAttentionFfnBlock(keras.layers.Layer):
    """One ``inner_group_k`` block (the reference's ``attention_ffn_block``): self-attention
    (``attention_1/self/{query,key,value}``, ``attention_1/output/dense``), dropout, post-LN
    (``LayerNorm``), FFN (``ffn_1/intermediate/dense`` with hidden_act,
    ``ffn_1/intermediate/output/dense``), dropout, post-LN (``LayerNorm_1``)."""

    def __init__(self, config: ModelConfig, name: str, **kwargs: Any) -> None:
        super().__init__(name=name, **kwargs)
        self.config = config
        h = config.hidden_size
        self.num_heads = config.num_attention_heads
        self.head_size = h // config.num_attention_heads
        self.query = _dense(h, config, "query")
        self.key = _dense(h, config, "key")
        self.value = _dense(h, config, "value")
        self.attention_output = _dense(h, config, "dense")
        self.attention_layer_norm = _layer_norm("LayerNorm")
        self.ffn_intermediate = _dense(config.intermediate_size, config, "dense",
                                       activation=get_activation(config.hidden_act))
        self.ffn_output = _dense(h, config, "dense")
        self.ffn_layer_norm = _layer_norm("LayerNorm_1")
        self.attention_dropout = keras.layers.Dropout(config.attention_probs_dropout_prob)
        self.hidden_dropout = keras.layers.Dropout(config.hidden_dropout_prob)

    def build(self, input_shape: Any = None) -> None:
        h, i = self.config.hidden_size, self.config.intermediate_size
        for layer in (self.query, self.key, self.value):
            _build_in_scope("attention_1/self", layer, (None, None, h))
        _build_in_scope("attention_1/output", self.attention_output, (None, None, h))
        self.attention_layer_norm.build((None, None, h))
        _build_in_scope("ffn_1/intermediate", self.ffn_intermediate, (None, None, h))
        _build_in_scope("ffn_1/intermediate/output", self.ffn_output, (None, None, i))
        self.ffn_layer_norm.build((None, None, h))

    def _split_heads(self, x: Any, batch: Any, seq: Any) -> Any:
        x = ops.reshape(x, (batch, seq, self.num_heads, self.head_size))
        return ops.transpose(x, (0, 2, 1, 3))

    def call(self, x: Any, input_mask: Any, training: bool = False) -> Any:
        batch, seq = ops.shape(x)[0], ops.shape(x)[1]
        # Built here from the integer mask, in float32: Keras would autocast a float adder
        # passed in to the compute dtype (bfloat16 cannot hold -10000 exactly).
        mask = ops.cast(input_mask, "float32")
        attention_adder = (1.0 - mask[:, None, None, :]) * ATTENTION_MASK_ADDER
        q = self._split_heads(self.query(x), batch, seq)
        k = self._split_heads(self.key(x), batch, seq)
        v = self._split_heads(self.value(x), batch, seq)
        scores = ops.matmul(q, ops.transpose(k, (0, 1, 3, 2)))
        # Softmax in float32 even under mixed precision: -10000 and large logits overflow fp16.
        scores = ops.cast(scores, "float32") * (1.0 / math.sqrt(self.head_size)) + attention_adder
        probs = ops.cast(ops.softmax(scores, axis=-1), self.compute_dtype)
        probs = self.attention_dropout(probs, training=training)
        context = ops.transpose(ops.matmul(probs, v), (0, 2, 1, 3))
        context = ops.reshape(context, (batch, seq, self.config.hidden_size))
        attention = self.hidden_dropout(self.attention_output(context), training=training)
        attention = self.attention_layer_norm(attention + x)
        ffn = self.ffn_output(self.ffn_intermediate(attention))
        ffn = self.hidden_dropout(ffn, training=training)
        return self.ffn_layer_norm(ffn + attention)


class AlbertGroup(keras.layers.Layer):
    """Scope ``transformer/group_g``: ``inner_group_num`` blocks applied in sequence; shared by
    every layer that maps to this group."""

    def __init__(self, config: ModelConfig, name: str, **kwargs: Any) -> None:
        super().__init__(name=name, **kwargs)
        self.inner_groups = [AlbertAttentionFfnBlock(config, name=f"inner_group_{k}")
                             for k in range(config.inner_group_num)]
        _track_as_attributes(self, self.inner_groups, "inner_group")
        self.hidden_size = config.hidden_size

    def build(self, input_shape: Any = None) -> None:
        for block in self.inner_groups:
            block.build((None, None, self.hidden_size))

    def call(self, x: Any, input_mask: Any, training: bool = False) -> Any:
        for block in self.inner_groups:
            x = block(x, input_mask, training=training)
        return x


class AlbertEncoder(keras.layers.Layer):
    """Scope ``bert/encoder``: ``embedding_hidden_mapping_in`` then ``num_hidden_layers`` layers
    over ``num_hidden_groups`` shared parameter groups (``transformer/group_g``)."""

    def __init__(self, config: ModelConfig, **kwargs: Any) -> None:
        super().__init__(name="encoder", **kwargs)
        self.config = config
        # The reference projects only when the widths differ (modeling.transformer_model).
        self.embedding_hidden_mapping_in = (
            _dense(config.hidden_size, config, "embedding_hidden_mapping_in")
            if config.embedding_size != config.hidden_size else None)
        self.groups = [AlbertGroup(config, name=f"group_{g}")
                       for g in range(config.num_hidden_groups)]
        _track_as_attributes(self, self.groups, "group")

    def build(self, input_shape: Any = None) -> None:
        if self.embedding_hidden_mapping_in is not None:
            self.embedding_hidden_mapping_in.build((None, None, self.config.embedding_size))
        for group in self.groups:
            _build_in_scope("transformer", group, (None, None, self.config.hidden_size))

    def call(self, x: Any, input_mask: Any, training: bool = False) -> Any:
        if self.embedding_hidden_mapping_in is not None:
            x = self.embedding_hidden_mapping_in(x)
        c = self.config
        for layer_idx in range(c.num_hidden_layers):
            group = self.groups[group_of_layer(layer_idx, c.num_hidden_layers,
                                               c.num_hidden_groups)]
            x = group(x, input_mask, training=training)
        return x


class AlbertBackbone(keras.layers.Layer):
    """Scope ``bert``: embeddings, encoder and pooler; returns (sequence_output,
    pooled_output)."""

    def __init__(self, config: ModelConfig, **kwargs: Any) -> None:
        super().__init__(name="bert", **kwargs)
        check_model_config(config)
        self.config = config
        self.embeddings = AlbertEmbeddings(config)
        self.encoder = AlbertEncoder(config)
        self.pooler = _dense(config.hidden_size, config, "dense", activation="tanh")

    def build(self, input_shape: Any = None) -> None:
        self.embeddings.build(None)
        self.encoder.build(None)
        _build_in_scope("pooler", self.pooler, (None, self.config.hidden_size))

    def call(self, input_ids: Any, input_mask: Any, segment_ids: Any,
             training: bool = False) -> tuple[Any, Any]:
        x = self.embeddings(input_ids, segment_ids, training=training)
        sequence_output = self.encoder(x, input_mask, training=training)
        pooled_output = self.pooler(sequence_output[:, 0])
        return sequence_output, pooled_output


class AlbertMaskedLmHead(keras.layers.Layer):
    """Scope ``cls/predictions``: ``transform/dense`` (to embedding_size, hidden_act),
    ``transform/LayerNorm``, logits against the tied word embeddings + ``output_bias``."""

    def __init__(self, config: ModelConfig, word_embeddings: Any, **kwargs: Any) -> None:
        super().__init__(name="predictions", **kwargs)
        self.config = config
        self.word_embeddings = word_embeddings
        self.dense = _dense(config.embedding_size, config, "dense",
                            activation=get_activation(config.hidden_act))
        self.layer_norm = _layer_norm("LayerNorm")

    def build(self, input_shape: Any = None) -> None:
        _build_in_scope("transform", self.dense, (None, self.config.hidden_size))
        _build_in_scope("transform", self.layer_norm, (None, self.config.embedding_size))
        self.output_bias = self.add_weight(shape=(self.config.vocab_size,),
                                           initializer="zeros", name="output_bias")

    def call(self, x: Any) -> Any:
        x = self.layer_norm(self.dense(x))
        logits = ops.matmul(ops.cast(x, "float32"),
                            ops.transpose(ops.cast(self.word_embeddings, "float32")))
        return logits + self.output_bias


class AlbertSentenceOrderHead(keras.layers.Layer):
    """Scope ``cls/seq_relationship``: ``output_weights [2, hidden_size]`` and
    ``output_bias [2]`` on the pooled output (no dropout, as in the reference)."""

    def __init__(self, config: ModelConfig, **kwargs: Any) -> None:
        super().__init__(name="seq_relationship", **kwargs)
        self.config = config

    def build(self, input_shape: Any = None) -> None:
        self.output_weights = self.add_weight(
            shape=(2, self.config.hidden_size), initializer=_init(self.config),
            name="output_weights")
        self.output_bias = self.add_weight(shape=(2,), initializer="zeros", name="output_bias")

    def call(self, pooled: Any) -> Any:
        return ops.matmul(ops.cast(pooled, "float32"),
                          ops.transpose(self.output_weights)) + self.output_bias


def gather_positions(sequence: Any, positions: Any) -> Any:
    """Hidden states at ``positions`` ([batch, n]) of ``sequence`` ([batch, seq, width])."""
    batch, seq, width = ops.shape(sequence)[0], ops.shape(sequence)[1], ops.shape(sequence)[2]
    offsets = ops.expand_dims(ops.arange(batch, dtype="int32") * seq, 1)
    flat_positions = ops.reshape(ops.cast(positions, "int32") + offsets, (-1,))
    flat = ops.reshape(sequence, (-1, width))
    gathered = ops.take(flat, flat_positions, axis=0)
    return ops.reshape(gathered, (batch, -1, width))


class AlbertPretrainingModel(keras.Model):
    """ALBERT with its two pretraining heads.

    Inputs: a dict with ``input_ids``, ``input_mask``, ``segment_ids`` ([batch, seq]) and
    ``masked_lm_positions`` ([batch, max_predictions_per_seq]). Outputs: a dict with
    ``mlm_logits`` ([batch, max_predictions_per_seq, vocab_size], float32), ``sop_logits``
    ([batch, 2], float32), ``sequence_output`` and ``pooled_output``.
    """

    def __init__(self, config: ModelConfig, **kwargs: Any) -> None:
        super().__init__(name=MODEL_SCOPE, **kwargs)
        self.config = config
        self.bert = AlbertBackbone(config)
        self._mlm_head: Optional[AlbertMaskedLmHead] = None
        self.sop_head = AlbertSentenceOrderHead(config)

    @property
    def mlm_head(self) -> AlbertMaskedLmHead:
        if self._mlm_head is None:
            raise RuntimeError("build the model first (call build_weights())")
        return self._mlm_head

    def build(self, input_shape: Any = None) -> None:
        self.build_weights()

    def build_weights(self) -> None:
        """Creates every variable (idempotent), so the model can be restored or counted
        without running a forward pass."""
        if self.built:
            return
        self.bert.build(None)
        # The MLM decoder is tied to the word embeddings, so the head is made once they exist.
        self._mlm_head = AlbertMaskedLmHead(self.config, self.bert.embeddings.word_embeddings)
        _build_in_scope("cls", self._mlm_head, None)
        _build_in_scope("cls", self.sop_head, None)
        self.built = True

    def call(self, inputs: dict, training: bool = False) -> dict:
        sequence_output, pooled_output = self.bert(
            inputs["input_ids"], inputs["input_mask"], inputs["segment_ids"], training=training)
        masked = gather_positions(sequence_output, inputs["masked_lm_positions"])
        return {
            "mlm_logits": self.mlm_head(masked),
            "sop_logits": self.sop_head(pooled_output),
            "sequence_output": sequence_output,
            "pooled_output": pooled_output,
        }


def build_pretraining_model(config: ModelConfig) -> AlbertPretrainingModel:
    """Builds the model with all its variables created (check_model_config runs first)."""
    check_model_config(config)
    model = AlbertPretrainingModel(config)
    with keras.name_scope(MODEL_SCOPE):
        model.build_weights()
    return model


# --------------------------------------------------------------------------------------------
# Names and counts

def reference_name(path: str) -> str:
    """Our variable path -> the reference's TF variable name (drops the top ``albert/``)."""
    prefix = MODEL_SCOPE + "/"
    return path[len(prefix):] if path.startswith(prefix) else path


def count_parameters(config: ModelConfig) -> int:
    """Closed-form parameter count of the pretraining model (embeddings, encoder, pooler, MLM
    head with tied decoder, SOP head), derived from the architecture above."""
    v, e, h = config.vocab_size, config.embedding_size, config.hidden_size
    i, p, t = config.intermediate_size, config.max_position_embeddings, config.type_vocab_size
    embeddings = (v + p + t) * e + 2 * e
    mapping = e * h + h if e != h else 0
    block = 4 * (h * h + h) + 2 * h + (h * i + i) + (i * h + h) + 2 * h
    encoder = mapping + config.num_hidden_groups * config.inner_group_num * block
    pooler = h * h + h
    mlm = h * e + e + 2 * e + v
    sop = 2 * h + 2
    return embeddings + encoder + pooler + mlm + sop


def count_backbone_parameters(config: ModelConfig) -> int:
    """Parameters of the backbone alone (HF's ``AlbertModel`` with its pooler), the number the
    paper's table reports."""
    v, e, h = config.vocab_size, config.embedding_size, config.hidden_size
    return count_parameters(config) - (h * e + e + 2 * e + v) - (2 * h + 2)
