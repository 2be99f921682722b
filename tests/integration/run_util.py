"""Helpers for tests that drive `rtsp-harness run`: running it into a
temporary directory, checking every report against the documented schema,
and finding a scenario in a report."""
import json
import os
import pathlib
import subprocess
import time

import jsonschema

ROOT = pathlib.Path(__file__).resolve().parents[2]
SCHEMA = jsonschema.Draft202012Validator(
    json.loads((ROOT / "docs" / "run-report.schema.json").read_text()))
SCEN = ROOT / "scenarios"
REF_CMD = "{harness} serve --media {media_dir} --port {port} --session-timeout 3"
# A scenario's opening: DESCRIBE, SETUP of the track the SDP names, PLAY.
PLAY = """\
> DESCRIBE {url} RTSP/1.0
< RTSP/1.0 200
< sdp: ~a=control:
> SETUP {track_url} RTSP/1.0
< RTSP/1.0 200
> PLAY {url} RTSP/1.0
< RTSP/1.0 200
"""


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


def environ_and_cmdline(pid):
    p = pathlib.Path("/proc", str(pid))
    return (p / "environ").read_bytes().split(b"\0"), (p / "cmdline").read_bytes().split(b"\0")


def netns_holders(inode):
    """(environ, argv) of each process in the network namespace."""
    holders = []
    for p in pathlib.Path("/proc").iterdir():
        if p.name.isdigit():
            try:
                if os.stat(p / "ns" / "net").st_ino == inode:
                    holders.append(environ_and_cmdline(p.name))
            except OSError:
                pass
    return holders


def other_runs_netns(holders, run_name):
    """Is the namespace held by another run that is still going (another
    `rtsp-harness run`, or a process marked with another run's name)? This
    run's harness has exited, so such a namespace is not its own."""
    ours = f"RTSP_HARNESS_RUN={run_name}".encode()
    for env, argv in holders:
        marked = [v for v in env if v.startswith(b"RTSP_HARNESS_RUN=")]
        if (marked and ours not in marked) or (argv[0].endswith(b"rtsp-harness") and argv[1:2] == [b"run"]):
            return True
    return False


def run_leftovers(run_name, ns_before, links_before, wait_s=5.0):
    """What a finished run left in the host: its marked processes, network
    namespaces that are new since ns_before and held by no other run still
    going, and lab links that showed up in the root namespace (the lab makes
    its links inside its own namespaces, so any there is a leak). Other work
    on the machine may add namespaces and links of its own; those are not
    this run's. The kernel frees a namespace shortly after its last process,
    so this asks again for wait_s before it says so."""
    deadline = time.time() + wait_s
    while True:
        left = {}
        if marked_processes(run_name):
            left["marked processes"] = marked_processes(run_name)
        ns = {i: netns_holders(i) for i in netns_inodes() - ns_before}
        ns = {i: [b" ".join(argv).decode(errors="replace") for _, argv in h]
              for i, h in ns.items() if not other_runs_netns(h, run_name)}
        if ns:
            left["netns"] = ns
        links = sorted(n for n in root_link_names() - links_before if n.split("@")[0] in LAB_LINKS)
        if links:
            left["root links"] = links
        if not left or time.time() > deadline:
            return left
        time.sleep(0.2)


# The lab's interface names (harness/netlab/netlab.h).
LAB_LINKS = {"peer0", "sut0", "rt-peer", "rt-sut", "br0"}


def root_link_names():
    out = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True, check=True).stdout
    return {line.split(":")[1].strip() for line in out.splitlines() if line.count(":") >= 2}
