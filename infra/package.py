"""The Lambda package as shipped: Chalice's deployment.zip without the AWS SDK the Python runtime already has.

pynamodb pulls botocore (about 16 MB zipped) into `chalice package`'s zip, and botocore brings jmespath,
python-dateutil, urllib3 and six. Every AWS Lambda Python runtime provides boto3 and these on its own path, after
/var/task, so the functions import the runtime's copies once ours are left out. The trade-off: in AWS the SDK is
the runtime's version (updated by AWS with the runtime), not the botocore pinned in requirements.txt that the
tests run against.

    python -m infra.package deployment.zip shipped.zip     # what the stack does before staging the asset
"""

from __future__ import annotations

import re
import sys
import zipfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

# Distributions every AWS Lambda Python runtime provides (boto3 and what it depends on), by normalized name.
RUNTIME_PROVIDED = frozenset({"boto3", "botocore", "s3transfer", "jmespath", "python-dateutil", "urllib3", "six"})
LIMIT_BYTES = 15_000_000  # the package budget, in decimal MB (Lambda's own limit is 50 MB zipped, 250 MB unzipped)

_DIST_DIR = re.compile(r"^(?P<name>[^/]+?)-(?P<version>[^-/]+)\.(?P<kind>dist-info|data)/")


def normalize(name: str) -> str:
    """PEP 503 name: "python_dateutil" and "Python-DateUtil" are both "python-dateutil"."""
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass(frozen=True)
class Slimmed:
    """What slim() kept and left out, in bytes as stored in the zip (compressed)."""

    input_bytes: int
    output_bytes: int
    dropped: tuple[str, ...]  # distributions left out, normalized names
    dropped_entries: int
    kept_by_top_level: Counter[str] = field(default_factory=Counter)

    @property
    def under_limit(self) -> bool:
        return self.output_bytes < LIMIT_BYTES


def runtime_entries(names: list[str], read: dict[str, str]) -> tuple[set[str], set[str]]:
    """(entries to drop, distributions found) for the runtime-provided distributions among `names`.

    `read` maps each RECORD path in the zip to its text: an installed distribution lists every file it owns
    there, which catches single-module distributions (six.py) and data directories a name match would miss.
    """
    drop: set[str] = set()
    found: set[str] = set()
    for name in names:
        match = _DIST_DIR.match(name)
        if not match or normalize(match["name"]) not in RUNTIME_PROVIDED:
            continue
        found.add(normalize(match["name"]))
        drop.add(name)
    for record_path, text in read.items():
        match = _DIST_DIR.match(record_path)
        if not match or normalize(match["name"]) not in RUNTIME_PROVIDED:
            continue
        for line in text.splitlines():
            path = line.rsplit(",", 2)[0].strip()
            if path and not path.startswith(".."):
                drop.add(path)
    return drop, found


def slim(zip_in: Path | str, zip_out: Path | str) -> Slimmed:
    """Copy `zip_in` to `zip_out` without the runtime-provided distributions.

    Deterministic: entries keep their order, timestamps, permissions and compression, so the same input gives
    the same bytes (and the same CDK asset hash) every time.
    """
    zip_in, zip_out = Path(zip_in), Path(zip_out)
    with zipfile.ZipFile(zip_in) as source:
        infos = source.infolist()
        names = [info.filename for info in infos]
        records = {name: source.read(name).decode("utf-8", "replace") for name in names
                   if name.endswith(".dist-info/RECORD")}
        drop, found = runtime_entries(names, records)
        kept_files = [name for name in names if name not in drop and not name.endswith("/")]
        drop |= {name for name in names if name.endswith("/")  # directory entries left empty
                 and not any(kept.startswith(name) for kept in kept_files)}
        kept_by_top_level: Counter[str] = Counter()
        dropped_entries = 0
        with zipfile.ZipFile(zip_out, "w") as target:
            for info in infos:
                if info.filename in drop:
                    dropped_entries += 1
                    continue
                target.writestr(info, source.read(info), compress_type=info.compress_type)
        with zipfile.ZipFile(zip_out) as written:
            for info in written.infolist():
                kept_by_top_level[info.filename.split("/", 1)[0]] += info.compress_size
    return Slimmed(input_bytes=zip_in.stat().st_size, output_bytes=zip_out.stat().st_size,
                   dropped=tuple(sorted(found)), dropped_entries=dropped_entries,
                   kept_by_top_level=kept_by_top_level)


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: python -m infra.package DEPLOYMENT_ZIP OUTPUT_ZIP", file=sys.stderr)
        return 2
    result = slim(argv[0], argv[1])
    print(f"{argv[0]}: {result.input_bytes / 1e6:.1f} MB -> {argv[1]}: {result.output_bytes / 1e6:.1f} MB "
          f"(left out: {', '.join(result.dropped) or 'nothing'})")
    return 0 if result.under_limit else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
