"""Lambda package size: what `chalice package` builds, and what the stack ships after infra.package.slim leaves out
the AWS SDK the Python runtime already provides.

`chalice package` runs in a child process into a temporary directory (it downloads Linux wheels with pip, so the
package index must be reachable); the stack does the same through chalice's API, so the figures are the
deployed ones.

    python -m bench.package_size [--stage dev] [--top 8]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from bench import DEFAULT_REGION, ROOT
from infra.package import LIMIT_BYTES, Slimmed, slim
from local.offline import stage_environment

_CHALICE = "import sys; from chalice.cli import main; sys.exit(main())"


@dataclass(frozen=True)
class PackageSize:
    stage: str
    slimmed: Slimmed


def chalice_package(stage: str, output_dir: Path) -> Path:
    """`chalice package --stage <stage>` into output_dir; the path of its deployment.zip."""
    environment = {**os.environ, **stage_environment(stage)}
    environment.setdefault("AWS_DEFAULT_REGION", DEFAULT_REGION)
    environment.pop("AWS_ENDPOINT_URL", None)
    done = subprocess.run([sys.executable, "-c", _CHALICE, "package", "--stage", stage, str(output_dir)],
                          cwd=ROOT, env=environment, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"chalice package failed:\n{done.stdout}{done.stderr}")
    return output_dir / "deployment.zip"


def measure(stage: str = "dev") -> PackageSize:
    with tempfile.TemporaryDirectory(prefix="tokoflow-package-") as workdir:
        deployment = chalice_package(stage, Path(workdir) / "package")
        return PackageSize(stage=stage, slimmed=slim(deployment, Path(workdir) / "shipped.zip"))


def _mb(size: int) -> str:
    return f"{size / 1e6:8.2f}"


def print_package_size(measured: PackageSize, top: int = 8) -> None:
    """Section (f): both zip sizes, the largest top-level entries shipped, and the verdict against the budget."""
    slimmed = measured.slimmed
    print(f"(f) Lambda package: `chalice package --stage {measured.stage}`, then the SDK the runtime provides left out")
    print(f"    {'':<50}{'MB':>8}")
    print(f"    {'chalice package deployment.zip':<50}{_mb(slimmed.input_bytes)}")
    print(f"    {'shipped zip (infra.package.slim)':<50}{_mb(slimmed.output_bytes)}")
    print(f"    left out: {', '.join(slimmed.dropped) or 'nothing'} ({slimmed.dropped_entries} files)")
    print(f"    Largest top-level entries in the shipped zip (compressed, top {top})")
    for name, size in slimmed.kept_by_top_level.most_common(top):
        print(f"    {name:<50}{_mb(size)}")
    verdict = "under" if slimmed.under_limit else "OVER"
    print(f"    {verdict} the {LIMIT_BYTES / 1e6:.0f} MB budget ({slimmed.output_bytes / LIMIT_BYTES:.0%} of it)")
    print()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.package_size", description=__doc__.splitlines()[0])
    parser.add_argument("--stage", default="dev")
    parser.add_argument("--top", type=int, default=8)
    args = parser.parse_args(argv)
    measured = measure(args.stage)
    print_package_size(measured, args.top)
    return 0 if measured.slimmed.under_limit else 1


if __name__ == "__main__":
    raise SystemExit(main())
