"""No import cycles: every module of the package imports on its own in a fresh interpreter, the
module-level imports between the package's modules form no cycle, and no module brings
TensorFlow and torch into one process (they abort together; the torch side of export-hf runs in
albert_fast.hf_worker's own process)."""

from __future__ import annotations

import ast
import os
import pkgutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import albert_fast

PACKAGE_DIR = Path(albert_fast.__file__).parent


def _modules() -> list[str]:
    names = ["albert_fast"]
    for info in pkgutil.walk_packages([str(PACKAGE_DIR)], prefix="albert_fast."):
        if info.name != "albert_fast.__main__":  # running it would start the CLI
            names.append(info.name)
    return sorted(names)


def _source(module: str) -> Path | None:
    parts = module.split(".")[1:]
    candidates = [PACKAGE_DIR.joinpath(*parts, "__init__.py")]
    if parts:
        candidates.append(PACKAGE_DIR.joinpath(*parts[:-1], parts[-1] + ".py"))
    return next((p for p in candidates if p.is_file()), None)  # None: the compiled extension


CHECK = """
import importlib, sys
importlib.import_module(sys.argv[1])
loaded = {m for m in ("tensorflow", "torch") if m in sys.modules}
print("LOADED", " ".join(sorted(loaded)))
sys.exit(3 if len(loaded) == 2 else 0)
"""


def _import_alone(module: str) -> tuple[str, int, str]:
    env = dict(os.environ, USE_TORCH="0", TF_CPP_MIN_LOG_LEVEL="3",
               PYTHONPATH=os.pathsep.join([str(PACKAGE_DIR.parent)] + [
                   p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]))
    proc = subprocess.run([sys.executable, "-c", CHECK, module], capture_output=True, text=True,
                          env=env, timeout=300)
    return module, proc.returncode, proc.stdout + proc.stderr[-2000:]


def test_every_module_imports_alone_in_a_fresh_interpreter():
    modules = _modules()
    assert {"albert_fast.pretrain", "albert_fast.export_hf", "albert_fast.hf_worker",
            "albert_fast.commands.run"} <= set(modules)
    with ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2)) as pool:
        results = list(pool.map(_import_alone, modules))
    failed = [f"{m} (exit {rc}):\n{out}" for m, rc, out in results if rc != 0]
    assert not failed, "\n\n".join(failed)
    worker = next(out for m, _, out in results if m == "albert_fast.hf_worker")
    assert "tensorflow" not in worker.split("LOADED", 1)[1].splitlines()[0]


def _module_level_imports(module: str, tree: ast.Module, known: set[str]) -> set[str]:
    """The package's modules that ``module`` imports at module level (not inside functions)."""
    package = module if _source(module) and _source(module).name == "__init__.py" else \
        module.rsplit(".", 1)[0]
    found: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name in known)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[:len(package.split(".")) - node.level + 1]
                                + ([base] if base else []))
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                if sub in known:
                    found.add(sub)
                elif base in known:
                    found.add(base)
    found.discard(module)
    return found


def test_module_level_imports_form_no_cycle():
    known = set(_modules()) | {"albert_fast.__main__"}
    graph = {m: _module_level_imports(m, ast.parse(src.read_text(encoding="utf-8")), known)
             for m in sorted(known) if (src := _source(m)) is not None}
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(m: str) -> None:
        state[m] = 1
        path.append(m)
        for dep in sorted(graph.get(m, ())):
            if state.get(dep) == 1:
                cycle = path[path.index(dep):] + [dep]
                raise AssertionError("import cycle: " + " -> ".join(cycle))
            if dep not in state:
                visit(dep)
        path.pop()
        state[m] = 2

    for m in graph:
        if m not in state:
            visit(m)
