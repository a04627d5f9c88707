"""infra.package.slim: the shipped Lambda zip leaves out exactly the runtime-provided SDK distributions, and the
same input always gives the same bytes (so the CDK asset hash only moves when the code does)."""

from __future__ import annotations

import random
import zipfile
from pathlib import Path

import pytest

from infra.package import LIMIT_BYTES, RUNTIME_PROVIDED, normalize, slim

WHEN = (2020, 1, 1, 0, 0, 0)

# name -> content (str or bytes); dist-info RECORDs list the files each distribution owns, as an installed wheel's do.
ENTRIES: dict[str, str | bytes] = {
    "app.py": "from chalice import Chalice\n",
    "chalicelib/__init__.py": "",
    "chalicelib/orders/service.py": "import botocore\n",
    "botocore/__init__.py": "x" * 5000,
    "botocore/data/s3/service-2.json": "{}" * 5000,
    "botocore-1.44.8.dist-info/METADATA": "Name: botocore\n",
    "botocore-1.44.8.dist-info/RECORD": "botocore/__init__.py,,\nbotocore/data/s3/service-2.json,,\n"
                                        "botocore-1.44.8.dist-info/METADATA,,\nbotocore-1.44.8.dist-info/RECORD,,\n",
    "six.py": "# six\n",
    "six-1.17.0.dist-info/RECORD": "six.py,sha256=abc,100\nsix-1.17.0.dist-info/RECORD,,\n",
    "dateutil/__init__.py": "",
    "python_dateutil-2.9.0.post0.dist-info/RECORD": "dateutil/__init__.py,,\n",
    "jmespath/__init__.py": "",
    "jmespath-1.1.0.data/scripts/jp.py": "#!python\n",
    "jmespath-1.1.0.dist-info/RECORD": "jmespath/__init__.py,,\n../../bin/jp.py,,\n",
    "pynamodb/__init__.py": "",
    "pynamodb-6.1.0.dist-info/RECORD": "pynamodb/__init__.py,,\n",
    "cryptography/__init__.py": random.Random(7).randbytes(4000),  # a compiled library does not compress
    "typing_extensions.py": "",
}
KEPT = {"app.py", "chalicelib/__init__.py", "chalicelib/orders/service.py", "pynamodb/__init__.py",
        "pynamodb-6.1.0.dist-info/RECORD", "cryptography/__init__.py", "typing_extensions.py"}


def chalice_zip(path: Path) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, text in ENTRIES.items():
            info = zipfile.ZipInfo(name, date_time=WHEN)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, text)
    return path


def test_only_the_runtime_provided_distributions_are_left_out(tmp_path: Path) -> None:
    result = slim(chalice_zip(tmp_path / "deployment.zip"), tmp_path / "shipped.zip")
    with zipfile.ZipFile(tmp_path / "shipped.zip") as shipped:
        assert set(shipped.namelist()) == KEPT
        assert shipped.read("chalicelib/orders/service.py") == b"import botocore\n"
        assert all(info.date_time == WHEN and info.external_attr == 0o644 << 16 and
                   info.compress_type == zipfile.ZIP_DEFLATED for info in shipped.infolist())
    assert result.dropped == ("botocore", "jmespath", "python-dateutil", "six")
    assert result.dropped_entries == len(ENTRIES) - len(KEPT)
    assert result.output_bytes < result.input_bytes
    assert result.kept_by_top_level.most_common(1)[0][0] == "cryptography"
    assert result.under_limit


def test_the_same_input_gives_the_same_bytes(tmp_path: Path) -> None:
    source = chalice_zip(tmp_path / "deployment.zip")
    slim(source, tmp_path / "one.zip")
    slim(source, tmp_path / "two.zip")
    assert (tmp_path / "one.zip").read_bytes() == (tmp_path / "two.zip").read_bytes()


def test_a_package_without_the_sdk_is_copied_whole(tmp_path: Path) -> None:
    source = tmp_path / "deployment.zip"
    with zipfile.ZipFile(source, "w") as archive:
        archive.writestr(zipfile.ZipInfo("app.py", date_time=WHEN), "print('hi')\n")
    result = slim(source, tmp_path / "shipped.zip")
    assert result.dropped == () and result.dropped_entries == 0
    assert zipfile.ZipFile(tmp_path / "shipped.zip").namelist() == ["app.py"]


def test_names_are_normalized_and_the_list_is_the_runtimes() -> None:
    assert normalize("python_dateutil") == normalize("Python.DateUtil") == "python-dateutil"
    assert {"boto3", "botocore", "s3transfer"} <= RUNTIME_PROVIDED
    assert not {"pynamodb", "cryptography", "aws-lambda-powertools", "pyjwt"} & RUNTIME_PROVIDED
    assert LIMIT_BYTES == 15_000_000


def test_the_bench_prints_both_sizes_the_largest_entries_and_the_verdict(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from bench.package_size import PackageSize, print_package_size

    result = slim(chalice_zip(tmp_path / "deployment.zip"), tmp_path / "shipped.zip")
    print_package_size(PackageSize(stage="dev", slimmed=result), top=2)
    out = capsys.readouterr().out
    assert "chalice package deployment.zip" in out and "shipped zip" in out
    assert "left out: botocore, jmespath, python-dateutil, six" in out
    assert "cryptography" in out and "under the 15 MB budget" in out
