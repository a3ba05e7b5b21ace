"""Two builds of albert_fast side by side: the Rust hot paths timed with each build alternately,
on the same inputs, in one run. For restructurings that must not be slower ("before/after").

    python benches/bench_builds.py --base /path/to/old/python --new python [--rounds 5] [--mb 10]

Each task runs in a fresh child process (``PYTHONPATH`` = the build's ``python/`` directory, one
rayon thread) and reports the CPU seconds of its timed part; the builds alternate task by task,
round by round, and each keeps its best round (the machine may be shared). Only ``_core``
functions present in every build are used. Tasks:

* ``tokenize`` / ``tokenize_ref``: ``Tokenizer.encode_batch`` (default / reference_compat) over
  every non-blank line of the literature bench corpus (30k model trained with ALBERT's flags);
* ``punkt``: ``PunktSplitter.tokenize_many`` over the corpus' documents;
* ``encode``: ``encode_example`` of ALBERT instances (max_seq_length 512, 20 predictions);
* ``decode`` / ``decode_packed``: ``decode_example`` / ``decode_example_packed`` of their records;
* ``stats``: ``dataset_stats_raw`` (read, verify, decode, count) over a file of those records.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
TASKS = ["tokenize", "tokenize_ref", "punkt", "encode", "decode", "decode_packed", "stats"]


def setup(mb: float, instances: int) -> dict:
    """The shared inputs, built once under benches/data/ (ignored by git)."""
    sys.path.insert(0, str(HERE))
    sys.path.insert(0, str(HERE.parent / "tests"))
    import bench_tokenizer
    from bench_tfrecord import make_instances
    from make_corpus import paragraphs

    from albert_fast import _core

    corpus = bench_tokenizer.build_corpus(mb, ["en", "de", "fr"])
    model = bench_tokenizer.bench_model(30000)
    data = HERE / "data"
    params = data / f"punkt-{corpus.stem}"
    if not params.exists():
        from nltk.tokenize.punkt import PunktTrainer

        trainer = PunktTrainer()
        trainer.train(corpus.read_text(encoding="utf-8")[: 2 << 20], finalize=True)
        p = trainer.get_params()
        _core.save_punkt_params(str(params), sorted(p.abbrev_types), sorted(tuple(c) for c in p.collocations),
                                sorted(p.sent_starters), sorted((k, int(v)) for k, v in p.ortho_context.items()))
    docs = data / f"{corpus.stem}.docs.json"
    if not docs.exists():
        docs.write_text(json.dumps(paragraphs(corpus.read_text(encoding="utf-8"))))
    records = data / f"instances-{instances}.tfrecord"
    insts = data / f"instances-{instances}.json"
    if not records.exists():
        made = make_instances(instances, 512, 20)
        insts.write_text(json.dumps(made))
        with _core.RecordWriter(str(records)) as w:
            for inst in made:
                w.write_example(inst)
    return {"corpus": str(corpus), "model": str(model), "params": str(params), "docs": str(docs),
            "records": str(records), "instances": str(insts)}


def child(task: str, inputs: dict) -> float:
    from albert_fast import _core

    if task.startswith("tokenize"):
        lines = [x for x in Path(inputs["corpus"]).read_text(encoding="utf-8").split("\n") if x.strip()]
        tok = _core.Tokenizer(inputs["model"], True, False, task == "tokenize_ref")
        fn = lambda: tok.encode_batch(lines, threads=1)  # noqa: E731
    elif task == "punkt":
        docs = json.loads(Path(inputs["docs"]).read_text())
        splitter = _core.PunktSplitter(inputs["params"])
        fn = lambda: splitter.tokenize_many(docs)  # noqa: E731
    elif task == "encode":
        insts = [{k: tuple(v) for k, v in inst.items()} for inst in json.loads(Path(inputs["instances"]).read_text())]
        fn = lambda: [_core.encode_example(inst) for inst in insts]  # noqa: E731
    elif task.startswith("decode"):
        records = list(_core.RecordReader(inputs["records"]))
        decode = _core.decode_example_packed if task == "decode_packed" else _core.decode_example
        fn = lambda: [decode(r) for r in records]  # noqa: E731
    elif task == "stats":
        fn = lambda: _core.dataset_stats_raw([inputs["records"]] * 4)  # noqa: E731
    else:
        raise SystemExit(f"unknown task {task}")
    fn()  # warm-up (page cache, allocator)
    t = time.process_time()
    fn()
    return time.process_time() - t


def run(build: Path, task: str, inputs: dict) -> float:
    env = dict(os.environ, PYTHONPATH=str(build), RAYON_NUM_THREADS="1")
    out = subprocess.run([sys.executable, __file__, "--child", task, "--inputs", json.dumps(inputs)],
                         env=env, capture_output=True, text=True)
    if out.returncode:
        raise SystemExit(f"{task} with {build} failed:\n{out.stderr}")
    return float(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--base", type=Path, help="python/ directory of the old build")
    ap.add_argument("--new", type=Path, default=HERE.parent / "python", help="python/ directory of the new build")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--mb", type=float, default=10)
    ap.add_argument("--instances", type=int, default=5000)
    ap.add_argument("--tasks", default=",".join(TASKS))
    ap.add_argument("--child")
    ap.add_argument("--inputs")
    args = ap.parse_args()
    if args.child:
        print(child(args.child, json.loads(args.inputs)))
        return
    inputs = setup(args.mb, args.instances)
    tasks = args.tasks.split(",")
    best = {(b, t): float("inf") for b in ("base", "new") for t in tasks}
    load = os.getloadavg()[0]
    for _ in range(args.rounds):
        for t in tasks:
            for b, path in (("base", args.base), ("new", args.new)):
                best[b, t] = min(best[b, t], run(path.resolve(), t, inputs))
    print(f"best CPU seconds of {args.rounds} alternated rounds, 1 thread; load average {load:.1f} -> "
          f"{os.getloadavg()[0]:.1f}")
    print("| task | base CPU s | new CPU s | new / base |")
    print("|---|---:|---:|---:|")
    for t in tasks:
        print(f"| {t} | {best['base', t]:.3f} | {best['new', t]:.3f} | {best['new', t] / best['base', t]:.3f} |")


if __name__ == "__main__":
    main()
