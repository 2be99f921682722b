"""`rtsp-harness run --baseline reference`: each server scenario runs a
second time against the bundled reference server with the same seed and
impairment, and the reference's figures stand beside the system under
test's in the JSON, the text table, the JUnit properties and the HTML
page. Also what the run records for every scenario (steps with their
timing, checks that account for every failure once), and colour in the
terminal summary only on a terminal."""
import os
import pty
import subprocess

import pytest
from lxml import etree

import report_samples
from run_util import ROOT, SCEN, run, scenario

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the network lab needs root")

BROKEN_CMD = f"{ROOT}/fixtures/broken-server {{harness}} cseq {{port}} {{media_dir}}"


def check_accounting(s):
    """Every failure belongs to exactly one check, names are unique, and a
    failed check points at failures."""
    names = [c["name"] for c in s["checks"]]
    assert len(names) == len(set(names)), names
    linked = [k for c in s["checks"] for k in c["failures"]]
    assert sorted(linked) == list(range(len(s["failures"]))), (linked, s["failures"])
    for c in s["checks"]:
        assert (c["status"] == "fail") == bool(c["failures"]) or c["status"] in ("error", "skipped"), c
    assert (s["verdict"] == "pass") == all(c["status"] in ("pass", "skipped") for c in s["checks"])
    # Steps run in order, each inside the scenario's time.
    ran = [st for st in s["steps"] if st["start_s"] is not None]
    assert [st["index"] for st in s["steps"]] == list(range(len(s["steps"])))
    for a, b in zip(ran, ran[1:]):
        assert a["start_s"] <= a["end_s"] <= b["start_s"] + 1e-6, (a, b)


def test_the_reference_stands_beside_a_broken_server_in_every_format(harness_bin, tmp_path):
    client = SCEN / "client" / "01-play.rtsp"
    stem = "20-udp-play-pause-resume"
    proc, report = run(harness_bin, tmp_path, "--server-cmd", BROKEN_CMD, "--backend", "userspace",
                       "--baseline", "reference", "--impair", "delay 10ms", "--seed", "3",
                       SCEN / "conformance" / f"{stem}.rtsp", client, name="b")
    assert proc.returncode == 1, proc.stderr[-3000:]
    assert report["run"]["baseline"] == "reference"
    s = scenario(report, stem)
    # The broken server fails its CSeq echo; the reference passes the same scenario.
    assert s["verdict"] == "fail"
    assert any(f["check"] == "rtsp.cseq.echo" and f["line"] == 18 for f in s["failures"])
    b = s["baseline"]
    assert b["verdict"] == "pass", b["failures"]
    assert b["impairment"]["asked"] == s["impairment"]["asked"]
    assert b["streams"] and b["streams"][0]["frames_complete"] > 50
    assert "ref" in b["captures"]["sut"] and b["captures"]["sut"] != s["captures"]["sut"]
    check_accounting(s)
    check_accounting(b)
    failed = [c for c in s["checks"] if c["status"] == "fail"]
    assert any(c["name"] == "scenario.expect:18" for c in failed), failed
    # A client-role scenario has no reference to compare with, and says why.
    c = scenario(report, "01-play")
    assert "baseline" not in c and "client" in c["baseline_note"]

    # Text: the reference's loss and fps columns.
    header = next(line for line in proc.stdout.splitlines() if line.startswith("scenario"))
    assert "ref loss" in header and "ref fps" in header
    row = next(line for line in proc.stdout.splitlines() if line.startswith("UDP play, pause, resume"))
    ref_fps = f"{min(st['fps'] for st in b['streams']):.2f}"
    assert row.split()[-1] == ref_fps, (row, ref_fps)

    # JUnit: the reference's figures as properties of the suite.
    out = tmp_path / "reports" / "b"
    root = etree.parse(str(out / "junit.xml")).getroot()
    suite = next(x for x in root.iter("testsuite") if x.get("name") == s["name"])
    props = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert props["baseline.verdict"] == "pass" and props["verdict"] == "fail"
    assert float(props["baseline.stream.0.fps"]) == pytest.approx(b["streams"][0]["fps"], rel=1e-5)

    # HTML: the reference's figures in the summary row.
    page = (out / "index.html").read_text()
    assert "reference" in page.lower()
    assert f"{b['streams'][0]['fps']:.1f}" in page


def test_baseline_needs_the_lab(run_harness):
    proc = run_harness("run", "--target", "rtsp://127.0.0.1:1/x", "--baseline", "reference",
                       SCEN / "conformance" / "01-options-public.rtsp")
    assert proc.returncode == 2 and "--baseline needs the lab" in proc.stderr
    proc = run_harness("run", "--server-cmd", "x", "--baseline", "other", SCEN / "conformance")
    assert proc.returncode == 2 and "--baseline: 'other'" in proc.stderr


def test_every_scenario_of_the_suites_accounts_for_its_checks(suite_run):
    _, report, _ = suite_run
    for s in report["scenarios"]:
        check_accounting(s)
        assert s["checks"] and s["steps"]
        # Streaming scenarios carry their series, and loss only where the network lost.
        for st in s["streams"]:
            assert st["series"]["frames"] or st["frames_complete"] == 0
            assert all(e["kind"] in ("network", "never-sent") for e in st["loss_events"])
            assert not any(e["kind"] == "never-sent" for e in st["loss_events"]), (s["file"], st["loss_events"][:3])
            assert [t["reason"] for t in st["thumbnails"]][:1] in ([], ["first"])


def test_colour_only_on_a_terminal(harness_bin, tmp_path):
    """`report show` (and run's summary, the same code) colours the
    verdicts on a terminal, never in a pipe or with NO_COLOR."""
    path = tmp_path / "report.json"
    report_samples.write_report(path)
    piped = subprocess.run([harness_bin, "report", "show", path], capture_output=True, text=True)
    assert piped.returncode == 1 and "\x1b[" not in piped.stdout and "fail" in piped.stdout

    def on_a_terminal(env):
        pid, fd = pty.fork()
        if pid == 0:
            os.execve(harness_bin, [harness_bin, "report", "show", str(path)], env)
        out = b""
        while True:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                break
            if not chunk:
                break
            out += chunk
        os.waitpid(pid, 0)
        return out.decode(errors="replace")

    env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    assert "\x1b[" in on_a_terminal(env)
    assert "\x1b[" not in on_a_terminal({**env, "NO_COLOR": "1"})
