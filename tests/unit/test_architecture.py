"""ARCHITECTURE.md stays true: every module is listed with its role, models live in repositories, and an area
writes another area's tables only through that area's service (checkout's staged transaction excepted)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "chalicelib"
ROLES = {"domain", "repository", "service", "routes", "adapters", "contract"}
# The only places one area uses another's repository, each for a reason ARCHITECTURE.md gives: checkout stages
# the cart, the order and the voucher into its one transaction; the catalog opens a new SKU's stock in the
# product's transaction; the cart prices itself from batched reads of products, stock levels and vouchers; each
# step of a return is one transaction with its line on the order's timeline.
STAGED_BY_CHECKOUT = {("checkout", "cart"), ("checkout", "orders"), ("checkout", "vouchers"),
                      ("catalog", "inventory"), ("cart", "catalog"), ("cart", "inventory"), ("cart", "vouchers"),
                      ("returns", "orders")}


def area_modules() -> list[Path]:
    return sorted(path for path in PACKAGE.glob("*/*.py") if path.name != "__init__.py")


def listed_roles() -> dict[str, str]:
    text = (ROOT / "ARCHITECTURE.md").read_text(encoding="utf-8")
    return dict(re.findall(r"^\| `(chalicelib/[a-z_]+/[a-z_]+\.py)` \| ([a-z]+) \|$", text, flags=re.M))


def test_every_area_module_is_on_the_map_with_one_of_the_six_roles() -> None:
    listed = listed_roles()
    on_disk = {str(path.relative_to(ROOT)) for path in area_modules()}
    assert set(listed) == on_disk, f"unlisted: {on_disk - set(listed)}; gone: {set(listed) - on_disk}"
    assert set(listed.values()) <= ROLES
    for module, role in listed.items():
        name = Path(module).stem
        if name in ROLES:
            assert role == name, f"{module} is named {name} but listed as {role}"


def test_pynamodb_models_live_only_in_repository_modules() -> None:
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef) and any(
                    isinstance(base, ast.Name) and base.id in {"Model", "GlobalSecondaryIndex"} for base in node.bases):
                assert path.name == "repository.py", f"{path.relative_to(ROOT)} defines {node.name}"


def test_an_area_reaches_another_areas_repository_only_where_the_map_allows_it() -> None:
    for path in area_modules():
        area = path.parent.name
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
            for name in names:
                match = re.fullmatch(r"chalicelib\.([a-z_]+)\.repository", name)
                if match and match.group(1) != area:
                    assert (area, match.group(1)) in STAGED_BY_CHECKOUT, f"{path.relative_to(ROOT)} imports {name}"
