"""Shared fixtures for the conformance tests: the yunup CLI under test, and how to run it.

These tests compare yunup with the vendors' official Python SDKs from PyPI, computing both
answers in the same run. They are run by `make test` after the CLI is built.
"""
import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def files(tmp_path):
    """Write `size` random bytes to a file; return (path, bytes)."""

    def make(name, size):
        data = os.urandom(size)
        path = tmp_path / name
        path.write_bytes(data)
        return str(path), data

    return make


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


EMULATOR_AK = "conformance-ak"
EMULATOR_SK = "conformance-sk"


class RunningEmulator:
    """A `yunup-emulator` process on free loopback ports: `.wcs`, `.ufile`, `.wantu`, `.demo` are
    base URLs (`http://127.0.0.1:PORT`); buckets `public` and `secret` (private) exist."""

    def __init__(self, binary, data_dir):
        import queue
        import threading

        self.ak, self.sk = EMULATOR_AK, EMULATOR_SK
        self.data_dir = data_dir
        self.proc = subprocess.Popen(
            [
                binary, "--data", str(data_dir),
                "--credential", f"{self.ak}:{self.sk}",
                "--bucket", "public", "--bucket", "secret:private",
                "--wcs", "127.0.0.1:0", "--ufile", "127.0.0.1:0",
                "--wantu", "127.0.0.1:0", "--demo", "127.0.0.1:0",
            ],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        self.lines = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()
        urls = {}
        while len(urls) < 4:
            line = self.lines.get(timeout=30)
            if line.startswith("yunup-emulator: ") and " ready on " in line:
                name, url = line[len("yunup-emulator: "):].strip().split(" ready on ")
                urls[name] = url
        self.wcs, self.ufile, self.wantu, self.demo = (urls[k] for k in ("wcs", "ufile", "wantu", "demo"))

    def _pump(self):
        for line in self.proc.stdout:
            self.lines.put(line)

    @property
    def ufile_port(self):
        return int(self.ufile.rsplit(":", 1)[1])

    def stop(self):
        self.proc.kill()
        self.proc.wait()


@pytest.fixture(scope="session")
def emulator_bin():
    path = Path(os.environ.get("YUNUP_EMULATOR_BIN", ROOT / "target" / "debug" / "yunup-emulator"))
    assert path.is_file(), f"yunup-emulator not found at {path}: build it with `cargo build -p yunup-emulator`"
    return str(path)


@pytest.fixture(scope="module")
def emulator(emulator_bin, tmp_path_factory):
    emu = RunningEmulator(emulator_bin, tmp_path_factory.mktemp("emulator-data"))
    yield emu
    emu.stop()
