"""The floors of the house (issue 15): the core imports no feature, features do not import
the overview above them, and the page wiring and the API do not import each other.

Read from the source with ``ast``, so an import inside a function counts as much as one at
the top of a module.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FEATURES = ("rectification", "inventory", "labels", "drills", "shelters", "funding", "overview")
# The only core modules that may name a feature: they wire the house together.
WIRING = {"readiness/__init__.py", "readiness/cli.py", "readiness/demo.py"}


def _modules(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


def _imported(path: Path) -> set[str]:
    """Every module an ``import`` or ``from … import`` in this file names (absolute ones;
    a relative import stays inside its own package)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
            # ``from readiness import web`` names the module readiness.web too.
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def _top(name: str) -> str:
    return name.split(".", 1)[0]


def _rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def test_the_walk_sees_imports_inside_functions(tmp_path):
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from drills.models import Drill\n    import shelters\n")
    assert {"drills.models", "shelters"} <= _imported(module)


def test_the_core_imports_no_feature_package():
    offending = {
        _rel(path): sorted(n for n in _imported(path) if _top(n) in FEATURES)
        for path in _modules("readiness")
        if _rel(path) not in WIRING
    }
    offending = {path: names for path, names in offending.items() if names}
    assert offending == {}, (
        "only readiness/__init__.py, cli.py and demo.py may import a feature package"
    )


def test_every_wiring_module_exists():
    # A renamed wiring module would silently widen nothing but leave a stale exception.
    for name in WIRING:
        assert (ROOT / name).is_file(), name


@pytest.mark.parametrize(
    "feature", ["rectification", "inventory", "labels", "drills", "shelters", "funding"]
)
def test_features_do_not_import_the_overview(feature):
    offending = {
        _rel(path): sorted(n for n in _imported(path) if _top(n) == "overview")
        for path in _modules(feature)
    }
    assert {path: names for path, names in offending.items() if names} == {}


# What each feature package may use besides the core: the register of corrective actions
# (rectification) is the lowest floor — drill findings, shelter defects, stocktake variances
# and inspection visits all feed it; inventory stands on it (their stock is on its ledger);
# labels, drills and shelters stand side by side above inventory; the money (funding) stands
# on inventory (the gap, deliveries on the ledger) and shelters (subsidies on inspections).
MAY_USE = {
    "rectification": set(),
    "inventory": {"rectification"},
    "labels": {"inventory", "rectification"},
    "drills": {"inventory", "rectification"},
    "shelters": {"inventory", "rectification"},
    "funding": {"inventory", "shelters", "rectification"},
}


@pytest.mark.parametrize("feature", sorted(MAY_USE))
def test_features_import_only_the_floor_below(feature):
    others = set(FEATURES) - {feature} - MAY_USE[feature]
    offending = {
        _rel(path): sorted(n for n in _imported(path) if _top(n) in others)
        for path in _modules(feature)
    }
    assert {path: names for path, names in offending.items() if names} == {}


def test_no_module_imports_another_packages_private_name():
    """``from inventory.api import _date`` made one feature's API a second core (issue 15)."""
    offending = []
    for package in ("readiness", *FEATURES):
        for path in _modules(package):
            tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
            for node in ast.walk(tree):
                if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    if _top(node.module) == package:
                        continue
                    offending += [
                        f"{_rel(path)}: {node.module}.{alias.name}"
                        for alias in node.names
                        if alias.name.startswith("_")
                    ]
    assert offending == []


def test_pages_and_api_do_not_import_each_other():
    web = _imported(ROOT / "readiness" / "web.py")
    api = _imported(ROOT / "readiness" / "api.py")
    assert not ("readiness.api" in web and "readiness.web" in api)
    # The JSON API sits below the pages: it never reaches up to the page wiring.
    assert "readiness.web" not in api
