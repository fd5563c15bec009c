"""Every action code the code base writes to the audit log, read from the source.

Each ``audit.record(session, actor, <action>, …)`` call is found with ``ast``; its action is
followed back to string constants: literals, ``a if c else b``, module constants, a module
dict's values (``ASSIGN_ACTIONS[kind]``), f-strings (``f"allocation.{action}"``) and the
parameters of the function around the call, through that function's calls in its own module
(``_record(session, actor, "approve", …)``). A parameter filled from another module (a public
service's ``kind``) cannot be followed: the f-string's prefix is then looked up in the
``open_kinds`` given by the caller, the table of kinds that service accepts.
"""

from __future__ import annotations

import ast
import itertools
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
NOT_APP = {"tests", "bench", "migrations", "scripts", "docs", "static", "templates"}


class Unresolved(Exception):
    """An action built from a value this walk cannot follow; ``prefix`` is its fixed start."""

    def __init__(self, prefix: str, where: str):
        super().__init__(f"{where}: action {prefix!r}… comes from outside its module")
        self.prefix = prefix


@dataclass
class _Module:
    path: Path
    tree: ast.Module
    constants: dict[str, ast.expr] = field(default_factory=dict)
    functions: dict[str, ast.FunctionDef] = field(default_factory=dict)
    parents: dict[ast.AST, ast.AST] = field(default_factory=dict)

    @classmethod
    def parse(cls, path: Path) -> _Module:
        module = cls(path, ast.parse(path.read_text(encoding="utf-8")))
        for node in module.tree.body:
            if isinstance(node, ast.Assign) and len(node.targets) == 1:
                target = node.targets[0]
                if isinstance(target, ast.Name):
                    module.constants[target.id] = node.value
            elif isinstance(node, ast.FunctionDef):
                module.functions[node.name] = node
        for parent in ast.walk(module.tree):
            for child in ast.iter_child_nodes(parent):
                module.parents[child] = parent
        return module

    def enclosing(self, node: ast.AST) -> ast.FunctionDef | None:
        while node in self.parents:
            node = self.parents[node]
            if isinstance(node, ast.FunctionDef):
                return node
        return None

    def where(self, node: ast.AST) -> str:
        return f"{self.path.relative_to(ROOT)}:{getattr(node, 'lineno', '?')}"


def app_modules() -> list[Path]:
    """The application's Python files: every top-level package but tests, bench, migrations."""
    out = []
    for package in sorted(p for p in ROOT.iterdir() if (p / "__init__.py").exists()):
        if package.name not in NOT_APP:
            out += sorted(package.rglob("*.py"))
    return out


def _is_audit_record(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "record"
        and isinstance(node.func.value, ast.Name)
        and node.func.value.id == "audit"
    )


def _argument(call: ast.Call, function: ast.FunctionDef, name: str) -> ast.expr | None:
    """The expression a call passes for one of the function's parameters (or its default)."""
    params = [a.arg for a in function.args.args]
    for keyword in call.keywords:
        if keyword.arg == name:
            return keyword.value
    if name in params and params.index(name) < len(call.args):
        return call.args[params.index(name)]
    defaults = dict(
        zip(
            params[len(params) - len(function.args.defaults) :], function.args.defaults, strict=True
        )
    )
    return defaults.get(name)


def _calls_to(module: _Module, name: str) -> list[ast.Call]:
    return [
        node
        for node in ast.walk(module.tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == name
    ]


def _resolve(module: _Module, node: ast.expr, prefix: str = "") -> set[str]:
    """The strings an expression can be, as far as the module shows."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return {node.value}
    if isinstance(node, ast.IfExp):
        return _resolve(module, node.body, prefix) | _resolve(module, node.orelse, prefix)
    if isinstance(node, ast.JoinedStr):
        parts: list[set[str]] = []
        for value in node.values:
            if isinstance(value, ast.Constant):
                parts.append({str(value.value)})
            else:
                fixed = "".join(next(iter(p)) for p in parts if len(p) == 1)
                parts.append(_resolve(module, value.value, prefix + fixed))
        return {"".join(combo) for combo in itertools.product(*parts)}
    if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name):
        table = module.constants.get(node.value.id)
        if isinstance(table, ast.Dict):
            return set().union(*(_resolve(module, v, prefix) for v in table.values))
    if isinstance(node, ast.Name):
        function = module.enclosing(node)
        if function is not None and node.id in [a.arg for a in function.args.args]:
            calls = _calls_to(module, function.name)
            if not calls:
                raise Unresolved(prefix, module.where(node))
            found: set[str] = set()
            for call in calls:
                argument = _argument(call, function, node.id)
                if argument is None:
                    raise Unresolved(prefix, module.where(call))
                found |= _resolve(module, argument, prefix)
            return found
        if node.id in module.constants:
            return _resolve(module, module.constants[node.id], prefix)
    raise Unresolved(prefix, module.where(node))


def recorded_actions(open_kinds: Mapping[str, Mapping[str, object]]) -> dict[str, str]:
    """Every action code written by the application → where one call writes it.

    ``open_kinds``: for an action prefix built from another module's value (``"movement."``),
    the kinds that value takes. A prefix missing from it raises ``Unresolved``."""
    found: dict[str, str] = {}
    for path in app_modules():
        module = _Module.parse(path)
        for node in ast.walk(module.tree):
            if not _is_audit_record(node):
                continue
            action = next((k.value for k in node.keywords if k.arg == "action"), None)
            if action is None and len(node.args) > 2:
                action = node.args[2]
            if action is None:
                raise Unresolved("", module.where(node))
            try:
                codes = _resolve(module, action)
            except Unresolved as e:
                if e.prefix not in open_kinds:
                    raise
                codes = {e.prefix + kind for kind in open_kinds[e.prefix]}
            for code in codes:
                found.setdefault(code, module.where(node))
    return found
