"""`rtsp-harness report junit`: the JUnit XML of a run report, validated
against docs/junit.xsd with lxml and with xmllint, for a synthetic report
(failures, skipped and errored checks, a scenario that could not run, a
baseline, hostile strings) and for real runs against the reference server
and a broken one; the counts agree with report.json at both levels, and
the schema rejects documents that are not ours."""
import copy
import json
import os
import re
import subprocess

import pytest
from lxml import etree

from run_util import REF_CMD, ROOT, SCEN, run

XSD = ROOT / "docs" / "junit.xsd"
SCHEMA = etree.XMLSchema(etree.parse(str(XSD)))
BROKEN_CMD = f"{ROOT}/fixtures/broken-server {{harness}} cseq {{port}} {{media_dir}}"

# What a server may send that XML 1.0 cannot hold, or that must be escaped.
HOSTILE = "<&\"'>]]> \u0001\u0008\u000b\u001b[31m \ufffe \U0001f600 \u00e9"
# HOSTILE as it reads back from the XML: each character XML 1.0 forbids
# becomes one U+FFFD.
HOSTILE_READ = "<&\"'>]]> \ufffd\ufffd\ufffd\ufffd[31m \ufffd \U0001f600 \u00e9"


def xmllint(path):
    return subprocess.run(["xmllint", "--noout", "--schema", str(XSD), str(path)],
                          capture_output=True, text=True)


def validate(path):
    """Valid for lxml and for xmllint; returns the parsed document."""
    doc = etree.parse(str(path))
    assert SCHEMA.validate(doc), SCHEMA.error_log
    lint = xmllint(path)
    assert lint.returncode == 0, lint.stderr
    return doc.getroot()


def outcome(case):
    kinds = [c.tag for c in case if c.tag in ("failure", "error", "skipped")]
    assert len(kinds) <= 1
    return kinds[0] if kinds else "pass"


def check_counts(root):
    """tests/failures/errors/skipped count the testcases of each suite and
    add up at the top."""
    total = dict.fromkeys(("tests", "failures", "errors", "skipped"), 0)
    for suite in root.findall("testsuite"):
        cases = suite.findall("testcase")
        got = {"tests": len(cases),
               "failures": sum(outcome(c) == "failure" for c in cases),
               "errors": sum(outcome(c) == "error" for c in cases),
               "skipped": sum(outcome(c) == "skipped" for c in cases)}
        for k, v in got.items():
            assert int(suite.get(k)) == v, (suite.get("name"), k)
            total[k] += v
    for k, v in total.items():
        assert int(root.get(k)) == v, k


def cases_time(suite):
    return [c.get("time") for c in suite.findall("testcase")]


def render(run_harness, report_path, out):
    proc = run_harness("report", "junit", report_path, "-o", out)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == str(out)
    return validate(out)


def synthetic_report():
    exchange = {"line": 12, "conn": 0, "local": "198.18.0.1:1", "remote": "198.18.0.2:8554",
                "method": "DESCRIBE", "status": 200, "cseq": 2, "request_s": 0.01, "response_s": 0.02,
                "request": "DESCRIBE rtsp://h/x RTSP/1.0\r\nCSeq: 2\r\n\r\n",
                "response": "RTSP/1.0 200 OK\r\nCSeq: 2\r\nX-Evil: " + HOSTILE + "\r\n\r\n"}
    failing = {
        "name": "scenario " + HOSTILE, "file": "scenarios/x.rtsp", "role": "server", "profile": "rfc2326",
        "verdict": "fail", "duration_s": 2.5,
        "impairment": {"backend": "userspace", "asked": {"to_sut": "loss 2%", "to_peer": "delay 20ms"},
                       "phases": [],
                       "measured": {"to_peer": {"sent": 100, "received": 97, "lost": 3, "loss": 0.03,
                                                "delay_ms": {"p50": 20.5, "p99": 24.25}}}},
        "exchanges": [exchange],
        "failures": [
            {"check": "rtsp.cseq.echo", "source": "analyzer", "line": 12, "column": 1,
             "message": "CSeq echoed as " + HOSTILE, "rfc": "RFC 2326 12.17", "pcap": "c/x.sut.pcap",
             "frame": 7, "exchange": 0},
            {"check": "rtsp.cseq.echo", "source": "analyzer", "line": 14, "message": "second"},
            {"check": "rtp.seq.gap", "source": "analyzer", "message": "gap"},
        ],
        "checks": [
            {"id": "scenario.send", "name": "scenario.send:11", "source": "replay", "line": 11,
             "status": "pass", "description": "send", "message": "", "failures": [], "time_s": 0.001},
            {"id": "rtsp.cseq.echo", "name": "rtsp.cseq.echo", "source": "analyzer", "line": 0,
             "status": "fail", "description": "CSeq echoed", "message": "CSeq echoed as " + HOSTILE,
             "failures": [0, 1], "rfc": "RFC 2326 12.17"},
            {"id": "rtp.seq.gap", "name": "rtp.seq.gap", "source": "analyzer", "line": 0,
             "status": "error", "description": "no gaps", "message": "capture unreadable", "failures": []},
            {"id": "scenario.wait", "name": "scenario.wait:20", "source": "replay", "line": 20,
             "status": "skipped", "description": "wait", "message": "not reached " + HOSTILE,
             "failures": []},
        ],
        "streams": [{"ssrc": 1616264151, "packets": 470, "lost": 3, "loss": 0.0063, "fps": 19.5,
                     "bitrate_bps": 1169097.11, "max_jitter_ms": 2.75, "frames_complete": 69,
                     "interval_ms": {"p50": 50, "p95": 51, "p99": 61.25, "max": 99}}],
        "sut": {"command": "x", "exit": "killed", "ended_early": False,
                "stdout_tail": "ready\n" + HOSTILE, "stderr_tail": HOSTILE},
    }
    failing["baseline"] = copy.deepcopy(failing)
    failing["baseline"].update(verdict="pass", failures=[], checks=[])
    failing["baseline"]["streams"][0]["fps"] = 20
    dead = {"name": "dead", "file": "scenarios/d.rtsp", "role": "client", "verdict": "error",
            "duration_s": 0.25, "error": "server exited with status 7 " + HOSTILE, "failures": [],
            "checks": [], "baseline_note": "no reference client"}
    passing = {"name": "fine", "file": "scenarios/f.rtsp", "verdict": "pass", "duration_s": 1,
               "failures": [],
               "checks": [{"id": "scenario.expect", "name": "scenario.expect:3", "source": "replay",
                           "line": 3, "status": "pass", "description": "d", "message": "",
                           "failures": []}]}
    return {"schema": "rtsp-harness/run-report", "version": 1,
            "run": {"tool": "rtsp-harness", "name": "synthetic " + HOSTILE, "started": 1795258940,
                    "duration_s": 4, "baseline": "reference", "baseline_cmd": REF_CMD},
            "scenarios": [failing, dead, passing],
            "summary": {"scenarios": 3, "ran": 3, "passed": 1, "failed": 1, "errors": 1,
                        "interrupted": False}}


def test_a_synthetic_report_validates_and_says_what_failed(run_harness, tmp_path):
    report = tmp_path / "report.json"
    report.write_text(json.dumps(synthetic_report()))
    root = render(run_harness, report, tmp_path / "out.xml")
    check_counts(root)
    assert root.get("name") == "rtsp-harness synthetic " + HOSTILE_READ
    assert (root.get("tests"), root.get("failures"), root.get("errors"), root.get("skipped")) == \
        ("6", "1", "2", "1")
    assert root.get("timestamp") == "2026-11-21T11:02:20Z"
    suites = root.findall("testsuite")
    assert [s.get("name") for s in suites] == ["scenario " + HOSTILE_READ, "dead", "fine"]
    assert [s.get("file") for s in suites] == ["scenarios/x.rtsp", "scenarios/d.rtsp", "scenarios/f.rtsp"]
    failing = suites[0]
    assert failing.get("time") == "2.500000"
    assert cases_time(failing) == ["0.001000", "0.000000", "0.000000", "0.000000"]
    cases = {c.get("name"): c for c in failing.findall("testcase")}
    assert list(cases) == ["scenario.send:11", "rtsp.cseq.echo", "rtp.seq.gap", "scenario.wait:20"]
    assert all(c.get("classname") == "scenario " + HOSTILE_READ for c in cases.values())
    assert cases["scenario.send:11"].get("line") == "11" and cases["rtsp.cseq.echo"].get("line") is None

    failure = cases["rtsp.cseq.echo"].find("failure")
    assert failure.get("type") == "rtsp.cseq.echo"
    assert failure.get("message") == "CSeq echoed as " + HOSTILE_READ
    text = failure.text
    assert text.startswith("scenarios/x.rtsp:12:1: rtsp.cseq.echo: CSeq echoed as " + HOSTILE_READ +
                           " [c/x.sut.pcap frame 7]\n  see RFC 2326 12.17\n")
    # The exchange verbatim (XML reads CR LF back as LF).
    assert "DESCRIBE rtsp://h/x RTSP/1.0\nCSeq: 2\n\n" in text
    assert "RTSP/1.0 200 OK\nCSeq: 2\nX-Evil: " + HOSTILE_READ + "\n\n" in text
    # Both failures of the check, not the other check's.
    assert "scenarios/x.rtsp:14: rtsp.cseq.echo: second\n" in text and "gap" not in text

    assert cases["rtp.seq.gap"].find("error").get("message") == "capture unreadable"
    assert cases["scenario.wait:20"].find("skipped").get("message") == "not reached " + HOSTILE_READ
    assert failing.find("system-out").text == "ready\n" + HOSTILE_READ
    assert failing.find("system-err").text == HOSTILE_READ

    props = {p.get("name"): p.get("value") for p in failing.find("properties")}
    assert props["verdict"] == "fail" and props["baseline.verdict"] == "pass"
    assert props["impairment.asked.to_sut"] == "loss 2%"
    assert props["impairment.asked.to_peer"] == "delay 20ms"
    assert props["impairment.measured.to_peer.loss"] == "0.03"
    assert props["impairment.measured.to_peer.delay_ms.p50"] == "20.5"
    assert props["impairment.measured.to_peer.delay_ms.p99"] == "24.25"
    assert props["stream.0.fps"] == "19.5" and props["baseline.stream.0.fps"] == "20"
    assert props["stream.0.bitrate_bps"] == "1.1691e+06"
    assert props["stream.0.interval_ms.p99"] == "61.25"
    assert props["stream.0.frames_complete"] == "69"
    assert props["stream.0.max_jitter_ms"] == "2.75"

    dead = suites[1].findall("testcase")
    assert len(dead) == 1 and dead[0].get("name") == "scenario.run"
    assert dead[0].find("error").get("message") == "server exited with status 7 " + HOSTILE_READ
    assert {p.get("name"): p.get("value") for p in suites[1].find("properties")}["baseline_note"] == \
        "no reference client"
    assert outcome(suites[2].find("testcase")) == "pass"


def mutated(tmp_path, xml, name, fn):
    """A copy of the document xml with fn applied to its root."""
    root = etree.fromstring(xml)
    fn(root)
    path = tmp_path / name
    path.write_bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))
    return path


def test_the_schema_rejects_documents_that_are_not_ours(run_harness, tmp_path):
    report = tmp_path / "report.json"
    report.write_text(json.dumps(synthetic_report()))
    render(run_harness, report, tmp_path / "ok.xml")
    xml = (tmp_path / "ok.xml").read_bytes()

    def first_case(root):
        return root.find("testsuite/testcase")

    def add_second_outcome(root):
        etree.SubElement(root.find("testsuite/testcase[failure]"), "error", message="m", type="t")

    bad = {
        "testcase-without-name": lambda r: first_case(r).attrib.pop("name"),
        "testcase-without-classname": lambda r: first_case(r).attrib.pop("classname"),
        "time-with-exponent": lambda r: first_case(r).set("time", "1e-3"),
        "negative-count": lambda r: r.set("failures", "-1"),
        "failure-without-type": lambda r: r.find("testsuite/testcase/failure").attrib.pop("type"),
        "duplicate-testcase-name": lambda r: first_case(r).set("name", "rtsp.cseq.echo"),
        "two-outcomes": add_second_outcome,
        "unknown-element": lambda r: etree.SubElement(first_case(r), "flaky"),
        "properties-after-testcases": lambda r: r.find("testsuite").append(r.find("testsuite/properties")),
        "bad-timestamp": lambda r: r.set("timestamp", "yesterday"),
    }
    for name, fn in bad.items():
        path = mutated(tmp_path, xml, name + ".xml", fn)
        assert not SCHEMA.validate(etree.parse(str(path))), name
        assert xmllint(path).returncode != 0, name
    # A lone <testsuite> is not our document either.
    lone = tmp_path / "lone.xml"
    lone.write_bytes(etree.tostring(etree.fromstring(xml).find("testsuite")))
    assert not SCHEMA.validate(etree.parse(str(lone)))
    assert xmllint(lone).returncode != 0
    # The unchanged document still passes (the mutations made it fail).
    assert validate(mutated(tmp_path, xml, "same.xml", lambda r: None)) is not None


def test_bad_input_is_an_error_naming_the_file(run_harness, tmp_path):
    path = tmp_path / "report.json"
    path.write_text('{"schema": "rtsp-harness/run-report", "version": 1,')
    proc = run_harness("report", "junit", path, "-o", tmp_path / "x.xml")
    assert proc.returncode == 2 and f"{path}:1:" in proc.stderr
    assert not (tmp_path / "x.xml").exists()


# ---------------------------------------------------------------------------
# Real runs (the network lab needs root).

def run_with(harness_bin, tmp_path, server_cmd, *scenarios, name):
    proc, report = run(harness_bin, tmp_path, "--backend", "userspace", "--server-cmd", server_cmd, *scenarios,
                       name=name)
    path = tmp_path / "reports" / name / "report.json"
    assert report is not None, proc.stderr
    return proc, path, report


def agrees_with_report(root, report):
    """A testsuite per scenario in order; a passing scenario has no failed
    testcase, a failing one at least one; testcases are the checks."""
    check_counts(root)
    suites = root.findall("testsuite")
    assert [s.get("name") for s in suites] == [s["name"] for s in report["scenarios"]]
    for suite, sc in zip(suites, report["scenarios"]):
        assert suite.get("file") == sc["file"]
        bad = int(suite.get("failures")) + int(suite.get("errors"))
        assert (bad == 0) == (sc["verdict"] == "pass"), (sc["name"], sc["verdict"])
        if sc["verdict"] == "fail":
            assert int(suite.get("failures")) >= 1
        if sc.get("checks"):
            assert [c.get("name") for c in suite.findall("testcase")] == [c["name"] for c in sc["checks"]]
            assert int(suite.get("failures")) == sum(c["status"] == "fail" for c in sc["checks"])
    summary = report["summary"]
    verdicts = [s["verdict"] for s in report["scenarios"]]
    assert (summary["passed"], summary["failed"], summary["errors"]) == \
        (verdicts.count("pass"), verdicts.count("fail"), verdicts.count("error"))
    assert sum(int(s.get("failures")) > 0 for s in suites) == summary["failed"]


@pytest.mark.skipif(os.geteuid() != 0, reason="the network lab needs root")
@pytest.mark.parametrize("server", ["reference", "broken"])
def test_a_real_runs_junit_matches_its_report(harness_bin, run_harness, tmp_path, server):
    opts = SCEN / "conformance" / "01-options-public.rtsp"
    if server == "reference":
        proc, path, report = run_with(harness_bin, tmp_path, REF_CMD, opts,
                                 SCEN / "conformance" / "02-describe-sdp.rtsp", name="ref")
        assert proc.returncode == 0, proc.stdout
    else:
        pause = SCEN / "conformance" / "20-udp-play-pause-resume.rtsp"
        proc, path, report = run_with(harness_bin, tmp_path, BROKEN_CMD, pause, opts, name="broken")
        assert proc.returncode == 1, proc.stdout
    root = render(run_harness, path, tmp_path / "junit.xml")
    agrees_with_report(root, report)
    # The file run writes beside the report is the same document.
    beside = path.parent / "junit.xml"
    if beside.exists():
        assert beside.read_bytes() == (tmp_path / "junit.xml").read_bytes()
    if server == "broken":
        suite = root.find("testsuite")
        sc = report["scenarios"][0]
        # The broken server answers CSeq wrongly: the evidence names the
        # analyzer's check at the request's line, and so does the failure's
        # type once the report lists its checks.
        evidence = re.compile(re.escape(sc["file"]) + r":18(:\d+)?: rtsp\.cseq\.echo: ")
        hits = [f for f in suite.findall("testcase/failure") if evidence.search(f.text or "")]
        assert hits, [(f.get("type"), f.text) for f in suite.findall("testcase/failure")]
        if sc.get("checks"):
            assert hits[0].get("type") == "rtsp.cseq.echo"
            assert hits[0].getparent().get("line") == "18"
        case = hits[0].getparent()
        assert case.get("classname") == sc["name"] and case.get("file") == sc["file"]
        props = {p.get("name"): p.get("value") for p in suite.find("properties")}
        assert props["verdict"] == "fail"
        assert root.findall("testsuite")[1].find("testcase/failure") is None
