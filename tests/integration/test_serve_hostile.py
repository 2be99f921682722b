"""Hostile input and limits against `rtsp-harness serve`: paths that try to
leave the media directory (RTSP, lab and HTTP), oversized requests, garbage,
slow and stalled clients, connection floods, descriptor leaks, and the
--max-connections, --max-sessions, --max-request-bytes and --idle-timeout
limits of docs/serve.md."""
import random
import re
import socket
import struct
import threading
import time

import pytest

from serve_util import (RtspConn, UdpPair, check_rtp_stream, frame_rate, http_get,
                        read_lab_reply, setup_udp, start_udp_play, write_mjpeg)


@pytest.fixture
def jail(tmp_path, make_media, movie):
    """media/ with good.Mjpeg and symlinks pointing outside; outside/ with a
    valid secret.Mjpeg (7 frames, 160x120) and a directory of secret JPEGs."""
    outside = tmp_path / "outside"
    outside.mkdir()
    make_media(outside / "secret.Mjpeg", 7, "--size", "160x120")
    make_media(outside / "jpgs", 7, "--size", "160x120", "--format", "jpeg-dir")
    media = tmp_path / "media"
    media.mkdir()
    write_mjpeg(media / "good.Mjpeg", movie.jpegs[:5])
    (media / "link.Mjpeg").symlink_to(outside / "secret.Mjpeg")
    (media / "rel.Mjpeg").symlink_to("../outside/secret.Mjpeg")
    (media / "linkdir").symlink_to(outside / "jpgs")
    return media, outside


def test_symlinks_out_of_the_media_dir_are_not_streams(serve, jail):
    media, outside = jail
    srv = serve(media=media)
    assert list(srv.streams) == ["good.Mjpeg"], srv.stdout_text()


def test_paths_outside_the_media_dir_get_404(serve, jail):
    media, outside = jail
    srv = serve(media=media)
    base = f"rtsp://127.0.0.1:{srv.port}"
    secret = outside / "secret.Mjpeg"
    urls = [
        f"{base}/../outside/secret.Mjpeg",
        f"{base}/%2e%2e/outside/secret.Mjpeg",
        f"{base}/%2E%2E%2Foutside%2Fsecret.Mjpeg",
        f"{base}/..%2foutside%2fsecret.Mjpeg",
        f"{base}/good.Mjpeg/../../outside/secret.Mjpeg",
        f"{base}/./../outside/secret.Mjpeg",
        f"{base}//etc/passwd",
        f"{base}/%2Fetc%2Fpasswd",
        f"{base}/../../../../../../etc/passwd",
        f"{base}/{secret}",
        f"{base}/%2e%2e/outside/jpgs",
        f"{base}/link.Mjpeg",
        f"{base}/rel.Mjpeg",
        f"{base}/linkdir",
        f"{base}/good.Mjpeg%00.txt",
        f"{base}/secret.Mjpeg",
    ]
    pair = UdpPair()
    try:
        with srv.connect() as c:
            for url in urls:
                r = c.request("DESCRIBE", url)
                assert r.status == 404, (url, r)
                r = c.request("SETUP", url + "/track0",
                              [("Transport", f"RTP/AVP;unicast;client_port={pair.client_port}")])
                assert r.status == 404, (url, r)
            assert c.request("DESCRIBE", f"{base}/good.Mjpeg").status == 200
        # not URLs (a bare name makes the connection lab): 404, or 400
        for uri in ("/etc/passwd", str(secret), "../outside/secret.Mjpeg"):
            with srv.connect() as c:
                c.send(c.build("DESCRIBE", uri)[0])
                raw = c.read_raw(idle=0.3, timeout=2.0)
                assert re.match(rb"RTSP/1\.0 40[04] ", raw), (uri, raw)
        time.sleep(0.2)
        assert pair.rtp == []
    finally:
        pair.close()


@pytest.mark.parametrize("name", ["../outside/secret.Mjpeg", "/etc/passwd", "link.Mjpeg",
                                  "%2e%2e/outside/secret.Mjpeg", "SECRET"])
def test_lab_paths_outside_the_media_dir_get_404(serve, jail, name):
    media, outside = jail
    if name == "SECRET":
        name = str(outside / "secret.Mjpeg")
    srv = serve(media=media)
    pair = UdpPair()
    try:
        with srv.connect() as c:
            c.send(f"SETUP {name} RTSP/1.0\nCSeq: 1\nTransport: RTP/UDP; client_port= {pair.rtp_port}")
            reply = read_lab_reply(c, lines=2).decode("latin-1")
            assert reply.split("\n")[0] == "RTSP/1.0 404 FILE_NOT_FOUND", repr(reply)
            c.send(f"PLAY {name} RTSP/1.0\nCSeq: 2\nSession: 123456")
            time.sleep(0.3)
        assert pair.rtp == []
    finally:
        pair.close()


def test_http_paths_outside_the_media_dir(serve, jail):
    media, outside = jail
    srv = serve("--http-port", "0", media=media)
    for path in ("/../outside/secret.Mjpeg", "/%2e%2e/outside/secret.Mjpeg", "/link.Mjpeg",
                 "/linkdir", "//etc/passwd", "/%2e%2e%2f%2e%2e%2fetc%2fpasswd"):
        status, headers, body, _ = http_get("127.0.0.1", srv.http_port, path)
        assert status in (400, 404), (path, status, headers)
        assert "multipart" not in headers.get("content-type", ""), path
    status, _, body, _ = http_get("127.0.0.1", srv.http_port, "/")
    assert status == 200 and b"good.Mjpeg" in body
    assert b"secret" not in body and b"link" not in body


# ===========================================================================
# oversized requests

def test_1mb_header_gets_413_while_others_are_served(serve):
    """One header of 1 MB: the first 56 KB (under the 64 KB limit) arrive,
    another client is served meanwhile, then the rest gets 413."""
    srv = serve()
    big = srv.connect(timeout=5)
    big.send(f"DESCRIBE {srv.url('movie.Mjpeg')} RTSP/1.0\r\nCSeq: 1\r\nX-Junk: ")
    chunk = b"a" * 8192
    big.send(chunk * 7)  # 56 KB of an unfinished request
    time.sleep(0.1)
    with srv.connect() as c:
        t = time.monotonic()
        r = c.request("DESCRIBE", srv.url("movie.Mjpeg"))
        assert r.status == 200 and time.monotonic() - t < 0.2
    state = {"sent": 7 * len(chunk), "error": None}

    def pump():
        try:
            while state["sent"] < (1 << 20):
                big.sock.sendall(chunk)
                state["sent"] += len(chunk)
            big.sock.sendall(b"\r\n\r\n")
        except OSError as e:
            state["error"] = e

    th = threading.Thread(target=pump, daemon=True)
    th.start()
    try:
        r = big.read_response(timeout=5)
        assert r.status == 413, r
        assert r.cseq == 1
        assert big.wait_closed(2.0), "the connection stays open after 413"
    finally:
        th.join(5)
        big.close()
    with srv.connect() as c:
        assert c.request("OPTIONS", srv.url()).status == 200


def test_max_request_bytes(serve):
    srv = serve("--max-request-bytes", "4096")
    url = srv.url("movie.Mjpeg")
    with srv.connect() as c:  # a 3 KB request is fine
        assert c.request("DESCRIBE", url, [("X-Pad", "p" * 3000)]).status == 200
    with srv.connect() as c:  # a 5 KB header is not
        c.send(c.build("DESCRIBE", url, [("X-Pad", "p" * 5000)])[0])
        r = c.read_response()
        assert r.status == 413, r
        assert c.wait_closed(1.0)
    with srv.connect() as c:  # headers and body count
        c.send(c.build("SET_PARAMETER", url, [("Content-Type", "text/parameters")],
                       body=b"x: " + b"y" * 8000 + b"\r\n")[0])
        r = c.read_response()
        assert r.status == 413, r
        assert c.wait_closed(1.0)


# ===========================================================================
# garbage

def garbage(seed, n=300):
    rng = random.Random(seed)
    data = bytes(rng.choice([b for b in range(256) if b not in (10, 13)]) for _ in range(n))
    return b"\x00" + data  # never starts with '$' (an interleaved frame)


@pytest.mark.parametrize("payload", [
    garbage(1) + b"\r\n\r\n",
    garbage(2, 2000) + b"\r\n\r\n",
    b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + garbage(3, 200) + b"\r\n\r\n",
    b"\x00" * 100 + b"\r\n\r\n",
    b"\xff\xfe\xfd\r\n\r\n",
], ids=["random300", "random2000", "tls-hello", "nuls", "short"])
def test_garbage_gets_400_and_a_closed_connection(serve, payload):
    srv = serve()
    with srv.connect() as c:
        c.send(payload)
        raw = c.read_raw(idle=0.5, timeout=2.0)
        assert raw.startswith(b"RTSP/1.0 400"), raw[:200]
        assert c.eof or c.wait_closed(1.0), "connection left open after garbage"
    with srv.connect() as c:
        assert c.request("OPTIONS", srv.url()).status == 200


def test_endless_line_is_cut_off(serve):
    srv = serve()
    with srv.connect() as c:
        try:
            c.send(b"A" * 70000)
        except OSError:
            pass
        raw = c.read_raw(idle=0.5, timeout=3.0)
        assert raw[:12] in (b"RTSP/1.0 400", b"RTSP/1.0 413"), raw[:200]
        assert c.eof or c.wait_closed(1.0)
    with srv.connect() as c:
        assert c.request("OPTIONS", srv.url()).status == 200


@pytest.mark.parametrize("sid", ["nope", "0" * 16, "f" * 1000, "../../etc/passwd", "123456", "%00"])
def test_unknown_or_forged_session_454(serve, sid):
    srv = serve()
    pair = UdpPair()
    try:
        with srv.connect() as c:
            real = setup_udp(c, srv.url("movie.Mjpeg") + "/track0", pair)
            assert real.status == 200
            for method in ("PLAY", "TEARDOWN"):
                r = c.request(method, srv.url("movie.Mjpeg"), session=sid)
                assert r.status == 454, (sid, r)
            time.sleep(0.2)
            assert pair.rtp == [], "a forged session started another client's stream"
    finally:
        pair.close()


# ===========================================================================
# slow, stalled and many clients

def test_slow_client_does_not_stall_others(serve):
    srv = serve()
    slow = srv.connect()
    msg = f"OPTIONS {srv.url()} RTSP/1.0\r\nCSeq: 1\r\n\r\n".encode()

    def dribble():
        for b in msg[:12]:
            slow.send(bytes([b]))
            time.sleep(0.1)

    th = threading.Thread(target=dribble, daemon=True)
    th.start()
    try:
        time.sleep(0.05)
        with srv.connect() as c:
            for _ in range(6):
                t = time.monotonic()
                r = c.request("DESCRIBE", srv.url("movie.Mjpeg"))
                dt = time.monotonic() - t
                assert r.status == 200 and dt < 0.2, f"DESCRIBE took {dt * 1000:.0f} ms"
                with srv.connect() as c2:  # and new connections are accepted
                    t = time.monotonic()
                    assert c2.request("OPTIONS", srv.url()).status == 200
                    assert time.monotonic() - t < 0.2
                time.sleep(0.15)
        th.join(3)
        slow.send(msg[12:])
        assert slow.read_response().status == 200  # the slow client is served too
    finally:
        slow.close()


def test_1000_connections_leak_no_descriptors(serve):
    srv = serve()
    url = srv.url("movie.Mjpeg")
    with srv.connect() as c:  # warm up whatever is created lazily
        assert c.request("DESCRIBE", url).status == 200
        s = c.request("SETUP", url + "/track0", [("Transport", "RTP/AVP/TCP;unicast;interleaved=0-1")])
        assert c.request("PLAY", url, session=s.session).status == 200
    time.sleep(0.3)
    before = srv.fd_count()
    addr = (srv.host, srv.port)
    for batch in range(10):
        socks = []
        for i in range(100):
            s = socket.create_connection(addr, timeout=5)
            kind = i % 5
            if kind == 1:
                s.sendall(b"OPTIONS * RTSP/1.0\r\nCSeq: 1\r\n")  # unfinished
            elif kind == 2:
                s.sendall(f"DESCRIBE {url} RTSP/1.0\r\nCSeq: 1\r\n\r\n".encode())  # never read
            elif kind == 3:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # RST
            socks.append(s)
        for s in socks:
            s.close()
    for i in range(20):  # playing TCP sessions whose connection drops
        c = srv.connect()
        s = c.request("SETUP", url + "/track0", [("Transport", "RTP/AVP/TCP;unicast;interleaved=0-1")])
        assert c.request("PLAY", url, session=s.session).status == 200
        if i % 2:
            c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        c.close()
    deadline = time.monotonic() + 3.0
    while srv.fd_count() > before and time.monotonic() < deadline:
        time.sleep(0.05)
    after = srv.fd_count()
    assert after <= before, f"{after - before} descriptors leaked ({before} before, {after} after)"
    with srv.connect() as c:
        assert c.request("DESCRIBE", url).status == 200


def test_max_connections_503(serve):
    srv = serve("--max-connections", "4")
    conns = [srv.connect() for _ in range(4)]
    try:
        for c in conns:
            assert c.request("OPTIONS", srv.url()).status == 200
        extra = srv.connect()
        try:
            extra.send(f"OPTIONS {srv.url()} RTSP/1.0\r\nCSeq: 1\r\n\r\n")
        except OSError:
            pass
        raw = extra.read_raw(idle=0.5, timeout=2.0)
        assert raw.startswith(b"RTSP/1.0 503"), raw
        assert extra.eof or extra.wait_closed(1.0), "the 503 connection stays open"
        extra.close()
        for c in conns:  # the others are untouched
            assert c.request("OPTIONS", srv.url()).status == 200
        conns.pop().close()
        time.sleep(0.3)
        with srv.connect() as c:
            assert c.request("OPTIONS", srv.url()).status == 200
    finally:
        for c in conns:
            c.close()


def test_max_sessions_503(serve):
    srv = serve("--max-sessions", "2")
    pairs = [UdpPair() for _ in range(3)]
    url = srv.url("movie.Mjpeg") + "/track0"
    try:
        with srv.connect() as c:
            s1 = setup_udp(c, url, pairs[0])
            s2 = setup_udp(c, url, pairs[1])
            assert s1.status == s2.status == 200
            r = setup_udp(c, url, pairs[2])
            assert r.status == 503, r
            assert c.request("TEARDOWN", srv.url("movie.Mjpeg"), session=s1.session).status == 200
            assert setup_udp(c, url, pairs[2]).status == 200
    finally:
        for p in pairs:
            p.close()


def test_idle_timeout(serve):
    srv = serve("--idle-timeout", "1")
    idle = srv.connect()
    assert idle.request("OPTIONS", srv.url()).status == 200
    t0 = time.monotonic()
    conn, pair, setup, play, info = start_udp_play(srv)
    try:
        assert idle.wait_closed(2.5), "an idle connection was not closed after --idle-timeout 1"
        assert time.monotonic() - t0 >= 0.8, "closed before its idle timeout"
        time.sleep(max(0, t0 + 2.5 - time.monotonic()))
        # a connection with a playing session stays
        assert conn.request("GET_PARAMETER", srv.url("movie.Mjpeg"), session=info["session"]).status == 200
    finally:
        idle.close()
        conn.close()
        pair.close()


def test_client_that_never_reads_does_not_stall_others(serve, tmp_path, make_media, movie):
    """A TCP interleaved session whose client never reads (a 3 MB/s stream)
    next to a UDP session, with one sender thread: the UDP session's RTP
    stays at 20 fps and its requests are answered at once."""
    media = tmp_path / "m"
    media.mkdir()
    write_mjpeg(media / "movie.Mjpeg", movie.jpegs)
    make_media(media / "big.Mjpeg", 40, "--size", "640x480", "--pattern", "noise", "--quality", "60")
    (media / "big.fps").write_text("50")
    (media / "big.Mjpeg.fps").write_text("50")
    srv = serve("--loop", "--threads", "1", media=media)
    stalled = RtspConn(srv.host, srv.port, rcvbuf=4096)
    s = stalled.request("SETUP", srv.url("big.Mjpeg") + "/track0",
                        [("Transport", "RTP/AVP/TCP;unicast;interleaved=0-1")])
    assert s.status == 200, s
    assert stalled.request("PLAY", srv.url("big.Mjpeg"), session=s.session).status == 200
    # from here on nobody reads `stalled`
    conn, pair, setup, play, info = start_udp_play(srv, "movie.Mjpeg")
    try:
        t0 = time.monotonic()
        worst = 0.0
        while time.monotonic() < t0 + 3.5:
            time.sleep(0.5)
            t = time.monotonic()
            r = conn.request("GET_PARAMETER", srv.url("movie.Mjpeg"), session=info["session"])
            worst = max(worst, time.monotonic() - t)
            assert r.status == 200
        assert worst < 0.2, f"a keepalive took {worst * 1000:.0f} ms"
        frames, idx, problems = check_rtp_stream(pair.rtp_packets(), movie, ssrc=info["ssrc"],
                                                 first_index=0)
        assert problems == []
        rate = frame_rate(frames)
        assert 19.0 <= rate <= 21.0, f"{rate:.2f} fps"
        gaps = [b.t_last - a.t_last for a, b in zip(frames, frames[1:])]
        assert max(gaps) < 0.15, f"a {max(gaps) * 1000:.0f} ms gap in the UDP session's frames"
        assert len(frames) >= 65
    finally:
        stalled.close()
        conn.close()
        pair.close()
