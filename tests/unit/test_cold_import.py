"""A cold start imports only what registering the routes needs: services, repositories and heavy libraries load
on first use by the route that needs them (the functional tests call every route through the real app)."""

from __future__ import annotations

import ast
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from chalicelib.lazy import lazy_module

ROOT = Path(__file__).resolve().parents[2]
ROUTES = sorted((ROOT / "chalicelib").glob("*/routes.py"))
# Libraries no route needs before it runs: DynamoDB models, AWS clients and HTTP, tokens, spreadsheets, and what
# powertools' batch utilities and data classes pull in.
HEAVY = ("pynamodb", "boto3", "botocore.client", "botocore.session", "urllib3", "jwt", "cryptography",
         "xlsxwriter", "asyncio", "email", "aws_lambda_powertools.utilities.batch",
         "aws_lambda_powertools.utilities.data_classes")


@pytest.fixture(scope="module")
def imported_by_app() -> set[str]:
    """sys.modules after `import app` in a fresh interpreter."""
    env = {**os.environ, "AWS_DEFAULT_REGION": os.environ.get("AWS_DEFAULT_REGION", "ap-southeast-3")}
    completed = subprocess.run(
        [sys.executable, "-c", "import json, sys; import app; print(json.dumps(sorted(sys.modules)))"],
        cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    return set(json.loads(completed.stdout.splitlines()[-1]))


@pytest.mark.parametrize("library", HEAVY)
def test_importing_the_app_leaves_heavy_libraries_unloaded(imported_by_app: set[str], library: str) -> None:
    loaded = sorted(name for name in imported_by_app if name == library or name.startswith(f"{library}."))
    assert not loaded, f"`import app` imports {', '.join(loaded)}"


def test_importing_the_app_runs_no_service_or_repository(imported_by_app: set[str]) -> None:
    # auth.service is the exception: the authorizer and web's helpers verify tokens (PyJWT loads with the first)
    loaded = sorted(name for name in imported_by_app
                    if name.startswith("chalicelib.") and name.rsplit(".", 1)[-1] in {"service", "repository"}
                    and name != "chalicelib.auth.service")
    assert not loaded, f"`import app` imports {', '.join(loaded)}"


def _lazy_bindings(path: Path) -> tuple[dict[str, str], dict[str, str]]:
    """(name -> module imported under TYPE_CHECKING, name -> module given to lazy_module) of one routes module."""
    checked: dict[str, str] = {}
    deferred: dict[str, str] = {}
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if not (isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING"):
            continue
        for statement in node.body:
            if isinstance(statement, ast.ImportFrom) and (statement.module or "").startswith("chalicelib"):
                for alias in statement.names:
                    checked[alias.asname or alias.name] = f"{statement.module}.{alias.name}"
        for statement in node.orelse:
            if (isinstance(statement, ast.Assign) and isinstance(statement.value, ast.Call)
                    and isinstance(statement.value.func, ast.Name) and statement.value.func.id == "lazy_module"):
                argument = statement.value.args[0]
                assert isinstance(argument, ast.Constant) and isinstance(argument.value, str)
                for target in statement.targets:
                    assert isinstance(target, ast.Name)
                    deferred[target.id] = argument.value
    return checked, deferred


@pytest.mark.parametrize("path", ROUTES, ids=lambda path: path.parent.name)
def test_each_lazily_bound_module_is_the_one_type_checked_and_exists(path: Path) -> None:
    """mypy checks the TYPE_CHECKING import only: a misspelt lazy_module name would fail on the route's first
    call, so both sides must name the same module, and it must be found."""
    checked, deferred = _lazy_bindings(path)
    assert checked == deferred
    for module in deferred.values():
        assert importlib.util.find_spec(module) is not None, module


def test_a_lazy_module_imports_on_first_use_and_patches_the_module_itself(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "lazy_probe.py").write_text("VALUE = 1\n", encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        stand_in = lazy_module("lazy_probe")
        assert "lazy_probe" not in sys.modules
        assert stand_in.VALUE == 1
        real = sys.modules["lazy_probe"]
        monkeypatch.setattr(stand_in, "VALUE", 2)
        assert real.VALUE == 2  # a test patching routes.service.f patches the service itself
        monkeypatch.undo()
        assert real.VALUE == 1
        assert lazy_module("lazy_probe") is real  # once imported: the module itself
    finally:
        sys.modules.pop("lazy_probe", None)
