"""uv.lock pins what pyproject.toml asks for, and the tests run on it (`make lock` after a change)."""

from __future__ import annotations

import importlib.metadata
import re
import tomllib
from pathlib import Path

import pytest
from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[2]
CUDA_PACKAGE = re.compile(r"^(nvidia-.*-cu\d+|triton)$")  # nvidia-ml-py (NVML bindings, for bentoml) is fine
PROJECT = canonicalize_name("memberwise")


def read_lock(lock: dict) -> dict[NormalizedName, Version]:
    """Name -> locked version of every package in a uv.lock, the project itself left out."""
    pins = {canonicalize_name(package["name"]): Version(package["version"]) for package in lock["package"]}
    pins.pop(PROJECT, None)
    return pins


def required(pyproject: dict) -> list[Requirement]:
    """The dependencies and the dev extra that apply on this platform."""
    project = pyproject["project"]
    requirements = [
        Requirement(r) for r in [*project["dependencies"], *project["optional-dependencies"]["dev"]]
    ]
    environment = {**default_environment(), "extra": "dev"}
    return [r for r in requirements if r.marker is None or r.marker.evaluate(environment)]


def disagreements(pyproject: dict, pins: dict[NormalizedName, Version]) -> list[str]:
    """Every pyproject requirement the lock leaves unpinned or pins outside its range."""
    problems = []
    for requirement in required(pyproject):
        pinned = pins.get(canonicalize_name(requirement.name))
        if pinned is None:
            problems.append(f"{requirement.name} is not in uv.lock")
        elif not requirement.specifier.contains(pinned, prereleases=True):
            problems.append(f"{requirement.name}=={pinned} is outside pyproject's {requirement.specifier}")
    return problems


@pytest.fixture(scope="module")
def pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


@pytest.fixture(scope="module")
def pins() -> dict[NormalizedName, Version]:
    return read_lock(tomllib.loads((ROOT / "uv.lock").read_text()))


def test_lock_pins_every_requirement_within_its_range(
    pyproject: dict, pins: dict[NormalizedName, Version]
) -> None:
    assert disagreements(pyproject, pins) == []


def test_a_pin_outside_the_range_or_a_missing_pin_is_caught(pyproject: dict) -> None:
    pins = read_lock({"package": [{"name": "pandas", "version": "1.5.3"}]})
    problems = disagreements(pyproject, pins)
    assert "pandas==1.5.3 is outside pyproject's >=2.2" in problems
    assert "duckdb is not in uv.lock" in problems


def test_lock_holds_the_cpu_torch_and_no_cuda_packages(pins: dict[NormalizedName, Version]) -> None:
    assert str(pins[canonicalize_name("torch")]) == "2.13.0+cpu"
    assert [name for name in pins if CUDA_PACKAGE.match(name)] == []


def test_make_bootstraps_the_locked_uv(pins: dict[NormalizedName, Version]) -> None:
    """The Makefile installs uv with pip before uv installs the lock; both must be the same uv."""
    bootstrap = re.search(r"^UV_VERSION := (\S+)$", (ROOT / "Makefile").read_text(), re.MULTILINE)
    assert bootstrap is not None
    assert Version(bootstrap.group(1)) == pins[canonicalize_name("uv")]


def test_the_tested_environment_is_the_locked_one(pins: dict[NormalizedName, Version]) -> None:
    """Tests run on exactly the locked versions (`make` re-syncs when uv.lock changes)."""
    installed = {
        canonicalize_name(dist.metadata["Name"]): Version(dist.version)
        for dist in importlib.metadata.distributions()
    }
    drift = {
        name: (str(pin), str(installed.get(name))) for name, pin in pins.items() if installed.get(name) != pin
    }
    assert drift == {}
