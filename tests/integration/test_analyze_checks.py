"""Every check of `rtsp-harness analyze` (docs/checks.md) on small synthetic
captures: for each check id a capture that triggers it and one that does
not (the clean baseline, and where one exists a near miss).

The captures come from analyze_cases.py: a clean RFC 2326 conversation
over TCP with RFC 2435 RTP over UDP (or interleaved), and the lab dialect.
Each trigger is a small mutation of a baseline, so the test knows the pcap
frame of the offending packet and asserts the finding names it, with the
severity docs/checks.md gives for the profile and a detail that says what
was expected and what came.

TRIGGERS and CLEAN record which test covers which check;
test_every_check_is_covered compares them with the catalog in
docs/checks.md.
"""
import collections
import itertools
import json
import pathlib
import re
import struct

import pytest

import analyze_cases as ac
import pcapgen
from analyze_cases import T0, ns

ROOT = pathlib.Path(__file__).resolve().parents[2]


# ---------------------------------------------------------------------------
# the catalog (docs/checks.md) and the coverage registry

def _catalog():
    rows = re.findall(r"^\| `([a-z0-9.\-]+)` \| ([^|]+) \| (fail|warn|note|off) \| (fail|warn|note|off) \|",
                      (ROOT / "docs" / "checks.md").read_text(), re.M)
    return {cid: {"rfc2326": rfc, "lab": lab, "source": src.strip()} for cid, src, rfc, lab in rows}


CATALOG = _catalog()
TRIGGERS = collections.defaultdict(list)
CLEAN = collections.defaultdict(list)


def triggers(*ids):
    def deco(fn):
        for i in ids:
            TRIGGERS[i].append(fn.__name__)
        return fn
    return deco


def clean(*ids):
    def deco(fn):
        for i in ids:
            CLEAN[i].append(fn.__name__)
        return fn
    return deco


# ---------------------------------------------------------------------------
# running the analyzer

class Report:
    def __init__(self, data, rc, case):
        self.data = data
        self.rc = rc
        self.case = case
        self.findings = data["findings"]
        self.profile = data["profile"]

    def of(self, check):
        return [f for f in self.findings if f["check"] == check]

    def ids(self):
        return sorted({f["check"] for f in self.findings})

    def show(self):
        return "\n".join(f"  {f['severity']:4} {f['check']:26} frame {f['frame']}..{f['frame_end']} "
                         f"{f['detail']}" for f in self.findings) or "  (no findings)"

    def expect(self, check, frame, *words, severity=None, frame_end="any"):
        """A finding of `check` at `frame` (an int, or a collection of
        acceptable frames) whose detail holds every word; severity from the
        catalog unless given. Returns the finding."""
        assert check in CATALOG, check
        sev = severity or CATALOG[check][self.profile]
        fs = self.of(check)
        assert fs, f"no {check} finding; expected one at frame {frame}:\n{self.show()}"
        ok_frames = frame if isinstance(frame, (set, frozenset, range, list, tuple)) else {frame}
        at = [f for f in fs if f["frame"] in ok_frames]
        assert at, (f"{check}: expected at frame {sorted(ok_frames) if len(ok_frames) < 10 else frame}, "
                    f"got frames {[f['frame'] for f in fs]}:\n{self.show()}")
        f = at[0]
        assert f["severity"] == sev, f"{check} severity {f['severity']}, catalog says {sev} for {self.profile}"
        assert f["rfc"], f
        assert f["where"], f
        for w in words:
            assert w in f["detail"], f"{check}: {w!r} not in detail {f['detail']!r}"
        if frame_end != "any":
            assert f["frame_end"] == frame_end, f"{check}: frame_end {f['frame_end']}, expected {frame_end}"
        if sev == "fail":
            assert self.data["verdict"] == "fail" and self.rc == 1, (self.data["verdict"], self.rc)
        return f

    def absent(self, *checks):
        for check in checks:
            assert check in CATALOG, check
            assert not self.of(check), f"unexpected {check}:\n{self.show()}"
            assert check not in self.data["summary"]["by_check"], self.data["summary"]

    def nothing(self):
        assert self.findings == [], f"expected no findings:\n{self.show()}"
        assert self.data["summary"] == {"fail": 0, "warn": 0, "note": 0, "by_check": {}}, self.data["summary"]
        assert self.data["verdict"] == "pass" and self.rc == 0


def _consistency(data, rc):
    """What holds for every report: severities as the catalog says,
    summary counts, verdict and exit status agree."""
    prof = data["profile"]
    by_sev = collections.Counter()
    listed = collections.Counter()
    for f in data["findings"]:
        assert f["check"] in CATALOG, f
        assert f["severity"] == CATALOG[f["check"]][prof], f
        assert f["rfc"] == CATALOG[f["check"]]["source"], f
        assert f["severity"] != "off", f
        assert f["frame"] is None or 1 <= f["frame"] <= data["capture"]["packets"] + 1, f
        listed[f["check"]] += 1
    for check, n in data["summary"]["by_check"].items():
        assert n >= listed[check] and listed[check] == min(n, 50), (check, n, listed[check])
        by_sev[CATALOG[check][prof]] += n
    assert set(listed) <= set(data["summary"]["by_check"]), data["summary"]
    for sev in ("fail", "warn", "note"):
        assert data["summary"][sev] == by_sev[sev], (sev, data["summary"])
    failed = data["summary"]["fail"] > 0
    assert data["verdict"] == ("fail" if failed else "pass")
    assert rc == (1 if failed else 0)


@pytest.fixture
def analyze(run_harness, tmp_path):
    names = itertools.count(1)

    def run(case, *args, post=None, snaplen=262144, writer=pcapgen.write_pcap):
        path = case.build(tmp_path / f"case{next(names)}.pcap", post=post, snaplen=snaplen, writer=writer)
        proc = run_harness("analyze", path, "--json", *args, timeout=60)
        assert proc.returncode in (0, 1), f"exit {proc.returncode}: {proc.stderr}"
        data = json.loads(proc.stdout)
        _consistency(data, proc.returncode)
        return Report(data, proc.returncode, case)
    return run


def rtp_after(case, t_ns):
    return [p for p in case.rtp if p.t > t_ns]


# ---------------------------------------------------------------------------
# coverage of the catalog

def test_every_check_is_covered():
    assert len(CATALOG) >= 40, "docs/checks.md table not parsed"
    missing_t = sorted(set(CATALOG) - set(TRIGGERS))
    missing_c = sorted(set(CATALOG) - set(CLEAN))
    assert not missing_t, f"checks without a triggering capture: {missing_t}"
    assert not missing_c, f"checks without a clean capture: {missing_c}"
    assert set(TRIGGERS) <= set(CATALOG), set(TRIGGERS) - set(CATALOG)


# ---------------------------------------------------------------------------
# baselines

@clean(*CATALOG)
def test_rfc2326_baseline_has_no_findings(analyze):
    case = ac.rfc_case()
    rep = analyze(case, "--profile", "rfc2326", "--decode", "all")
    rep.nothing()
    d = rep.data
    assert d["profile"] == "rfc2326"
    assert d["capture"]["packets"] == case.n_packets and d["capture"]["truncated"] == 0
    [conn] = d["connections"]
    assert conn["dialect"] == "rfc2326"
    assert [x["method"] for x in conn["exchanges"]] == ["OPTIONS", "DESCRIBE", "SETUP", "PLAY", "PAUSE", "TEARDOWN"]
    assert all(x["status"] == 200 for x in conn["exchanges"])
    assert conn["exchanges"][2]["frame"] == case.frame("SETUP")
    assert conn["exchanges"][2]["response_frame"] == case.frame("SETUP.reply")
    [s] = d["streams"]
    assert s["bound_by"] == "setup" and s["session"] == ac.SESSION
    assert s["src"] == f"{ac.SERVER_IP}:{ac.SERVER_RTP}" and s["dst"] == f"{ac.CLIENT_IP}:{ac.CLIENT_RTP}"
    assert s["packets"] == len(case.rtp) and s["lost"] == 0 and s["payload_type"] == 26
    assert s["frames"]["complete"] == 60 and s["frames"]["decoded"] == 60
    assert s["frames"]["undecodable"] == 0 and s["frames"]["incomplete"] == 0
    assert s["frames"]["nominal_interval_ms"] == pytest.approx(50.0)


def test_rfc2326_baseline_default_profile_and_pcapng(analyze):
    """Without --profile an RFC 2326 capture is judged as rfc2326; pcapng
    holds the same capture."""
    rep = analyze(ac.rfc_case(), writer=pcapgen.write_pcapng)
    assert rep.data["capture"]["format"] == "pcapng"
    assert rep.profile == "rfc2326"
    rep.nothing()


@clean(*CATALOG)
def test_interleaved_baseline_has_no_findings(analyze):
    case = ac.rfc_case(interleaved=True)
    rep = analyze(case, "--decode", "all")
    rep.nothing()
    [s] = rep.data["streams"]
    assert s["transport"] == "tcp-interleaved" and s["channel"] == 0
    assert s["packets"] == len(case.rtp) and s["frames"]["complete"] == 60 and s["lost"] == 0


LAB_NOTES = {"rtsp.line-ends", "rtsp.transport.missing", "rtp.marker", "rtp.timestamp.clock"}


@clean("rtsp.syntax", "rtsp.cseq.missing", "rtsp.cseq.echo", "rtsp.cseq.increase", "rtsp.response.order",
       "rtsp.unanswered", "rtsp.content-length", "rtsp.session.missing", "rtsp.session.changed",
       "rtsp.session.unknown", "rtsp.transport.choice", "rtsp.transport.client-port",
       "rtsp.state", "rtp.after-pause",
       "rtp.after-teardown", "frame.skipped", "frame.repeated", "frame.order", "frame.incomplete",
       "frame.undecodable")
def test_lab_baseline_passes_with_lab_profile_detected(analyze):
    """The lab dialect: auto-detected, verdict pass, only the notes the lab
    profile keeps for what every lab server does (bare LF, no Transport
    in the SETUP reply, M=0, 1 Hz timestamps)."""
    case = ac.lab_case()
    rep = analyze(case, "--decode", "all")
    assert rep.profile == "lab"
    assert rep.data["connections"][0]["dialect"] == "lab"
    assert rep.data["verdict"] == "pass" and rep.rc == 0
    assert set(rep.ids()) <= LAB_NOTES, rep.show()
    assert {f["severity"] for f in rep.findings} <= {"note"}, rep.show()
    streams = rep.data["streams"]
    assert [s["src"] for s in streams] == [f"{ac.SERVER_IP}:{p}" for p in ac.LAB_SRC_PORTS]
    assert all(s["bound_by"] == "setup" and s["session"] == ac.LAB_SESSION for s in streams)
    assert [s["frames"]["numbered"] for s in streams] == [
        {"first": 1, "last": 60, "skipped": 0, "repeated": 0, "out_of_order": 0},
        {"first": 61, "last": 80, "skipped": 0, "repeated": 0, "out_of_order": 0}]
    assert [s["frames"]["complete"] for s in streams] == [60, 20]
    assert all(s["frames"]["undecodable"] == 0 and s["frames"]["incomplete"] == 0 for s in streams)
    # The lab notes name their evidence.
    rep.expect("rtsp.transport.missing", case.frame("SETUP.reply"), "no Transport")
    rep.expect("rtsp.line-ends", case.frame("SETUP"), "bare LF")


# ---------------------------------------------------------------------------
# RTSP messages

@triggers("rtsp.syntax")
def test_syntax_control_byte_in_request(analyze):
    case = ac.rfc_case()
    case.msg("PLAY").set("X-Note", "bad\x01byte")
    rep = analyze(case)
    rep.expect("rtsp.syntax", case.frame("PLAY"), "PLAY")


@triggers("rtsp.syntax")
def test_syntax_bad_version_in_request(analyze):
    case = ac.rfc_case()
    case.msg("DESCRIBE").start = f"DESCRIBE {ac.URL} RTSP/one"
    rep = analyze(case)
    rep.expect("rtsp.syntax", case.frame("DESCRIBE"), "DESCRIBE")


@triggers("rtsp.syntax")
def test_syntax_bad_status_line_after_a_reply_with_body(analyze):
    """The SETUP reply's status code is not three digits. It comes after the
    DESCRIBE reply, whose body is exactly its Content-Length: this is a
    message that does not parse, not a body longer than declared."""
    case = ac.rfc_case()
    case.msg("SETUP.reply").start = "RTSP/1.0 2x0 OK"
    rep = analyze(case)
    rep.expect("rtsp.syntax", case.frame("SETUP.reply"))
    rep.absent("rtsp.content-length")


@triggers("rtsp.line-ends")
def test_line_ends_bare_lf_reply(analyze):
    case = ac.rfc_case()
    case.msg("OPTIONS.reply").eol = "\n"
    rep = analyze(case)
    assert rep.data["connections"][0]["dialect"] == "rfc2326"
    rep.expect("rtsp.line-ends", case.frame("OPTIONS.reply"), "response", "bare LF", severity="fail")
    assert len(rep.of("rtsp.line-ends")) == 1


@triggers("rtsp.line-ends")
def test_line_ends_mixed_in_request(analyze):
    case = ac.rfc_case()
    m = case.msg("PLAY")
    m.raw = (f"PLAY {ac.URL} RTSP/1.0\r\nCSeq: 4\nSession: {ac.SESSION}\r\nRange: npt=0.000-\r\n\r\n").encode()
    rep = analyze(case)
    rep.expect("rtsp.line-ends", case.frame("PLAY"), "request")
    rep.absent("rtsp.syntax", "rtsp.session.missing")


@triggers("rtsp.cseq.missing")
def test_cseq_missing_in_response(analyze):
    case = ac.rfc_case()
    case.msg("PLAY.reply").remove("CSeq")
    rep = analyze(case)
    rep.expect("rtsp.cseq.missing", case.frame("PLAY.reply"), "response", "no CSeq")
    rep.absent("rtsp.response.order", "rtsp.unanswered")


@triggers("rtsp.cseq.missing")
def test_cseq_missing_in_request(analyze):
    case = ac.rfc_case()
    case.msg("TEARDOWN").remove("CSeq")
    rep = analyze(case)
    rep.expect("rtsp.cseq.missing", case.frame("TEARDOWN"), "TEARDOWN", "no CSeq")


@triggers("rtsp.cseq.missing")
def test_cseq_not_a_number(analyze):
    case = ac.rfc_case()
    case.msg("SETUP").set("CSeq", "three")
    rep = analyze(case)
    rep.expect("rtsp.cseq.missing", case.frame("SETUP"), "SETUP", "not a number")


@triggers("rtsp.cseq.echo")
def test_cseq_echo_wrong_value(analyze):
    case = ac.rfc_case()
    case.msg("SETUP.reply").set("CSeq", "33")
    rep = analyze(case)
    rep.expect("rtsp.cseq.echo", case.frame("SETUP.reply"), "SETUP", "CSeq 3", "CSeq 33")
    rep.absent("rtsp.response.order", "rtsp.unanswered")


@triggers("rtsp.cseq.increase")
def test_cseq_repeated(analyze):
    case = ac.rfc_case()
    case.msg("PLAY").set("CSeq", "3")
    case.msg("PLAY.reply").set("CSeq", "3")
    rep = analyze(case)
    rep.expect("rtsp.cseq.increase", case.frame("PLAY"), "PLAY", "CSeq 3 after CSeq 3")
    assert len(rep.of("rtsp.cseq.increase")) == 1
    rep.absent("rtsp.cseq.echo")


@triggers("rtsp.cseq.increase")
def test_cseq_goes_back(analyze):
    case = ac.rfc_case()
    case.msg("PAUSE").set("CSeq", "2")
    case.msg("PAUSE.reply").set("CSeq", "2")
    rep = analyze(case)
    rep.expect("rtsp.cseq.increase", case.frame("PAUSE"), "PAUSE", "CSeq 2 after CSeq 4")


@clean("rtsp.cseq.increase", "rtsp.cseq.echo")
def test_cseq_increasing_by_more_than_one_is_fine(analyze):
    case = ac.rfc_case()
    for k, tag in enumerate(["OPTIONS", "DESCRIBE", "SETUP", "PLAY", "PAUSE", "TEARDOWN"]):
        cseq = str(10 + 7 * k)
        case.msg(tag).set("CSeq", cseq)
        case.msg(tag + ".reply").set("CSeq", cseq)
    analyze(case).nothing()


@triggers("rtsp.response.order")
def test_responses_out_of_order(analyze):
    case = ac.rfc_case()
    case.msg("DESCRIBE").t = ns(T0 + 0.0110)
    case.msg("DESCRIBE.reply").t = ns(T0 + 0.0115)
    case.msg("OPTIONS.reply").t = ns(T0 + 0.0125)
    rep = analyze(case)
    rep.expect("rtsp.response.order", case.frame("DESCRIBE.reply"), "CSeq 2", "CSeq 1")
    rep.absent("rtsp.cseq.echo", "rtsp.unanswered")


@triggers("rtsp.response.order")
def test_response_to_no_request(analyze):
    case = ac.rfc_case()
    extra = case.add(ac.reply(T0 + 0.045, 9, ("Session", ac.SESSION), tag="extra.reply"))
    rep = analyze(case)
    rep.expect("rtsp.response.order", case.frame(extra), "no outstanding request")


@clean("rtsp.response.order")
def test_pipelined_requests_answered_in_order(analyze):
    case = ac.rfc_case()
    case.msg("DESCRIBE").t = ns(T0 + 0.0110)
    case.msg("OPTIONS.reply").t = ns(T0 + 0.0115)
    case.msg("DESCRIBE.reply").t = ns(T0 + 0.0125)
    analyze(case).nothing()


@triggers("rtsp.unanswered")
def test_unanswered_teardown(analyze):
    case = ac.rfc_case()
    case.remove_msg("TEARDOWN.reply")
    rep = analyze(case)
    rep.expect("rtsp.unanswered", case.frame("TEARDOWN"), "TEARDOWN", "CSeq 6", "no response")


@triggers("rtsp.unanswered")
def test_unanswered_in_lab_is_a_warning(analyze):
    case = ac.lab_case()
    case.remove_msg("TEARDOWN.reply")
    rep = analyze(case)
    assert rep.profile == "lab"
    rep.expect("rtsp.unanswered", case.frame("TEARDOWN"), "TEARDOWN", severity="warn")
    assert rep.data["verdict"] == "pass"


@triggers("rtsp.content-length")
def test_content_length_too_large_swallows_next_reply(analyze):
    case = ac.rfc_case()
    m = case.msg("DESCRIBE.reply")
    m.content_length = len(m.body) + 40
    rep = analyze(case)
    rep.expect("rtsp.content-length", case.frame("DESCRIBE.reply"), f"Content-Length {len(m.body) + 40}",
               "too large")


@triggers("rtsp.content-length")
def test_content_length_too_small(analyze):
    case = ac.rfc_case()
    m = case.msg("DESCRIBE.reply")
    m.content_length = len(m.body) - 20
    rep = analyze(case)
    rep.expect("rtsp.content-length", case.frame("DESCRIBE.reply"), f"Content-Length {len(m.body) - 20}",
               "longer than declared")
    rep.absent("rtsp.syntax")


@triggers("rtsp.content-length")
def test_content_length_body_cut_by_the_end_of_the_connection(analyze):
    """The last reply declares more body than the connection ever carries."""
    case = ac.rfc_case()
    m = case.msg("TEARDOWN.reply")
    m.body = b"bye\r\n"
    m.content_length = 200
    rep = analyze(case)
    rep.expect("rtsp.content-length", case.frame("TEARDOWN.reply"), "shorter than its Content-Length")


@triggers("rtsp.session.missing")
def test_setup_reply_without_session(analyze):
    case = ac.rfc_case()
    case.msg("SETUP.reply").remove("Session")
    rep = analyze(case)
    rep.expect("rtsp.session.missing", case.frame("SETUP.reply"), "SETUP", "no Session")


@triggers("rtsp.session.missing")
def test_teardown_without_session(analyze):
    case = ac.rfc_case()
    case.msg("TEARDOWN").remove("Session")
    rep = analyze(case)
    rep.expect("rtsp.session.missing", case.frame("TEARDOWN"), "TEARDOWN", ac.SESSION)
    assert len(rep.of("rtsp.session.missing")) == 1


@clean("rtsp.session.missing")
def test_connection_level_options_without_session(analyze):
    """OPTIONS is not a request of the session: it may go without it."""
    case = ac.rfc_case()
    case.add(ac.request(T0 + 1.5, "OPTIONS", ac.URL, 0, tag="keepalive"),
             ac.reply(T0 + 1.502, 0, ("Public", ac.PUBLIC), tag="keepalive.reply"))
    case.renumber()
    analyze(case).nothing()


@triggers("rtsp.session.changed")
def test_reply_changes_session(analyze):
    case = ac.rfc_case()
    case.msg("PLAY.reply").set("Session", "FFFFFFFFFFFFFFFF")
    rep = analyze(case)
    rep.expect("rtsp.session.changed", case.frame("PLAY.reply"), "PLAY", "FFFFFFFFFFFFFFFF", ac.SESSION)


@triggers("rtsp.session.changed")
def test_request_changes_session(analyze):
    case = ac.rfc_case()
    case.msg("PAUSE").set("Session", "DEADBEEF00000000")
    rep = analyze(case)
    rep.expect("rtsp.session.changed", case.frame("PAUSE"), "PAUSE", "DEADBEEF00000000", ac.SESSION)


@clean("rtsp.session.changed")
def test_session_with_timeout_parameter_is_the_same(analyze):
    case = ac.rfc_case()
    case.msg("PLAY.reply").set("Session", f"{ac.SESSION};timeout=60")
    case.msg("PAUSE").set("Session", f"{ac.SESSION}")
    analyze(case).nothing()


@triggers("rtsp.session.length")
def test_short_session_id(analyze):
    case = ac.rfc_case(session="ABCDEF1")
    rep = analyze(case)
    rep.expect("rtsp.session.length", case.frame("SETUP.reply"), "ABCDEF1", "7 octets")
    assert len(rep.of("rtsp.session.length")) == 1


@clean("rtsp.session.length")
def test_eight_octet_session_id(analyze):
    analyze(ac.rfc_case(session="ABCDEF12")).nothing()


@triggers("rtsp.session.unknown")
def test_unknown_session_answered_200(analyze):
    case = ac.rfc_case()
    case.msg("DESCRIBE").set("Session", "DEADBEEFDEADBEEF")
    rep = analyze(case)
    rep.expect("rtsp.session.unknown", case.frame("DESCRIBE.reply"), "DESCRIBE", "DEADBEEFDEADBEEF", "200",
               "454")
    rep.absent("rtsp.session.changed")


@clean("rtsp.session.unknown")
def test_unknown_session_answered_454(analyze):
    case = ac.rfc_case()
    case.add(ac.request(T0 + 0.015, "GET_PARAMETER", ac.URL, 0, ("Session", "DEADBEEFDEADBEEF"), tag="GP"),
             ac.reply(T0 + 0.016, 0, status="454 Session Not Found", tag="GP.reply"))
    case.renumber()
    rep = analyze(case)
    rep.absent("rtsp.session.unknown")
    rep.expect("rtsp.status", case.frame("GP.reply"), "454")
    assert rep.ids() == ["rtsp.status"]


@triggers("rtsp.transport.missing")
def test_setup_without_transport(analyze):
    case = ac.rfc_case()
    case.msg("SETUP").remove("Transport")
    rep = analyze(case)
    rep.expect("rtsp.transport.missing", case.frame("SETUP"), "SETUP", "Transport")


@triggers("rtsp.transport.missing")
def test_setup_reply_without_transport(analyze):
    case = ac.rfc_case()
    case.msg("SETUP.reply").remove("Transport")
    rep = analyze(case)
    rep.expect("rtsp.transport.missing", case.frame("SETUP.reply"), "200 reply to SETUP", "CSeq 3")


@clean("rtsp.transport.missing")
def test_setup_refused_without_transport(analyze):
    """A SETUP answered 461 needs no Transport in its reply."""
    case = ac.rfc_case()
    case.add(ac.request(T0 + 0.025, "SETUP", ac.TRACK, 0, ("Transport", "RTP/AVP;multicast"), tag="SETUP0"),
             ac.reply(T0 + 0.026, 0, status="461 Unsupported Transport", tag="SETUP0.reply"))
    case.renumber()
    rep = analyze(case)
    rep.absent("rtsp.transport.missing")
    assert rep.ids() == ["rtsp.status"]


@triggers("rtsp.transport.choice")
def test_reply_transport_not_offered(analyze):
    case = ac.rfc_case()
    case.msg("SETUP.reply").set("Transport", "RTP/AVP/TCP;unicast;interleaved=0-1")
    rep = analyze(case)
    rep.expect("rtsp.transport.choice", case.frame("SETUP.reply"), "RTP/AVP/TCP", "none of those offered",
               f"client_port={ac.CLIENT_RTP}")


@clean("rtsp.transport.choice")
def test_reply_picks_one_of_two_offers(analyze):
    case = ac.rfc_case()
    case.msg("SETUP").set("Transport", "RTP/AVP/TCP;unicast;interleaved=0-1,"
                                       f"RTP/AVP;unicast;client_port={ac.CLIENT_RTP}-{ac.CLIENT_RTP + 1}")
    analyze(case).nothing()


@triggers("rtsp.transport.client-port")
def test_reply_does_not_echo_client_port(analyze):
    case = ac.rfc_case()
    case.msg("SETUP.reply").set("Transport", f"RTP/AVP;unicast;server_port={ac.SERVER_RTP}-{ac.SERVER_RTP + 1}")
    rep = analyze(case)
    rep.expect("rtsp.transport.client-port", case.frame("SETUP.reply"), f"offered {ac.CLIENT_RTP}",
               "does not echo")
    assert rep.ids() == ["rtsp.transport.client-port"]
    assert rep.data["streams"][0]["bound_by"] == "setup"


@triggers("rtsp.transport.client-port")
def test_reply_changes_client_port(analyze):
    case = ac.rfc_case()
    case.msg("SETUP.reply").set("Transport", "RTP/AVP;unicast;client_port=5002-5003;"
                                             f"server_port={ac.SERVER_RTP}-{ac.SERVER_RTP + 1}")
    rep = analyze(case)
    rep.expect("rtsp.transport.client-port", case.frame("SETUP.reply"), f"offered {ac.CLIENT_RTP}",
               "changed")


@triggers("rtsp.transport.server-port")
def test_server_port_odd_pair(analyze):
    case = ac.rfc_case()
    tr = f"RTP/AVP;unicast;client_port={ac.CLIENT_RTP}-{ac.CLIENT_RTP + 1};server_port=6971-6972"
    case.msg("SETUP.reply").set("Transport", tr)
    rep = analyze(case)
    rep.expect("rtsp.transport.server-port", case.frame("SETUP.reply"), "not an even/odd pair",
               "server_port=6971-6972")
    assert rep.ids() == ["rtsp.transport.server-port"]
    # off in the lab profile
    rep = analyze(case, "--profile", "lab")
    rep.absent("rtsp.transport.server-port")


@triggers("rtsp.transport.server-port")
def test_server_port_missing(analyze):
    case = ac.rfc_case()
    case.msg("SETUP.reply").set("Transport", f"RTP/AVP;unicast;client_port={ac.CLIENT_RTP}-{ac.CLIENT_RTP + 1}")
    rep = analyze(case)
    rep.expect("rtsp.transport.server-port", case.frame("SETUP.reply"), "missing")


@triggers("rtsp.transport.interleaved")
def test_interleaved_same_channel_twice(analyze):
    case = ac.rfc_case(interleaved=True)
    case.msg("SETUP").set("Transport", "RTP/AVP/TCP;unicast;interleaved=0-0")
    case.msg("SETUP.reply").set("Transport", "RTP/AVP/TCP;unicast;interleaved=0-0")
    rep = analyze(case)
    rep.expect("rtsp.transport.interleaved", case.frame("SETUP.reply"), "interleaved=0-0", "not a valid pair")


@triggers("rtsp.transport.interleaved")
def test_interleaved_without_channels(analyze):
    case = ac.rfc_case(interleaved=True)
    case.msg("SETUP.reply").set("Transport", "RTP/AVP/TCP;unicast")
    rep = analyze(case)
    rep.expect("rtsp.transport.interleaved", case.frame("SETUP.reply"), "without interleaved")


def _second_track(case, channels):
    tr = f"RTP/AVP/TCP;unicast;interleaved={channels}"
    case.add(ac.request(T0 + 0.035, "SETUP", ac.URL + "/track1", 0, ("Transport", tr), ("Session", ac.SESSION),
                        tag="SETUP2"),
             ac.reply(T0 + 0.036, 0, ("Transport", tr), ("Session", ac.SESSION), tag="SETUP2.reply"))
    case.renumber()


@triggers("rtsp.transport.interleaved")
def test_interleaved_channels_reused_by_second_track(analyze):
    case = ac.rfc_case(interleaved=True)
    _second_track(case, "0-1")
    rep = analyze(case)
    rep.expect("rtsp.transport.interleaved", case.frame("SETUP2.reply"), "interleaved=0-1", "already used")
    assert len(rep.of("rtsp.transport.interleaved")) == 1


@clean("rtsp.transport.interleaved")
def test_interleaved_second_track_on_new_channels(analyze):
    case = ac.rfc_case(interleaved=True)
    _second_track(case, "2-3")
    analyze(case).nothing()


@triggers("rtsp.state")
def test_play_before_setup_answered_200(analyze):
    case = ac.rfc_case()
    case.add(ac.request(T0 + 0.025, "PLAY", ac.URL, 0, tag="PLAY0"),
             ac.reply(T0 + 0.026, 0, tag="PLAY0.reply"))
    case.renumber()
    rep = analyze(case)
    rep.expect("rtsp.state", case.frame("PLAY0.reply"), "PLAY", "Init", "200", "455")
    assert len(rep.of("rtsp.state")) == 1


@triggers("rtsp.state")
def test_pause_in_ready_answered_200(analyze):
    case = ac.rfc_case()
    case.add(ac.request(T0 + 0.035, "PAUSE", ac.URL, 0, ("Session", ac.SESSION), tag="PAUSE0"),
             ac.reply(T0 + 0.036, 0, ("Session", ac.SESSION), tag="PAUSE0.reply"))
    case.renumber()
    rep = analyze(case)
    rep.expect("rtsp.state", case.frame("PAUSE0.reply"), "PAUSE", "Ready", "455")
    assert len(rep.of("rtsp.state")) == 1


@clean("rtsp.state")
def test_play_before_setup_answered_455(analyze):
    case = ac.rfc_case()
    case.add(ac.request(T0 + 0.025, "PLAY", ac.URL, 0, tag="PLAY0"),
             ac.reply(T0 + 0.026, 0, status="455 Method Not Valid in This State", tag="PLAY0.reply"))
    case.renumber()
    rep = analyze(case)
    rep.absent("rtsp.state")
    assert rep.ids() == ["rtsp.status"]


@triggers("rtsp.public")
def test_public_does_not_list_pause(analyze):
    case = ac.rfc_case()
    case.msg("OPTIONS.reply").set("Public", "OPTIONS, DESCRIBE, SETUP, TEARDOWN, PLAY")
    rep = analyze(case)
    # Evidence: the Public header, or the 200 reply to the method it leaves out.
    rep.expect("rtsp.public", {case.frame("OPTIONS.reply"), case.frame("PAUSE.reply")}, "PAUSE", "Public")
    assert rep.data["verdict"] == "pass" and rep.rc == 0
    assert len(rep.of("rtsp.public")) == 1


@triggers("rtsp.public")
def test_public_finding_is_reported(analyze):
    """The same defect, frame left aside: reported once, warn, PAUSE named;
    off under the lab profile."""
    case = ac.rfc_case()
    case.msg("OPTIONS.reply").set("Public", "OPTIONS, DESCRIBE, SETUP, TEARDOWN, PLAY")
    rep = analyze(case)
    [f] = rep.of("rtsp.public")
    assert f["severity"] == "warn" and "PAUSE was answered 200" in f["detail"]
    assert rep.ids() == ["rtsp.public"]
    analyze(case, "--profile", "lab").absent("rtsp.public")


@clean("rtsp.public")
def test_public_listing_more_methods_than_used(analyze):
    case = ac.rfc_case()
    case.msg("OPTIONS.reply").set("Public", ac.PUBLIC + ", GET_PARAMETER, SET_PARAMETER, ANNOUNCE, RECORD")
    analyze(case).nothing()


def _extra_request(case, method, status, t=1.5, session=True):
    hdrs = [("Session", ac.SESSION)] if session else []
    case.add(ac.request(T0 + t, method, ac.URL, 0, *hdrs, tag="X"),
             ac.reply(T0 + t + 0.002, 0, *hdrs, status=status, tag="X.reply"))
    case.renumber()
    return case


@triggers("rtsp.method.unknown")
def test_unknown_method_answered_200(analyze):
    case = _extra_request(ac.rfc_case(), "FLY", "200 OK")
    rep = analyze(case)
    rep.expect("rtsp.method.unknown", case.frame("X.reply"), "FLY", "200", "501")


@triggers("rtsp.method.unknown")
def test_unknown_method_answered_405(analyze):
    """live555 answers 405; RFC 2326 section 10 asks for 501."""
    case = _extra_request(ac.rfc_case(), "FLY", "405 Method Not Allowed")
    rep = analyze(case)
    rep.expect("rtsp.method.unknown", case.frame("X.reply"), "FLY", "405")


@clean("rtsp.method.unknown")
def test_unknown_method_answered_501(analyze):
    case = _extra_request(ac.rfc_case(), "FLY", "501 Not Implemented")
    rep = analyze(case)
    rep.absent("rtsp.method.unknown")
    assert rep.ids() == ["rtsp.status"]


@triggers("rtsp.status")
def test_error_status_is_noted(analyze):
    case = _extra_request(ac.rfc_case(), "GET_PARAMETER", "451 Parameter Not Understood")
    rep = analyze(case)
    rep.expect("rtsp.status", case.frame("X.reply"), "GET_PARAMETER", "451", "Parameter Not Understood")
    assert rep.ids() == ["rtsp.status"]
    assert rep.data["verdict"] == "pass"


@clean("rtsp.status", "rtsp.public")
def test_keepalive_get_parameter_answered_200(analyze):
    case = _extra_request(ac.rfc_case(), "GET_PARAMETER", "200 OK")
    case.msg("OPTIONS.reply").set("Public", ac.PUBLIC + ", GET_PARAMETER")
    analyze(case).nothing()


# ---------------------------------------------------------------------------
# RTP

def _mid(case, frame_index=20, k=2):
    """Packet k of video frame frame_index (not its first, not its last)."""
    pkts = case.frame_rtp(frame_index)
    assert 0 < k < len(pkts) - 1
    return pkts[k]


@triggers("rtp.version")
def test_rtp_version_1(analyze):
    case = ac.rfc_case()
    p = _mid(case)
    p.version = 1
    rep = analyze(case)
    rep.expect("rtp.version", case.frame(p), "version 1", "expected 2")
    assert rep.data["streams"][0]["malformed"] == 1


@triggers("rtp.malformed")
def test_rtp_padding_count_zero(analyze):
    case = ac.rfc_case()
    p = _mid(case)
    raw = bytearray(p.bytes())
    raw[0] |= 0x20
    raw[-1] = 0
    p.raw = bytes(raw)
    rep = analyze(case)
    rep.expect("rtp.malformed", case.frame(p), "padding")


@triggers("rtp.malformed")
def test_rtp_csrc_count_past_the_end(analyze):
    case = ac.rfc_case()
    p = _mid(case)
    p.raw = bytes([0x8F]) + p.bytes()[1:12] + b"\0" * 8  # 15 CSRCs announced, 2 present
    rep = analyze(case)
    rep.expect("rtp.malformed", case.frame(p), "CSRC")


@triggers("rtp.malformed")
def test_rfc2435_header_rejected(analyze):
    """An RTP/JPEG header the depacketizer rejects (type-specific != 0)."""
    case = ac.rfc_case()
    p = _mid(case)
    p.payload = b"\x01" + p.payload[1:]
    rep = analyze(case)
    rep.expect("rtp.malformed", case.frame(p), "type-specific")


@clean("rtp.malformed", "rtp.version")
def test_rtp_valid_padding_and_extension(analyze):
    case = ac.rfc_case()
    for k, p in enumerate(case.frame_rtp(20)):
        p.raw = pcapgen.rtp(p.seq, p.ts, p.ssrc, p.payload, pt=p.pt, marker=p.marker,
                            padding=4 if k % 2 else 0, ext=(0xBEDE, b"\x10\xAA") if k % 2 == 0 else None)
    rep = analyze(case, "--decode", "all")
    rep.nothing()
    assert rep.data["streams"][0]["frames"]["complete"] == 60


@triggers("rtp.payload-type")
def test_payload_type_not_announced(analyze):
    case = ac.rfc_case()
    p = _mid(case)
    p.pt = 96
    rep = analyze(case)
    rep.expect("rtp.payload-type", case.frame(p), "payload type 96", "expected 26")
    assert len(rep.of("rtp.payload-type")) == 1


@clean("rtp.payload-type")
def test_dynamic_payload_type_announced_in_sdp(analyze):
    rep = analyze(ac.rfc_case(sdp_pt=96, pt=96))
    rep.absent("rtp.payload-type")
    rep.nothing()


@triggers("rtp.ssrc.change")
def test_ssrc_changes_mid_flow(analyze):
    case = ac.rfc_case()
    for p in case.rtp:
        if p.frame_index >= 30:
            p.ssrc = 0x0BADF00D
    first = case.frame_rtp(30)[0]
    rep = analyze(case)
    rep.expect("rtp.ssrc.change", case.frame(first), "0x1234abcd", "0x0badf00d")
    assert len(rep.of("rtp.ssrc.change")) == 1


@triggers("rtp.ssrc.change")
def test_ssrc_changes_on_interleaved_channel(analyze):
    case = ac.rfc_case(interleaved=True)
    for p in case.rtp:
        if p.frame_index >= 30:
            p.ssrc = 0x0BADF00D
    first = case.frame_rtp(30)[0]
    rep = analyze(case)
    rep.expect("rtp.ssrc.change", case.frame(first), "channel 0", "0x0badf00d")


@triggers("rtp.seq.gap", "frame.incomplete")
def test_seq_gap_one_lost(analyze):
    case = ac.rfc_case()
    lost = _mid(case)
    case.rtp.remove(lost)
    nxt = _mid(case)  # the packet that came after it
    rep = analyze(case)
    rep.expect("rtp.seq.gap", case.frame(nxt), f"expected seq {lost.seq}", f"got {lost.seq + 1}", "1 lost")
    assert len(rep.of("rtp.seq.gap")) == 1
    assert rep.data["streams"][0]["lost"] == 1
    # The frame it belonged to is incomplete: reported when the next frame starts.
    f20, f21 = case.frame_rtp(20), case.frame_rtp(21)
    rep.expect("frame.incomplete", range(case.frame(f20[-1]), case.frame(f21[0]) + 1), f"ts {lost.ts}",
               "missing bytes")
    assert len(rep.of("frame.incomplete")) == 1


@triggers("rtp.seq.gap")
def test_seq_gap_three_lost(analyze):
    case = ac.rfc_case()
    pk = case.frame_rtp(20)
    gone = pk[1:4]
    for p in gone:
        case.rtp.remove(p)
    rep = analyze(case)
    rep.expect("rtp.seq.gap", case.frame(pk[4]), f"expected seq {gone[0].seq}", "3 lost",
               f"{gone[0].seq}-{gone[-1].seq}")


@clean("rtp.seq.gap", "rtp.seq.reorder", "rtp.seq.duplicate", "rtp.seq.initial")
def test_seq_wrap_is_no_gap(analyze):
    case = ac.rfc_case(seq0=65400)
    assert any(p.seq == 0 for p in case.rtp)
    rep = analyze(case)
    rep.nothing()
    assert rep.data["streams"][0]["lost"] == 0 and rep.data["streams"][0]["expected"] == len(case.rtp)


@triggers("rtp.seq.reorder")
def test_seq_reordered_pair(analyze):
    case = ac.rfc_case()
    a = _mid(case, k=2)
    b = _mid(case, k=3)
    a.t, b.t = b.t, a.t
    rep = analyze(case)
    rep.expect("rtp.seq.reorder", case.frame(a), f"seq {a.seq} arrived after seq {b.seq}", "1 behind")
    assert case.frame(a) == case.frame(b) + 1
    assert rep.data["streams"][0]["reordered"] == 1
    # fragments of a frame may come in any order: the frame is whole
    rep.absent("frame.incomplete")


@triggers("rtp.seq.duplicate")
def test_seq_duplicate(analyze):
    case = ac.rfc_case()
    p = _mid(case)
    dup = p.copy(t=p.t + 5_000)
    case.rtp.append(dup)
    rep = analyze(case)
    rep.expect("rtp.seq.duplicate", case.frame(dup), f"seq {p.seq} received again")
    assert case.frame(dup) == case.frame(p) + 1
    assert rep.ids() == ["rtp.seq.duplicate"]
    assert rep.data["streams"][0]["duplicates"] == 1 and rep.data["streams"][0]["lost"] == -1


@triggers("rtp.seq.initial")
def test_seq_initial_zero(analyze):
    case = ac.rfc_case(seq0=0)
    rep = analyze(case)
    rep.expect("rtp.seq.initial", case.frame(case.rtp[0]), "initial sequence number 0")
    assert rep.ids() == ["rtp.seq.initial"]


@clean("rtp.seq.initial")
def test_seq_initial_two(analyze):
    analyze(ac.rfc_case(seq0=2)).nothing()


@triggers("rtp.timestamp.clock")
def test_timestamp_clock_1khz(analyze):
    case = ac.rfc_case(ts_step=50)
    rep = analyze(case)
    rep.expect("rtp.timestamp.clock", case.frame(case.rtp[0]), "1000.0 Hz", "expected 90000 Hz",
               frame_end=case.frame(case.rtp[-1]))


@triggers("rtp.timestamp.clock")
def test_timestamp_clock_in_lab_is_a_note(analyze):
    case = ac.lab_case()
    rep = analyze(case)
    rep.expect("rtp.timestamp.clock", case.frame(case.rtp[0]), "1.0 Hz", "expected 90000 Hz", severity="note",
               frame_end=case.frame(case.rtp[59]))
    rep = analyze(case, "--profile", "rfc2326")
    rep.expect("rtp.timestamp.clock", case.frame(case.rtp[0]), "1.0 Hz", severity="fail")


@clean("rtp.timestamp.clock")
def test_timestamp_clock_within_tolerance(analyze):
    analyze(ac.rfc_case(ts_step=4950)).nothing()  # 99 kHz: 10% fast


@clean("rtp.timestamp.clock")
def test_timestamp_clock_needs_two_seconds(analyze):
    analyze(ac.rfc_case(frames=30, ts_step=50)).nothing()  # 1.5 s: too short to judge


@triggers("rtp.timestamp.advance")
def test_timestamp_frozen_in_a_lab_stream(analyze):
    case = ac.lab_case()
    for p in case.rtp:
        p.ts = 1700000000
    rep = analyze(case)
    # The first PLAY's 3 s are judged; the second's 1 s (a new source port) is too short.
    rep.expect("rtp.timestamp.advance", case.frame(case.rtp[0]), "stays 1700000000", severity="warn",
               frame_end=case.frame(case.rtp[59]))
    assert len(rep.of("rtp.timestamp.advance")) == 1


@triggers("rtp.timestamp.advance")
def test_timestamp_going_back(analyze):
    case = ac.lab_case()
    back = case.rtp[30]
    back.ts = case.rtp[29].ts - 1000
    rep = analyze(case)
    rep.expect("rtp.timestamp.advance", case.frame(back), f"went back from {case.rtp[29].ts} to {back.ts}",
               severity="warn")


@clean("rtp.timestamp.advance")
def test_timestamp_advance_on_the_lab_clock_and_the_media_clock(analyze):
    assert not analyze(ac.lab_case()).of("rtp.timestamp.advance")
    assert not analyze(ac.rfc_case()).of("rtp.timestamp.advance")


@triggers("rtp.timestamp.frame")
def test_timestamp_changes_within_frame(analyze):
    case = ac.rfc_case()
    pk = case.frame_rtp(20)
    last = pk[-1]
    last.ts += 1
    rep = analyze(case)
    off = int.from_bytes(last.payload[1:4], "big")
    rep.expect("rtp.timestamp.frame", case.frame(last), f"seq {last.seq}", f"timestamp {last.ts}",
               f"is {pk[0].ts}", f"offset {off}")


@triggers("rtp.marker")
def test_marker_missing_on_last_packet(analyze):
    case = ac.rfc_case()
    last = case.frame_rtp(20)[-1]
    last.marker = False
    rep = analyze(case)
    rep.expect("rtp.marker", case.frame(last), f"seq {last.seq}", "without the marker")
    assert len(rep.of("rtp.marker")) == 1


@triggers("rtp.marker")
def test_marker_in_middle_of_frame(analyze):
    case = ac.rfc_case()
    p = _mid(case)
    p.marker = True
    rep = analyze(case, "--decode", "none")
    rep.expect("rtp.marker", case.frame(p), f"seq {p.seq}", "middle")


@triggers("rtp.marker")
def test_marker_clear_in_lab_is_a_note(analyze):
    case = ac.lab_case()
    rep = analyze(case)
    rep.expect("rtp.marker", case.frame(case.rtp[0]), "60 of 60", severity="note",
               frame_end=case.frame(case.rtp[59]))


@clean("rtp.marker", "rtp.timestamp.clock")
def test_lab_stream_with_marker_and_90khz(analyze):
    case = ac.lab_case()
    for p in case.rtp:
        p.marker = True
        p.ts = 0x1000 + (p.t - case.rtp[0].t) * 90000 // 1_000_000_000
    rep = analyze(case)
    rep.absent("rtp.marker", "rtp.timestamp.clock")


@triggers("rtp.after-pause")
def test_rtp_after_pause(analyze):
    case = ac.rfc_case()
    case.msg("PAUSE").t = ns(T0 + 2.0)
    case.msg("PAUSE.reply").t = ns(T0 + 2.002)
    after = rtp_after(case, ns(T0 + 2.002))
    rep = analyze(case)
    rep.expect("rtp.after-pause", case.frame(after[0]), f"{len(after)} RTP packets after the PAUSE reply",
               f"frame {case.frame('PAUSE.reply')}", frame_end=case.frame(after[-1]))
    assert len(rep.of("rtp.after-pause")) == 1


@triggers("rtp.after-pause")
def test_lab_server_sends_from_a_new_port_while_paused(analyze):
    """Lab servers open a new UDP source port for RTP: a flow that starts
    after the PAUSE reply, with no PLAY, is RTP after PAUSE all the same."""
    case = ac.lab_case()
    case.remove_msg("PLAY2")
    case.remove_msg("PLAY2.reply")
    second = [p for p in case.rtp if p.src[1] == ac.LAB_SRC_PORTS[1]]
    rep = analyze(case)
    rep.expect("rtp.after-pause", case.frame(second[0]), f"{len(second)} RTP packets after the PAUSE reply",
               f"frame {case.frame('PAUSE.reply')}", frame_end=case.frame(second[-1]), severity="fail")


@clean("rtp.after-pause")
def test_rest_of_frame_within_grace_after_pause(analyze):
    """The PAUSE reply comes while the last frame is being sent: its
    remaining packets (within 100 ms) are no finding."""
    case = ac.rfc_case()
    last = case.frame_rtp(59)
    case.msg("PAUSE").t = last[0].t + 5_000
    case.msg("PAUSE.reply").t = last[0].t + 10_000
    assert rtp_after(case, case.msg("PAUSE.reply").t)
    analyze(case).nothing()


@clean("rtp.after-pause")
def test_pause_then_play_resumes(analyze):
    """PAUSE after frame 28, PLAY 0.5 s later: the stream resumes (its
    timestamps follow the wall clock, its sequence numbers go on). No
    finding, and no frame interval is measured across the pause."""
    case = ac.rfc_case()
    t_pause = case.frame_rtp(28)[-1].t + ns(0.010)
    case.msg("PAUSE").t = t_pause
    case.msg("PAUSE.reply").t = t_pause + ns(0.002)
    shift = ns(0.5)
    for p in case.rtp:
        if p.frame_index >= 29:
            p.t += shift
            p.ts = (p.ts + 45000) & 0xFFFFFFFF
    for u in case.udp:
        if u.t > t_pause:
            u.t += shift
    for tag in ("TEARDOWN", "TEARDOWN.reply"):
        case.msg(tag).t += shift + ns(1.0)
    case.close_t += shift + ns(1.0)
    case.add(ac.request(t_pause + ns(0.5) - ns(0.05), "PLAY", ac.URL, 0, ("Session", ac.SESSION), tag="PLAY2"),
             ac.reply(t_pause + ns(0.5) - ns(0.048), 0, ("Session", ac.SESSION), tag="PLAY2.reply"))
    case.add(ac.request(case.rtp[-1].t + ns(0.1), "PAUSE", ac.URL, 0, ("Session", ac.SESSION), tag="PAUSE2"),
             ac.reply(case.rtp[-1].t + ns(0.102), 0, ("Session", ac.SESSION), tag="PAUSE2.reply"))
    case.renumber()
    rep = analyze(case)
    rep.nothing()
    assert [x["method"] for x in rep.data["connections"][0]["exchanges"]][3:] == [
        "PLAY", "PAUSE", "PLAY", "PAUSE", "TEARDOWN"]
    fr = rep.data["streams"][0]["frames"]
    assert fr["stalls"] == 0 and fr["interval_ms"]["max"] < 51, fr


@triggers("rtp.after-pause")
def test_rtp_after_pause_interleaved(analyze):
    case = ac.rfc_case(interleaved=True)
    case.msg("PAUSE").t = ns(T0 + 2.0)
    case.msg("PAUSE.reply").t = ns(T0 + 2.002)
    after = rtp_after(case, ns(T0 + 2.002))
    rep = analyze(case)
    rep.expect("rtp.after-pause", case.frame(after[0]), f"{len(after)} RTP packets after the PAUSE reply",
               frame_end=case.frame(after[-1]))


@triggers("rtp.after-teardown")
def test_rtp_after_teardown(analyze):
    case = ac.rfc_case(pause=False)
    case.msg("TEARDOWN").t = ns(T0 + 2.0)
    case.msg("TEARDOWN.reply").t = ns(T0 + 2.002)
    after = rtp_after(case, ns(T0 + 2.002))
    rep = analyze(case)
    rep.expect("rtp.after-teardown", case.frame(after[0]), f"{len(after)} RTP packets after the TEARDOWN reply",
               frame_end=case.frame(after[-1]))
    rep.absent("rtp.after-pause")


@clean("rtp.after-teardown")
def test_teardown_without_pause_after_last_packet(analyze):
    analyze(ac.rfc_case(pause=False)).nothing()


@triggers("rtp.after-teardown")
def test_rtp_after_teardown_lab(analyze):
    """A lab server that keeps sending after TEARDOWN: fail in lab too."""
    case = ac.lab_case()
    t_reply = case.msg("TEARDOWN.reply").t
    extra = ac.lab_rtp(81, 10, t_reply / 1e9 + 0.040, ac.LAB_SRC_PORTS[1])
    case.rtp += extra
    case.close_t = extra[-1].t + ns(0.01)
    rep = analyze(case)
    assert rep.profile == "lab"
    rep.expect("rtp.after-teardown", case.frame(extra[0]), "10 RTP packets after the TEARDOWN reply",
               frame_end=case.frame(extra[-1]), severity="fail")


# ---------------------------------------------------------------------------
# RTCP

@triggers("rtcp.malformed")
def test_rtcp_length_past_the_end(analyze):
    case = ac.rfc_case()
    sr = case.udp_tag("SR1")
    data = bytearray(sr.data)
    data[2:4] = struct.pack("!H", 40)
    sr.data = bytes(data)
    rep = analyze(case)
    rep.expect("rtcp.malformed", case.frame(sr), "length runs past the end")


@triggers("rtcp.malformed")
def test_rtcp_version_0(analyze):
    case = ac.rfc_case()
    sr = case.udp_tag("SR2")
    sr.data = bytes([sr.data[0] & 0x3F]) + sr.data[1:]
    rep = analyze(case)
    rep.expect("rtcp.malformed", case.frame(sr), "version")


@triggers("rtcp.malformed")
def test_rtcp_malformed_in_lab_is_a_warning(analyze):
    case = ac.rfc_case()
    sr = case.udp_tag("SR1")
    sr.data = sr.data[:-3]
    rep = analyze(case, "--profile", "lab")
    rep.expect("rtcp.malformed", case.frame(sr), severity="warn")


@triggers("rtcp.sr.counts")
def test_sr_claims_more_than_sent(analyze):
    case = ac.rfc_case(sr_extra=1000)
    rep = analyze(case)
    sr1 = case.udp_tag("SR1")
    sent = len([p for p in case.rtp if p.t < sr1.t])
    rep.expect("rtcp.sr.counts", case.frame(sr1), f"SR packet count {sent + 1000}", f"implies {sent} sent")
    assert len(rep.of("rtcp.sr.counts")) == 2
    analyze(case, "--profile", "lab").absent("rtcp.sr.counts")


@triggers("rtcp.sr.counts")
def test_sr_claims_fewer_than_received(analyze):
    case = ac.rfc_case()
    sr2 = case.udp_tag("SR2")
    sr2.data = ac.rtcp_sr(ac.SSRC, sr2.t / 1e9, 0, 10, 10 * 1300)
    rep = analyze(case)
    rep.expect("rtcp.sr.counts", case.frame(sr2), "SR packet count 10", f"{len(case.rtp)} RTP packets were already")


@clean("rtcp.sr.counts")
def test_sr_counts_within_slack(analyze):
    analyze(ac.rfc_case(sr_extra=20)).nothing()


# ---------------------------------------------------------------------------
# frames

@triggers("frame.incomplete")
def test_frame_incomplete_at_end_of_capture(analyze):
    case = ac.rfc_case()
    last = case.rtp[-1]
    case.rtp.remove(last)
    rep = analyze(case)
    rep.expect("frame.incomplete", case.frame(case.rtp[-1]), "at end of capture", f"ts {last.ts}",
               "no marker packet")


@triggers("frame.incomplete")
def test_lab_frame_not_a_whole_jpeg(analyze):
    case = ac.lab_case()
    p = case.rtp[10]
    p.payload = p.payload[:3000]
    rep = analyze(case)
    rep.expect("frame.incomplete", case.frame(p), f"seq {p.seq}", "not a whole JPEG")


@clean("frame.incomplete")
def test_fragments_out_of_order_complete_the_frame(analyze):
    case = ac.rfc_case()
    pk = case.frame_rtp(20)
    pk[0].t, pk[-1].t = pk[-1].t, pk[0].t  # the marker packet first, the first packet last
    rep = analyze(case, "--decode", "all")
    rep.absent("frame.incomplete", "frame.undecodable", "rtp.marker", "rtp.timestamp.frame")
    assert rep.data["streams"][0]["frames"]["complete"] == 60


def _corrupt_height(case, index):
    """Frame `index` claims twice its height: the scan ends early."""
    pk = case.frame_rtp(index)
    for p in pk:
        p.payload = p.payload[:7] + bytes([p.payload[7] * 2]) + p.payload[8:]
    return pk


@triggers("frame.undecodable")
def test_frame_undecodable(analyze):
    case = ac.rfc_case()
    pk = _corrupt_height(case, 20)
    rep = analyze(case, "--decode", "all")
    rep.expect("frame.undecodable", case.frame(pk[-1]), "does not decode")
    assert rep.data["streams"][0]["frames"]["undecodable"] == 1


@triggers("frame.undecodable")
def test_frame_tables_never_came(analyze):
    """Q=200 (tables in-band, RFC 2435 3.1.8) and a table header of length
    0 in the frame's first packet, with no tables for Q=200 seen before."""
    case = ac.rfc_case()
    pk = case.frame_rtp(20)
    pk[0].payload = pk[0].payload[:8] + struct.pack("!BBH", 0, 0, 0) + pk[0].payload[12 + 128:]
    for p in pk:
        p.payload = p.payload[:5] + bytes([200]) + p.payload[6:]
    rep = analyze(case, "--decode", "none")
    rep.expect("frame.undecodable", case.frame(pk[-1]), "tables never came")


@clean("frame.undecodable")
def test_frame_undecodable_not_decoded(analyze):
    case = ac.rfc_case()
    _corrupt_height(case, 20)
    rep = analyze(case, "--decode", "none")
    rep.nothing()
    assert rep.data["streams"][0]["frames"]["decoded"] == 0


def _renumber_lab(case, numbers):
    """Give the first PLAY's frames the fixture numbers `numbers` (same images)."""
    first = [p for p in case.rtp if p.src[1] == ac.LAB_SRC_PORTS[0]]
    for p, n in zip(first, numbers):
        p.payload = ac.lab_jpeg(n, image=p.seq - 1)
    return first


@triggers("frame.skipped")
def test_lab_frame_skipped(analyze):
    case = ac.lab_case()
    pk = _renumber_lab(case, [k if k <= 10 else k + 1 for k in range(1, 61)])
    rep = analyze(case)
    rep.expect("frame.skipped", case.frame(pk[10]), "expected frame 11", "got frame 12", "1 skipped")
    assert rep.data["streams"][0]["frames"]["numbered"]["skipped"] == 1
    rep.absent("rtp.seq.gap")


@triggers("frame.repeated")
def test_lab_frame_repeated(analyze):
    case = ac.lab_case()
    pk = _renumber_lab(case, [k if k <= 10 else k - 1 for k in range(1, 61)])
    rep = analyze(case)
    rep.expect("frame.repeated", case.frame(pk[10]), "frame 10 again")
    assert rep.data["streams"][0]["frames"]["numbered"]["repeated"] == 1
    rep.absent("rtp.seq.duplicate", "frame.skipped", "frame.order")


@triggers("frame.order")
def test_lab_frames_swapped(analyze):
    case = ac.lab_case()
    nums = list(range(1, 61))
    nums[10], nums[11] = 12, 11
    pk = _renumber_lab(case, nums)
    rep = analyze(case)
    rep.expect("frame.order", case.frame(pk[11]), "frame 11 arrived after frame 12")
    numbered = rep.data["streams"][0]["frames"]["numbered"]
    assert numbered["out_of_order"] == 1 and numbered["skipped"] == 0


@triggers("frame.order")
def test_lab_numbering_goes_back(analyze):
    case = ac.lab_case()
    nums = [100 + k for k in range(30)] + [1 + k for k in range(30)]
    pk = _renumber_lab(case, nums)
    rep = analyze(case)
    rep.expect("frame.order", case.frame(pk[30]), "frame 1 after frame 129", "new run")
    assert len(rep.of("frame.order")) == 1


@clean("frame.skipped", "frame.repeated", "frame.order")
def test_lab_numbering_restarts_on_a_new_play(analyze):
    """The second PLAY's stream restarts at 1: a new stream, no finding."""
    case = ac.lab_case()
    second = [p for p in case.rtp if p.src[1] == ac.LAB_SRC_PORTS[1]]
    for k, p in enumerate(second, 1):
        p.payload = ac.lab_jpeg(k, image=p.seq - 1)
    rep = analyze(case)
    rep.absent("frame.skipped", "frame.repeated", "frame.order")
    assert set(rep.ids()) <= LAB_NOTES


# ---------------------------------------------------------------------------
# capture

@triggers("capture.tcp.gap")
def test_tcp_segment_missing(analyze):
    case = ac.rfc_case()
    rep = analyze(case, post=_drop_play_segment(case))
    f = rep.expect("capture.tcp.gap", range(case.frame("PLAY.reply"), rep.data["capture"]["packets"] + 1),
                   "client", "missing")
    n = len(case.msg("PLAY").render())
    assert f"{n} bytes" in f["detail"], f["detail"]


@triggers("capture.tcp.gap")
def test_tcp_segment_missing_is_found_where_the_stream_resumes(analyze):
    """The lost PLAY segment is reported once, after the client's next
    segment (PAUSE) shows the hole and at the latest when the client's FIN
    is acknowledged (tcpreasm.h), not at the end of the file."""
    case = ac.rfc_case()
    rep = analyze(case, post=_drop_play_segment(case))
    [f] = rep.of("capture.tcp.gap")
    assert case.frame("PAUSE") <= f["frame"] < rep.data["capture"]["packets"], f


def _drop_play_segment(case):
    def post(packets, pkt_of):
        return [p for p in packets if p is not pkt_of(case.msg("PLAY"))]
    return post


def test_requests_after_a_tcp_gap_are_still_parsed(analyze):
    """The capture lost the PLAY segment only. PAUSE and TEARDOWN come
    whole, each in its own segment: once the gap is known they are RTSP
    requests like any other and must be in the report."""
    case = ac.rfc_case()
    rep = analyze(case, post=_drop_play_segment(case))
    assert rep.of("capture.tcp.gap")
    frames = {x["method"]: x["frame"] for x in rep.data["connections"][0]["exchanges"]}
    assert frames.get("PAUSE") == case.frame("PAUSE"), rep.data["connections"][0]["exchanges"]
    assert frames.get("TEARDOWN") == case.frame("TEARDOWN"), rep.data["connections"][0]["exchanges"]


def test_tcp_gap_does_not_blame_the_server(analyze):
    """The PAUSE and TEARDOWN replies answer requests that are in the
    capture before them (the server ACKed the lost PLAY bytes, so they will
    never come): a segment lost by the capture is capture.tcp.gap, not
    replies "to no outstanding request"."""
    case = ac.rfc_case()
    rep = analyze(case, post=_drop_play_segment(case))
    assert rep.of("capture.tcp.gap")
    bogus = [f for f in rep.of("rtsp.response.order") if f["frame"] in (case.frame("PAUSE.reply"),
                                                                      case.frame("TEARDOWN.reply"))]
    assert not bogus, rep.show()


@clean("capture.tcp.gap")
def test_tcp_retransmission_is_no_gap(analyze):
    case = ac.rfc_case()

    def post(packets, pkt_of):
        out = []
        for p in packets:
            out.append(p)
            if p is pkt_of(case.msg("SETUP")):
                out.append(p.copy(t_ns=p.t_ns + 1_000_000))
        return out
    rep = analyze(case, post=post)
    rep.nothing()
    assert [x["method"] for x in rep.data["connections"][0]["exchanges"]].count("SETUP") == 1


@triggers("capture.truncated")
def test_snaplen_cuts_rtp_packets(analyze):
    case = ac.rfc_case()
    rep = analyze(case, snaplen=1000)
    first = min(case.frame(p) for p in case.rtp if len(p.bytes()) + 42 > 1000)
    n = sum(1 for p in case.rtp if len(p.bytes()) + 42 > 1000)
    rep.expect("capture.truncated", first, f"{n} frames were cut", f"first is frame {first}")
    assert rep.data["capture"]["truncated"] == n


@triggers("capture.truncated")
def test_file_cut_in_the_middle_of_a_record(analyze, run_harness, tmp_path):
    case = ac.rfc_case()
    path = case.build(tmp_path / "whole.pcap")
    raw = path.read_bytes()
    cut = tmp_path / "cut.pcap"
    cut.write_bytes(raw[:len(raw) - 20])  # inside the last record
    proc = run_harness("analyze", cut, "--json")
    assert proc.returncode in (0, 1), proc.stderr
    data = json.loads(proc.stdout)
    _consistency(data, proc.returncode)
    rep = Report(data, proc.returncode, case)
    assert data["capture"]["packets"] == case.n_packets - 1
    rep.expect("capture.truncated", case.n_packets, "cut.pcap")


@clean("capture.truncated")
def test_snaplen_above_every_frame(analyze):
    rep = analyze(ac.rfc_case(), snaplen=1500)
    rep.nothing()
    assert rep.data["capture"]["truncated"] == 0


# ---------------------------------------------------------------------------
# whole reports

def test_exit_status_1_on_fail(analyze):
    case = ac.rfc_case()
    case.msg("SETUP.reply").set("CSeq", "33")
    rep = analyze(case)
    assert rep.rc == 1 and rep.data["verdict"] == "fail" and rep.data["summary"]["fail"] >= 1


def test_warn_and_note_do_not_fail(analyze):
    case = ac.rfc_case(seq0=0)  # rtp.seq.initial: warn
    lost = _mid(case)
    case.rtp.remove(lost)        # rtp.seq.gap, frame.incomplete: warn
    case.add(ac.request(T0 + 1.5, "GET_PARAMETER", ac.URL, 0, ("Session", ac.SESSION), tag="X"),
             ac.reply(T0 + 1.502, 0, status="451 Parameter Not Understood", tag="X.reply"))
    case.renumber()               # rtsp.status: note
    rep = analyze(case)
    assert set(rep.ids()) == {"rtp.seq.initial", "rtp.seq.gap", "frame.incomplete", "rtsp.status"}
    assert rep.data["summary"]["fail"] == 0 and rep.data["summary"]["warn"] == 3
    assert rep.data["summary"]["note"] == 1
    assert rep.rc == 0 and rep.data["verdict"] == "pass"


@pytest.mark.parametrize("kind", ["text", "truncated-header", "missing", "empty"])
def test_unusable_input_exit_2(run_harness, tmp_path, kind):
    path = tmp_path / f"input-{kind}.pcap"
    if kind == "text":
        path.write_text("this is not a capture\n" * 10)
    elif kind == "truncated-header":
        ac.rfc_case().build(tmp_path / "ok.pcap")
        path.write_bytes((tmp_path / "ok.pcap").read_bytes()[:12])
    elif kind == "empty":
        path.write_bytes(b"")
    for args in ((), ("--json",)):
        proc = run_harness("analyze", path, *args)
        assert proc.returncode == 2, (kind, proc.returncode, proc.stdout[:200])
        assert str(path) in proc.stderr, proc.stderr
        assert proc.stdout == ""


def test_text_report_mentions_verdict_and_findings(run_harness, tmp_path):
    good = ac.rfc_case().build(tmp_path / "good.pcap")
    proc = run_harness("analyze", good)
    assert proc.returncode == 0
    assert proc.stdout.rstrip().endswith("verdict: pass")
    assert "findings:" not in proc.stdout
    bad_case = ac.rfc_case()
    bad_case.msg("SETUP.reply").set("CSeq", "33")
    bad = bad_case.build(tmp_path / "bad.pcap")
    proc = run_harness("analyze", bad)
    assert proc.returncode == 1
    assert proc.stdout.rstrip().endswith("verdict: FAIL")
    line = next(ln for ln in proc.stdout.splitlines() if "rtsp.cseq.echo" in ln)
    assert "fail" in line and f"frame {bad_case.frame('SETUP.reply')}" in line and "CSeq 33" in line


def test_profile_changes_severities(analyze):
    """One capture, two profiles: a short session id fails rfc2326 and is off
    in lab; bare LF fails rfc2326 and is a note in lab."""
    case = ac.rfc_case(session="ABCDEF1")
    case.msg("OPTIONS.reply").eol = "\n"
    rfc = analyze(case)
    assert rfc.profile == "rfc2326" and rfc.rc == 1
    rfc.expect("rtsp.session.length", case.frame("SETUP.reply"), severity="fail")
    rfc.expect("rtsp.line-ends", case.frame("OPTIONS.reply"), severity="fail")
    lab = analyze(case, "--profile", "lab")
    assert lab.profile == "lab" and lab.rc == 0 and lab.data["verdict"] == "pass"
    lab.absent("rtsp.session.length")
    lab.expect("rtsp.line-ends", case.frame("OPTIONS.reply"), severity="note")


def test_lab_capture_under_rfc2326_profile_fails(analyze):
    case = ac.lab_case()
    rep = analyze(case, "--profile", "rfc2326")
    assert rep.profile == "rfc2326" and rep.rc == 1
    rep.expect("rtsp.line-ends", case.frame("SETUP"), severity="fail")
    rep.expect("rtsp.session.length", case.frame("SETUP.reply"), ac.LAB_SESSION, severity="fail")
    rep.expect("rtsp.transport.missing", case.frame("SETUP.reply"), severity="fail")
    rep.expect("rtp.seq.initial", case.frame(case.rtp[0]), "initial sequence number 1", severity="warn")
    rep.expect("rtp.marker", case.frame(case.rtp[0]), severity="fail")


def test_findings_capped_at_50_per_check(analyze, run_harness):
    case = ac.rfc_case()
    originals = case.rtp[:60]
    case.rtp += [p.copy(t=p.t + 3_000) for p in originals]
    rep = analyze(case)
    dups = rep.of("rtp.seq.duplicate")
    assert len(dups) == 50
    assert rep.data["summary"]["by_check"]["rtp.seq.duplicate"] == 60
    assert rep.data["summary"]["note"] == 60
    assert rep.data["streams"][0]["duplicates"] == 60
    # the 50 kept are the first 50, in capture order
    assert [f["frame"] for f in dups] == sorted(f["frame"] for f in dups)
    assert dups[0]["frame"] == case.frame(case.rtp[-60])
    text = run_harness("analyze", case.path).stdout
    assert sum(1 for ln in text.splitlines() if "rtp.seq.duplicate" in ln and "received again" in ln) == 50
    assert "rtp.seq.duplicate: 10 more not listed" in text


def test_rtp_port_option_without_rtsp(analyze, tmp_path):
    """--rtp-port binds a UDP flow without RTSP; the RTP checks still run
    (here a gap), on the stream's own payload type."""
    case = ac.rfc_case()
    case.msgs = []
    lost = _mid(case)
    case.rtp.remove(lost)
    rep = analyze(case, "--rtp-port", str(ac.CLIENT_RTP))
    [s] = rep.data["streams"]
    assert s["bound_by"] == "rtp-port"
    rep.expect("rtp.seq.gap", case.frame(_mid(case)), "1 lost")
