"""``RUN/metrics.jsonl``: the training metrics of a run, one JSON object per line, beside
TensorBoard's event files (``RUN/train``, ``RUN/eval``) — readable without TensorBoard, by
``albert-fast inspect RUN`` (``--plot`` draws the curves, :mod:`albert_fast.metrics_report`) or
any JSON tool.

Each line holds ``split`` (``train`` or ``eval``), ``step``, ``time`` (Unix seconds), ``epoch``
(training instances seen / instances in the training files, when known) and the metrics
(``loss``, ``masked_lm_loss``, ``masked_lm_accuracy``, ``sentence_order_loss``,
``sentence_order_accuracy``, and for training ``learning_rate`` and the throughput). A training
line covers the steps since the previous one (the trainer's logging interval). A resumed run
first drops the lines past the checkpoint it resumes from, so the file never holds a step twice.
"""

from __future__ import annotations

import json
import math
import os
import time
from pathlib import Path
from typing import Any, Iterable, Optional

from albert_fast.io_utils import atomic_write_text

__all__ = ["METRICS_FILE", "MetricsLog", "read_metrics"]

METRICS_FILE = "metrics.jsonl"


def read_metrics(run_dir: str | os.PathLike) -> list[dict[str, Any]]:
    """The records of ``RUN/metrics.jsonl`` in file order; a torn last line (a killed run) is
    skipped. Missing file: ``FileNotFoundError``."""
    path = Path(run_dir) / METRICS_FILE
    records = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(record, dict) and isinstance(record.get("step"), int):
                records.append(record)
    return records


def _clean(value: Any) -> Any:
    # JSON has no NaN/inf: a diverged loss is written as null (the trainer stops on it).
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


class MetricsLog:
    """Appends records to ``RUN/metrics.jsonl`` (only the chief writes one)."""

    def __init__(self, run_dir: str | os.PathLike, resume_step: int, enabled: bool = True):
        """Opens the log of a run that starts (or resumes) at ``resume_step``: records of later
        steps, left by a run killed after its last checkpoint, are dropped first."""
        self.path = Path(run_dir) / METRICS_FILE
        self.enabled = enabled
        if enabled and self.path.is_file():
            kept = [r for r in read_metrics(run_dir) if r["step"] <= resume_step]
            atomic_write_text(self.path, "".join(json.dumps(r) + "\n" for r in kept))

    def write(self, split: str, step: int, metrics: dict[str, Any], epoch: Optional[float] = None) -> None:
        if not self.enabled:
            return
        record: dict[str, Any] = {"split": split, "step": int(step), "time": round(time.time(), 3)}
        if epoch is not None:
            record["epoch"] = round(epoch, 6)
        record.update((k, _clean(v)) for k, v in metrics.items() if k not in record)
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(json.dumps(record) + "\n")


def by_split(records: Iterable[dict[str, Any]], split: str) -> list[dict[str, Any]]:
    """The records of one split, in step order."""
    return sorted((r for r in records if r.get("split") == split), key=lambda r: r["step"])
