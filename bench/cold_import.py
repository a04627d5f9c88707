"""Cold import cost: `import app` in fresh interpreters, against a bare Chalice + boto3 app.

Each sample is one new `python -c` process timing its own `import app` with perf_counter, so interpreter
start-up is excluded and only what a Lambda cold start pays for importing the handler module is measured.
The two apps run in alternating order so drift (CPU frequency, page cache) hits both alike.
"""

from __future__ import annotations

import os
import re
import statistics
import subprocess
import sys
import tempfile
from collections import defaultdict
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from bench import DEFAULT_REGION, ROOT, percentile
from local.offline import stage_environment

TIMED_IMPORT = "import time; t = time.perf_counter(); import app; print(time.perf_counter() - t)"
BARE_APP = '''"""Baseline: the least a Chalice handler using boto3 imports."""
from chalice import Chalice
import boto3

app = Chalice(app_name="bare")


@app.route("/")
def index():
    return {"hello": "world"}
'''
_IMPORTTIME_LINE = re.compile(r"^import time:\s+(\d+)\s*\|\s*(\d+)\s*\|( *)(\S+)\s*$")


@dataclass(frozen=True)
class Samples:
    """Import times of one app, in seconds."""

    label: str
    seconds: tuple[float, ...]

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)

    @property
    def p90(self) -> float:
        """Nearest-rank 90th percentile."""
        return percentile(self.seconds, 0.9)


@dataclass(frozen=True)
class ImportedModule:
    """One line of `python -X importtime` output (microseconds)."""

    name: str
    self_us: int
    cumulative_us: int
    depth: int


def import_environment() -> dict[str, str]:
    """The dev stage's environment with a region and no endpoint override: importing must not touch AWS."""
    env = dict(os.environ)
    env.pop("AWS_ENDPOINT_URL", None)
    env.update(stage_environment("dev"))
    env.setdefault("AWS_DEFAULT_REGION", DEFAULT_REGION)
    return env


@contextmanager
def bare_app_dir() -> Iterator[Path]:
    """A temporary directory holding the baseline as app.py, so both apps run the same command."""
    with tempfile.TemporaryDirectory(prefix="tokoflow-bench-") as directory:
        (Path(directory) / "app.py").write_text(BARE_APP, encoding="utf-8")
        yield Path(directory)


def time_import(cwd: Path, env: Mapping[str, str]) -> float:
    """Seconds one fresh interpreter spends in `import app` run from `cwd`."""
    completed = subprocess.run([sys.executable, "-c", TIMED_IMPORT], cwd=cwd, env=dict(env),
                               capture_output=True, text=True, check=False)
    if completed.returncode != 0:
        raise RuntimeError(f"`import app` failed in {cwd}:\n{completed.stderr}")
    return float(completed.stdout.strip().splitlines()[-1])


def compare(runs: int = 15, *, app_dir: Path = ROOT) -> tuple[Samples, Samples]:
    """(app, bare) import times, `runs` each, alternating which goes first; one untimed warm-up each
    so both read compiled bytecode from a warm page cache."""
    env = import_environment()
    with bare_app_dir() as bare_dir:
        targets = {"app": app_dir, "bare": bare_dir}
        for directory in targets.values():
            time_import(directory, env)
        seconds: dict[str, list[float]] = {label: [] for label in targets}
        for run in range(runs):
            order = ("app", "bare") if run % 2 == 0 else ("bare", "app")
            for label in order:
                seconds[label].append(time_import(targets[label], env))
    return Samples("app", tuple(seconds["app"])), Samples("bare", tuple(seconds["bare"]))


def parse_importtime(stderr: str) -> list[ImportedModule]:
    """The modules listed by `-X importtime`, in the order Python printed them."""
    modules = []
    for line in stderr.splitlines():
        match = _IMPORTTIME_LINE.match(line)
        if match:
            self_us, cumulative_us, indent, name = match.groups()
            modules.append(ImportedModule(name=name, self_us=int(self_us), cumulative_us=int(cumulative_us),
                                          depth=max(0, (len(indent) - 1) // 2)))
    return modules


def import_profile(runs: int = 3, *, app_dir: Path = ROOT) -> list[ImportedModule]:
    """`python -X importtime -c "import app"`, with each module's median over `runs` runs."""
    env = import_environment()
    collected: dict[str, list[ImportedModule]] = defaultdict(list)
    for _ in range(max(1, runs)):
        completed = subprocess.run([sys.executable, "-X", "importtime", "-c", "import app"], cwd=app_dir,
                                   env=env, capture_output=True, text=True, check=False)
        if completed.returncode != 0:
            raise RuntimeError(f"`import app` failed:\n{completed.stderr}")
        for module in parse_importtime(completed.stderr):
            collected[module.name].append(module)
    return [
        ImportedModule(name=name, depth=seen[0].depth,
                       self_us=int(statistics.median(m.self_us for m in seen)),
                       cumulative_us=int(statistics.median(m.cumulative_us for m in seen)))
        for name, seen in collected.items()
    ]


def heaviest(modules: list[ImportedModule], count: int = 8, *,
             exclude: tuple[str, ...] = ("app",)) -> list[ImportedModule]:
    """The `count` modules with the largest cumulative import time (the root module left out)."""
    candidates = [module for module in modules if module.name not in exclude]
    return sorted(candidates, key=lambda module: module.cumulative_us, reverse=True)[:count]


def self_time_by_package(modules: list[ImportedModule]) -> list[tuple[str, int, int]]:
    """(top-level package, summed self microseconds, module count), largest first: who the cost belongs to."""
    totals: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for module in modules:
        entry = totals[module.name.split(".")[0]]
        entry[0] += module.self_us
        entry[1] += 1
    return sorted(((name, us, n) for name, (us, n) in totals.items()), key=lambda row: row[1], reverse=True)
