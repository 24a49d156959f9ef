"""The code's shape: domain packages import only downward, and every file fits in a head."""

import ast
from pathlib import Path

import pytest

APP = Path(__file__).resolve().parent.parent / "app"
MAX_LINES = 500
# What each domain package may not import: the packages above it.
FORBIDDEN = {
    "households": {"points", "rankings", "redemption", "accounts", "home"},
    "points": {"rankings", "redemption", "accounts", "home"},
    "rankings": {"redemption", "accounts", "home"},
    "redemption": {"rankings", "accounts", "home"},
    "regions": {"schemes", "points", "rankings", "redemption", "accounts", "home"},
    "schemes": {"points", "rankings", "redemption", "accounts", "home"},
    # Accounts compose the packages below them (a person's opening entry, its figures,
    # its card); only the pages build on them.
    "accounts": {"home"},
}


def imported_packages(path: Path) -> set[str]:
    """The ``app.<package>`` names a module imports, at any depth of its code."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        else:
            continue
        found.update(name.split(".")[1] for name in names if name.startswith("app.") and name.count(".") >= 1)
    return found


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_domain_packages_do_not_import_upward(package):
    upward = {
        str(path.relative_to(APP)): sorted(imported_packages(path) & FORBIDDEN[package])
        for path in sorted((APP / package).rglob("*.py"))
    }
    assert {name: found for name, found in upward.items() if found} == {}


def test_the_check_sees_an_upward_import(tmp_path):
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from app.rankings.services import household_standing\n")
    assert "rankings" in imported_packages(module)


def test_no_file_in_app_is_over_500_lines():
    sizes = {str(p.relative_to(APP)): len(p.read_text(encoding="utf-8").splitlines()) for p in APP.rglob("*.py")}
    assert {name: n for name, n in sizes.items() if n > MAX_LINES} == {}


def called_names(function: ast.AST) -> set[str]:
    return {
        node.func.id for node in ast.walk(function) if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
    }


def test_pages_pick_their_village_through_official_village():
    """ "A role, then the working village, checked in scope" is ``app.web.official_village``,
    not spelled out again in a view."""
    spelled_out = []
    for path in sorted(APP.rglob("*.py")):
        if path.name == "web.py" and path.parent == APP:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef):
                names = called_names(node)
                if {"require_role", "working_village"} <= names or {"working_village_id", "village_in_scope"} <= names:
                    spelled_out.append(f"{path.relative_to(APP)}:{node.lineno} {node.name}")
    assert spelled_out == []
