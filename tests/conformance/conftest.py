"""Shared fixtures for the conformance tests: the yunup CLI under test, and how to run it.

These tests compare yunup with the vendors' official Python SDKs from PyPI, computing both
answers in the same run. They are run by `make test` after the CLI is built.
"""
import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def yunup_bin():
    path = Path(os.environ.get("YUNUP_BIN", ROOT / "target" / "debug" / "yunup"))
    assert path.is_file(), f"yunup CLI not found at {path}: build it with `cargo build -p yunup-cli`"
    return str(path)


@pytest.fixture(scope="session")
def yunup(yunup_bin):
    """Run the CLI; return stdout stripped. Fails the test on a non-zero exit."""

    def run(*args, env=None, stdin=None):
        full_env = {**os.environ, **(env or {})}
        proc = subprocess.run(
            [yunup_bin, *args], capture_output=True, env=full_env, input=stdin, timeout=300
        )
        assert proc.returncode == 0, f"yunup {' '.join(args)} failed: {proc.stderr.decode()}"
        return proc.stdout.decode().strip()

    return run
