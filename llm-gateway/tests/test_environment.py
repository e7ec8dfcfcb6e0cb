"""Importing the gateway leaves the process environment alone: LiteLLM must not load the cwd's `.env`."""

import subprocess
import sys
from pathlib import Path


def test_a_dotenv_in_the_working_directory_does_not_reach_the_environment(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("POSTGRES_PASSWORD=from-the-dotenv-file\n")
    probe = "import os, llm_gateway.main, litellm; print(os.environ.get('POSTGRES_PASSWORD', 'unset'))"
    env = {"PATH": "/usr/bin:/bin", "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "unset"
