"""Helpers for tests that drive `rtsp-harness run`: running it into a
temporary directory, checking every report against the documented schema,
and finding a scenario in a report."""
import json
import os
import pathlib
import subprocess

import jsonschema

ROOT = pathlib.Path(__file__).resolve().parents[2]
SCHEMA = jsonschema.Draft202012Validator(
    json.loads((ROOT / "docs" / "run-report.schema.json").read_text()))
SCEN = ROOT / "scenarios"
REF_CMD = "{harness} serve --media {media_dir} --port {port} --session-timeout 3"


def schema_errors(report):
    return [f"{list(e.absolute_path)}: {e.message}" for e in SCHEMA.iter_errors(report)]


def run(harness_bin, tmp_path, *args, name="t", timeout=600):
    """Runs `rtsp-harness run --name NAME` with captures and reports under
    tmp_path; returns (CompletedProcess, report or None)."""
    cmd = [harness_bin, "run", "--name", name, "--captures", str(tmp_path / "captures"),
           "--reports", str(tmp_path / "reports"), *map(str, args)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=ROOT)
    report_path = tmp_path / "reports" / name / "report.json"
    report = json.loads(report_path.read_text()) if report_path.exists() else None
    if report is not None:
        # Every report any test makes must match the documented schema.
        errors = schema_errors(report)
        assert not errors, errors[:5]
    return proc, report


def scenario(report, stem):
    for s in report["scenarios"]:
        if pathlib.Path(s["file"]).stem == stem:
            return s
    raise KeyError(stem)


def netns_inodes():
    """Network namespaces some process lives in."""
    found = set()
    for p in pathlib.Path("/proc").iterdir():
        if p.name.isdigit():
            try:
                found.add(os.stat(p / "ns" / "net").st_ino)
            except OSError:
                pass
    return found


def marked_processes(run_name):
    marker = f"RTSP_HARNESS_RUN={run_name}".encode()
    pids = []
    for p in pathlib.Path("/proc").iterdir():
        if p.name.isdigit():
            try:
                if marker in (p / "environ").read_bytes().split(b"\0"):
                    pids.append(int(p.name))
            except OSError:
                pass
    return pids
