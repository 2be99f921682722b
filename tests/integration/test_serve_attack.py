"""`rtsp-harness serve` under attack (issue 8), with our load tool
tests/tools/rtsp_attack.c (`rtsp-attack`): 10,000 connection open/close
cycles, 1,000 concurrent idle connections, a pipelined flood, oversized
requests, random Session ids, path traversal variants, and TCP interleaved
clients that stop reading. While each attack runs, the tool's good client
is served (OPTIONS round trips, PLAY to first RTP packet); the server's
descriptors (/proc/PID/fd) and RSS (VmRSS) are sampled at a baseline,
during the attack and after it.

test_serve_hostile.py has the single hostile inputs and the limits; this
file has the floods and the figures."""
import json
import os
import pathlib
import subprocess
import time

import pytest

from serve_util import RtspConn, UdpPair, setup_udp, write_mjpeg

SANITIZED = os.environ.get("RTSP_HARNESS_SANITIZED") == "1"
# AddressSanitizer keeps freed memory in quarantine (256 MB by default:
# 10,000 connections' input buffers fill it) and shadows every allocation,
# and the sanitized server is slower. The server gets a 16 MB quarantine,
# and the bounds are wider there.
RSS_SLACK_KB = 64 * 1024 if SANITIZED else 2 * 1024
SERVER_ENV = dict(os.environ, ASAN_OPTIONS=os.environ.get("ASAN_OPTIONS", "") + ":quarantine_size_mb=16")
LATENCY_SCALE = 3 if SANITIZED else 1
# The good client on a loaded 2-core machine: the worst OPTIONS round trip
# measured under these attacks was 196 ms plain (cycles, load average 6),
# PLAY to first RTP 40 ms; the median stays under 1 ms.
GOOD_MAX_MS = 1500 * LATENCY_SCALE
GOOD_P50_MS = 50 * LATENCY_SCALE


@pytest.fixture(scope="session")
def attack_bin(harness_bin):
    path = pathlib.Path(harness_bin).parent / "tests" / "rtsp-attack"
    if not path.is_file():
        pytest.fail(f"{path} is not built (tests/meson.build builds it next to the binary)")
    return str(path)


def rss_kb(pid):
    for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError(f"no VmRSS for {pid}")


def settle(srv, fds, seconds=5.0):
    """Waits until the server holds `fds` descriptors again (connections in
    their linger time close within 2 s); returns the count then."""
    deadline = time.monotonic() + seconds
    while srv.fd_count() != fds and time.monotonic() < deadline:
        time.sleep(0.05)
    return srv.fd_count()


def attack(tool, srv, name, *args, timeout=180):
    """Runs one attack; samples the server while it runs. Returns the tool's
    figures with the server's peak descriptors and RSS added."""
    proc = subprocess.Popen([tool, "--port", str(srv.port), "--attack", name, *map(str, args)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peak_fds = peak_rss = 0
    deadline = time.monotonic() + timeout
    while proc.poll() is None and time.monotonic() < deadline:
        peak_fds = max(peak_fds, srv.fd_count())
        peak_rss = max(peak_rss, rss_kb(srv.pid))
        time.sleep(0.02)
    try:
        out, err = proc.communicate(timeout=max(1, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        raise AssertionError(f"rtsp-attack --attack {name} ran over {timeout} s\n{err}")
    assert proc.returncode == 0, f"rtsp-attack exit {proc.returncode}\n{err}"
    figures = json.loads(out)
    figures["server_peak_fds"] = peak_fds
    figures["server_peak_rss_kb"] = peak_rss
    return figures


def warmed_server(serve, attack_bin, *args, **kw):
    """A server whose lazily created state exists (a UDP session played and
    torn down): its descriptors and RSS then are the baseline."""
    srv = serve(*args, env=SERVER_ENV, **kw)
    warm = attack(attack_bin, srv, "none", "--hold", "0.6", "--interval-ms", "20")
    assert warm["good"]["errors"] == 0, warm
    assert warm["good"]["first_rtp"]["n"] >= 1, warm
    time.sleep(0.6)
    return srv, srv.fd_count(), rss_kb(srv.pid)


def check_good_client(fig):
    good = fig["good"]
    assert good["errors"] == 0, f"the good client failed under attack: {good['first_error']}"
    assert good["options"]["n"] >= 3, good
    assert good["options"]["p50_ms"] < GOOD_P50_MS, good
    assert good["options"]["max_ms"] < GOOD_MAX_MS, good
    if good["first_rtp"]["n"]:
        assert good["first_rtp"]["max_ms"] < GOOD_MAX_MS, good


def check_returns_to_baseline(srv, fds, rss, fig):
    assert srv.alive(), "the server died under attack\n" + srv.describe()
    after = settle(srv, fds)
    assert after == fds, f"{after - fds} descriptors more than before the attack ({fds} -> {after})"
    time.sleep(1.0)  # the sweep (every 500 ms) gives a crowd's heap back
    rss_after = rss_kb(srv.pid)
    fig.update(fds_before=fds, fds_after=after, rss_before_kb=rss, rss_after_kb=rss_after)
    print("figures:", json.dumps(fig))
    assert rss_after <= rss + RSS_SLACK_KB, (
        f"RSS {rss} kB before, {fig['server_peak_rss_kb']} kB peak, {rss_after} kB after")


# ===========================================================================
# floods, each against a fresh server while the good client is served

def test_10000_open_close_cycles(serve, attack_bin):
    srv, fds, rss = warmed_server(serve, attack_bin)
    fig = attack(attack_bin, srv, "cycles", "--count", 10000, "--concurrency", 32)
    assert fig["completed"] == 10000 and fig["failed"] == 0, fig
    check_good_client(fig)
    check_returns_to_baseline(srv, fds, rss, fig)


def test_1000_concurrent_idle_connections(serve, attack_bin):
    srv, fds, rss = warmed_server(serve, attack_bin)
    fig = attack(attack_bin, srv, "idle", "--count", 1000, "--concurrency", 100, "--hold", 3)
    assert fig["completed"] == 1000 and fig["failed"] == 0, fig
    # all 1000 held by the server at once, none closed or answered
    assert fig["server_peak_fds"] >= fds + 1000, fig
    assert fig["closed_by_server"] == 0 and fig["spoke"] == 0, fig
    check_good_client(fig)
    check_returns_to_baseline(srv, fds, rss, fig)


def test_pipelined_flood(serve, attack_bin):
    """A million requests (300,000 sanitized) written back to back on one
    connection without waiting for replies, every one answered 200, while
    another client is served. The flood lasts about 3 s: a server that
    serves one connection as long as its input lasts keeps the good client
    waiting that long (2.6-4.3 s measured before the server's read budget),
    and one that answers faster than the client reads drops it at 4 MiB of
    unread replies (seen at 889,503 before the server paused such input)."""
    count = 300_000 if SANITIZED else 1_000_000
    srv, fds, rss = warmed_server(serve, attack_bin)
    fig = attack(attack_bin, srv, "pipeline", "--count", count, "--window", count,
                 "--interval-ms", 5)
    assert fig["failed"] == 0, fig
    assert fig["statuses"] == {"200": count}, fig
    check_good_client(fig)
    check_returns_to_baseline(srv, fds, rss, fig)


def test_oversized_requests(serve, attack_bin):
    """300 requests of 1 MiB each, 8 at a time: a 1 MiB header line, a 1 MiB
    body, 65,536 headers, in turn. The first two kinds get 413, the third
    400 (over the header count) or 413."""
    srv, fds, rss = warmed_server(serve, attack_bin)
    fig = attack(attack_bin, srv, "oversized", "--count", 300, "--concurrency", 8,
                 "--bytes", 1 << 20, "--interval-ms", 5)
    assert fig["completed"] == 300 and fig["failed"] == 0, fig
    assert set(fig["statuses"]) <= {"400", "413"}, fig
    assert fig["statuses"].get("413", 0) >= 200, fig
    check_good_client(fig)
    check_returns_to_baseline(srv, fds, rss, fig)


def test_random_session_ids_are_never_accepted(serve, attack_bin):
    """20,000 requests with random Session ids (hex, digits, tokens, 1-64
    long) on 16 connections while real sessions exist: every one gets 454,
    and no stream starts."""
    srv, fds, rss = warmed_server(serve, attack_bin)
    pair = UdpPair()
    conn = srv.connect()
    try:
        real = setup_udp(conn, srv.url("movie.Mjpeg") + "/track0", pair)
        assert real.status == 200, real
        fig = attack(attack_bin, srv, "sessions", "--count", 20000, "--concurrency", 16,
                     "--seed", 8, "--interval-ms", 5)
        assert fig["failed"] == 0, fig
        assert fig["statuses"] == {"454": 20000}, fig
        check_good_client(fig)
        # ids next to the real one
        sid = real.session
        for forged in {sid.lower(), sid[:-1], sid + "0", "0" + sid, sid[1:], sid.replace(sid[0], "X", 1)} - {sid}:
            for method in ("PLAY", "GET_PARAMETER"):
                r = conn.request(method, srv.url("movie.Mjpeg"), session=forged)
                assert r.status == 454, (forged, r)
        time.sleep(0.3)
        assert pair.rtp == [], "a request that named no session started the real one"
        assert conn.request("TEARDOWN", srv.url("movie.Mjpeg"), session=sid).status == 200
    finally:
        conn.close()
        pair.close()
    check_returns_to_baseline(srv, fds, rss, fig)


# ===========================================================================
# path traversal: the variants test_serve_hostile.py does not send

@pytest.fixture
def jail(tmp_path, make_media, movie):
    """media/ with good.Mjpeg, sub/ (a real directory) and symlinks pointing
    outside: a stream, a directory, and one inside sub/; outside/ with a
    valid secret.Mjpeg."""
    outside = tmp_path / "outside"
    outside.mkdir()
    make_media(outside / "secret.Mjpeg", 7, "--size", "160x120")
    media = tmp_path / "media"
    media.mkdir()
    write_mjpeg(media / "good.Mjpeg", movie.jpegs[:5])
    (media / "sub").mkdir()
    (media / "sub" / "inner.Mjpeg").symlink_to(outside / "secret.Mjpeg")
    (media / "outdir").symlink_to(outside)
    (media / "up.Mjpeg").symlink_to("sub/../../outside/secret.Mjpeg")
    return media, outside


def test_traversal_variants_are_refused(serve, jail):
    media, outside = jail
    srv = serve(media=media, env=SERVER_ENV)
    assert list(srv.streams) == ["good.Mjpeg"], srv.stdout_text()
    base = f"rtsp://127.0.0.1:{srv.port}"
    secret = outside / "secret.Mjpeg"
    names = [
        "%252e%252e/outside/secret.Mjpeg",          # double-encoded
        "%252e%252e%252foutside%252fsecret.Mjpeg",
        "%25252e%25252e/outside/secret.Mjpeg",      # triple
        ".%2e/outside/secret.Mjpeg",                 # half encoded
        "%2e./outside/secret.Mjpeg",
        "%2E%2e%2F..%2f..%2F..%2fetc%2fpasswd",
        "..%5coutside%5csecret.Mjpeg",               # backslashes
        "..\\outside\\secret.Mjpeg",
        "%5c..%5coutside%5csecret.Mjpeg",
        "good.Mjpeg\\..\\..\\outside\\secret.Mjpeg",
        "%c0%ae%c0%ae/outside/secret.Mjpeg",         # overlong UTF-8 dots
        "%c0%af..%c0%afoutside%c0%afsecret.Mjpeg",
        "..;/outside/secret.Mjpeg",
        "good.Mjpeg%00/../../outside/secret.Mjpeg",  # NUL, encoded
        "%00../outside/secret.Mjpeg",
        "good.Mjpeg%2500",
        "outdir/secret.Mjpeg",                       # symlinked directory
        "outdir%2fsecret.Mjpeg",
        "sub/inner.Mjpeg",                           # symlink in a subdirectory
        "sub/../../outside/secret.Mjpeg",
        "up.Mjpeg",                                  # relative link going up
        str(secret).lstrip("/"),                     # absolute, made relative
        "%2f" + str(secret).lstrip("/").replace("/", "%2f"),
        "file:" + str(secret),
    ]
    urls = [f"{base}/{n}" for n in names]
    urls += [f"rtsp://127.0.0.1:{srv.port}{secret}",              # absolute path
             f"rtsp://127.0.0.1:{srv.port}/%2e%2e{secret}",
             f"rtsp://127.0.0.1:{srv.port}/./good.Mjpeg/../../outside/secret.Mjpeg"]
    pair = UdpPair()
    try:
        with srv.connect() as c:
            for url in urls:
                r = c.request("DESCRIBE", url)
                assert r.status in (400, 404), (url, r)
                r = c.request("SETUP", url + "/track0",
                              [("Transport", f"RTP/AVP;unicast;client_port={pair.client_port}")])
                assert r.status in (400, 404), (url, r)
            assert c.request("DESCRIBE", f"{base}/good.Mjpeg").status == 200
        # a raw request line with a NUL byte and one with a backslash path
        for line in (b"DESCRIBE rtsp://127.0.0.1/good.Mjpeg\x00/../../outside/secret.Mjpeg RTSP/1.0",
                     b"DESCRIBE \\..\\outside\\secret.Mjpeg RTSP/1.0"):
            with srv.connect() as c:
                c.send(line + b"\r\nCSeq: 1\r\n\r\n")
                raw = c.read_raw(idle=0.3, timeout=2.0)
                assert raw[:12] in (b"RTSP/1.0 400", b"RTSP/1.0 404"), (line, raw[:200])
        time.sleep(0.2)
        assert pair.rtp == []
    finally:
        pair.close()


# ===========================================================================
# TCP interleaved clients that stop reading

def test_stalled_interleaved_readers_do_not_grow_memory(serve, attack_bin, tmp_path, make_media,
                                                        movie):
    """8 TCP interleaved sessions of a 3 MB/s stream whose clients never
    read: the server's RSS levels off (it skips frames above 1 MiB of unread
    output per connection) while the good client is served for 7 s, and
    everything comes back when they leave."""
    media = tmp_path / "m"
    media.mkdir()
    write_mjpeg(media / "movie.Mjpeg", movie.jpegs)
    make_media(media / "big.Mjpeg", 40, "--size", "640x480", "--pattern", "noise", "--quality", "60")
    (media / "big.Mjpeg.fps").write_text("50")
    srv, fds, rss = warmed_server(serve, attack_bin, "--loop", media=media)
    stalled = []
    try:
        for _ in range(8):
            c = RtspConn(srv.host, srv.port, rcvbuf=4096)
            stalled.append(c)
            s = c.request("SETUP", srv.url("big.Mjpeg") + "/track0",
                          [("Transport", "RTP/AVP/TCP;unicast;interleaved=0-1")])
            assert s.status == 200, s
            assert c.request("PLAY", srv.url("big.Mjpeg"), session=s.session).status == 200
        # from here on nobody reads them
        samples = []
        t0 = time.monotonic()
        tool = subprocess.Popen([attack_bin, "--port", str(srv.port), "--attack", "none",
                                 "--hold", "7"], stdout=subprocess.PIPE, text=True)
        while tool.poll() is None:
            samples.append((time.monotonic() - t0, rss_kb(srv.pid)))
            time.sleep(0.25)
        proc_fig = json.loads(tool.communicate(timeout=10)[0])
        check_good_client(proc_fig)
        assert srv.alive(), srv.describe()
        # the backlogs fill within about 2 s (kernel buffers, then 1 MiB each)
        early = max(kb for t, kb in samples if 3.0 <= t <= 4.0)
        late = max(kb for t, kb in samples if t >= 6.0)
        peak = max(kb for _, kb in samples)
        # Per connection at most 1 MiB of backlog plus one frame and the
        # output buffer's doubling: 8 x 2.5 MiB, more under ASan.
        assert peak - rss <= 8 * 2560 + RSS_SLACK_KB, (rss, samples)
        assert late - early <= 1024 + RSS_SLACK_KB // 4, f"RSS still growing: {samples}"
    finally:
        for c in stalled:
            c.close()
    fig = {"attack": "stalled-interleaved", "good": proc_fig["good"], "server_peak_rss_kb": peak,
           "rss_samples_kb": [kb for _, kb in samples]}
    check_returns_to_baseline(srv, fds, rss, fig)
