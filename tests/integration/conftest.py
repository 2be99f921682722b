"""Shared pytest fixtures for integration tests that drive the built binary.

The binary is build/rtsp-harness unless RTSP_HARNESS_BIN names another one
(the sanitizer build, for example)."""
import os
import pathlib
import subprocess

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def harness_bin():
    path = pathlib.Path(os.environ.get("RTSP_HARNESS_BIN", ROOT / "build" / "rtsp-harness"))
    if not path.is_file():
        pytest.fail(f"{path} is not built; run `make build` first")
    return str(path)


@pytest.fixture(scope="session")
def run_harness(harness_bin):
    """Run the harness with arguments; returns CompletedProcess (text mode)."""
    def run(*args, timeout=120, **kw):
        return subprocess.run([harness_bin, *map(str, args)], capture_output=True,
                              text=True, timeout=timeout, **kw)
    return run


@pytest.fixture(scope="session")
def fixtures_dir():
    return ROOT / "fixtures"
