"""export-hf and import: Hugging Face parity (logits, slow/fast tokenizer ids, fill-mask), the HF
round trip, an original-layout TF1 checkpoint, warm start, and bad inputs.

One tiny model is trained once per session; the Hugging Face side (torch) only ever runs in the
export's separate worker process, because loading transformers' PyTorch models next to
TensorFlow aborts in LLVM.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))

pytestmark = pytest.mark.slow

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


@pytest.fixture(scope="session")
def trained(tmp_path_factory, examples_dir):
    """A create-data-layout dataset from the bundled corpus and a tiny model trained on it."""
    from pretrain_data import build_dataset, tiny_config

    from albert_fast.pretrain import pretrain

    root = tmp_path_factory.mktemp("export")
    data = build_dataset(root / "data", [examples_dir / "en-twain4.txt",
                                         examples_dir / "de-grimm2.txt"],
                         [examples_dir / "de-HMann3.txt"], dupe_factor=1, num_train_shards=2)
    cfg = tiny_config(num_train_steps=20, num_warmup_steps=2, save_checkpoints_steps=10,
                      iterations_per_loop=10, max_eval_steps=2)
    pretrain(cfg, str(data), root / "run", progress=lambda line: None)
    return root, data, cfg


@pytest.fixture(scope="session")
def exported(trained, examples_dir):
    from albert_fast.export_hf import export_hf

    root, data, _ = trained
    texts = [examples_dir / n for n in ("en-twain4.txt", "de-grimm2.txt", "de-HMann3.txt")]
    report = export_hf(root / "run", root / "hf", tokenizer=data / "spiece.model", data=data,
                       texts=texts, emit=lambda line: None)
    return root / "hf", report


def test_export_logits_parity_tokenizer_parity_and_fill_mask(exported):
    hf, report = exported
    assert report.verified
    assert report.batch_source.startswith("8 instances of")  # real create-data instances
    assert report.mlm_max_abs_diff <= 1e-4 and report.sop_max_abs_diff <= 1e-4
    assert report.tokenizer_texts > 1000  # probe texts + the three bundled corpora
    assert report.fill_mask and all("token_str" in p for p in report.fill_mask)
    for name in ("config.json", "model.safetensors", "spiece.model", "tokenizer_config.json",
                 "tokenizer.json", "special_tokens_map.json"):
        assert (hf / name).is_file(), name
    assert not list(hf.parent.glob(".hf.tmp-*"))


def test_export_config_and_tokenizer_settings(exported, trained):
    hf, _ = exported
    cfg = trained[2]
    config = json.loads((hf / "config.json").read_text())
    assert config["hidden_act"] == "gelu_new"  # the original's tanh gelu
    assert config["layer_norm_eps"] == 1e-12
    assert (config["pad_token_id"], config["bos_token_id"], config["eos_token_id"]) == (0, 2, 3)
    assert config["architectures"] == ["AlbertForPreTraining"]
    assert config["vocab_size"] == cfg.model.vocab_size
    tok = json.loads((hf / "tokenizer_config.json").read_text())
    assert tok["do_lower_case"] is cfg.text.lowercase
    assert tok["keep_accents"] is (not cfg.text.strip_accents)
    assert "from_slow" not in tok


def test_safetensors_holds_every_pretraining_weight(exported, trained):
    from safetensors.numpy import load_file

    from albert_fast.checkpoints import load_model
    from albert_fast.convert import hf_parameter_name, model_weights

    hf, _ = exported
    state = load_file(str(hf / "model.safetensors"))
    model, _ = load_model(trained[0] / "run")
    for ref, value in model_weights(model).items():
        name, transpose = hf_parameter_name(ref)
        np.testing.assert_array_equal(state[name], value.T if transpose else value)
    for prefix in ("albert.embeddings.", "albert.encoder.embedding_hidden_mapping_in.",
                   "albert.encoder.albert_layer_groups.0.", "albert.pooler.", "predictions.",
                   "sop_classifier.classifier."):
        assert any(k.startswith(prefix) for k in state), prefix


def test_hf_round_trip_gives_identical_weights(exported, trained, tmp_path):
    from albert_fast.checkpoints import load_model
    from albert_fast.convert import import_weights, model_weights

    hf, _ = exported
    out = import_weights(hf, tmp_path / "imported", emit=lambda line: None)
    original, _ = load_model(trained[0] / "run")
    back, ckpt = load_model(out)
    a, b = model_weights(original), model_weights(back)
    assert a.keys() == b.keys()
    for name in a:
        np.testing.assert_array_equal(a[name], b[name], err_msg=name)
    assert ckpt.config.model == trained[2].model
    assert (out / "spiece.model").is_file()


def _write_tf1_checkpoint(weights: dict, prefix: Path, albert_config: dict) -> None:
    """An original-layout checkpoint: tf.compat.v1 variables under the reference names, with
    LAMB slots and global_step as run_pretraining.py leaves them."""
    import tensorflow as tf

    graph = tf.Graph()
    with graph.as_default():
        for name, value in weights.items():
            tf.compat.v1.get_variable(name, initializer=tf.constant(value))
            tf.compat.v1.get_variable(name + "/adam_m", initializer=tf.zeros_like(value))
            tf.compat.v1.get_variable(name + "/adam_v", initializer=tf.zeros_like(value))
        tf.compat.v1.train.get_or_create_global_step()
        saver = tf.compat.v1.train.Saver()
        with tf.compat.v1.Session(graph=graph) as sess:
            sess.run(tf.compat.v1.global_variables_initializer())
            saver.save(sess, str(prefix))
    (prefix.parent / "albert_config.json").write_text(json.dumps(albert_config))


def test_tf1_checkpoint_import_and_init_from_group0(trained, tmp_path):
    from albert_fast.checkpoints import load_model
    from albert_fast.config import config_from_dict
    from albert_fast.convert import import_weights, model_weights

    original, ckpt = load_model(trained[0] / "run")
    weights = model_weights(original)
    prefix = tmp_path / "tf1" / "model.ckpt-20"
    prefix.parent.mkdir()
    _write_tf1_checkpoint(weights, prefix, ckpt.config.albert_config())
    out = import_weights(prefix, tmp_path / "from_tf1", emit=lambda line: None)
    back, _ = load_model(out)
    for name, value in model_weights(back).items():
        np.testing.assert_array_equal(value, weights[name], err_msg=name)

    # init_from_group0: a two-group model takes group 0 of the one-group checkpoint everywhere.
    two = config_from_dict({**ckpt.config.to_dict(),
                            "model": {**ckpt.config.albert_config(), "num_hidden_groups": 2}})
    out2 = import_weights(prefix.parent, tmp_path / "group0", config=two, init_from_group0=True,
                          emit=lambda line: None)
    grouped, _ = load_model(out2)
    got = model_weights(grouped)
    group1 = [n for n in got if "/group_1/" in n]
    assert group1
    for name in group1:
        np.testing.assert_array_equal(got[name], weights[name.replace("/group_1/", "/group_0/")])


def test_warm_start_accepts_hf_directory(exported, trained):
    from albert_fast.checkpoints import load_model
    from albert_fast.convert import model_weights, warm_start
    from albert_fast.model import build_pretraining_model

    hf, _ = exported
    fresh = build_pretraining_model(trained[2].model)
    lines: list[str] = []
    report = warm_start(fresh, str(hf), False, lines.append)
    assert not report.missing and "hf checkpoint" in lines[0]
    original, _ = load_model(trained[0] / "run")
    for name, value in model_weights(original).items():
        np.testing.assert_array_equal(model_weights(fresh)[name], value)


def test_logits_mismatch_is_an_error(exported, tmp_path):
    """The HF check process fails the export when the logits differ beyond 1e-4."""
    from albert_fast.errors import ModelError
    from albert_fast.hf_worker import run_hf_worker

    hf, _ = exported
    copy = tmp_path / "hf"
    shutil.copytree(hf, copy)
    rng = np.random.default_rng(0)
    batch = {"input_ids": rng.integers(5, 100, (2, 16)).astype(np.int32),
             "input_mask": np.ones((2, 16), np.int32), "segment_ids": np.zeros((2, 16), np.int32),
             "masked_lm_positions": np.array([[1, 2], [3, 4]], np.int32),
             "mlm_logits": np.zeros((2, 2, 2000), np.float32),
             "sop_logits": np.zeros((2, 2), np.float32)}
    np.savez(tmp_path / "batch.npz", **batch)
    task = {"dir": str(copy), "model_file": str(copy / "spiece.model"), "lowercase": True,
            "strip_accents": False, "max_length": 64, "verify": True,
            "batch": str(tmp_path / "batch.npz"), "texts": ["a b"], "ids": [[1]]}
    with pytest.raises(ModelError, match="differs from our model"):
        run_hf_worker(task)


def test_bad_inputs(trained, tmp_path):
    from albert_fast.config import config_from_dict
    from albert_fast.errors import ConfigError, ModelError
    from albert_fast.export_hf import export_hf

    root, data, cfg = trained
    with pytest.raises(FileNotFoundError):
        export_hf(tmp_path / "missing", tmp_path / "out1", verify=False)
    empty = tmp_path / "no_ckpt"
    empty.mkdir()
    (empty / "config.yaml").write_text((root / "run" / "config.yaml").read_text())
    with pytest.raises(ModelError, match="no checkpoint"):
        export_hf(empty, tmp_path / "out2", verify=False)
    other = config_from_dict({**cfg.to_dict(), "model": {**cfg.albert_config(),
                                                         "hidden_size": 128}})
    with pytest.raises(ConfigError, match="model.hidden_size"):
        export_hf(root / "run", tmp_path / "out3", config=other, verify=False)
    wrong_vocab = tmp_path / "tok"
    wrong_vocab.mkdir()
    shutil.copy(data / "spiece.model", wrong_vocab / "spiece.model")
    (wrong_vocab / "tokenizer_config.json").write_text(json.dumps({"lowercase": False}))
    with pytest.raises(ConfigError, match="lowercase"):
        export_hf(root / "run", tmp_path / "out4", tokenizer=wrong_vocab, verify=False)
    for n in range(1, 5):
        assert not (tmp_path / f"out{n}").exists()
    assert not list(tmp_path.glob(".out*"))


def test_cli_export_errors_are_clear(tmp_path):
    from conftest import run_cli

    proc = run_cli("export-hf", str(tmp_path / "nope"), "-o", str(tmp_path / "hf"))
    assert proc.returncode != 0
    assert "nope" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "hf").exists()


def test_tokenizer_parity_with_user_defined_symbols(tmp_path, examples_dir):
    """A tokenizer from train-tokenizer (the tutorial's user_defined_symbols "(", ")", '"', "-",
    ".", ...): the slow and fast HF tokenizers written by export give our ids on the corpora."""
    from albert_fast.export_hf import PROBE_TEXTS, _text_lines, our_encoder
    from albert_fast.hf_worker import run_hf_worker
    from albert_fast.train_tokenizer import train_tokenizer

    tok = tmp_path / "tok"
    train_tokenizer(examples_dir, tok, config={"model": {"vocab_size": 2000}}, progress=False)
    hf = tmp_path / "hf"
    hf.mkdir()
    texts = list(PROBE_TEXTS) + _text_lines(sorted(examples_dir.iterdir()), limit=3000)
    encode = our_encoder(tok / "spiece.model", True, False)
    result = run_hf_worker({"dir": str(hf), "model_file": str(tok / "spiece.model"),
                            "lowercase": True, "strip_accents": False, "max_length": 512,
                            "verify": True, "texts": texts,
                            "ids": [list(encode(t)) for t in texts]})
    assert result["tokenizer_texts"] == len(texts)
    added = json.loads((hf / "tokenizer.json").read_text())["added_tokens"]
    assert {t["content"] for t in added} == {"<pad>", "<unk>", "[CLS]", "[SEP]", "[MASK]"}


_HF_CLASSES_SCRIPT = r"""
import json, sys
import torch, transformers
from transformers import AlbertForPreTraining, AutoModelForMaskedLM, AutoTokenizer
hf = sys.argv[1]
tok = AutoTokenizer.from_pretrained(hf)
enc = tok(["the fox and [MASK] dog"], ["it ran away."], return_tensors="pt")
mlm, pre = AutoModelForMaskedLM.from_pretrained(hf), AlbertForPreTraining.from_pretrained(hf)
with torch.no_grad():
    a = mlm(**enc).logits
    b = pre(**enc).prediction_logits
print(json.dumps({"version": transformers.__version__, "tokenizer": type(tok).__name__,
                  "model": type(mlm).__name__, "same_logits": bool(torch.equal(a, b)),
                  "input_ids": enc["input_ids"][0].tolist(),
                  "token_type_ids": enc["token_type_ids"][0].tolist(),
                  "mask_id": tok.mask_token_id}))
"""


def test_transformers_auto_classes_load_the_export(exported, trained):
    """AutoTokenizer, AutoModelForMaskedLM and AlbertForPreTraining of the installed
    transformers (5.x in CI; 4.x too) on the export, in a process of their own as a user has
    them: the MLM head's logits are the pretraining model's, a sentence pair gets ALBERT's
    [CLS] A [SEP] B [SEP] with segment ids, and the ids are our tokenizer's."""
    import subprocess

    from albert_fast.tokenizer import Tokenizer

    hf, _ = exported
    env = {k: v for k, v in os.environ.items() if k not in ("USE_TORCH", "USE_TF")}
    env["USE_TF"] = "0"  # transformers 4.x would import TensorFlow (no effect in 5.x)
    proc = subprocess.run([sys.executable, "-c", _HF_CLASSES_SCRIPT, str(hf)], env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    assert got["model"] == "AlbertForMaskedLM" and got["same_logits"], got
    assert got["tokenizer"] in ("PreTrainedTokenizerFast", "TokenizersBackend"), got
    ours = Tokenizer(hf / "spiece.model", lowercase=trained[2].text.lowercase)
    a, b = ours.encode("the fox and [MASK] dog"), ours.encode("it ran away.")
    assert got["input_ids"] == [2, *a, 3, *b, 3]
    assert got["token_type_ids"] == [0] * (len(a) + 2) + [1] * (len(b) + 1)
    assert got["mask_id"] == 4 and 4 in a


def test_failed_export_and_import_leave_no_empty_directories(trained, tmp_path):
    """export-hf failing inside its staging directory (after the output's parents are made), and
    import failing on its source: neither leaves a directory it created (the CLI's guard)."""
    from conftest import run_cli

    from albert_fast.dataset import find_data_files

    root, data, _ = trained
    bad = tmp_path / "data"
    shutil.copytree(data, bad)
    for f in find_data_files(str(bad)).eval:
        Path(f).write_bytes(b"")  # no instances to verify with
    env = {"USE_TORCH": "0", "CUDA_VISIBLE_DEVICES": ""}
    r = run_cli("export-hf", str(root / "run"), "-o", str(tmp_path / "new" / "hf"),
                "--tokenizer", str(data / "spiece.model"), "--data", str(bad), env=env)
    assert r.returncode == 2 and "no instances to verify" in r.stderr, r.stderr
    assert "Traceback" not in r.stderr
    assert not (tmp_path / "new").exists()
    no_ckpt = tmp_path / "no_ckpt"
    no_ckpt.mkdir()
    (no_ckpt / "config.yaml").write_text((root / "run" / "config.yaml").read_text())
    r = run_cli("import", str(no_ckpt), "-o", str(tmp_path / "new2" / "model"), env=env)
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
    assert not (tmp_path / "new2").exists()
