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
    assert any((b / "src" / "src" / "memberwise" / "serving" / "service.py").exists() for b in bentos) or any(
        list(b.rglob("service.py")) for b in bentos
    )
