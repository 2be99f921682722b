"""Shared pytest fixtures for integration tests that drive the built binary.

The binary is build/rtsp-harness unless RTSP_HARNESS_BIN names another one
(the sanitizer build, for example)."""
import os
import pathlib
import shutil
import subprocess
import time

import pytest

from serve_util import Media, MOVIE, Server
from run_util import REF_CMD, SCEN, run

ROOT = pathlib.Path(__file__).resolve().parents[2]


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "plain: about a real peer or raw speed, not the harness's memory safety: "
                   "run with the plain binary only (make test runs every other test with the "
                   "sanitized binary)")


def pytest_collection_modifyitems(config, items):
    if os.environ.get("RTSP_HARNESS_SANITIZED") != "1":
        return
    skip = pytest.mark.skip(reason="marked plain: run with the plain binary")
    for item in items:
        if item.get_closest_marker("plain"):
            item.add_marker(skip)


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
def graded_class(harness_bin, tmp_path_factory):
    """fixtures/submissions graded once with the default rubric and --jobs 8
    (grading waits on the network far more than it computes: 22 submissions
    take about 80 s this way on 2 cores, 150 s with --jobs 4, and the
    verdicts are the same), for every test that reads its gradebook:
    (CompletedProcess, output folder, seconds)."""
    if os.geteuid() != 0:
        pytest.skip("the network lab and the sandbox need root")
    out = tmp_path_factory.mktemp("grade") / "class"
    t0 = time.monotonic()
    proc = subprocess.run([harness_bin, "grade", str(ROOT / "fixtures" / "submissions"), "--out", str(out),
                           "--jobs", "8", "-q"], capture_output=True, text=True, timeout=900, cwd=ROOT)
    return proc, out, time.monotonic() - t0


@pytest.fixture(scope="session")
def suite_run(harness_bin, tmp_path_factory):
    """The conformance and lab suites against the reference server on the
    userspace backend, run once for every test that reads its report:
    (CompletedProcess, report, reports/<run> directory)."""
    if os.geteuid() != 0:
        pytest.skip("the network lab needs root")
    tmp = tmp_path_factory.mktemp("suite")
    proc, report = run(harness_bin, tmp, "--server-cmd", REF_CMD, "--backend", "userspace",
                       SCEN / "conformance", SCEN / "lab", name="suite")
    return proc, report, tmp / "reports" / "suite"


@pytest.fixture(scope="session")
def fixtures_dir():
    return ROOT / "fixtures"


# ---------------------------------------------------------------------------
# `rtsp-harness serve` (tests/integration/test_serve_*.py; helpers in
# serve_util.py)


@pytest.fixture(scope="session")
def make_media(harness_bin):
    """Generates a stream with `rtsp-harness fixture`; returns its path."""
    def make(out, frames, *args):
        proc = subprocess.run([harness_bin, "fixture", "--frames", str(frames), *map(str, args),
                               "--out", str(out)], capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, proc.stderr
        return pathlib.Path(out)
    return make


@pytest.fixture(scope="session")
def media_dir(tmp_path_factory, make_media):
    """movie.Mjpeg (100 frames, 5 s) and short.Mjpeg (20 frames 320x240, 1 s)."""
    d = tmp_path_factory.mktemp("media")
    shutil.copyfile(MOVIE, d / "movie.Mjpeg")
    make_media(d / "short.Mjpeg", 20, "--size", "320x240", "--pattern", "gradient")
    return d


@pytest.fixture(scope="session")
def movie():
    return Media(MOVIE)


@pytest.fixture(scope="session")
def short_movie(media_dir):
    return Media(media_dir / "short.Mjpeg")


@pytest.fixture
def serve(harness_bin, tmp_path, media_dir):
    """Starts `serve --port 0 [--media media_dir] ARGS` and waits for `ready`.
    Every server still running at the end of the test gets SIGTERM and must
    exit 0 within 5 s."""
    servers = []

    def start(*args, media=media_dir, ready_timeout=5.0, wait=True, env=None):
        argv = ["--port", "0"]
        if media is not None:
            argv += ["--media", str(media)]
        argv += [str(a) for a in args]
        srv = Server(harness_bin, argv, tmp_path, env=env)
        servers.append(srv)
        if wait:
            srv.wait_ready(ready_timeout)
        return srv

    yield start
    errors = []
    for srv in servers:
        if srv.stopped:
            continue
        rc = srv.stop()
        if rc != 0:
            errors.append(f"exit status {rc!r} after SIGTERM\n{srv.describe()}")
    if errors:
        pytest.fail("\n\n".join(errors))
