"""Where a planned stage runs its tasks (docs/cluster.md): a Dask cluster (``--cluster``,
``cluster=``, the config's ``cluster`` section) or, for an output in object storage without a
cluster, a pool of threads in this process.

``cluster`` is ``"local"`` / ``"local:N"`` (a :class:`distributed.LocalCluster` of N one-thread
worker processes, N = the cores when omitted, started and stopped here), a scheduler address
(``tcp://HOST:PORT``, ``tls://...``; ``dask scheduler`` + ``dask worker`` processes already
running), or a :class:`distributed.Client`. Tasks are plain functions of this package run with
small arguments (paths, spans, options); they write their output themselves and return small
summaries. A worker lost mid-task is replaced by Dask, which runs the task again elsewhere (its
output appears whole or not at all, so the result is the same); a task that raises stops the
run with its error.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import socket
import sys
import uuid
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Optional, Protocol, Sequence, Union

from albert_fast.errors import AlbertFastError, ConfigError

__all__ = ["ClusterError", "ClusterSpec", "Executor", "StartingExecutor", "TaskSource", "open_executor",
           "starting_executor", "run_tasks", "parse_cluster", "output_environment", "reads_local_files"]

#: Seconds to wait for a scheduler before giving up (the config's cluster.connect_timeout).
DEFAULT_CONNECT_TIMEOUT = 30.0


class ClusterError(AlbertFastError):
    """The cluster cannot be used: no scheduler at the address, Dask missing, workers lost."""


@dataclass(frozen=True)
class ClusterSpec:
    """A parsed ``cluster`` argument: ``local`` with ``workers`` processes, or ``address``."""

    kind: str  # "local", "address" or "client"
    workers: int = 0
    address: str = ""


def parse_cluster(value: Any) -> Optional[ClusterSpec]:
    """``None``/``""``/``"none"``: no cluster; ``"local"``, ``"local:N"``, an address
    (``tcp://host:port``) or a ``distributed.Client``."""
    if value is None:
        return None
    if not isinstance(value, str):
        if type(value).__name__ == "Client" and hasattr(value, "submit"):
            return ClusterSpec("client")
        raise ConfigError(f"cluster: expected 'local', 'local:N', a scheduler address or a "
                          f"distributed.Client, not {type(value).__name__}")
    text = value.strip()
    if text.lower() in ("", "none", "off"):
        return None
    if text == "local":
        return ClusterSpec("local", workers=_cpu_count())
    if text.startswith("local:"):
        n = text[len("local:"):]
        if not n.isdigit() or int(n) < 1:
            raise ConfigError(f"cluster: {value!r}: expected local:N with N >= 1 worker processes")
        return ClusterSpec("local", workers=int(n))
    if "://" in text or ":" in text:
        return ClusterSpec("address", address=text if "://" in text else f"tcp://{text}")
    raise ConfigError(f"cluster: {value!r}: expected 'local', 'local:N' or a scheduler address "
                      "such as tcp://10.0.0.1:8786")


#: The error for ``-`` (standard input) given with a cluster whose workers may be elsewhere.
STDIN_ON_A_CLUSTER = ("'-' (standard input) is copied to this machine, where the workers of a cluster at "
                      "an address may not read it: save the text to a file (or a bucket) they reach and "
                      "name that, or use --cluster local:N")


def reads_local_files(cluster: Any) -> bool:
    """Whether the tasks of ``cluster`` can read this machine's files (a copy of standard
    input): this process's threads and a ``local:N`` cluster can, workers at an address
    (or behind a ``Client``) may be elsewhere."""
    spec = parse_cluster(cluster)
    return spec is None or spec.kind == "local"


def _cpu_count() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _require_dask() -> Any:
    try:
        import distributed
    except ImportError:
        raise ClusterError("--cluster needs Dask: install it with `pip install 'albert-fast[dask]'` "
                           "(dask[distributed])") from None
    return distributed


class Executor:
    """Runs task functions; ``width`` is how many run at once."""

    width: int = 1

    def submit(self, fn: Callable, args: tuple, key: str) -> Any:
        raise NotImplementedError

    def wait_any(self, pending: set) -> tuple[set, set]:
        """(done, still pending)."""
        raise NotImplementedError

    def result(self, future: Any) -> Any:
        return future.result()

    def cancel(self, futures: Sequence[Any]) -> None:
        for f in futures:
            f.cancel()

    def task_threads(self, tasks: int) -> int:
        """Rust threads for each of ``tasks`` tasks: one on a cluster (its workers' threads run
        tasks side by side), the pool's share in this process."""
        return 1

    def warm(self, fn: Callable, args: tuple) -> None:
        """Runs ``fn(*args)`` once where tasks will run (each worker), ahead of them, for what
        every task needs and the first would otherwise wait for (imports, a model); its result
        and errors are dropped (a task that needs it fails with the error itself)."""


class ThreadExecutor(Executor):
    """Tasks on threads of this process (they release the GIL in Rust)."""

    def __init__(self, threads: int) -> None:
        self.width = max(1, threads)
        self.pool = ThreadPoolExecutor(max_workers=self.width, thread_name_prefix="albert-fast-task")

    def submit(self, fn: Callable, args: tuple, key: str) -> Any:
        return self.pool.submit(fn, *args)

    def wait_any(self, pending: set) -> tuple[set, set]:
        done, rest = wait(pending, timeout=0.25, return_when=FIRST_COMPLETED)
        return set(done), set(rest)

    def task_threads(self, tasks: int) -> int:
        return max(1, self.width // max(1, min(tasks, self.width)))

    def warm(self, fn: Callable, args: tuple) -> None:
        self.pool.submit(_quietly, fn, *args)  # this process's tasks share what it loads

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)


def output_environment() -> dict[str, str]:
    """What a task's output bytes depend on besides its arguments (which carry the resolved
    options, the sentencepiece behaviour included): the package and the interpreter's Unicode
    tables (``unicode_tables``: Python and ``unicodedata`` versions, NLTK's regex engine)."""
    from albert_fast import __version__, unicode_tables

    return {"albert_fast": __version__, "Unicode tables": unicode_tables.tables_id()}


def _quietly(fn: Callable, *args: Any) -> None:
    """``fn(*args)``, its errors dropped: see :meth:`Executor.warm`."""
    try:
        fn(*args)
    except Exception:
        pass


def _checked_task(expected: dict[str, str], fn: Callable, *args: Any) -> Any:
    """``fn(*args)`` on a worker whose :func:`output_environment` is the driver's: a worker
    with another Python or albert_fast would write other bytes, so it refuses the task."""
    here = output_environment()
    diff = [f"{k} {here.get(k)!r}, the driver's {v!r}" for k, v in expected.items() if here.get(k) != v]
    if diff:
        raise ClusterError(f"worker {socket.gethostname()} ({sys.executable}): {'; '.join(diff)}: its output "
                           "would not match this machine's; install the same albert_fast and Python on "
                           "every worker")
    return fn(*args)


class DaskExecutor(Executor):
    """Tasks on a Dask cluster through ``client``."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.distributed = _require_dask()
        info = client.scheduler_info()
        self.width = max(1, sum(w.get("nthreads", 1) for w in info.get("workers", {}).values()))
        self.run_id = uuid.uuid4().hex[:8]
        self.environment = output_environment()
        self._warming: list = []

    def submit(self, fn: Callable, args: tuple, key: str) -> Any:
        # Bad input fails the same way every time: no retries. A worker that dies mid-task is
        # another matter: the scheduler reschedules its tasks (distributed.scheduler.allowed-failures).
        return self.client.submit(_checked_task, self.environment, fn, *args, key=f"{key}-{self.run_id}",
                                  pure=False, retries=0)

    def wait_any(self, pending: set) -> tuple[set, set]:
        try:
            done = self.distributed.wait(list(pending), timeout=0.25, return_when="FIRST_COMPLETED")
            return set(done.done), set(done.not_done)
        except self.distributed.TimeoutError:
            return set(), pending
        except TimeoutError:
            return set(), pending

    def result(self, future: Any) -> Any:
        try:
            return future.result()
        except self.distributed.client.FutureCancelledError as err:
            raise ClusterError(f"a task was cancelled by the cluster: {err}") from None
        except self.distributed.scheduler.KilledWorker as err:
            raise ClusterError(f"a task failed on every worker that ran it (workers died): {err}") from None

    def cancel(self, futures: Sequence[Any]) -> None:
        if futures:
            self.client.cancel(list(futures))

    def warm(self, fn: Callable, args: tuple) -> None:
        # One call pinned to each worker there is now, ahead of the tasks (higher priority);
        # the futures are kept so that the calls run, and go with the client.
        self._warming = [self.client.submit(_quietly, fn, *args, key=f"warm-{i}-{self.run_id}", workers=[w],
                                            allow_other_workers=False, pure=False, priority=1)
                         for i, w in enumerate(self.client.scheduler_info().get("workers", {}))]


#: Dask's housekeeping rates in the processes of a ``local:N`` cluster: its defaults (an event
#: loop check every 20 ms in each of the scheduler, nannies and workers, a psutil sample every
#: 500 ms, a stack sample of every worker thread each 10 ms for the dashboard's profile, which
#: a local cluster here does not serve) cost ~6% of a core at rest, about 2% of the CPU of a
#: create-data run on 2 cores; at these rates 1% of a core (benches/RESULTS.md).
LOCAL_CLUSTER_CONFIG = {
    "distributed.admin.tick.interval": "1s",
    "distributed.admin.system-monitor.interval": "5s",
    "distributed.worker.profile.enabled": False,
}


@contextlib.contextmanager
def open_executor(cluster: Any, threads: int = 0, connect_timeout: float = DEFAULT_CONNECT_TIMEOUT
                  ) -> Iterator[Executor]:
    """The executor for ``cluster`` (see the module docs; ``None``: ``threads`` threads here),
    closed (and a local cluster stopped) on exit."""
    spec = parse_cluster(cluster)
    if spec is None:
        ex = ThreadExecutor(threads or _cpu_count())
        try:
            yield ex
        finally:
            ex.close()
        return
    if spec.kind == "client":
        yield DaskExecutor(cluster)
        return
    distributed = _require_dask()
    if spec.kind == "local":
        import dask

        # (the nannies hand this config to the worker processes they start, and again to one
        # they restart)
        with _quiet_dask(), dask.config.set(LOCAL_CLUSTER_CONFIG):
            local = distributed.LocalCluster(
                n_workers=spec.workers, threads_per_worker=1, processes=True,
                dashboard_address=":0", memory_limit=0, silence_logs=50)
            client = distributed.Client(local)
        try:
            yield DaskExecutor(client)
        finally:
            with _quiet_dask():
                client.close()
                local.close()
        return
    try:
        with _quiet_dask():
            client = distributed.Client(spec.address, timeout=connect_timeout)
    except (OSError, TimeoutError) as err:
        raise ClusterError(f"cannot reach the Dask scheduler at {spec.address} within "
                           f"{connect_timeout:g} s: {_short(err)} (is `dask scheduler` running "
                           "there, with `dask worker` processes?)") from None
    try:
        ex = DaskExecutor(client)
        if not client.scheduler_info().get("workers"):
            with _quiet_dask():
                client.wait_for_workers(1, timeout=connect_timeout)
            ex = DaskExecutor(client)
        yield ex
    except (TimeoutError, OSError) as err:
        raise ClusterError(f"the Dask scheduler at {spec.address} has no workers "
                           f"(waited {connect_timeout:g} s): {_short(err)}") from None
    finally:
        with _quiet_dask():
            client.close()


class StartingExecutor:
    """An executor being opened in the background (:func:`starting_executor`): call it to wait
    for the executor; :meth:`check` raises the start's error as soon as there is one."""

    def __init__(self, future: Any) -> None:
        self._future = future

    def __call__(self) -> Executor:
        return self._future.result()

    def check(self) -> None:
        if self._future.done() and self._future.exception() is not None:
            raise self._future.exception()

    def wait(self, timeout: float) -> Optional[Executor]:
        """The executor if it is started within ``timeout`` seconds, else ``None``; raises the
        start's error."""
        done, _ = wait([self._future], timeout=timeout)
        return self._future.result() if done else None


@contextlib.contextmanager
def starting_executor(cluster: Any, threads: int = 0, connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
                      warm: Optional[tuple[Callable, tuple]] = None) -> Iterator[StartingExecutor]:
    """:func:`open_executor` in the background, while the caller does something else (the
    driver's plan, which passes :meth:`StartingExecutor.check` to its progress loop so that
    an unreachable scheduler stops it within ``connect_timeout``): importing Dask, reaching
    the scheduler or starting a ``local:N`` cluster's processes, then ``warm`` (``(fn, args)``
    for :meth:`Executor.warm`). Closed (a local cluster stopped) on exit, once started."""
    spec = parse_cluster(cluster)
    if spec is not None and importlib.util.find_spec("distributed") is None:
        _require_dask()  # said before anything else (importing it is left to the background)
    stack = contextlib.ExitStack()

    def start() -> Executor:
        ex = stack.enter_context(open_executor(cluster, threads, connect_timeout))
        if warm is not None:
            ex.warm(*warm)
        return ex

    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="albert-fast-cluster-start")
    starting = pool.submit(start)
    try:
        yield StartingExecutor(starting)
    finally:
        try:
            # Stopped only once started (a failed start has nothing to stop; the caller's
            # own error, when it has one, is the one raised).
            starting.exception()
        finally:
            pool.shutdown(wait=True)
            stack.close()


def _short(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return text[0] if text else type(err).__name__


@contextlib.contextmanager
def _quiet_dask() -> Iterator[None]:
    """Dask logs connection retries and shutdown chatter at WARNING/ERROR; the run reports
    what matters itself."""
    import logging

    loggers = [logging.getLogger(n) for n in ("distributed", "tornado")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        for lg, level in zip(loggers, levels):
            lg.setLevel(level)


class TaskSource(Protocol):
    """Tasks that become known over time (a plan whose input is still being read)."""

    def poll(self, timeout: float) -> tuple[list[tuple[tuple, int]], bool]:
        """The tasks known since the last call as ``(args, weight)``, waiting up to ``timeout``
        seconds for one; and whether every task is known now."""
        ...

    @property
    def expected_weight(self) -> int:
        """The weight of all tasks: an estimate until every task is known."""
        ...


class _Given:
    """:class:`TaskSource` of tasks all known at once."""

    def __init__(self, args: Sequence[tuple], weights: Optional[Sequence[int]]) -> None:
        self.tasks = list(zip(args, weights if weights is not None else [1] * len(args)))
        self.expected_weight = sum(w for _, w in self.tasks)

    def poll(self, timeout: float) -> tuple[list[tuple[tuple, int]], bool]:
        tasks, self.tasks = self.tasks, []
        return tasks, True


#: Seconds between looks at the source while it still has tasks to come (each look waits on it
#: with the GIL released), and at the running tasks once every task is submitted.
_FEED_WAIT = 0.02
_RUN_WAIT = 0.25


def run_tasks(ex: Executor, fn: Callable, args: Union[Sequence[tuple], TaskSource], *, key: str,
              weights: Optional[Sequence[int]] = None, desc: str = "",
              show: bool = False, unit: str = "B",
              on_done: Optional[Callable[[int, Any], None]] = None) -> list:
    """Runs ``fn(*a)`` for every ``a`` of ``args`` on ``ex``; returns the results in order.
    ``args`` is a list (``weights``: e.g. bytes per task) or a :class:`TaskSource`, whose tasks
    are submitted as they become known. One progress bar over all of them (tasks done in the
    postfix). ``on_done(i, result)`` runs here as each task ``i`` finishes. The first failure
    cancels the rest and is raised; Ctrl-C cancels them too."""
    source = _Given(args, weights) if isinstance(args, Sequence) else args
    bar = None
    if show:
        from tqdm import tqdm

        bar = tqdm(total=source.expected_weight, desc=desc, unit=unit, unit_scale=True,
                   unit_divisor=1024 if unit == "B" else 1000, file=sys.stderr, dynamic_ncols=True)
    futures: list = []
    results: list = []
    task_weights: list[int] = []
    index: dict[int, int] = {}
    pending: set = set()
    done_count = 0
    complete = False
    try:
        while not complete or pending:
            if not complete:
                new, complete = source.poll(_FEED_WAIT)
                for a, w in new:
                    f = ex.submit(fn, a, f"{key}-{len(futures)}")
                    index[id(f)] = len(futures)
                    futures.append(f)
                    results.append(None)
                    task_weights.append(w)
                    pending.add(f)
                done = {f for f in pending if f.done()}
                pending -= done
                if bar is not None:
                    known = sum(task_weights)
                    bar.total = known if complete else max(source.expected_weight, known)
            else:
                done, pending = ex.wait_any(pending)
            for f in done:
                i = index[id(f)]
                results[i] = ex.result(f)
                if on_done is not None:
                    on_done(i, results[i])
                done_count += 1
                if bar is not None:
                    bar.update(task_weights[i])
            if bar is not None:
                bar.set_postfix(tasks=f"{done_count}/{len(futures)}{'' if complete else '+'}")
    except BaseException:
        running = {id(p) for p in pending}
        ex.cancel([f for f in futures if id(f) in running])
        raise
    finally:
        if bar is not None:
            bar.close()
    return results
