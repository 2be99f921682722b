"""`rtsp-harness serve` in the RFC 2326 dialect, driven with raw sockets and
checked against docs/serve.md: start-up output and option errors, every
method and status code, SDP, transports, RTP/JPEG (RFC 2435) and RTCP as
they arrive, PAUSE/PLAY/Range, sessions across connections, keepalive and
session timeout, authentication, the HTTP live view, signals and -v."""
import re
import shutil
import signal
import subprocess
import time

import pytest

from serve_util import (NTP_OFFSET, Media, UdpPair, basic_auth,
                        check_rtp_stream, digest_auth, frame_rate, http_get, jpeg_info,
                        parse_challenge, parse_npt_start, parse_rtcp, parse_rtp,
                        parse_rtp_info, parse_sdp, parse_transport, read_multipart,
                        rtcp_receiver_report, setup_udp, start_udp_play, write_mjpeg)

FFMPEG = shutil.which("ffmpeg")
PUBLIC = {"OPTIONS", "DESCRIBE", "SETUP", "TEARDOWN", "PLAY", "PAUSE", "GET_PARAMETER",
          "SET_PARAMETER"}
SESSION_RE = re.compile(r"^([0-9A-Fa-f]{16});\s*timeout=(\d+)$")


def wait_frames(pair, n, timeout=3.0):
    return pair.wait(lambda: pair.frame_count() >= n, timeout)


def has_bye(parsed):
    return any(p["pt"] == 203 for p in parsed)


def has_sr(parsed):
    return bool(parsed) and parsed[0]["pt"] == 200


# ===========================================================================
# start-up and options

def test_startup_prints_streams_and_ready_fast(serve, fixtures_dir):
    srv = serve(media=fixtures_dir)
    assert srv.startup_seconds < 1.0, f"`ready` after {srv.startup_seconds:.2f} s"
    assert srv.port > 0
    assert srv.stdout_text().splitlines() == [
        f"stream movie.Mjpeg rtsp://127.0.0.1:{srv.port}/movie.Mjpeg frames=100 size=384x288 fps=20",
        f"ready rtsp://127.0.0.1:{srv.port}/",
    ]
    with srv.connect() as c:  # and it listens there
        assert c.request("OPTIONS", srv.url()).status == 200


def test_startup_streams_sorted_with_jpeg_dirs_and_fps_files(serve, tmp_path, make_media):
    media = tmp_path / "m"
    media.mkdir()
    make_media(media / "b.Mjpeg", 20, "--size", "320x240")
    make_media(media / "c.mjpeg", 5)
    make_media(media / "a_frames", 12, "--format", "jpeg-dir", "--size", "320x240",
               "--pattern", "gradient")
    (media / "a_frames.fps").write_text("10\n")
    # NAME.fps for NAME.mjpeg: both readings of NAME, same value
    (media / "c.fps").write_text("25")
    (media / "c.mjpeg.fps").write_text("25")
    (media / "notes.txt").write_text("not a stream")
    srv = serve(media=media)
    lines = srv.stdout_text().splitlines()
    assert [l.split()[1] for l in lines if l.startswith("stream ")] == ["a_frames", "b.Mjpeg", "c.mjpeg"]
    s = srv.streams
    assert (s["a_frames"]["frames"], s["a_frames"]["width"], s["a_frames"]["height"], s["a_frames"]["fps"]) == (12, 320, 240, 10.0)
    assert (s["b.Mjpeg"]["frames"], s["b.Mjpeg"]["width"], s["b.Mjpeg"]["fps"]) == (20, 320, 20.0)
    assert (s["c.mjpeg"]["frames"], s["c.mjpeg"]["fps"]) == (5, 25.0)
    for name, st in s.items():
        assert st["url"] == f"rtsp://127.0.0.1:{srv.port}/{name}"
    assert lines[-1] == f"ready rtsp://127.0.0.1:{srv.port}/"
    # the directory stream plays its frames, 9000 ticks apart at 10 fps
    dir_media = Media(media / "a_frames")
    conn, pair, setup, play, info = start_udp_play(srv, "a_frames")
    try:
        assert wait_frames(pair, 4, 2.0)
        frames, idx, problems = check_rtp_stream(pair.rtp_packets(), dir_media, ssrc=info["ssrc"],
                                                 fps=10, first_index=0)
        assert problems == []
        assert idx[:4] == [0, 1, 2, 3]
    finally:
        pair.close()
        conn.close()


def test_serve_help(run_harness):
    r = run_harness("serve", "--help", timeout=10)
    assert r.returncode == 0
    assert "usage:" in r.stdout
    for opt in ("--media", "--port", "--dialect", "--auth", "--session-timeout", "--http-port"):
        assert opt in r.stdout, opt


@pytest.mark.parametrize("args, names", [
    (["--bogus"], ["--bogus"]),
    (["--port", "99999"], ["--port"]),
    (["--port", "abc"], ["--port"]),
    (["--port"], ["--port"]),
    (["--media", "/nonexistent"], ["--media", "/nonexistent"]),
    (["--dialect", "bogus"], ["--dialect"]),
    (["--auth", "nocolon"], ["--auth"]),
    (["--auth-scheme", "ntlm"], ["--auth-scheme"]),
    (["--fps", "0"], ["--fps"]),
    (["--mtu", "10"], ["--mtu"]),
    (["--rtp-ports", "30010-30000"], ["--rtp-ports"]),
])
def test_bad_options_exit_nonzero_naming_the_option(run_harness, fixtures_dir, args, names):
    r = run_harness("serve", "--media", fixtures_dir, "--port", "0", *args, timeout=10)
    assert r.returncode in (1, 2), (r.returncode, r.stdout, r.stderr)
    assert any(n in r.stderr for n in names), r.stderr
    assert "ready" not in r.stdout


@pytest.mark.parametrize("content", [None, "notes.txt"])
def test_no_streams_exits_1(run_harness, tmp_path, content):
    if content:
        (tmp_path / content).write_text("nothing to serve")
    r = run_harness("serve", "--media", tmp_path, "--port", "0", timeout=10)
    assert r.returncode == 1, (r.stdout, r.stderr)
    assert r.stderr.strip()
    assert "ready" not in r.stdout


def test_corrupt_stream_is_left_out_and_named(serve, tmp_path, short_movie):
    media = tmp_path / "m"
    media.mkdir()
    jpegs = short_movie.jpegs[:10]
    write_mjpeg(media / "good.Mjpeg", jpegs)
    data = bytearray(b"".join(b"%05d" % len(j) + j for j in jpegs))
    off = sum(5 + len(j) for j in jpegs[:3])
    data[off + 2] = ord("x")  # length field of frame 3 is not 5 digits
    (media / "bad1.Mjpeg").write_bytes(bytes(data))
    broken = list(jpegs)
    broken[4] = b"\x00\x00" + broken[4][2:]  # frame 4 has no SOI
    write_mjpeg(media / "bad2.Mjpeg", broken)
    srv = serve(media=media)
    assert list(srv.streams) == ["good.Mjpeg"]
    err = srv.stderr_text()
    for name in ("bad1.Mjpeg", "bad2.Mjpeg"):
        lines = [l for l in err.splitlines() if name in l]
        assert lines, f"{name} not named on stderr:\n{err}"
        assert any("frame" in l for l in lines), f"{name}: the frame is not named:\n{err}"
    with srv.connect() as c:
        assert c.request("DESCRIBE", srv.url("good.Mjpeg")).status == 200
        assert c.request("DESCRIBE", srv.url("bad1.Mjpeg")).status == 404


@pytest.mark.skipif(FFMPEG is None, reason="ffmpeg not installed")
@pytest.mark.parametrize("kind", ["yuv444", "wide2048"])
def test_jpeg_rfc2435_cannot_carry_is_left_out(serve, tmp_path, short_movie, kind):
    """4:4:4 sampling (RFC 2435 types 0/1 are 4:2:2 and 4:2:0) and a width
    above 2040 (width/8 in one byte) cannot be sent as RTP/JPEG."""
    size, pix = {"yuv444": ("320x240", "yuvj444p"), "wide2048": ("2048x16", "yuvj420p")}[kind]
    jd = tmp_path / "jpg"
    jd.mkdir()
    subprocess.run([FFMPEG, "-v", "error", "-f", "lavfi", "-i", f"testsrc=size={size}:rate=5",
                    "-frames:v", "3", "-pix_fmt", pix, "-huffman", "default", "-f", "image2",
                    str(jd / "%03d.jpg")], check=True, timeout=60)
    media = tmp_path / "m"
    media.mkdir()
    write_mjpeg(media / f"{kind}.Mjpeg", [p.read_bytes() for p in sorted(jd.iterdir())])
    write_mjpeg(media / "good.Mjpeg", short_movie.jpegs[:5])
    srv = serve(media=media)
    assert list(srv.streams) == ["good.Mjpeg"]
    assert f"{kind}.Mjpeg" in srv.stderr_text()


# ===========================================================================
# OPTIONS, DESCRIBE

def test_options_public(serve):
    srv = serve()
    with srv.connect() as c:
        for url in (srv.url(), "*", srv.url("movie.Mjpeg")):
            r = c.request("OPTIONS", url)
            assert r.status == 200, r
            assert {m.strip() for m in r.get("Public", "").split(",")} == PUBLIC, r


def test_describe_sdp(serve):
    srv = serve()
    with srv.connect() as c:
        r = c.request("DESCRIBE", srv.url("movie.Mjpeg"), [("Accept", "application/sdp")])
        assert r.status == 200, r
        assert r.get("Content-Type", "").split(";")[0].strip() == "application/sdp", r
        assert r.get("Content-Base") == srv.url("movie.Mjpeg") + "/", r
        assert r.get("Content-Length") is not None and int(r.get("Content-Length")) == len(r.body) > 0
        assert c.read_raw(idle=0.2, timeout=0.2) == b"", "bytes after the announced body"
    session, media = parse_sdp(r.body)
    assert session[0] == "v=0"
    for t in "ost":
        assert any(l.startswith(t + "=") for l in session), f"no {t}= line:\n{r.body.decode()}"
    assert len(media) == 1, r.body.decode()
    m = media[0]
    assert m[0] == "m=video 0 RTP/AVP 26"
    assert "a=control:track0" in m
    allv = session + m
    assert any(l.startswith("c=") for l in allv)
    fr = [l for l in allv if l.startswith("a=framerate:")]
    assert len(fr) == 1 and float(fr[0].split(":", 1)[1]) == 20.0, fr
    rg = [l for l in allv if l.startswith("a=range:")]
    assert len(rg) == 1, rg
    mm = re.fullmatch(r"a=range:npt=0(?:\.0*)?-([0-9.]+)", rg[0])
    assert mm and float(mm.group(1)) == pytest.approx(5.0), rg


@pytest.mark.parametrize("args, range_end, fps", [
    (["--loop"], None, 20.0),
    (["--fps", "10"], 10.0, 10.0),
])
def test_describe_loop_and_fps(serve, args, range_end, fps):
    srv = serve(*args)
    with srv.connect() as c:
        r = c.request("DESCRIBE", srv.url("movie.Mjpeg"))
    assert r.status == 200
    _, media = parse_sdp(r.body)
    lines = r.body.decode().splitlines()
    rg = [l for l in lines if l.startswith("a=range:")][0]
    if range_end is None:
        assert re.fullmatch(r"a=range:npt=0(\.0*)?-", rg), rg
    else:
        assert float(rg.split("-")[1]) == pytest.approx(range_end), rg
    fr = [l for l in lines if l.startswith("a=framerate:")][0]
    assert float(fr.split(":")[1]) == fps


@pytest.mark.parametrize("accept, status", [
    ("application/sdp", 200),
    ("*/*", 200),
    ("application/*", 200),
    ("text/html, application/sdp", 200),
    ("text/plain", 406),
    ("text/plain, text/html", 406),
])
def test_describe_accept(serve, accept, status):
    srv = serve()
    with srv.connect() as c:
        r = c.request("DESCRIBE", srv.url("movie.Mjpeg"), [("Accept", accept)])
    assert r.status == status, r


def test_describe_unknown_stream_404(serve):
    srv = serve()
    with srv.connect() as c:
        assert c.request("DESCRIBE", srv.url("nothere.Mjpeg")).status == 404
        assert c.request("SETUP", srv.url("nothere.Mjpeg") + "/track0",
                         [("Transport", "RTP/AVP;unicast;client_port=5000-5001")]).status == 404
        assert c.request("OPTIONS", srv.url()).status == 200  # connection still usable


# ===========================================================================
# SETUP

@pytest.mark.parametrize("spec, suffix", [
    ("RTP/AVP", "/track0"),
    ("RTP/AVP/UDP", "/track0"),
    ("RTP/AVP", ""),
])
def test_setup_udp(serve, spec, suffix):
    srv = serve()
    pair = UdpPair()
    with srv.connect() as c:
        r = c.request("SETUP", srv.url("movie.Mjpeg") + suffix,
                      [("Transport", f"{spec};unicast;client_port={pair.client_port}")])
    pair.close()
    assert r.status == 200, r
    m = re.fullmatch(rf"RTP/AVP;unicast;client_port={pair.client_port};server_port=(\d+)-(\d+);"
                     r"ssrc=([0-9A-Fa-f]{8})", r.get("Transport", ""))
    assert m, f"Transport {r.get('Transport')!r}"
    a, b = int(m.group(1)), int(m.group(2))
    assert a % 2 == 0 and b == a + 1 and 20000 <= a and b <= 39999, (a, b)
    sm = SESSION_RE.match(r.get("Session", ""))
    assert sm and sm.group(2) == "60", r.get("Session")


def test_setup_rtp_ports_range_skips_ports_in_use(serve):
    busy = UdpPair()  # holds an even/odd pair: the server must skip it
    lo = busy.rtp_port
    srv = serve("--rtp-ports", f"{lo}-{lo + 5}")
    ports = []
    pairs = [UdpPair() for _ in range(2)]
    try:
        with srv.connect() as c:
            for p in pairs:
                r = setup_udp(c, srv.url("movie.Mjpeg") + "/track0", p)
                assert r.status == 200, r
                _, tp = parse_transport(r.get("Transport"))
                ports.append(tuple(int(x) for x in tp["server_port"].split("-")))
    finally:
        busy.close()
        for p in pairs:
            p.close()
    assert sorted(ports) == [(lo + 2, lo + 3), (lo + 4, lo + 5)], ports


@pytest.mark.parametrize("offer, channels", [
    ("RTP/AVP/TCP;unicast;interleaved=0-1", "0-1"),
    ("RTP/AVP/TCP;unicast;interleaved=4-5", "4-5"),
    ("RTP/AVP/TCP;unicast", "0-1"),
])
def test_setup_tcp_interleaved(serve, offer, channels):
    srv = serve()
    with srv.connect() as c:
        r = c.request("SETUP", srv.url("movie.Mjpeg") + "/track0", [("Transport", offer)])
    assert r.status == 200, r
    spec, tp = parse_transport(r.get("Transport", ""))
    assert spec == "RTP/AVP/TCP" and tp.get("interleaved") == channels, r.get("Transport")
    assert SESSION_RE.match(r.get("Session", "")), r.get("Session")


@pytest.mark.parametrize("offer", [
    "RTP/AVP;multicast;client_port=5000-5001",
    "RTP/AVP;multicast;destination=232.1.1.1;port=5000-5001;ttl=1",
    "RTP/SAVP;unicast;client_port=5000-5001",
    "RTP/AVP;unicast",
    "RAW/RAW/UDP;unicast;client_port=5000-5001",
])
def test_setup_unsupported_transport_461(serve, offer):
    srv = serve()
    with srv.connect() as c:
        r = c.request("SETUP", srv.url("movie.Mjpeg") + "/track0", [("Transport", offer)])
    assert r.status == 461, r


def test_second_setup_changes_transport_only_while_not_playing(serve, movie):
    srv = serve()
    old, new = UdpPair(), UdpPair()
    try:
        with srv.connect() as c:
            r = setup_udp(c, srv.url("movie.Mjpeg") + "/track0", old)
            sid = r.session
            r2 = setup_udp(c, srv.url("movie.Mjpeg") + "/track0", new, session=sid)
            assert r2.status == 200, r2
            assert r2.session == sid
            _, tp = parse_transport(r2.get("Transport"))
            assert tp["client_port"] == new.client_port
            assert c.request("PLAY", srv.url("movie.Mjpeg"), session=sid).status == 200
            assert wait_frames(new, 5, 2.0), "no RTP on the new client_port"
            assert old.rtp == [], "RTP went to the replaced client_port"
            r3 = setup_udp(c, srv.url("movie.Mjpeg") + "/track0", old, session=sid)
            assert r3.status == 455, r3
            time.sleep(0.2)
            assert old.rtp == []
    finally:
        old.close()
        new.close()


def test_setup_of_another_stream_into_a_session_459(serve):
    srv = serve()
    a, b = UdpPair(), UdpPair()
    try:
        with srv.connect() as c:
            r = setup_udp(c, srv.url("movie.Mjpeg") + "/track0", a)
            assert r.status == 200
            r2 = setup_udp(c, srv.url("short.Mjpeg") + "/track0", b, session=r.session)
            assert r2.status == 459, r2
    finally:
        a.close()
        b.close()


# ===========================================================================
# PLAY and the RTP it sends

def test_play_rtp_jpeg_matches_rtp_info(serve, movie):
    srv = serve()
    conn, pair, setup, play, info = start_udp_play(srv)
    try:
        assert wait_frames(pair, 20, 3.0), f"{pair.frame_count()} frames in 3 s"
        assert parse_npt_start(play.get("Range", "")) == 0.0, play
        rinfo = parse_rtp_info(play.get("RTP-Info", ""))
        assert len(rinfo) == 1, play
        assert rinfo[0]["url"] == srv.url("movie.Mjpeg") + "/track0", play
        pkts = pair.rtp_packets()
        assert (pkts[0].seq, pkts[0].ts) == (rinfo[0]["seq"], rinfo[0]["rtptime"]), \
            f"first packet seq={pkts[0].seq} ts={pkts[0].ts}, RTP-Info {play.get('RTP-Info')}"
        frames, idx, problems = check_rtp_stream(pkts, movie, ssrc=info["ssrc"], mtu=1400,
                                                 first_index=0, src_port=info["server_port"][0])
        assert problems == []
        assert idx[:20] == list(range(20))
        assert all(f.packets > 1 for f in frames), "7-8 KB frames must be fragmented"
    finally:
        conn.close()
        pair.close()


def test_rtp_start_values_are_random_per_session(serve):
    srv = serve()
    seen = []
    for _ in range(2):
        conn, pair, setup, play, info = start_udp_play(srv)
        assert wait_frames(pair, 1, 2.0)
        p = pair.rtp_packets()[0]
        seen.append((p.seq, p.ts, p.ssrc))
        conn.request("TEARDOWN", srv.url("movie.Mjpeg"), session=info["session"])
        conn.close()
        pair.close()
    (s1, t1, c1), (s2, t2, c2) = seen
    assert s1 != s2 and t1 != t2 and c1 != c2, seen


def test_mtu_600(serve, movie):
    srv = serve("--mtu", "600")
    conn, pair, setup, play, info = start_udp_play(srv)
    try:
        assert wait_frames(pair, 5, 2.0)
        pkts = pair.rtp_packets()
        frames, idx, problems = check_rtp_stream(pkts, movie, ssrc=info["ssrc"], mtu=600, first_index=0)
        assert problems == []
        assert max(p.size for p in pkts) <= 572
        assert min(f.packets for f in frames) >= 13  # 7 KB in at most 572-byte packets
    finally:
        conn.close()
        pair.close()


def test_frame_rate_and_rtcp_sender_reports(serve, movie):
    """5.5 s of play: 20 fps +- 2 %, SR with SDES CNAME at start and 5 s later,
    NTP/RTP pair consistent with the RTP stream, packet and octet counts."""
    srv = serve("--loop")
    wall_minus_mono = time.time() - time.monotonic()
    conn, pair, setup, play, info = start_udp_play(srv)
    try:
        first = pair.wait_rtcp(has_sr, timeout=1.0)
        assert first, f"no sender report within 1 s of PLAY; RTCP got {pair.rtcp_packets()}"
        second = pair.wait_rtcp(has_sr, timeout=6.5,
                                start=len([x for x in pair.rtcp if x[0] <= first[0]]))
        time.sleep(0.1)
        pkts = pair.rtp_packets()
        frames, idx, problems = check_rtp_stream(pkts, movie, ssrc=info["ssrc"], loop=True, first_index=0)
        assert problems == []
        rate = frame_rate(frames)
        assert 19.6 <= rate <= 20.4, f"{rate:.3f} fps over {len(frames)} frames"
        for t, parsed, addr in (first, second) if second else (first,):
            sr = parsed[0]
            assert addr[1] == info["server_port"][1], f"RTCP from port {addr[1]}"
            assert sr["ssrc"] == info["ssrc"]
            assert abs(sr["ntp"] - NTP_OFFSET - (t + wall_minus_mono)) < 0.5, "SR NTP time is not now"
            sdes = [p for p in parsed if p["pt"] == 202]
            assert sdes and sdes[0]["chunks"][0][0] == info["ssrc"] and sdes[0]["chunks"][0][1].get(1), \
                f"no SDES CNAME in {parsed}"
            # the RTP timestamp the SR gives for its NTP time agrees with the
            # RTP packet that arrived closest to it (within 2 frames)
            near = min(pkts, key=lambda p: abs(p.t - t))
            near_wall = near.t + wall_minus_mono
            expect = (near.ts + round((sr["ntp"] - NTP_OFFSET - near_wall) * 90000)) & 0xFFFFFFFF
            diff = ((sr["rtp_ts"] - expect + 2**31) & 0xFFFFFFFF) - 2**31
            assert abs(diff) <= 9000, f"SR rtp_ts {sr['rtp_ts']} off by {diff} ticks"
        assert second, "no second sender report within 6.5 s (docs: every 5 s)"
        assert 4.0 <= second[0] - first[0] <= 6.0, f"SR interval {second[0] - first[0]:.2f} s"
        sr = second[1][0]
        before = sum(1 for p in pkts if p.t <= second[0])
        assert abs(sr["packets"] - before) <= 12, (sr["packets"], before)
        assert sr["octets"] == sum(len(p.payload) for p in pkts[:sr["packets"]]), \
            "SR octet count is not the payload bytes of the packets it counts"
    finally:
        conn.close()
        pair.close()


def test_pause_stops_and_play_resumes_at_the_next_frame(serve, movie):
    srv = serve()
    conn, pair, setup, play, info = start_udp_play(srv)
    try:
        assert wait_frames(pair, 15, 2.0)
        pause = conn.request("PAUSE", srv.url("movie.Mjpeg"), session=info["session"])
        assert pause.status == 200, pause
        time.sleep(0.5)
        late = pair.rtp_packets(since=pause.t + 0.1)
        assert late == [], f"{len(late)} RTP packets more than 100 ms after the PAUSE reply"
        before = pair.rtp_packets()
        frames, idx, problems = check_rtp_stream(before, movie, ssrc=info["ssrc"], first_index=0)
        assert problems == []
        new_frames = [f for f in frames if f.t_first > pause.t + 0.02]
        assert new_frames == [], "a frame was started after PAUSE"
        last = before[-1]
        assert last.marker, "the frame in flight at PAUSE was not finished"
        play2 = conn.request("PLAY", srv.url("movie.Mjpeg"), session=info["session"])
        assert play2.status == 200, play2
        rinfo = parse_rtp_info(play2.get("RTP-Info", ""))[0]
        assert rinfo["seq"] == (last.seq + 1) & 0xFFFF, (play2, last.seq)
        assert rinfo["rtptime"] == (last.ts + 4500) & 0xFFFFFFFF, (play2, last.ts)
        assert parse_npt_start(play2.get("Range", "")) == pytest.approx((idx[-1] + 1) / 20, abs=0.026)
        n = pair.frame_count()
        assert wait_frames(pair, n + 5, 2.0)
        # across the pause it is one continuous stream: seq +1, frame +1, ts +4500
        frames, idx2, problems = check_rtp_stream(pair.rtp_packets(), movie, ssrc=info["ssrc"], first_index=0)
        assert problems == []
        assert idx2[len(idx)] == idx[-1] + 1
    finally:
        conn.close()
        pair.close()


@pytest.mark.parametrize("range_, first", [
    ("npt=0-", 0), ("npt=2.0-", 40), ("npt=1.23-", 24), ("npt=4.95-", 99), ("npt=2.0-3.0", 40),
])
def test_play_range_starts_at_floor_t_fps(serve, movie, range_, first):
    srv = serve()
    conn, pair, setup, play, info = start_udp_play(srv, range_=range_)
    try:
        assert wait_frames(pair, 1, 2.0)
        time.sleep(0.15)
        pkts = pair.rtp_packets()
        frames, idx, problems = check_rtp_stream(pkts, movie, ssrc=info["ssrc"], first_index=first)
        assert problems == []
        rinfo = parse_rtp_info(play.get("RTP-Info", ""))[0]
        assert (pkts[0].seq, pkts[0].ts) == (rinfo["seq"], rinfo["rtptime"]), play
        start = parse_npt_start(play.get("Range", ""))
        requested = float(re.match(r"npt=([0-9.]+)-", range_).group(1))
        assert first / 20 - 0.001 <= start <= requested + 0.001, play
        if range_ == "npt=2.0-":
            assert start == pytest.approx(2.0)
    finally:
        conn.close()
        pair.close()


def test_pause_and_teardown_after_the_end_of_the_stream(serve, short_movie):
    """RFC 2326 A.2 has no end-of-media transition: after the last frame the
    session is still PLAYING, so PAUSE is 200 (GStreamer sends PAUSE then
    TEARDOWN when stopped with -e after the end)."""
    srv = serve()
    conn, pair, setup, play, info = start_udp_play(srv, "short.Mjpeg")
    try:
        assert wait_frames(pair, 20, 2.5)
        time.sleep(0.3)
        frames, idx, problems = check_rtp_stream(pair.rtp_packets(), short_movie, ssrc=info["ssrc"], first_index=0)
        assert problems == [] and idx == list(range(20))
        r = conn.request("PAUSE", srv.url("short.Mjpeg"), session=info["session"])
        assert r.status == 200, r
        r = conn.request("TEARDOWN", srv.url("short.Mjpeg"), session=info["session"])
        assert r.status == 200, r
    finally:
        conn.close()
        pair.close()


@pytest.mark.parametrize("range_", ["npt=6-", "npt=100.5-"])
def test_play_range_beyond_the_end_457(serve, range_):
    srv = serve()
    pair = UdpPair()
    try:
        with srv.connect() as c:
            r = setup_udp(c, srv.url("movie.Mjpeg") + "/track0", pair)
            p = c.request("PLAY", srv.url("movie.Mjpeg"), [("Range", range_)], session=r.session)
            assert p.status == 457, p
            time.sleep(0.2)
            assert pair.rtp == []
    finally:
        pair.close()


def test_play_with_content_base_url(serve, movie):
    """PLAY on the aggregate URL as ffmpeg sends it (Content-Base, trailing /)."""
    srv = serve()
    pair = UdpPair()
    try:
        with srv.connect() as c:
            r = setup_udp(c, srv.url("movie.Mjpeg") + "/track0", pair)
            p = c.request("PLAY", srv.url("movie.Mjpeg") + "/", session=r.session)
            assert p.status == 200, p
            assert wait_frames(pair, 2, 2.0)
    finally:
        pair.close()


def test_teardown_sends_bye_and_stops(serve):
    srv = serve()
    conn, pair, setup, play, info = start_udp_play(srv)
    try:
        assert wait_frames(pair, 5, 2.0)
        r = conn.request("TEARDOWN", srv.url("movie.Mjpeg"), session=info["session"])
        assert r.status == 200, r
        bye = pair.wait_rtcp(has_bye, timeout=1.0)
        assert bye, f"no RTCP BYE on the client RTCP port; got {pair.rtcp_packets()}"
        assert info["ssrc"] in [s for p in bye[1] if p["pt"] == 203 for s in p["ssrcs"]]
        assert bye[1][0]["pt"] in (200, 201), "a compound RTCP packet starts with SR or RR"
        time.sleep(0.4)
        assert pair.rtp_packets(since=r.t + 0.1) == []
        assert conn.request("GET_PARAMETER", srv.url("movie.Mjpeg"), session=info["session"]).status == 454
    finally:
        conn.close()
        pair.close()


# ===========================================================================
# status codes

def test_unknown_session_454(serve):
    srv = serve()
    with srv.connect() as c:
        for method in ("PLAY", "PAUSE", "GET_PARAMETER", "TEARDOWN"):
            r = c.request(method, srv.url("movie.Mjpeg"), session="0123456789abcdef")
            assert r.status == 454, r


def test_state_errors_455(serve):
    srv = serve()
    pair = UdpPair()
    try:
        with srv.connect() as c:
            r = c.request("PLAY", srv.url("movie.Mjpeg"))  # no SETUP, no Session
            assert r.status == 455, r
            s = setup_udp(c, srv.url("movie.Mjpeg") + "/track0", pair)
            assert s.status == 200
            r = c.request("PAUSE", srv.url("movie.Mjpeg"), session=s.session)  # PAUSE in READY
            assert r.status == 455, r
            assert c.request("PLAY", srv.url("movie.Mjpeg"), session=s.session).status == 200
    finally:
        pair.close()


def test_unknown_method_501(serve):
    srv = serve()
    with srv.connect() as c:
        r = c.request("FOO", srv.url("movie.Mjpeg"))
        assert r.status == 501, r
        assert c.request("OPTIONS", srv.url()).status == 200


@pytest.mark.parametrize("version", ["RTSP/2.0", "RTSP/1.1"])
def test_other_versions_505(serve, version):
    srv = serve()
    with srv.connect() as c:
        c.send(f"OPTIONS {srv.url()} {version}\r\nCSeq: 9\r\n\r\n")
        r = c.read_response()
    assert r.status == 505, r
    assert r.cseq == 9


def test_require_551_lists_every_option(serve):
    srv = serve()
    with srv.connect() as c:
        r = c.request("DESCRIBE", srv.url("movie.Mjpeg"), [("Require", "x-foo, x-bar.baz")])
        assert r.status == 551, r
        unsupported = {x.strip() for v in r.get_all("Unsupported") for x in v.split(",")}
        assert unsupported == {"x-foo", "x-bar.baz"}, r


@pytest.mark.parametrize("method", ["RECORD", "ANNOUNCE"])
def test_record_announce_405_with_allow(serve, method):
    srv = serve()
    body = b"v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=x\r\nt=0 0\r\nm=video 0 RTP/AVP 26\r\n" if method == "ANNOUNCE" else b""
    with srv.connect() as c:
        headers = [("Content-Type", "application/sdp")] if body else []
        r = c.request(method, srv.url("movie.Mjpeg"), headers, body=body)
        assert r.status == 405, r
        allow = {m.strip() for m in r.get("Allow", "").split(",")}
        assert {"OPTIONS", "DESCRIBE", "SETUP", "PLAY", "PAUSE", "TEARDOWN"} <= allow, r
        assert method not in allow
        assert c.request("OPTIONS", srv.url()).status == 200  # the body was skipped


@pytest.mark.parametrize("dialect, bad", [
    ("auto", "DESCRIBE {url} RTSP/1.0\r\nCSeq: 7\r\nContent-Length: abc\r\n\r\n"),
    ("auto", "DESCRIBE {url} RTSP/1.0\r\nCSeq: 7\r\nContent-Length: -5\r\n\r\n"),
    ("auto", "DESCRIBE {url} RTSP/1.0 trailing-junk\r\nCSeq: 7\r\n\r\n"),
    ("auto", "DESCRIBE {url} RTSP/1.0\r\nCSeq: 7\r\nBad\x01Header: x\r\n\r\n"),
    # what auto forgives for lab clients, the strict RFC dialect refuses
    ("rfc", "DESCRIBE {url} RTSP/1.0\r\nCSeq: 7\r\nthis header line has no colon\r\n\r\n"),
    ("rfc", "DESCRIBE  RTSP/1.0\r\nCSeq: 7\r\n\r\n"),
    ("rfc", "DESCRIBE {url}\r\nCSeq: 7\r\n\r\n"),
])
def test_bad_request_400_echoes_cseq_and_closes(serve, dialect, bad):
    srv = serve("--dialect", dialect)
    with srv.connect() as c:
        c.send(bad.format(url=srv.url("movie.Mjpeg")))
        r = c.read_response()
        assert r.status == 400, r
        assert r.cseq == 7, r
        assert c.wait_closed(1.0), "the connection stays open after 400"


def test_get_and_set_parameter(serve):
    srv = serve()
    pair = UdpPair()
    try:
        with srv.connect() as c:
            s = setup_udp(c, srv.url("movie.Mjpeg") + "/track0", pair)
            url = srv.url("movie.Mjpeg")
            assert c.request("GET_PARAMETER", url, session=s.session).status == 200
            assert c.request("SET_PARAMETER", url, session=s.session).status == 200
            r = c.request("SET_PARAMETER", url, [("Content-Type", "text/parameters")],
                          body="barparam: barstuff\r\n", session=s.session)
            assert r.status == 451, r
            assert c.request("OPTIONS", srv.url()).status == 200
    finally:
        pair.close()


# ===========================================================================
# connections and sessions

def test_pipelined_requests_answered_in_order(serve):
    srv = serve()
    url = srv.url("movie.Mjpeg")
    sdp = b"v=0\r\ns=x\r\nt=0 0\r\n"
    with srv.connect() as c:
        msgs = [c.build("OPTIONS", url)[0],
                c.build("ANNOUNCE", url, [("Content-Type", "application/sdp")], body=sdp)[0],
                c.build("DESCRIBE", url)[0],
                c.build("DESCRIBE", srv.url("nothere.Mjpeg"))[0]]
        c.send(b"".join(msgs))
        got = [c.read_response() for _ in msgs]
    assert [r.cseq for r in got] == [1, 2, 3, 4]
    assert [r.status for r in got] == [200, 405, 200, 404]


def test_two_sessions_on_one_connection(serve, movie):
    srv = serve()
    a, b = UdpPair(), UdpPair()
    try:
        with srv.connect() as c:
            ra = setup_udp(c, srv.url("movie.Mjpeg") + "/track0", a)
            rb = setup_udp(c, srv.url("movie.Mjpeg") + "/track0", b)
            assert ra.status == rb.status == 200
            assert ra.session != rb.session
            for r in (ra, rb):
                assert c.request("PLAY", srv.url("movie.Mjpeg"), session=r.session).status == 200
            assert wait_frames(a, 5) and wait_frames(b, 5)
            pa, pb = a.rtp_packets(), b.rtp_packets()
            assert pa[0].ssrc != pb[0].ssrc
            assert check_rtp_stream(pa, movie, first_index=0)[2] == []
            assert check_rtp_stream(pb, movie, first_index=0)[2] == []
            t = c.request("TEARDOWN", srv.url("movie.Mjpeg"), session=ra.session)
            assert t.status == 200
            n = b.frame_count()
            time.sleep(0.4)
            assert a.rtp_packets(since=t.t + 0.1) == []
            assert b.frame_count() >= n + 5, "TEARDOWN of one session stopped the other"
    finally:
        a.close()
        b.close()


def test_session_driven_from_a_second_connection(serve):
    srv = serve()
    pair = UdpPair()
    try:
        c1 = srv.connect()
        s = setup_udp(c1, srv.url("movie.Mjpeg") + "/track0", pair)
        assert s.status == 200
        c2 = srv.connect()
        assert c2.request("PLAY", srv.url("movie.Mjpeg"), session=s.session).status == 200
        assert wait_frames(pair, 3)
        c1.close()  # closing the connection does not end a UDP session
        n = pair.frame_count()
        time.sleep(0.4)
        assert pair.frame_count() >= n + 5
        t = c2.request("TEARDOWN", srv.url("movie.Mjpeg"), session=s.session)
        assert t.status == 200, t
        time.sleep(0.3)
        assert pair.rtp_packets(since=t.t + 0.1) == []
        c2.close()
    finally:
        pair.close()


def test_closing_the_connection_ends_a_tcp_session(serve):
    srv = serve()
    c1 = srv.connect()
    s = c1.request("SETUP", srv.url("movie.Mjpeg") + "/track0",
                   [("Transport", "RTP/AVP/TCP;unicast;interleaved=0-1")])
    assert s.status == 200
    assert c1.request("PLAY", srv.url("movie.Mjpeg"), session=s.session).status == 200
    c1.close()
    with srv.connect() as c2:
        deadline = time.monotonic() + 1.5
        while True:
            r = c2.request("GET_PARAMETER", srv.url("movie.Mjpeg"), session=s.session)
            if r.status == 454 or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert r.status == 454, r


@pytest.mark.parametrize("channels", ["0-1", "2-3"])
def test_tcp_interleaved_play(serve, movie, channels):
    srv = serve()
    rtp_ch, rtcp_ch = (int(x) for x in channels.split("-"))
    with srv.connect() as c:
        s = c.request("SETUP", srv.url("movie.Mjpeg") + "/track0",
                      [("Transport", f"RTP/AVP/TCP;unicast;interleaved={channels}")])
        assert s.status == 200, s
        _, tp = parse_transport(s.get("Transport"))
        play = c.request("PLAY", srv.url("movie.Mjpeg"), session=s.session)
        assert play.status == 200, play
        c.pump(1.1)
        chans = {ch for _, ch, _ in c.interleaved}
        assert chans <= {rtp_ch, rtcp_ch}, chans
        pkts = [parse_rtp(d, t) for t, ch, d in c.interleaved if ch == rtp_ch]
        frames, idx, problems = check_rtp_stream(pkts, movie, ssrc=int(tp["ssrc"], 16), first_index=0)
        assert problems == []
        assert len(frames) >= 18, len(frames)
        rinfo = parse_rtp_info(play.get("RTP-Info"))[0]
        assert (pkts[0].seq, pkts[0].ts) == (rinfo["seq"], rinfo["rtptime"])
        rtcp = [parse_rtcp(d) for _, ch, d in c.interleaved if ch == rtcp_ch]
        assert any(has_sr(p) for p in rtcp), "no sender report on the RTCP channel"
        # requests still work in the middle of the interleaved stream
        t = c.request("TEARDOWN", srv.url("movie.Mjpeg"), session=s.session)
        assert t.status == 200, t


# ===========================================================================
# keepalive and session timeout (--session-timeout 2)

def test_session_without_keepalive_is_reclaimed(serve):
    srv = serve("--session-timeout", "2", "--loop")
    conn, pair, setup, play, info = start_udp_play(srv)
    try:
        assert SESSION_RE.match(setup.get("Session")).group(2) == "2"
        t0 = play.t
        time.sleep(max(0, t0 + 1.6 - time.monotonic()))
        assert pair.rtp_packets(since=t0 + 1.3), "RTP stopped before the session timeout"
        # wait until RTP stops (0.3 s without a packet) or 4.5 s after PLAY
        while time.monotonic() < t0 + 4.5:
            time.sleep(0.1)
            if not pair.rtp_packets(since=time.monotonic() - 0.3):
                break
        last = pair.rtp_packets()[-1].t
        assert last - t0 <= 3.1, f"RTP still flowing {last - t0:.2f} s after the last request (timeout 2)"
        assert last - t0 >= 1.9, f"session ended after {last - t0:.2f} s, before its timeout"
        r = conn.request("GET_PARAMETER", srv.url("movie.Mjpeg"), session=info["session"])
        assert r.status == 454, r
    finally:
        conn.close()
        pair.close()


def test_requests_keep_the_session_alive(serve):
    srv = serve("--session-timeout", "2", "--loop")
    conn, pair, setup, play, info = start_udp_play(srv)
    url = srv.url("movie.Mjpeg")
    try:
        t0 = play.t
        for k, method in enumerate(["GET_PARAMETER", "OPTIONS", "SET_PARAMETER", "GET_PARAMETER", "GET_PARAMETER"]):
            time.sleep(max(0, t0 + k + 1 - time.monotonic()))
            r = conn.request(method, url, session=info["session"])
            assert r.status == 200, r
        time.sleep(max(0, t0 + 5.6 - time.monotonic()))
        frames = [p for p in pair.rtp_packets() if p.marker]
        assert frames[-1].t > time.monotonic() - 0.3, "RTP stopped although requests kept naming the session"
        gaps = [b.t - a.t for a, b in zip(frames, frames[1:])]
        assert max(gaps) < 0.25, f"RTP gap of {max(gaps):.2f} s"
        assert conn.request("GET_PARAMETER", url, session=info["session"]).status == 200
    finally:
        conn.close()
        pair.close()


def test_rtcp_receiver_reports_keep_the_session_alive(serve):
    srv = serve("--session-timeout", "2", "--loop", "-v")
    conn, pair, setup, play, info = start_udp_play(srv)
    url = srv.url("movie.Mjpeg")
    try:
        t0 = play.t
        for k in range(5):
            time.sleep(max(0, t0 + k + 1 - time.monotonic()))
            pk = pair.rtp_packets()
            rr = rtcp_receiver_report(0x1234ABCD, info["ssrc"], highest_seq=pk[-1].seq if pk else 0, jitter=3)
            pair.rtcp_sock.sendto(rr, ("127.0.0.1", info["server_port"][1]))
        time.sleep(max(0, t0 + 5.6 - time.monotonic()))
        frames = [p for p in pair.rtp_packets() if p.marker]
        assert frames[-1].t > time.monotonic() - 0.3, "RTP stopped although RTCP receiver reports came every 1 s"
        assert conn.request("GET_PARAMETER", url, session=info["session"]).status == 200
        assert "jitter" in srv.stderr_text().lower(), "receiver reports not logged at -v"
    finally:
        conn.close()
        pair.close()


# ===========================================================================
# authentication

@pytest.mark.parametrize("realm_args, realm", [([], "rtsp-harness"), (["--realm", "lab room"], "lab room")])
def test_basic_auth(serve, realm_args, realm):
    srv = serve("--auth", "alice:s3cret", "--auth-scheme", "basic", *realm_args)
    url = srv.url("movie.Mjpeg")
    with srv.connect() as c:
        for method in ("OPTIONS", "DESCRIBE"):
            r = c.request(method, url)
            assert r.status == 401, r
            scheme, params = parse_challenge(r.get("WWW-Authenticate", ""))
            assert scheme == "Basic" and params.get("realm") == realm, r
            assert not r.body.startswith(b"v=0")
        r = c.request("DESCRIBE", url, [("Authorization", basic_auth("alice", "s3cret"))])
        assert r.status == 200 and r.body.startswith(b"v=0"), r
        for user, pw in (("alice", "wrong"), ("bob", "s3cret"), ("alice", "s3cret2")):
            r = c.request("DESCRIBE", url, [("Authorization", basic_auth(user, pw))])
            assert r.status == 401, (user, pw, r)
        r = c.request("DESCRIBE", url, [("Authorization", "Basic !!!notbase64")])
        assert r.status == 401, r


def digest_challenge(c, url, method="DESCRIBE"):
    r = c.request(method, url)
    assert r.status == 401, r
    challenges = [parse_challenge(v) for v in r.get_all("WWW-Authenticate")]
    digest = [p for s, p in challenges if s == "Digest"]
    assert digest, r
    p = digest[0]
    assert p.get("realm") == "rtsp-harness" and p.get("nonce"), r
    return p


def test_digest_auth_without_qop(serve):
    srv = serve("--auth", "alice:s3cret")  # digest is the default scheme
    url = srv.url("movie.Mjpeg")
    with srv.connect() as c:
        ch = digest_challenge(c, url)
        extra = {"opaque": ch.get("opaque")}
        auth = digest_auth("alice", "s3cret", ch["realm"], ch["nonce"], "DESCRIBE", url, **extra)
        r = c.request("DESCRIBE", url, [("Authorization", auth)])
        assert r.status == 200 and r.body.startswith(b"v=0"), r
        # the same nonce for the next request (what ffmpeg and live555 do)
        auth = digest_auth("alice", "s3cret", ch["realm"], ch["nonce"], "OPTIONS", url, **extra)
        assert c.request("OPTIONS", url, [("Authorization", auth)]).status == 200
        for user, pw, method, uri, nonce in [
            ("alice", "wrong", "DESCRIBE", url, ch["nonce"]),
            ("bob", "s3cret", "DESCRIBE", url, ch["nonce"]),
            ("alice", "s3cret", "SETUP", url, ch["nonce"]),  # computed for another method
            ("alice", "s3cret", "DESCRIBE", url, "0" * 32),  # a nonce the server never gave
        ]:
            auth = digest_auth(user, pw, ch["realm"], nonce, method, uri, **extra)
            r = c.request("DESCRIBE", url, [("Authorization", auth)])
            assert r.status == 401, (user, pw, method, nonce, r)


def test_digest_auth_with_qop(serve):
    srv = serve("--auth", "alice:s3cret", "--auth-scheme", "digest")
    url = srv.url("movie.Mjpeg")
    with srv.connect() as c:
        ch = digest_challenge(c, url)
        qops = [q.strip() for q in ch.get("qop", "").split(",") if q.strip()]
        if "auth" not in qops:
            pytest.skip(f"the challenge offers no qop=auth ({ch}); the no-qop test covers digest")
        for nc in (1, 2):
            auth = digest_auth("alice", "s3cret", ch["realm"], ch["nonce"], "DESCRIBE", url,
                               qop="auth", nc=nc, cnonce=f"c{nc}", opaque=ch.get("opaque"))
            r = c.request("DESCRIBE", url, [("Authorization", auth)])
            assert r.status == 200, r
        auth = digest_auth("alice", "nope", ch["realm"], ch["nonce"], "DESCRIBE", url,
                           qop="auth", nc=3, opaque=ch.get("opaque"))
        assert c.request("DESCRIBE", url, [("Authorization", auth)]).status == 401


# ===========================================================================
# HTTP live view, signals, -v

def test_http_live_view(serve, movie):
    srv = serve("--http-port", "0")
    assert srv.http_url and srv.http_port, srv.stdout_text()
    lines = srv.stdout_text().splitlines()
    assert lines[-2] == f"http http://127.0.0.1:{srv.http_port}/" and lines[-1].startswith("ready ")
    status, headers, body, _ = http_get("127.0.0.1", srv.http_port, "/")
    assert status == 200
    assert headers.get("content-type", "").startswith("text/html")
    assert b"movie.Mjpeg" in body and b"short.Mjpeg" in body
    status, headers, rest, sock = http_get("127.0.0.1", srv.http_port, "/movie.Mjpeg", read_body=False)
    try:
        assert status == 200
        ctype = headers.get("content-type", "")
        m = re.match(r'multipart/x-mixed-replace\s*;\s*boundary="?([^";]+)"?', ctype)
        assert m, ctype
        parts = read_multipart(sock, m.group(1), rest, 1.6)
    finally:
        sock.close()
    assert len(parts) >= 25, f"{len(parts)} parts in 1.6 s"
    idx = []
    for t, h, b in parts:
        assert h.get("content-type") == "image/jpeg", h
        assert b[:2] == b"\xff\xd8" and b[-2:] == b"\xff\xd9", "part is not a whole JPEG"
        i = movie.index_of_scan(jpeg_info(b).scan)
        assert i is not None, "part is not a frame of movie.Mjpeg"
        idx.append(i)
    assert all((b - a) % 100 == 1 for a, b in zip(idx, idx[1:])), idx
    rate = (len(parts) - 1) / (parts[-1][0] - parts[0][0])
    assert 18 <= rate <= 22, f"{rate:.1f} parts/s"
    status, _, _, _ = http_get("127.0.0.1", srv.http_port, "/nothere.Mjpeg")
    assert status == 404


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_while_playing_sends_bye_and_exits_0(serve, sig):
    srv = serve()
    conn, pair, setup, play, info = start_udp_play(srv)
    try:
        assert wait_frames(pair, 3)
        rc = srv.stop(sig, timeout=3)
        assert rc == 0, srv.describe()
        bye = pair.wait_rtcp(has_bye, timeout=0.5)
        assert bye, f"no BYE at {sig.name}; RTCP got {pair.rtcp_packets()}"
        assert info["ssrc"] in [s for p in bye[1] if p["pt"] == 203 for s in p["ssrcs"]]
        assert conn.wait_closed(1.0), "RTSP connection not closed at exit"
    finally:
        conn.close()
        pair.close()


@pytest.mark.parametrize("verbose", [True, False])
def test_verbose_logs_one_line_per_request(serve, verbose):
    srv = serve(*(["-v"] if verbose else []))
    before = len(srv.stderr_lines())
    with srv.connect() as c:
        assert c.request("OPTIONS", srv.url()).status == 200
        assert c.request("DESCRIBE", srv.url("movie.Mjpeg")).status == 200
        assert c.request("FROBNICATE", srv.url("movie.Mjpeg")).status == 501
    time.sleep(0.2)
    assert srv.stop() == 0
    new = srv.stderr_lines()[before:]
    if verbose:
        for method in ("OPTIONS", "DESCRIBE", "FROBNICATE"):
            hits = [l for l in new if method in l]
            assert len(hits) == 1, f"{method}: {hits}\n{new}"
    else:
        assert not any(m in l for l in new for m in ("OPTIONS", "DESCRIBE", "FROBNICATE")), new
