"""Real peers against `rtsp-harness serve`: ffmpeg 5.1 and GStreamer's rtspsrc
(RFC 2326 over UDP and TCP; the RTP/JPEG they depayload and decode is
compared frame by frame with the same decoder's output for the media file
read directly), and the student lab's dialect: fixtures/lab_client.py (the
lab's Client.py on the wire) and raw lab requests."""
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import time

import pytest

from serve_util import (LAB_CLIENT, UdpPair, check_rtp_stream, read_lab_reply, start_udp_play,
                        write_mjpeg)

FFMPEG = shutil.which("ffmpeg")
GST = shutil.which("gst-launch-1.0")
needs_ffmpeg = pytest.mark.skipif(FFMPEG is None, reason="ffmpeg not installed")
needs_gst = pytest.mark.skipif(GST is None, reason="gst-launch-1.0 not installed")

LAB_OK = r"RTSP/1\.0 200 OK\nCSeq: {cseq}\nSession: (\d{{6}})\n"


def framemd5(stdout):
    return [l.split(",")[-1].strip() for l in stdout.decode().splitlines() if l and not l.startswith("#")]


@pytest.fixture(scope="module")
def ffmpeg_ref(movie):
    """md5 of each frame of movie.Mjpeg as ffmpeg decodes the JPEGs directly."""
    p = subprocess.run([FFMPEG, "-v", "error", "-f", "mjpeg", "-i", "-", "-fps_mode", "passthrough",
                        "-f", "framemd5", "-"], input=b"".join(movie.jpegs), capture_output=True,
                       timeout=120)
    assert p.returncode == 0, p.stderr
    md5s = framemd5(p.stdout)
    assert len(md5s) == 100 and len(set(md5s)) == 100
    return md5s


# ===========================================================================
# ffmpeg

@needs_ffmpeg
@pytest.mark.parametrize("transport", ["udp", "tcp"])
def test_ffmpeg_plays_every_frame_in_real_time(serve, ffmpeg_ref, transport):
    srv = serve("--loop")
    t0 = time.monotonic()
    p = subprocess.run([FFMPEG, "-nostdin", "-v", "error", "-rtsp_transport", transport,
                        "-i", srv.url("movie.Mjpeg"), "-t", "5", "-fps_mode", "passthrough",
                        "-f", "framemd5", "-"], capture_output=True, timeout=40)
    wall = time.monotonic() - t0
    err = p.stderr.decode(errors="replace")
    assert p.returncode == 0, err
    assert err.strip() == "", f"ffmpeg reported errors:\n{err}"
    md5s = framemd5(p.stdout)
    assert abs(len(md5s) - 100) <= 2, f"{len(md5s)} frames decoded in 5 s"
    expect = [ffmpeg_ref[i % 100] for i in range(len(md5s))]
    bad = [i for i, (a, b) in enumerate(zip(md5s, expect)) if a != b]
    assert not bad, f"decoded frames differ from movie.Mjpeg at {bad[:10]}"
    assert 4.6 <= wall <= 8.0, f"ffmpeg took {wall:.2f} s for 5 s of video"


@needs_ffmpeg
@pytest.mark.parametrize("scheme", ["digest", "basic"])
def test_ffmpeg_authenticates(serve, ffmpeg_ref, scheme):
    srv = serve("--auth", "alice:s3cret", "--auth-scheme", scheme)
    url = srv.url("movie.Mjpeg").replace("rtsp://", "rtsp://alice:s3cret@")
    p = subprocess.run([FFMPEG, "-nostdin", "-v", "error", "-rtsp_transport", "tcp", "-i", url,
                        "-frames:v", "10", "-fps_mode", "passthrough", "-f", "framemd5", "-"],
                       capture_output=True, timeout=30)
    assert p.returncode == 0, p.stderr.decode(errors="replace")
    assert framemd5(p.stdout) == ffmpeg_ref[:10]
    bad = srv.url("movie.Mjpeg").replace("rtsp://", "rtsp://alice:wrong@")
    p = subprocess.run([FFMPEG, "-nostdin", "-v", "error", "-i", bad, "-frames:v", "1", "-f", "null", "-"],
                       capture_output=True, timeout=30)
    assert p.returncode != 0
    assert "401" in p.stderr.decode(errors="replace")


# ===========================================================================
# GStreamer

@pytest.fixture(scope="module")
def gst_media(tmp_path_factory, movie):
    """clip.Mjpeg (the first 40 frames of movie.Mjpeg, 2 s) and the md5 of
    each frame as GStreamer's jpegdec decodes the JPEG files directly."""
    d = tmp_path_factory.mktemp("gst")
    media = d / "media"
    media.mkdir()
    write_mjpeg(media / "clip.Mjpeg", movie.jpegs[:40])
    jd, rd = d / "jpg", d / "ref"
    jd.mkdir()
    rd.mkdir()
    for i, j in enumerate(movie.jpegs[:40]):
        (jd / f"{i:05d}.jpg").write_bytes(j)
    p = subprocess.run([GST, "-q", "multifilesrc", f"location={jd}/%05d.jpg", "index=0",
                        "caps=image/jpeg,framerate=20/1", "!", "jpegdec", "!", "multifilesink",
                        f"location={rd}/%05d.yuv"], capture_output=True, timeout=60)
    assert p.returncode == 0, p.stderr
    ref = [hashlib.md5(f.read_bytes()).hexdigest() for f in sorted(rd.iterdir())]
    assert len(ref) == 40
    return media, ref


@needs_gst
@pytest.mark.parametrize("protocols, loop", [("udp", True), ("tcp", True), ("tcp", False)],
                         ids=["udp", "tcp", "tcp-to-the-end"])
def test_gstreamer_rtspsrc_plays_every_frame(serve, tmp_path, gst_media, protocols, loop):
    """rtspsrc ! rtpjpegdepay ! jpegdec: the decoded frames equal jpegdec's
    decoding of the clip's JPEGs, paced at 20 fps, and rtspsrc reports no
    error. A looping stream is stopped with SIGINT after 40 frames (no -e:
    the pipeline goes to NULL and rtspsrc sends TEARDOWN; with -e rtspsrc
    1.22 sends PAUSE and TEARDOWN from two threads and over TCP sometimes
    fails on its own PAUSE, which the server never receives). A finite
    stream is played to its end: exactly 40 frames; rtspsrc ends by itself
    when the server's BYE arrives, and then (in about half of the runs)
    sends PAUSE before TEARDOWN: RFC 2326 A.2 has no end-of-media transition,
    so that PAUSE must succeed (see test_serve_rtsp.py::
    test_pause_and_teardown_after_the_end_of_the_stream for the raw check)."""
    media, ref = gst_media
    srv = serve(*(["--loop"] if loop else []), media=media)
    out = tmp_path / "out"
    out.mkdir()
    proc = subprocess.Popen([GST, "rtspsrc", f"location={srv.url('clip.Mjpeg')}",
                             f"protocols={protocols}", "latency=100", "!", "rtpjpegdepay", "!",
                             "jpegdec", "!", "multifilesink", f"location={out}/%05d.yuv"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    t_first = t_last = None
    deadline = time.monotonic() + 10
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            n = len(os.listdir(out))
            if n and t_first is None:
                t_first = time.monotonic()
            if n >= 40:
                t_last = time.monotonic()
                break
            time.sleep(0.02)
        if not loop:  # nothing beyond the 40 frames; rtspsrc may end by itself
            try:
                proc.wait(1.5)
            except subprocess.TimeoutExpired:
                pass
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
        output, _ = proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    text = output.decode(errors="replace")
    files = sorted(out.iterdir())
    got = [hashlib.md5(f.read_bytes()).hexdigest() for f in files]
    if loop:
        assert len(got) >= 40, f"{len(got)} frames decoded:\n{text}"
    else:
        assert len(got) == 40, f"{len(got)} frames decoded:\n{text}"
    bad = [i for i, h in enumerate(got) if h != ref[i % 40]]
    assert not bad, f"decoded frames differ from clip.Mjpeg at {bad[:10]}"
    assert t_last - t_first >= 1.5, f"40 frames in {t_last - t_first:.2f} s: not paced at 20 fps"
    assert "ERROR" not in text, text
    assert proc.returncode == 0, text


# ===========================================================================
# the lab dialect: fixtures/lab_client.py

def pythons():
    found = []
    for name, path in (("debian", "/usr/bin/python3"), ("path", shutil.which("python3"))):
        if path and os.path.exists(path) and os.path.realpath(path) not in [os.path.realpath(p) for _, p in found]:
            found.append((name, path))
    return found


def run_lab_client(python, srv, stream, *args, timeout=20):
    p = subprocess.run([python, str(LAB_CLIENT), "127.0.0.1", str(srv.port), "0", stream, "--json", *args],
                       capture_output=True, text=True, timeout=timeout)
    try:
        doc = json.loads(p.stdout)
    except ValueError:
        raise AssertionError(f"lab_client printed no JSON (exit {p.returncode}):\n{p.stdout}\n{p.stderr}")
    return p.returncode, doc


LAB_CASES = [(name, path, "auto") for name, path in pythons()] + [(pythons()[0][0], pythons()[0][1], "lab")]


@pytest.mark.parametrize("python, dialect", [(p, d) for _, p, d in LAB_CASES],
                         ids=[f"{n}-{d}" for n, _, d in LAB_CASES])
def test_lab_client_plays_pauses_resumes(serve, python, dialect):
    srv = serve("--dialect", dialect)
    rc, doc = run_lab_client(python, srv, "movie.Mjpeg", "--play", "2", "--pause", "0.5", "--play2", "1")
    summary = json.dumps({k: v for k, v in doc.items() if k != "seqs"}, indent=1)
    assert [r["request"] for r in doc["replies"]] == ["SETUP", "PLAY", "PAUSE", "PLAY", "TEARDOWN"], summary
    sessions = set()
    for n, r in enumerate(doc["replies"], start=1):
        m = re.fullmatch(LAB_OK.format(cseq=n), r["raw"] or "")
        assert m, f"reply {n} to {r['request']} is {r['raw']!r}, not the lab's 3 lines"
        sessions.add(m.group(1))
    assert len(sessions) == 1, sessions
    assert rc == 0 and doc["ok"], summary
    p1, p2 = doc["phases"]["play1"], doc["phases"].get("play2")
    assert p1["first_seq"] == 1, summary
    assert abs(p1["frames"] - 40) <= 2, summary
    assert p2 and p2["first_seq"] == p1["last_seq"] + 1, summary
    assert abs(p2["frames"] - 20) <= 2, summary
    assert doc["seqs"] == list(range(1, len(doc["seqs"]) + 1))
    assert doc["late_drops"] == 0 and doc["bad_payloads"] == 0 and doc["malformed_packets"] == 0, summary
    assert doc["packets_after_pause"] == 0, summary
    assert doc["packets_after_teardown"] == 0, summary
    assert 49.0 <= doc["interval_mean_ms"] <= 51.0, summary


def test_lab_client_missing_file_404(serve):
    srv = serve()
    rc, doc = run_lab_client(pythons()[0][1], srv, "nothere.Mjpeg", "--play", "0.2")
    assert rc == 1
    assert len(doc["replies"]) == 1
    lines = (doc["replies"][0]["raw"] or "").split("\n")
    assert lines[0] == "RTSP/1.0 404 FILE_NOT_FOUND", doc["replies"]
    assert lines[1] == "CSeq: 1", doc["replies"]
    assert doc["packets_total"] == 0


# ===========================================================================
# the lab dialect, raw

def lab_request(conn, method, stream, cseq, extra):
    conn.send(f"{method} {stream} RTSP/1.0\nCSeq: {cseq}\n{extra}")
    return read_lab_reply(conn).decode("latin-1")


def test_lab_raw_replies_and_whole_jpeg_rtp(serve, movie):
    srv = serve()
    pair = UdpPair()
    try:
        with srv.connect() as c:
            r = lab_request(c, "SETUP", "movie.Mjpeg", 1, f"Transport: RTP/UDP; client_port= {pair.rtp_port}")
            m = re.fullmatch(LAB_OK.format(cseq=1), r)
            assert m, repr(r)
            sid = m.group(1)
            r = lab_request(c, "PLAY", "movie.Mjpeg", 2, f"Session: {sid}")
            assert re.fullmatch(LAB_OK.format(cseq=2), r) and sid in r, repr(r)
            assert pair.wait_rtp(12, 2.0)
            r = lab_request(c, "PAUSE", "movie.Mjpeg", 3, f"Session: {sid}")
            assert re.fullmatch(LAB_OK.format(cseq=3), r) and sid in r, repr(r)
            r = lab_request(c, "TEARDOWN", "movie.Mjpeg", 4, f"Session: {sid}")
            assert re.fullmatch(LAB_OK.format(cseq=4), r) and sid in r, repr(r)
        pkts = pair.rtp_packets()
        assert [p.seq for p in pkts] == list(range(1, len(pkts) + 1))
        for p in pkts:
            assert (p.version, p.pt, p.marker) == (2, 26, True), p[:9]
            assert p.payload == movie.jpegs[p.seq - 1], f"seq {p.seq} does not carry frame {p.seq} whole"
        steps = {(b.ts - a.ts) & 0xFFFFFFFF for a, b in zip(pkts, pkts[1:])}
        assert steps == {4500}, steps
    finally:
        pair.close()


def test_lab_loop_keeps_counting(serve, tmp_path, movie):
    media = tmp_path / "m"
    media.mkdir()
    write_mjpeg(media / "ten.Mjpeg", movie.jpegs[:10])
    srv = serve("--loop", media=media)
    pair = UdpPair()
    try:
        with srv.connect() as c:
            r = lab_request(c, "SETUP", "ten.Mjpeg", 1, f"Transport: RTP/UDP; client_port= {pair.rtp_port}")
            sid = re.fullmatch(LAB_OK.format(cseq=1), r).group(1)
            lab_request(c, "PLAY", "ten.Mjpeg", 2, f"Session: {sid}")
            assert pair.wait_rtp(15, 2.0)
            lab_request(c, "TEARDOWN", "ten.Mjpeg", 3, f"Session: {sid}")
        pkts = pair.rtp_packets()[:15]
        assert [p.seq for p in pkts] == list(range(1, 16))
        assert [p.payload for p in pkts] == [movie.jpegs[i % 10] for i in range(15)]
    finally:
        pair.close()


def test_lab_crlf_with_bare_file_name_is_lab(serve):
    """The Java lab sends CRLF lines; the bare file name still means lab."""
    srv = serve()
    pair = UdpPair()
    try:
        with srv.connect() as c:
            c.send(f"SETUP movie.Mjpeg RTSP/1.0\r\nCSeq: 1\r\nTransport: RTP/UDP; client_port= {pair.rtp_port}\r\n")
            r = read_lab_reply(c).decode("latin-1")
        assert re.fullmatch(LAB_OK.format(cseq=1), r), repr(r)
    finally:
        pair.close()


def test_dialect_rfc_refuses_lab_requests(serve):
    srv = serve("--dialect", "rfc")
    with srv.connect() as c:
        c.send("SETUP movie.Mjpeg RTSP/1.0\nCSeq: 1\nTransport: RTP/UDP; client_port= 8000")
        raw = c.read_raw(idle=0.3, timeout=2.0)
    assert raw.startswith(b"RTSP/1.0 400"), raw


def test_dialect_lab_answers_lab_form(serve):
    srv = serve("--dialect", "lab")
    pair = UdpPair()
    try:
        with srv.connect() as c:
            r = lab_request(c, "SETUP", "movie.Mjpeg", 1, f"Transport: RTP/UDP; client_port= {pair.rtp_port}")
        assert re.fullmatch(LAB_OK.format(cseq=1), r), repr(r)
    finally:
        pair.close()


def test_lab_and_rfc_clients_side_by_side(serve, movie):
    """auto decides per connection: a lab client and an RFC client at once."""
    srv = serve()
    lab = subprocess.Popen([pythons()[0][1], str(LAB_CLIENT), "127.0.0.1", str(srv.port), "0",
                            "movie.Mjpeg", "--json", "--play", "1", "--pause", "0.3"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    conn, pair, setup, play, info = start_udp_play(srv)
    try:
        time.sleep(1.0)
        frames, idx, problems = check_rtp_stream(pair.rtp_packets(), movie, ssrc=info["ssrc"], first_index=0)
        assert problems == [] and len(frames) >= 15
        out, err = lab.communicate(timeout=20)
        doc = json.loads(out)
        assert lab.returncode == 0 and doc["ok"], out + err
        assert abs(doc["phases"]["play1"]["frames"] - 20) <= 2, out
        assert doc["bad_payloads"] == 0
    finally:
        if lab.poll() is None:
            lab.kill()
            lab.wait()
        conn.close()
        pair.close()
