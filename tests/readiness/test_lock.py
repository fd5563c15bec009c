"""The lock files pin every dependency pyproject.toml names, with hashes, and agree."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
PIN = re.compile(r"^([A-Za-z0-9_.\-]+)==([^\s;\\]+)")


def _pins(name: str) -> dict[str, str]:
    """Package → version of a lock file; every pin must carry at least one hash."""
    text = (ROOT / "requirements" / name).read_text()
    pins: dict[str, str] = {}
    for block in re.split(r"\n(?=\S)", text):
        match = PIN.match(block)
        if match:
            assert "--hash=sha256:" in block, f"{name}: {match.group(1)} has no hash"
            pins[canonicalize_name(match.group(1))] = match.group(2)
    return pins


def _declared() -> tuple[list[Requirement], list[Requirement]]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    run = [Requirement(r) for r in project["dependencies"]]
    test = [Requirement(r) for r in project["optional-dependencies"]["test"]]
    return run, test


def test_every_declared_dependency_is_pinned_at_a_version_it_allows():
    """Adding a dependency to pyproject.toml without `make lock` fails here, not on a fresh
    machine; so does a lock whose version the declared range no longer allows."""
    run, test = _declared()
    run_pins, test_pins = _pins("run.lock"), _pins("test.lock")
    for requirements, pins, lock in (
        (run, run_pins, "run.lock"),
        (run + test, test_pins, "test.lock"),
    ):
        for req in requirements:
            name = canonicalize_name(req.name)
            assert name in pins, f"{req.name} is not in requirements/{lock}: run `make lock`"
            assert req.specifier.contains(pins[name], prereleases=True), (
                f"requirements/{lock} pins {req.name}=={pins[name]}, outside {req.specifier}"
            )
    for installer in ("pip", "setuptools"):
        assert installer in run_pins, f"{installer} itself is pinned too"


def test_the_running_app_and_the_tests_use_the_same_versions():
    run_pins, test_pins = _pins("run.lock"), _pins("test.lock")
    differ = {n: (v, test_pins.get(n)) for n, v in run_pins.items() if test_pins.get(n) != v}
    assert differ == {}


def test_the_installer_lock_pins_the_uv_the_test_lock_pins():
    """make run installs uv from requirements/uv.lock, then everything else with it."""
    uv_pins, test_pins = _pins("uv.lock"), _pins("test.lock")
    assert set(uv_pins) == {"uv"}
    assert uv_pins["uv"] == test_pins["uv"]
