"""requirements.txt pins what pyproject.toml asks for: `make lock` after changing a dependency."""

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


def read_lock(text: str) -> dict[NormalizedName, Version]:
    """Name -> pinned version of a `pip freeze` file; anything but `name==version` is an error."""
    pins: dict[NormalizedName, Version] = {}
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        name, sep, version = line.partition("==")
        assert sep and " " not in line, f"not a pin: {line!r}"
        pins[canonicalize_name(name)] = Version(version)
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
            problems.append(f"{requirement.name} is not in requirements.txt")
        elif not requirement.specifier.contains(pinned, prereleases=True):
            problems.append(f"{requirement.name}=={pinned} is outside pyproject's {requirement.specifier}")
    return problems


@pytest.fixture(scope="module")
def pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


@pytest.fixture(scope="module")
def pins() -> dict[NormalizedName, Version]:
    return read_lock((ROOT / "requirements.txt").read_text())


def test_lock_pins_every_requirement_within_its_range(
    pyproject: dict, pins: dict[NormalizedName, Version]
) -> None:
    assert disagreements(pyproject, pins) == []


def test_a_pin_outside_the_range_or_a_missing_pin_is_caught(pyproject: dict) -> None:
    pins = read_lock("pandas==1.5.3\n")
    problems = disagreements(pyproject, pins)
    assert "pandas==1.5.3 is outside pyproject's >=2.2" in problems
    assert "duckdb is not in requirements.txt" in problems


def test_lock_holds_the_cpu_torch_and_no_cuda_packages(pins: dict[NormalizedName, Version]) -> None:
    assert pins[canonicalize_name("torch")].public == "2.13.0"
    assert [name for name in pins if CUDA_PACKAGE.match(name)] == []


def test_the_tested_environment_is_the_locked_one(pins: dict[NormalizedName, Version]) -> None:
    """Tests run on exactly the locked versions (`make` re-installs when requirements.txt changes)."""
    installed = {
        canonicalize_name(dist.metadata["Name"]): Version(dist.version)
        for dist in importlib.metadata.distributions()
    }
    drift = {
        name: (str(pin), str(installed.get(name))) for name, pin in pins.items() if installed.get(name) != pin
    }
    assert drift == {}
