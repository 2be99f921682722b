"""The team's lab server and its mutants (fixtures/submissions/), checked
without the grader: each submission is started on loopback as a student's
would be (`python3 Server.py PORT` in a copy of its folder, symlinks
dereferenced, with a movie beside it) and driven by a small lab-dialect
client. The correct server must pass every rubric item probed here; each
mutant must fail exactly the items expected.json gives it among the items
its probes judge (loss and jitter need netem and are not probed here).

The probes of all submissions run once, four submissions at a time, in the
`results` fixture; the tests read their outcome.
"""
import concurrent.futures
import json
import pathlib
import re
import shutil
import socket
import struct
import subprocess
import sys
import time

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
SUBMISSIONS = ROOT / "fixtures" / "submissions"
MOVIE = ROOT / "fixtures" / "movie.Mjpeg"
EXPECTED = json.loads((SUBMISSIONS / "expected.json").read_text())
MUTANTS = sorted(name for name in EXPECTED if name != "correct")
LAB_FILES = ("Server.py", "ServerWorker.py", "VideoStream.py", "RtpPacket.py")
RUBRIC = ("setup", "play", "pause", "teardown", "cseq", "session", "rtp.version", "rtp.pt",
          "rtp.seq", "rtp.ssrc", "rtp.timestamp", "pacing", "frames", "pause-stops",
          "teardown-stops", "not-found", "second-client", "malformed", "wrong-state", "crlf",
          "loss", "jitter", "cpu", "vanished", "bonus.describe", "bonus.statistics")
BIG_FRAME = 40000        # every 4th frame of the test movie is padded to this (> 32 KB)
REPLY_IDLE = 0.03        # a reply is complete once the connection is idle this long
STOP_GRACE = 0.1         # RTP may still arrive this long after a PAUSE or TEARDOWN reply

sys.path.insert(0, str(ROOT / "fixtures"))
from lab_client import RtpListener, rtp_header  # noqa: E402
FRAME_NUMBER = re.compile(rb"rtsp-harness frame (\d+)")


# --------------------------------------------------------------------------
# the movie: fixtures/movie.Mjpeg with every 4th frame made larger than 32 KB

def read_mjpeg(data):
    frames, at = [], 0
    while at < len(data):
        length = int(data[at:at + 5])
        frames.append(data[at + 5:at + 5 + length])
        at += 5 + length
    return frames


def pad_jpeg(jpeg, size):
    """The same JPEG made `size` bytes long by a comment segment after SOI."""
    filler = size - len(jpeg) - 4
    assert 0 <= filler <= 65533
    return jpeg[:2] + b"\xff\xfe" + struct.pack("!H", filler + 2) + b"\0" * filler + jpeg[2:]


def write_mjpeg(path, frames):
    path.write_bytes(b"".join(b"%05d" % len(f) + f for f in frames))


@pytest.fixture(scope="module")
def movie(tmp_path_factory):
    frames = read_mjpeg(MOVIE.read_bytes())
    frames = [pad_jpeg(f, BIG_FRAME) if n % 4 == 0 else f for n, f in enumerate(frames, 1)]
    path = tmp_path_factory.mktemp("movie") / "movie.Mjpeg"
    write_mjpeg(path, frames)
    return path, frames


# --------------------------------------------------------------------------
# a submission running on loopback, and a lab client

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Submission:
    """`python3 Server.py PORT` in a copy of the submission's folder."""

    def __init__(self, name, workdir, movie_path):
        self.dir = workdir / name
        shutil.copytree(SUBMISSIONS / name, self.dir)     # symlinks dereferenced
        shutil.copyfile(movie_path, self.dir / "movie.Mjpeg")
        self.err_path = self.dir / "server.stderr"
        for _ in range(3):                               # another test may take the port first
            self.port = free_port()
            with open(self.err_path, "wb") as err:
                self.proc = subprocess.Popen([sys.executable, "Server.py", str(self.port)],
                                             cwd=self.dir, stdin=subprocess.DEVNULL,
                                             stdout=subprocess.DEVNULL, stderr=err)
            if self.wait_listening():
                return
            self.stop()
        raise AssertionError("%s does not listen:\n%s" % (name, self.stderr()))

    def wait_listening(self, timeout=3.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.alive():
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return True
            except OSError:
                time.sleep(0.02)
        return False

    def alive(self):
        return self.proc.poll() is None

    def cpu_seconds(self):
        fields = pathlib.Path("/proc/%d/stat" % self.proc.pid).read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / 100.0   # utime + stime, clock ticks

    def stderr(self):
        return self.err_path.read_text(errors="replace")

    def stop(self):
        if self.alive():
            self.proc.kill()
        self.proc.wait(5)


class Reply:
    def __init__(self, raw, t):
        self.raw, self.t = raw, t
        head, _, self.body = raw.replace("\r\n", "\n").partition("\n\n")
        lines = head.split("\n")
        words = lines[0].split(" ")
        self.status = int(words[1]) if len(words) > 1 and words[1].isdigit() else None
        self.headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            self.headers[name.strip().lower()] = value.strip()
        cseq = self.headers.get("cseq", "")
        self.cseq = int(cseq) if cseq.isdigit() else None
        self.session = self.headers.get("session")

    def __repr__(self):
        return repr(self.raw)


class LabClient:
    """One RTSP connection speaking the lab's dialect, and an RTP socket
    whose packets are recorded with their arrival time."""

    def __init__(self, sub, eol="\n"):
        self.eol = eol
        self.rtsp = socket.create_connection(("127.0.0.1", sub.port), timeout=2)
        self.rtp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.rtp.bind(("127.0.0.1", 0))
        self.rtp.settimeout(0.1)
        self.rtp_port = self.rtp.getsockname()[1]
        self.listener = RtpListener(self.rtp)
        self.listener.start()
        self.cseq = 0
        self.session = None

    @property
    def packets(self):
        """(arrival time, parsed header) of every RTP packet received so far."""
        return [(t, rtp_header(data)) for t, data in self.listener.packets]

    def request(self, method, filename="movie.Mjpeg", extra=None, timeout=1.0):
        """Sends one request in one write (the lab's header order, no final
        blank line, or CRLF after every line); returns its Reply or None."""
        self.cseq += 1
        if extra is None:
            extra = ("Transport: RTP/UDP; client_port= %d" % self.rtp_port if method == "SETUP"
                     else "Session: %s" % self.session)
        lines = ["%s %s RTSP/1.0" % (method, filename), "CSeq: %d" % self.cseq, extra]
        text = self.eol.join(lines) + ("\r\n" if self.eol == "\r\n" else "")
        try:
            self.rtsp.sendall(text.encode())
        except OSError:
            return None
        reply = read_reply(self.rtsp, timeout)
        if reply is not None and method == "SETUP" and reply.status == 200:
            self.session = reply.session
        return reply

    def received(self, start, end=float("inf")):
        return [h for t, h in self.packets if start < t < end]

    def close(self, reset=False):
        if reset:
            self.rtsp.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.rtsp.close()

    def stop_listening(self):
        self.listener.stop()


def read_reply(sock, timeout):
    """The text that arrives until the connection is idle for REPLY_IDLE;
    None when nothing arrives within timeout or the connection closes."""
    data = b""
    sock.settimeout(timeout)
    try:
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
            sock.settimeout(REPLY_IDLE)
    except socket.timeout:
        pass
    except ConnectionError:
        pass
    return Reply(data.decode("utf-8", "replace"), time.monotonic()) if data else None


def verdict(ok, detail):
    return (bool(ok), detail)


def answered(reply, status, cseq):
    return reply is not None and reply.status == status and reply.cseq == cseq


# --------------------------------------------------------------------------
# probes: each drives a submission and judges rubric items {item: (ok, detail)}

def probe_session(sub, frames):
    """SETUP, PLAY 1.1 s, PAUSE 0.35 s, PLAY 0.2 s, TEARDOWN, 0.35 s."""
    c = LabClient(sub)
    setup = c.request("SETUP")
    play = c.request("PLAY")
    time.sleep(1.1)
    pause = c.request("PAUSE")
    time.sleep(0.35)
    resumed = time.monotonic()
    play2 = c.request("PLAY")
    time.sleep(0.2)
    teardown = c.request("TEARDOWN")
    time.sleep(0.35)
    c.close()
    c.stop_listening()
    replies = [setup, play, pause, play2, teardown]
    out = {}
    for item, reply in zip(("setup", "play", "pause", "teardown"), (setup, play, pause, teardown)):
        out[item] = verdict(reply is not None and reply.status == 200, reply)
    out["play"] = verdict(out["play"][0] and play2 is not None and play2.status == 200,
                          (play, play2))
    out["cseq"] = verdict(all(r is not None and r.cseq == n for n, r in enumerate(replies, 1)),
                          replies)
    session = setup.session if setup is not None else None
    out["session"] = verdict(session and all(r is not None and r.session == session
                                             for r in replies), replies)
    stats = [r.headers.get("frames-sent", "") if r else "" for r in (play, pause)]
    out["bonus.statistics"] = verdict(all(s.isdigit() for s in stats), stats)
    if play is None or pause is None or teardown is None:
        return out
    packets = c.received(0)
    first = c.received(play.t - 0.5, pause.t)
    seqs = [h["seq"] for h in packets]
    stamps = [h["ts"] for h in packets]
    out["rtp.version"] = verdict(packets and all(h["version"] == 2 for h in packets),
                                 sorted({h["version"] for h in packets}))
    out["rtp.pt"] = verdict(packets and all(h["pt"] == 26 for h in packets),
                            sorted({h["pt"] for h in packets}))
    out["rtp.seq"] = verdict(len(seqs) > 1 and all(b == a + 1 for a, b in zip(seqs, seqs[1:])),
                             seqs[:30])
    out["rtp.ssrc"] = verdict(len({h["ssrc"] for h in packets}) == 1,
                              len({h["ssrc"] for h in packets}))
    out["rtp.timestamp"] = verdict(stamps and stamps[-1] > stamps[0]
                                   and all(b >= a for a, b in zip(stamps, stamps[1:])), stamps)
    times = [t for t, _ in c.packets if play.t - 0.5 < t < pause.t]
    interval = (times[-1] - times[0]) / (len(times) - 1) if len(times) > 10 else None
    out["pacing"] = verdict(interval is not None and abs(interval - 0.05) <= 0.05 * 0.02,
                            "%d packets, mean interval %s s" % (len(times), interval))
    # A frame is matched by the number in its JPEG comment (the grader's
    # movie carries one), else by its sequence number (the lab's convention).
    def number(h):
        m = FRAME_NUMBER.search(h["payload"])
        return int(m.group(1)) if m else h["seq"]
    wrong = [number(h) for h in packets
             if not 0 < number(h) <= len(frames) or h["payload"] != frames[number(h) - 1]]
    out["frames"] = verdict(first and not wrong, "%d packets, wrong: %s" % (len(packets), wrong))
    late = c.received(pause.t + STOP_GRACE, resumed)
    out["pause-stops"] = verdict(not late, "%d packets after PAUSE" % len(late))
    late = c.received(teardown.t + STOP_GRACE)
    out["teardown-stops"] = verdict(not late, "%d packets after TEARDOWN" % len(late))
    return out


def probe_not_found(sub, frames):
    c = LabClient(sub)
    missing = c.request("SETUP", "missing.Mjpeg")
    c.close()
    c.stop_listening()
    c = LabClient(sub)
    setup = c.request("SETUP")
    c.close()
    c.stop_listening()
    return {"not-found": verdict(answered(missing, 404, 1) and answered(setup, 200, 1),
                                 (missing, setup))}


def probe_second_client(sub, frames):
    """A plays; B connects, sets up and plays; both streams must go on, each
    to its own port with its own numbering."""
    a = LabClient(sub)
    replies = [a.request("SETUP"), a.request("PLAY")]
    time.sleep(0.3)
    try:
        b = LabClient(sub)
    except OSError as error:
        a.stop_listening()
        return {"second-client": verdict(False, "second connection: %s" % error)}
    replies += [b.request("SETUP"), b.request("PLAY")]
    start = time.monotonic() + 0.1
    time.sleep(0.8)
    end = time.monotonic()
    replies += [a.request("TEARDOWN"), b.request("TEARDOWN")]
    for client in (a, b):
        client.close()
        client.stop_listening()
    streams = [[h["seq"] for h in client.received(start, end)] for client in (a, b)]
    ok = (all(r is not None and r.status == 200 for r in replies)
          and all(len(s) >= 10 and all(y == x + 1 for x, y in zip(s, s[1:])) for s in streams))
    return {"second-client": verdict(ok, (replies, streams))}


GARBAGE = [b"\x00\xff\xfe\x10garbage\x80\x81", b"\n", b"\r\n\r\n", b"HELLO\n",
           b"SETUP " + b"A" * 100000 + b" RTSP/1.0\nCSeq: 9\n"]


def probe_malformed(sub, frames):
    """Garbage on its own connections; then 400 for a bad request whose CSeq
    can be read; then the server must still set up a session."""
    for data in GARBAGE:
        s = socket.create_connection(("127.0.0.1", sub.port), timeout=2)
        try:
            s.sendall(data)
            read_reply(s, 0.5)
        except OSError:
            pass
        s.close()
    s = socket.create_connection(("127.0.0.1", sub.port), timeout=2)
    s.sendall(b"PLAY\nCSeq: 7\nSession: 1")
    bad = read_reply(s, 1.0)
    s.close()
    try:
        c = LabClient(sub)
    except OSError as error:
        return {"malformed": verdict(False, "no connection after garbage: %s" % error)}
    setup = c.request("SETUP")
    c.close()
    c.stop_listening()
    return {"malformed": verdict(sub.alive() and answered(setup, 200, 1), setup),
            "malformed 400": verdict(answered(bad, 400, 7), bad)}


def probe_wrong_state(sub, frames):
    c = LabClient(sub)
    replies = [c.request("PLAY", extra="Session: 123456", timeout=0.5),
               c.request("SETUP", timeout=0.5),
               c.request("PAUSE", timeout=0.5),
               c.request("SETUP", timeout=0.5),
               c.request("FETCH", timeout=0.5)]
    c.close()
    c.stop_listening()
    ok = all(answered(r, s, n) for n, (r, s) in enumerate(zip(replies, (455, 200, 455, 455, 455)), 1))
    return {"wrong-state": verdict(ok, replies)}


def probe_crlf(sub, frames):
    c = LabClient(sub, eol="\r\n")
    replies = [c.request("SETUP"), c.request("PLAY")]
    time.sleep(0.4)
    replies.append(c.request("TEARDOWN"))
    c.close()
    c.stop_listening()
    ok = all(answered(r, 200, n) for n, r in enumerate(replies, 1)) and len(c.packets) >= 5
    return {"crlf": verdict(ok, (replies, len(c.packets)))}


def probe_cpu(sub, frames):
    """The client closes its connection mid-stream: the server's CPU time
    must stop growing, and so must the stream."""
    c = LabClient(sub)
    c.request("SETUP")
    c.request("PLAY")
    time.sleep(0.3)
    c.close()
    gone = time.monotonic()
    time.sleep(0.3)
    cpu = sub.cpu_seconds()
    time.sleep(0.7)
    used = sub.cpu_seconds() - cpu
    c.stop_listening()
    late = c.received(gone + STOP_GRACE)
    return {"cpu": verdict(used < 0.1, "%.2f s CPU in 0.7 s after the client left" % used),
            "stream ends with its client": verdict(not late, "%d packets" % len(late))}


def probe_vanished(sub, frames):
    """The client resets its connection mid-stream, without TEARDOWN."""
    c = LabClient(sub)
    c.request("SETUP")
    c.request("PLAY")
    time.sleep(0.3)
    c.close(reset=True)
    time.sleep(0.2)
    c2 = LabClient(sub)
    setup = c2.request("SETUP")
    c2.close()
    c2.stop_listening()
    c.stop_listening()
    return {"vanished": verdict(answered(setup, 200, 1), setup)}


def probe_describe(sub, frames):
    c = LabClient(sub)
    reply = c.request("DESCRIBE", extra="Accept: application/sdp")
    c.close()
    c.stop_listening()
    ok = (answered(reply, 200, 1) and reply.headers.get("content-length") == str(len(reply.body))
          and "m=video 0 RTP/AVP 26" in reply.body)
    return {"bonus.describe": verdict(ok, reply)}


PROBES = [probe_session, probe_not_found, probe_second_client, probe_malformed,
          probe_wrong_state, probe_crlf, probe_cpu, probe_vanished, probe_describe]
PROBED = {"setup": probe_session, "play": probe_session, "pause": probe_session,
          "teardown": probe_session, "cseq": probe_session, "session": probe_session,
          "rtp.version": probe_session, "rtp.pt": probe_session, "rtp.seq": probe_session,
          "rtp.ssrc": probe_session, "rtp.timestamp": probe_session, "pacing": probe_session,
          "frames": probe_session, "pause-stops": probe_session, "teardown-stops": probe_session,
          "bonus.statistics": probe_session, "not-found": probe_not_found,
          "second-client": probe_second_client, "malformed": probe_malformed,
          "wrong-state": probe_wrong_state, "crlf": probe_crlf, "cpu": probe_cpu,
          "vanished": probe_vanished, "bonus.describe": probe_describe}


def probe_submission(name, workdir, movie):
    """Every probe for the correct server; for a mutant, the probes that judge
    its expected items. Each probe gets a freshly started server, as the
    grader's items do. Returns ({item: (ok, detail)}, stderr texts)."""
    path, frames = movie
    probes = PROBES if name == "correct" else [p for p in PROBES
                                               if p in {PROBED.get(i) for i in EXPECTED[name]}]
    results, stderr = {}, []
    for n, probe in enumerate(probes):
        sub = Submission(name, workdir / str(n), path)
        try:
            results.update(probe(sub, frames))
        except OSError as error:   # the server went away under the probe
            results.update({item: (False, repr(error)) for item, p in PROBED.items() if p is probe})
        finally:
            sub.stop()
            stderr.append(sub.stderr())
    return results, stderr


@pytest.fixture(scope="module")
def results(movie, tmp_path_factory):
    workdir = tmp_path_factory.mktemp("submissions")
    with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
        futures = {name: pool.submit(probe_submission, name, workdir / name, movie)
                   for name in ["correct"] + MUTANTS}
        return {name: future.result() for name, future in futures.items()}


# --------------------------------------------------------------------------
# the tests

def test_expected_json_names_every_submission_and_only_rubric_items():
    folders = sorted(p.name for p in SUBMISSIONS.iterdir() if p.is_dir())
    assert folders == sorted(EXPECTED)
    assert EXPECTED["correct"] == []
    assert len(MUTANTS) >= 16
    for name in MUTANTS:
        assert EXPECTED[name], name
        assert set(EXPECTED[name]) <= set(RUBRIC), name
        assert any(PROBED.get(item) for item in EXPECTED[name]), f"{name}: no probe shows its bug"


def test_mutants_md_table_matches_expected_json():
    rows = {}
    for line in (SUBMISSIONS / "MUTANTS.md").read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("|") and len(cells) == 4 and cells[0].startswith("`"):
            rows[cells[0].strip("`")] = sorted(re.findall(r"`([a-z.-]+)`", cells[2]))
    assert rows == {name: sorted(EXPECTED[name]) for name in MUTANTS}


@pytest.mark.parametrize("name", MUTANTS)
def test_mutant_changes_one_module_and_links_the_rest(name):
    folder = SUBMISSIONS / name
    own = [f for f in LAB_FILES if not (folder / f).is_symlink()]
    assert len(own) == 1, own
    for f in LAB_FILES:
        if f != own[0]:
            assert str((folder / f).readlink()) == "../correct/" + f
    links = [p for p in folder.glob("correct_*.py")]
    assert len(links) == 1 and str(links[0].readlink()) == "../correct/" + own[0]
    text = (folder / own[0]).read_text()
    assert text.startswith('"""Mutant %s: ' % name)
    assert len(text.splitlines()) <= 30
    assert not (folder / "movie.Mjpeg").exists()


def test_correct_server_passes_every_probed_item(results):
    items, stderr = results["correct"]
    failed = {item: detail for item, (ok, detail) in items.items() if not ok}
    assert not failed
    assert set(PROBED) <= set(items)
    assert not any("Traceback" in text for text in stderr), stderr


@pytest.mark.parametrize("name", MUTANTS)
def test_mutant_fails_exactly_its_expected_items(results, name):
    items, _ = results[name]
    judged = {item: ok for item, (ok, _) in items.items() if item in RUBRIC}
    failed = sorted(item for item, ok in judged.items() if not ok)
    details = {item: items[item][1] for item in set(failed) ^ set(EXPECTED[name]) if item in items}
    assert failed == sorted(set(EXPECTED[name]) & set(judged)), details


def test_correct_server_skips_a_frame_too_big_for_a_datagram(tmp_path):
    jpegs = read_mjpeg(MOVIE.read_bytes())[:3]
    jpegs[1] = pad_jpeg(pad_jpeg(jpegs[1], 60000), 70000)
    path = tmp_path / "big.Mjpeg"
    write_mjpeg(path, jpegs)
    sub = Submission("correct", tmp_path, path)
    try:
        c = LabClient(sub)
        assert answered(c.request("SETUP"), 200, 1)
        assert answered(c.request("PLAY"), 200, 2)
        time.sleep(0.4)
        c.close()
        c.stop_listening()
    finally:
        sub.stop()
    assert [(h["seq"], h["payload"]) for _, h in c.packets] == [(1, jpegs[0]), (3, jpegs[2])]
    assert "frame 2 skipped: 70000 bytes" in sub.stderr()
    assert "Traceback" not in sub.stderr()
