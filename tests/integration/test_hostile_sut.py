"""Hostile systems under test (fixtures/hostile/server) through `rtsp-harness
run`: one ordinary session (scenarios/hostile/session.rtsp) against a server
that crashes mid-stream, hangs after SETUP, answers byte by byte, sends
10 MiB of garbage, floods UDP, never closes, announces a 2 GB body, or
forks children that outlive it. Each run must end well within its time
limit with the right failure at the right line, write a valid report, keep
the harness's own peak memory near the reference server's run, and leave
nothing behind: no process, network namespace, link, qdisc, firewall rule,
cgroup or run registration."""
import os
import pathlib
import re
import shutil
import subprocess
import time

import pytest

from run_util import REF_CMD, ROOT, SCEN, marked_processes, netns_holders, netns_inodes, other_runs_netns, run, scenario

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the network lab needs root")

SERVER = ROOT / "fixtures" / "hostile" / "server"
SESSION = SCEN / "hostile" / "session.rtsp"
SESSION_REL = SESSION.relative_to(ROOT)
CAPTURE_LIMIT = 16 << 20
SCENARIO_TIMEOUT_S = 15
# Lab setup, the SUT's SIGTERM grace (1 s) and the analysis on top of the
# scenario's own limit; the slowest fixture takes 5.3 s in all (plain build).
WALL_MARGIN_S = 15
# The harness's peak RSS over the reference server's run of the same
# scenario with the same binary: the fixtures add at most 4 MiB (plain) and
# 33 MiB (ASan, the flood); buffering a 2 GB body or a whole flood would not fit.
RSS_MARGIN_KB = 64 << 10
CUT_SNAP = 128  # bytes a frame over the capture budget is cut to (harness/netlab/capture.h)

# mode: (check, line, message regex, how the SUT ended)
CASES = {
    "crash": ("scenario.sut-exited", 23,
              r"^the system under test was killed by signal 11 \(Segmentation fault\) while an RTP window was open$",
              r"^killed by signal 11 "),
    "hang": ("scenario.timeout", 22,
             r"^expected a reply to PLAY \(line 21\) with status 200 within 2000 ms, got nothing$",
             r"^killed by signal 15 "),
    "slowloris": ("scenario.timeout", 9,
                  r"^expected a reply to OPTIONS \(line 8\) with status 200 within 2000 ms, got \d+ bytes "
                  r"that do not end a message \('RTSP/1.0 200 OK'\)$",
                  r"^killed by signal 15 "),
    "garbage": ("rtsp.syntax", 26,
                r"^expected a reply with status 200, got bytes that do not parse \(.+ at byte \d+\): ",
                r"^killed by signal 15 "),
    "flood": ("scenario.rtp", 23,
              r"^rtp for 2s: expected bitrate <= 20000, measured (\d+)",
              r"^killed by signal 15 "),
    "never-close": ("scenario.timeout", 26,
                    r"^expected a reply to TEARDOWN \(line 25\) with status 200 within 2000 ms, got nothing$",
                    r"^did not stop within 1000 ms of SIGTERM; killed$"),
    "huge-length": ("rtsp.syntax", 14,
                    r"^expected a reply with status 200, got bytes that do not parse \(reply body of 2000000000 "
                    r"bytes \(Content-Length at byte \d+\) is over the 1 MiB limit\): 'RTSP/1.0 200 OK'$",
                    r"^killed by signal 15 "),
    "forks": ("scenario.sut-exited", 23,
              r"^the system under test exited with status 0 while an RTP window was open$",
              r"^exited with status 0$"),
}


def fixture_processes():
    """Processes running the hostile server, detached children included."""
    needle = str(SERVER).encode()
    found = []
    for p in pathlib.Path("/proc").iterdir():
        if p.name.isdigit():
            try:
                if needle in (p / "cmdline").read_bytes():
                    found.append(int(p.name))
            except OSError:
                pass
    return found


def command(*argv):
    return subprocess.run(argv, capture_output=True, text=True, check=True).stdout


def host_state():
    """What a lab could leave in the host, as sets: named and live network
    namespaces, root links and their qdiscs, firewall rules, cgroups, run
    registrations."""
    iptables = {re.sub(r"\[\d+:\d+\]", "[]", line) for line in command("iptables-save").splitlines()
                if not line.startswith("#")}
    nft = {re.sub(r"packets \d+ bytes \d+", "", line) for line in command("nft", "list", "ruleset").splitlines()}
    netns_dir, registry = pathlib.Path("/run/netns"), pathlib.Path("/run/rtsp-harness")
    return {
        "named netns": set(os.listdir(netns_dir)) if netns_dir.is_dir() else set(),
        "netns": netns_inodes(),
        "links": {line.split(":")[1].strip() for line in command("ip", "-o", "link").splitlines()},
        "qdiscs": set(command("tc", "qdisc", "show").splitlines()),
        "iptables rules": iptables,
        "nft rules": nft,
        "cgroups": {d for d, _, _ in os.walk("/sys/fs/cgroup")},
        "run registrations": set(os.listdir(registry)) if registry.is_dir() else set(),
    }


def pid_alive(pid):
    return pathlib.Path("/proc", pid).exists()


def leftovers(before, run_name):
    """What the run left: whatever is in the host now and was not before
    (less what other runs still going hold), and its processes. The
    kernel frees a namespace shortly after its last process, so this asks
    again for a few seconds before it says so."""
    deadline = time.time() + 5
    while True:
        after = host_state()
        left = {k: sorted(after[k] - before[k]) for k in after if after[k] - before[k]}
        if "netns" in left:
            # Each with the command lines in it, to say whose it is.
            held = {i: netns_holders(i) for i in left["netns"]}
            left["netns"] = {i: [b" ".join(argv).decode(errors="replace") for _, argv in h]
                             for i, h in held.items() if not other_runs_netns(h, run_name)}
        if "run registrations" in left:
            left["run registrations"] = [p for p in left["run registrations"] if not pid_alive(p)]
        left = {k: v for k, v in left.items() if v}
        if marked_processes(run_name):
            left["marked processes"] = marked_processes(run_name)
        if fixture_processes():
            left["fixture processes"] = fixture_processes()
        if not left or time.time() > deadline:
            return left
        time.sleep(0.2)


def run_session(harness_bin, tmp_path, server_cmd, name):
    """`run` of the session with the limits every case shares; returns
    (CompletedProcess, report, wall seconds)."""
    t0 = time.monotonic()
    proc, report = run(harness_bin, tmp_path, "--server-cmd", server_cmd, "--capture-limit", CAPTURE_LIMIT,
                       "--scenario-timeout", SCENARIO_TIMEOUT_S, SESSION, name=name,
                       timeout=SCENARIO_TIMEOUT_S + WALL_MARGIN_S + 60)
    return proc, report, time.monotonic() - t0


@pytest.fixture(scope="module")
def firewall_tools():
    missing = [t for t in ("iptables-save", "nft") if not shutil.which(t)]
    if missing:
        pytest.fail(f"{', '.join(missing)} not installed: run `make deps` (Debian packages iptables, nftables)")


@pytest.fixture(scope="module")
def reference_rss(harness_bin, tmp_path_factory):
    """The harness's peak RSS when the session runs against the reference
    server: the baseline every hostile run is held to."""
    tmp = tmp_path_factory.mktemp("hostile-reference")
    proc, report, _ = run_session(harness_bin, tmp, REF_CMD, "hostile-reference")
    assert report is not None, proc.stderr[-2000:]
    assert report["scenarios"][0]["verdict"] == "pass", report["scenarios"][0]["failures"]
    return report["run"]["peak_rss_kb"]


def test_the_polite_fixture_passes_the_session(harness_bin, tmp_path, firewall_tools):
    """The fixture is a believable server: without a misbehaviour it passes,
    so each hostile mode fails only where it misbehaves."""
    proc, report, _ = run_session(harness_bin, tmp_path, f"exec {SERVER} polite {{port}} {{media_dir}}",
                                  "hostile-polite")
    assert proc.returncode == 0, (proc.stderr[-2000:], report and report["scenarios"][0]["failures"])
    assert scenario(report, "session")["verdict"] == "pass"


@pytest.mark.parametrize("mode", list(CASES))
def test_a_hostile_server_fails_at_its_step_and_leaves_nothing(harness_bin, tmp_path, firewall_tools,
                                                                reference_rss, mode):
    check, line, message, sut_exit = CASES[mode]
    name = f"hostile-{mode}"
    before = host_state()
    proc, report, wall = run_session(harness_bin, tmp_path, f"exec {SERVER} {mode} {{port}} {{media_dir}}", name)
    left = leftovers(before, name)
    assert proc.returncode == 1, proc.stderr[-2000:]
    assert "Sanitizer" not in proc.stderr and "runtime error" not in proc.stderr, proc.stderr[-4000:]
    assert report is not None, proc.stderr[-2000:]
    s = scenario(report, "session")
    assert s["verdict"] == "fail"
    assert wall < SCENARIO_TIMEOUT_S + WALL_MARGIN_S, wall
    assert s["duration_s"] < SCENARIO_TIMEOUT_S, s["duration_s"]

    # The first failure the engine or the windows found is the misbehaviour,
    # at its line, and the terminal names the file and line.
    first = [f for f in s["failures"] if f["source"] in ("replay", "capture")][0]
    assert (first["check"], first["line"]) == (check, line), s["failures"]
    found = re.search(message, first["message"])
    assert found, first["message"]
    assert f"{SESSION_REL}:{line}: {check}: " in proc.stderr, proc.stderr[-2000:]
    assert re.search(sut_exit, s["sut"]["exit"]), s["sut"]
    if mode == "flood":
        assert int(found.group(1)) > 2 * 20000, first["message"]
        if s["captures"].get("peer_over_budget", {}).get("unwritten"):
            # The capture holds only part of the window: the bit rate is the engine's count.
            assert "(the engine's own count: the capture passed its --capture-limit)" in first["message"]
    if mode == "forks":
        # The children existed, in sessions of their own, before the run ended them.
        assert s["sut"]["stdout_tail"].count("hostile server: detached") == 3, s["sut"]["stdout_tail"]

    # Bounded: the harness's memory, and the captures on disk.
    assert report["run"]["peak_rss_kb"] <= reference_rss + RSS_MARGIN_KB, (report["run"]["peak_rss_kb"],
                                                                           reference_rss)
    caps = s["captures"]
    for side in ("sut", "peer"):
        # 1.25 x the budget, the pcap headers, and the last cut frame's overshoot.
        size = os.path.getsize(caps[side])
        assert size <= CAPTURE_LIMIT * 1.25 + 24 + 16 * caps[f"{side}_frames"] + CUT_SNAP, (side, size)
    print(f"{mode}: {check} at line {line} in {wall:.1f} s, peak RSS {report['run']['peak_rss_kb']} kB "
          f"(reference {reference_rss} kB)")

    assert not left, left
