"""`bentoml build` packages the service offline from the repo's bentofile."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_bentoml_build_works_offline(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "BENTOML_HOME": str(tmp_path),
        "BENTOML_DO_NOT_TRACK": "true",
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",  # uv from the venv
    }
    result = subprocess.run(
        [sys.executable, "-m", "bentoml", "build", "--output", "tag"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    assert "memberwise:" in result.stdout
    bentos = list((tmp_path / "bentos" / "memberwise").iterdir())
    shipped = {p.relative_to(b).as_posix() for b in bentos for p in b.rglob("*.py")}
    assert any(p.endswith("memberwise/serving/service.py") for p in shipped)
    assert any(p.endswith("memberwise/release.py") for p in shipped)
    assert any(p.endswith("memberwise/audience/served.py") for p in shipped)
    assert not any("/pipelines/" in p or "/features/" in p for p in shipped), sorted(shipped)


def test_importing_the_service_loads_no_pipeline() -> None:
    code = (
        "import sys, memberwise.serving.service; "
        "print(sorted(m for m in sys.modules if m.startswith(('memberwise.pipelines', 'optuna', "
        "'memberwise.features', 'memberwise.cli', 'duckdb'))))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert result.stdout.strip() == "[]"
