"""`make deps`: a no-op when everything is installed, and a clear message
naming the missing packages when it cannot install them (not root)."""
import os
import shutil
import subprocess

import pytest

from conftest import ROOT


def make_deps(*extra, user=None):
    cmd = ["make", "--no-print-directory", "-C", str(ROOT), "deps", *extra]
    if user:
        cmd = ["runuser", "-u", user, "--", *cmd]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60)


def test_nothing_to_do_when_packages_are_present():
    r = make_deps("DEB_PACKAGES=coreutils bash")
    assert r.returncode == 0, r.stderr
    assert "all Debian packages present" in r.stdout


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("runuser"),
                    reason="needs root to switch to an unprivileged user")
def test_not_root_names_missing_packages_and_fails():
    r = make_deps("DEB_PACKAGES=coreutils rtsp-harness-no-such-package", user="nobody")
    assert r.returncode != 0
    assert "missing Debian packages: rtsp-harness-no-such-package" in r.stderr
    assert "as root" in r.stderr
    assert "coreutils" not in r.stderr.split("missing Debian packages:")[1].splitlines()[0]
