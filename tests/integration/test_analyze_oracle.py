"""`rtsp-harness analyze` against tshark, the oracle.

Part 1 (independent of the analyzer) proves the oracle: pcapgen's files
are read by tshark as intended, tshark's table is parsed right, tshark's
figures equal a model of its rules (tshark_oracle.model) computed from the
truth of each capture, and the real captures hold what they should.

Part 2 runs `rtsp-harness analyze --json CAPTURE` on every capture of the
set and compares each stream with tshark (or, where tshark is known to be
wrong, with the truth, asserting that tshark is the one that is wrong):

- packets equal; lost equal to tshark's (with duplicates: equal to the
  RFC 3550 A.3 value, tshark's differs by design); max_delta_ms,
  mean_jitter_ms and max_jitter_ms within 0.01 ms of tshark's. tshark's
  rules for these (see tshark_oracle.model) leave packets with the marker
  bit out of min/mean/max, and its mean is a running recurrence, not a
  plain average;
- traps: the 12-byte dummy RTP packet ffmpeg sends is no stream; two
  clients sharing one SSRC from one server port are two streams; a file
  not in time order; RTP interleaved in 64 KB TCP segments; UDP GSO
  datagrams in a loopback capture of the reference server.

Captures are made once per session (in parallel, each in its own network
namespace: captures.py explains why) and the rest are derived from them.
"""
import concurrent.futures
import json
import struct
import subprocess

import pytest

import captures
import pcapgen
import tshark_oracle as oracle

TOL_MS = 0.01          # analyzer vs tshark, ms
PRINT_TOL_MS = 0.0015  # model vs tshark: tshark prints 3 decimals


# ---------------------------------------------------------------------------
# session fixtures: the captures, tshark, the analyzer

@pytest.fixture(scope="session")
def capture_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("captures")


@pytest.fixture(scope="session")
def real_caps(harness_bin, capture_dir):
    """The real captures, made in parallel (sequentially when they must run
    on the host's lo, where they would see each other)."""
    jobs = {
        "ref-udp": lambda: captures.capture_ffmpeg(harness_bin, capture_dir, "udp", seconds=3, name="ref-udp"),
        "ref-tcp": lambda: captures.capture_ffmpeg(harness_bin, capture_dir, "tcp", seconds=3, name="ref-tcp"),
        "ref-udp-gso": lambda: captures.capture_ffmpeg(harness_bin, capture_dir, "udp", seconds=2, gso=True,
                                                       name="ref-udp-gso"),
        "lab": lambda: captures.capture_lab(harness_bin, capture_dir),
        "ffmpeg-record": lambda: captures.capture_ffmpeg_record(capture_dir, seconds=3),
        "tcp-bulk": lambda: captures.capture_tcp_bulk(harness_bin, capture_dir),
    }
    if not captures.netns_available():
        del jobs["ref-udp-gso"]  # the host's lo: every UDP capture is GSO-split already
        return {k: f() for k, f in jobs.items()}
    with concurrent.futures.ThreadPoolExecutor(len(jobs)) as ex:
        futs = {k: ex.submit(f) for k, f in jobs.items()}
        return {k: f.result() for k, f in futs.items()}


@pytest.fixture(scope="session")
def caps(real_caps, capture_dir):
    """Real captures plus those derived from ref-udp and the synthetic ones."""
    base = real_caps["ref-udp"]
    out = dict(real_caps)
    for fn in (captures.derive_loss, captures.derive_reorder, captures.derive_duplicates,
               captures.derive_wrap, captures.derive_jitter, captures.derive_time_swap):
        c = fn(base, capture_dir)
        out[c.name] = c
    out["shared-ssrc"] = captures.synthetic_shared_ssrc(capture_dir / "shared-ssrc.pcap")
    return out


def tshark_ports(cap):
    """-d options for a capture: the receiving RTP port (client's for PLAY,
    server's for RECORD) as RTP, the RTSP port as RTSP."""
    f = cap.facts
    if "rtp_ports" in f:
        return list(f["rtp_ports"]), []
    rtp = []
    for s in f.get("setups", []):
        port = s.get("server_rtp_port") if s.get("record") else s.get("client_rtp_port")
        if port:
            rtp.append(port)
    return rtp, [f["rtsp_port"]] if f.get("rtsp_port") else []


_TSHARK = {}


def tshark_rows(cap):
    if cap.path not in _TSHARK:
        rtp, rtsp = tshark_ports(cap)
        rows, text = oracle.run(cap.path, rtp_ports=rtp, rtsp_ports=rtsp)
        _TSHARK[cap.path] = (rows, text)
    return _TSHARK[cap.path]


def tshark_row(cap, stream):
    rows, text = tshark_rows(cap)
    found = [r for r in rows if norm_key(oracle.key(r)) == norm_key(stream.key)]
    assert len(found) == 1, f"{cap.name}: tshark has no single row for {stream.key}:\n{text}"
    return found[0]


def norm_addr(a):
    host, _, port = a.rpartition(":")
    return host.strip("[]"), int(port)


def norm_key(k):
    src, dst, ssrc = k
    return norm_addr(src), norm_addr(dst), int(ssrc, 16) if isinstance(ssrc, str) else ssrc


_TRUTH = {}


def truth(cap):
    if cap.path not in _TRUTH:
        rtp, _ = tshark_ports(cap)
        _TRUTH[cap.path] = captures.truth_streams(cap.path, rtp_ports=rtp, facts=cap.facts)
    return _TRUTH[cap.path]


_ANALYZE = {}


@pytest.fixture(scope="session")
def analyze(harness_bin):
    """analyze(cap, *extra) -> the JSON report of `rtsp-harness analyze
    --json CAPTURE` (cached per capture and arguments)."""
    def run(cap, *extra):
        key = (str(cap.path), extra)
        if key not in _ANALYZE:
            argv = [harness_bin, "analyze", "--json", *map(str, extra), str(cap.path)]
            p = subprocess.run(argv, capture_output=True, text=True, timeout=120)
            assert p.returncode in (0, 1), (f"{' '.join(argv)} exited {p.returncode} (0/1 expected: a "
                                            f"usable capture)\nstderr: {p.stderr[-3000:]}")
            try:
                report = json.loads(p.stdout)
            except ValueError as e:
                raise AssertionError(f"{' '.join(argv)}: stdout is not JSON ({e}): {p.stdout[:1000]!r}")
            assert report.get("schema") == "rtsp-harness/analyze" and report.get("version") == 1, report
            assert (p.returncode == 0) == (report.get("verdict") == "pass"), \
                f"exit {p.returncode} with verdict {report.get('verdict')!r}"
            _ANALYZE[key] = report
        return _ANALYZE[key]
    return run


def analyzer_streams(report):
    return {norm_key((s["src"], s["dst"], s["ssrc"])): s for s in report["streams"]}


def describe_streams(report):
    return "\n".join(f"  {s.get('transport')} {s['src']} -> {s['dst']} ssrc {s['ssrc']} pt {s.get('payload_type')} "
                     f"packets {s.get('packets')} lost {s.get('lost')}" for s in report["streams"])


def model_of(cap, stream):
    return captures.stream_model(stream, captures.first_time_ns(cap.path))


# ---------------------------------------------------------------------------
# Part 1a: pcapgen and the oracle on synthetic captures whose truth we know

def synthetic_udp(n=1000, src="10.0.0.1", dst="10.0.0.2", ssrc=0x11223344, **kw):
    specs = pcapgen.jpeg_stream(n_packets=n, seq0=kw.pop("seq0", 1000))
    return pcapgen.rtp_packets(specs, src, dst, 20000, 5000, ssrc, **kw)


def seqs_of(packets, lt=pcapgen.LINKTYPE_ETHERNET):
    return [pcapgen.parse_rtp(pcapgen.decode(p, lt).payload).seq for p in packets]


def bad_checksums(path):
    """Frames tshark finds with a bad IPv4/TCP/UDP checksum, with TCP analysis
    flags (retransmission, out-of-order, ACKed unseen segment, ...) or any
    expert warning."""
    p = subprocess.run([oracle.TSHARK, "-n", "-r", str(path), "-o", "ip.check_checksum:TRUE",
                        "-o", "tcp.check_checksum:TRUE", "-o", "udp.check_checksum:TRUE", "-Y",
                        "ip.checksum.status==0 || tcp.checksum.status==0 || udp.checksum.status==0 "
                        "|| tcp.analysis.flags || _ws.expert.severity >= warning"],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    return p.stdout.strip()


def test_rfc3550_loss_reference_values():
    assert pcapgen.rfc3550_loss(range(100, 200))["lost"] == 0
    assert pcapgen.rfc3550_loss([1, 2, 4, 5])["lost"] == 1
    assert pcapgen.rfc3550_loss([1, 2, 2, 3, 3])["lost"] == -2
    assert pcapgen.rfc3550_loss([1, 3, 2, 4])["lost"] == 0
    r = pcapgen.rfc3550_loss([65534, 65535, 0, 2])
    assert (r["lost"], r["cycles"], r["expected"]) == (1, 65536, 5)
    # a late packet does not move max_seq: loss counted against the highest
    assert pcapgen.rfc3550_loss([10, 11, 12, 13, 11])["lost"] == -1


LINK_VARIANTS = {
    "pcap-us-ethernet": dict(linktype=pcapgen.LINKTYPE_ETHERNET, fmt="pcap"),
    "pcap-ns-ethernet-vlan": dict(linktype=pcapgen.LINKTYPE_ETHERNET, fmt="pcap-ns", vlan=42),
    "pcapng-us-sll": dict(linktype=pcapgen.LINKTYPE_LINUX_SLL, fmt="pcapng"),
    "pcapng-ns-sll2": dict(linktype=pcapgen.LINKTYPE_LINUX_SLL2, fmt="pcapng-ns"),
    "pcap-raw-ipv4": dict(linktype=pcapgen.LINKTYPE_RAW, fmt="pcap"),
    "pcap-raw-ipv6": dict(linktype=pcapgen.LINKTYPE_RAW, fmt="pcap", v6=True),
    "pcap-null-ipv4": dict(linktype=pcapgen.LINKTYPE_NULL, fmt="pcap"),
    "pcapng-loop-ipv6": dict(linktype=pcapgen.LINKTYPE_LOOP, fmt="pcapng", v6=True),
    "pcap-ethernet-ipv4-zero-udp-csum": dict(linktype=pcapgen.LINKTYPE_ETHERNET, fmt="pcap", csum=False),
}


def write_variant(path, packets, linktype, fmt):
    if fmt.startswith("pcapng"):
        return pcapgen.write_pcapng(path, packets, linktype, tsresol=9 if fmt.endswith("-ns") else 6)
    return pcapgen.write_pcap(path, packets, linktype, nanosecond=fmt.endswith("-ns"))


@pytest.mark.parametrize("variant", list(LINK_VARIANTS))
def test_pcapgen_link_types_read_by_tshark(tmp_path, variant):
    """1000 RTP/JPEG packets, 7 dropped, in every file format and link type:
    tshark finds one stream of 993 packets with 7 lost; checksums are valid;
    read_capture gives the packets back."""
    v = LINK_VARIANTS[variant]
    src, dst = ("fd00::1", "fd00::2") if v.get("v6") else ("10.0.0.1", "10.0.0.2")
    packets = synthetic_udp(src=src, dst=dst, linktype=v["linktype"], csum=v.get("csum", True))
    if v.get("vlan"):
        packets = [p.copy(data=pcapgen.ethernet(pcapgen.link_unwrap(p.data, v["linktype"])[1], pcapgen.ETH_P_IP,
                                                vlan=v["vlan"])) for p in packets]
    packets = pcapgen.drop(packets, [5, 100, 101, 102, 500, 800, 998])
    path = write_variant(tmp_path / f"{variant}.cap", packets, v["linktype"], v["fmt"])
    rows, text = oracle.run(path, rtp_ports=[5000])
    assert len(rows) == 1, text
    r = rows[0]
    assert (r["src"], r["src_port"], r["dst"], r["dst_port"]) == (src, 20000, dst, 5000), text
    assert (r["ssrc"], r["payload"], r["packets"], r["lost"]) == (0x11223344, "JPEG", 993, 7), text
    assert r["problems"], text
    back = pcapgen.read_capture(path)
    assert back.linktype == v["linktype"] and len(back.packets) == 993
    assert [p.data for p in back.packets] == [p.data for p in packets]
    want_ns = [p.t_ns if v["fmt"].endswith("-ns") else p.t_ns // 1000 * 1000 for p in packets]
    assert [p.t_ns for p in back.packets] == want_ns
    assert bad_checksums(path) == ""
    if v.get("csum", True):
        assert all(pcapgen.udp_checksum_ok(p, v["linktype"]) for p in packets)
    else:
        assert all(pcapgen.udp_checksum_ok(p, v["linktype"]) is None for p in packets)


def test_pcapgen_wrong_checksum_is_detected(tmp_path):
    """The checksum check above can fail: a deliberately wrong UDP checksum."""
    packets = synthetic_udp(n=20, csum=0x1234)
    path = pcapgen.write_pcap(tmp_path / "bad.pcap", packets)
    assert bad_checksums(path) != ""
    assert not any(pcapgen.udp_checksum_ok(p, pcapgen.LINKTYPE_ETHERNET) for p in packets)


def test_rtp_builder_fields_and_rfc2435_payload():
    jpeg = pcapgen.read_mjpeg()[0]
    parts = pcapgen.jpeg_parts(jpeg)
    assert (parts.width, parts.height, parts.type, len(parts.qtables)) == (384, 288, 1, 128)
    pls = pcapgen.jpeg_rtp_payloads(jpeg)
    assert all(len(p) + 12 <= 1372 for p in pls) and len(pls) > 1
    # offset 0: 8-byte header, Q=255, Q table header (MBZ, precision 0, length 128), tables
    off0 = pls[0]
    assert off0[1:4] == b"\0\0\0" and off0[5] == 255 and off0[6:8] == bytes([48, 36])
    assert off0[8:12] == b"\0\0\0\x80" and off0[12:140] == parts.qtables
    scan = off0[140:] + b"".join(p[8:] for p in pls[1:])
    assert scan == parts.scan
    assert struct.unpack("!I", b"\0" + pls[1][1:4])[0] == len(off0) - 140
    pkt = pcapgen.rtp(65535, 0xFFFFFFFF, 0xCAFEBABE, b"abc", pt=96, marker=True, padding=4,
                      ext=(0xBEDE, b"\1\2\3"), csrcs=(1, 2))
    h = pcapgen.parse_rtp(pkt)
    assert (h.version, h.padding, h.ext, h.cc, h.marker, h.pt, h.seq, h.ts, h.ssrc, h.payload) == \
        (2, True, True, 2, True, 96, 65535, 0xFFFFFFFF, 0xCAFEBABE, b"abc")
    assert len(pkt) == 12 + 8 + 4 + 4 + 3 + 4


SYNTHETIC = {
    # name: (impairment, tshark packets, tshark lost, RFC 3550 A.3 lost)
    "clean": (lambda p: p, 1000, 0, 0),
    "drop-7": (lambda p: pcapgen.drop(p, [5, 100, 101, 102, 500, 800, 998]), 993, 7, 7),
    "duplicate-3": (lambda p: pcapgen.duplicate(p, [10, 20, 30]), 1003, -3, -3),
    "swap-middle": (lambda p: pcapgen.swap(p, 50, 51), 1000, 0, 0),
    # tshark counts against the LAST sequence number seen, RFC 3550 against the highest
    "swap-last-two": (lambda p: pcapgen.swap(p, 998, 999), 1000, -1, 0),
    "wrap": (lambda p: pcapgen.seq_offset(p, pcapgen.LINKTYPE_ETHERNET, lambda d: True, 65536 - 1000 - 500), 1000, 0, 0),
    "wrap-drop-across": (lambda p: pcapgen.drop(pcapgen.seq_offset(p, pcapgen.LINKTYPE_ETHERNET, lambda d: True,
                                                                   65536 - 1000 - 500), [499, 500, 501]), 997, 3, 3),
    "jitter-5ms": (lambda p: pcapgen.jitter(p, 5_000_000, seed=3), 1000, 0, 0),
    "time-swap": (lambda p: pcapgen.swap_times(p, 200, 203), 1000, 0, 0),
}


@pytest.mark.parametrize("case", list(SYNTHETIC))
def test_oracle_on_synthetic_truth(tmp_path, case):
    """tshark's packets and loss for impairments whose result we know, and
    tshark_oracle.model gives tshark's every figure from the packets."""
    fn, pkts, lost, a3 = SYNTHETIC[case]
    packets = fn(synthetic_udp())
    path = pcapgen.write_pcap(tmp_path / f"{case}.pcap", packets)
    rows, text = oracle.run(path, rtp_ports=[5000])
    assert len(rows) == 1, text
    r = rows[0]
    assert (r["packets"], r["lost"]) == (pkts, lost), text
    assert pcapgen.rfc3550_loss(seqs_of(packets))["lost"] == a3
    s = captures.truth_streams(path, rtp_ports=[5000], facts={})[0]
    assert s.packets == pkts
    m = captures.stream_model(s, packets[0].t_ns)
    assert_model_matches(m, r, text)


def assert_model_matches(m, row, text=""):
    assert (m["packets"], m["lost"]) == (row["packets"], row["lost"]), text
    for k in ("min_delta_ms", "mean_delta_ms", "max_delta_ms", "min_jitter_ms", "mean_jitter_ms", "max_jitter_ms"):
        assert abs(m[k] - row[k]) <= PRINT_TOL_MS, f"{k}: model {m[k]:.4f}, tshark {row[k]:.3f}\n{text}"


def test_oracle_parser_negative_loss_and_spaces():
    text = """========================= RTP Streams ========================
   Start time      End time     Src IP addr  Port    Dest IP addr  Port       SSRC          Payload  Pkts         Lost   Min Delta(ms)  Mean Delta(ms)   Max Delta(ms)  Min Jitter(ms) Mean Jitter(ms)  Max Jitter(ms) Problems?
     0.000000      8.350100        10.0.0.1 20000        10.0.0.2  5000 0x11223344             JPEG  1003    -3 (-0.3%)           0.001           9.947          49.920           0.001           0.033           0.036 X
     0.001843      0.001843       fd00::1  5002          fd00::2 36388 0x00000000 MPEG-II transport streams     1     0 (0.0%)          -1.000           0.000           0.000          -1.000           0.000           0.000 
==============================================================
"""
    rows = oracle.parse(text)
    assert len(rows) == 2
    a, b = rows
    assert (a["lost"], a["lost_pct"], a["packets"], a["problems"], a["ssrc_hex"]) == (-3, -0.3, 1003, True, "0x11223344")
    assert (a["max_delta_ms"], a["mean_jitter_ms"], a["max_jitter_ms"]) == (49.92, 0.033, 0.036)
    assert (b["payload"], b["src"], b["dst_port"], b["min_delta_ms"], b["problems"]) == \
        ("MPEG-II transport streams", "fd00::1", 36388, -1.0, False)
    assert oracle.key(b) == ("fd00::1:5002", "fd00::2:36388", 0)
    with pytest.raises(ValueError):
        oracle.parse(text.replace("1003    -3 (-0.3%)", "1003 lots"))


def interleaved_capture(path, segment):
    """An RTSP session over TCP (pcapgen.TcpConversation) with 237 RTP
    packets interleaved on channel 0: one TCP segment per `$` frame
    (segment=None) or 10 frames at a time cut in `segment`-byte segments."""
    specs = pcapgen.jpeg_stream(n_frames=40, seq0=100)
    t0 = specs[0].t - 10_000_000
    conv = pcapgen.TcpConversation(("10.0.0.2", 40000), ("10.0.0.1", 8554))
    url = "rtsp://10.0.0.1:8554/m"
    conv.handshake(t0)
    conv.send(t0 + 1_000_000, "c", f"SETUP {url}/track0 RTSP/1.0\r\nCSeq: 1\r\n"
              "Transport: RTP/AVP/TCP;unicast;interleaved=0-1\r\n\r\n".encode())
    conv.send(t0 + 2_000_000, "s", b"RTSP/1.0 200 OK\r\nCSeq: 1\r\nTransport: RTP/AVP/TCP;unicast;"
              b"interleaved=0-1;ssrc=01020304\r\nSession: 12345678\r\n\r\n")
    conv.send(t0 + 3_000_000, "c", f"PLAY {url} RTSP/1.0\r\nCSeq: 2\r\nSession: 12345678\r\n\r\n".encode())
    conv.send(t0 + 4_000_000, "s", b"RTSP/1.0 200 OK\r\nCSeq: 2\r\nSession: 12345678\r\n\r\n")
    buf, frames = b"", 0
    for s in specs:
        frame = pcapgen.interleaved(0, pcapgen.rtp(s.seq, s.ts, 0x01020304, s.payload, marker=s.marker))
        if segment is None:
            conv.send(s.t, "s", frame, ack=False)
            continue
        buf += frame
        frames += s.marker
        if s.marker and frames % 10 == 0:
            conv.send(s.t, "s", buf, segment=segment)
            buf = b""
    conv.close(specs[-1].t + 100_000_000)
    pcapgen.write_pcap(path, conv.packets)
    return specs


@pytest.mark.parametrize("segment", [None, 1400, 65000])
def test_tcp_conversation_and_tshark_interleaved(tmp_path, segment):
    """pcapgen's TCP conversations are clean (no checksum or seq/ack
    problem for tshark) and tshark decodes the interleaved RTP; with many
    `$` frames in one 65000-byte segment tshark's loss goes wrong (PROTOCOL
    section 9) while the truth stays 0."""
    path = tmp_path / f"tcp-{segment}.pcap"
    specs = interleaved_capture(path, segment)
    assert bad_checksums(path) == ""
    rows, text = oracle.run(path)
    assert len(rows) == 1, text
    r = rows[0]
    assert (r["src_port"], r["dst_port"], r["ssrc"], r["packets"]) == (8554, 40000, 0x01020304, len(specs)), text
    s = captures.truth_streams(path, facts={"setups": [{"channel": 0}]})
    assert len(s) == 1 and s[0].packets == len(specs) and s[0].loss()["lost"] == 0
    assert s[0].seqs == [x.seq for x in specs]
    if segment == 65000:
        assert r["lost"] > 1000, text
    else:
        assert r["lost"] == 0, text


# ---------------------------------------------------------------------------
# Part 1b: the real captures and the oracle on them

REAL = ["ref-udp", "ref-tcp", "lab", "ffmpeg-record", "tcp-bulk"]
UDP_ORACLE = ["ref-udp", "lab", "ffmpeg-record", "loss", "reorder", "duplicates", "wrap", "jitter", "shared-ssrc"]


@pytest.mark.parametrize("name", REAL)
def test_real_capture_holds_one_clean_stream(caps, name):
    """Each real capture: tcpdump dropped nothing; one RTP stream from the
    sender to the receiver's port, no loss (loopback), a frame count that
    fits the client's run, nothing above the 1400-byte MTU for RFC 2435
    (the GSO datagrams are really gone)."""
    cap = caps[name]
    assert cap.facts["tcpdump"]["dropped"] == 0
    streams = truth(cap)
    assert len(streams) == 1, f"{name}: {streams} {cap.facts}"
    s = streams[0]
    loss = s.loss()
    assert loss["lost"] == 0 and loss["expected"] == s.packets, loss
    assert all(pt == 26 for pt in s.pts)
    f = cap.facts
    if f["sender"] == "client":  # RECORD: to the server's port
        assert norm_addr(s.key[1])[1] == f["server_rtp_port"]
    elif s.transport == "tcp-interleaved":
        assert norm_addr(s.key[0])[1] == f["rtsp_port"]
    elif name == "lab":  # lab replies name no server port: to the client's port
        assert norm_addr(s.key[1])[1] == f["client_rtp_port"] == f["lab_rtp_port"]
    else:
        assert norm_addr(s.key[0])[1] == f["server_rtp_port"]
        assert norm_addr(s.key[1])[1] == f["client_rtp_port"]
    if f.get("expected_frames"):
        assert f["expected_frames"] <= sum(s.markers) <= f["expected_frames"] + 12, (sum(s.markers), f)
    if name == "lab":
        assert s.packets == sum(s.markers) == f["lab_summary"]["packets_total"]
        assert s.seqs == list(range(1, s.packets + 1))
        assert f["lab"] is True
    elif s.transport == "udp" and name != "ffmpeg-record":
        assert max(s.sizes) + 12 <= 1372, max(s.sizes)


def test_lo_capture_of_reference_server_holds_gso_datagrams(caps):
    """The trap behind captures.py's namespaces: on a normal lo the capture
    holds one UDP datagram per frame (several RTP packets back to back);
    tshark counts those as single packets with ~80 % loss. split_gso
    restores the wire's packets: contiguous sequence numbers, no loss."""
    cap = caps.get("ref-udp-gso")
    if cap is None:
        pytest.fail("no network namespace: the host's lo capture is GSO-split already")
    raw = pcapgen.read_capture(cap.path)
    port = cap.facts["client_rtp_port"]
    big = [p for p in raw.packets if (d := pcapgen.decode(p, raw.linktype)) and d.proto == 17
           and d.dport == port and len(d.payload) > 1372]
    assert len(big) >= 30
    rows, text = tshark_rows(cap)
    r = [r for r in rows if r["dst_port"] == port and r["payload"] == "JPEG"]
    assert len(r) == 1 and r[0]["lost"] > r[0]["packets"], text
    split, n = pcapgen.split_gso(raw.packets, raw.linktype, select=lambda d: d.dport == port)
    assert n == len(big)
    path = pcapgen.write_pcap(cap.path.with_name("split.pcap"), split, raw.linktype)
    s = captures.truth_streams(path, facts=cap.facts)[0]
    assert s.loss()["lost"] == 0 and s.packets > 4 * len(big)
    rows2, text2 = oracle.run(path, rtp_ports=[port])
    r2 = [r for r in rows2 if r["dst_port"] == port and r["payload"] == "JPEG"][0]
    assert (r2["packets"], r2["lost"]) == (s.packets, 0), text2


@pytest.mark.parametrize("name", UDP_ORACLE)
def test_oracle_model_matches_tshark(caps, name):
    """For every UDP capture of the set, tshark_oracle.model over the truth
    (packets read from the file by Python) gives tshark's row exactly:
    packets, lost, min/mean/max delta and jitter. This pins down what
    tshark's figures mean; Part 2 holds the analyzer to them."""
    cap = caps[name]
    streams = truth(cap)
    assert streams
    rows, text = tshark_rows(cap)
    for s in streams:
        assert_model_matches(model_of(cap, s), tshark_row(cap, s), text)


def test_tshark_needs_d_for_arbitrary_ports(caps):
    """Without -d (and without RTSP on 554/8554/7236) tshark sees no RTP in
    the lab capture; with -d udp.port==N,rtp it does; the heuristic is not
    needed."""
    cap = caps["lab"]
    rows, text = oracle.run(cap.path)
    assert rows == [], text
    rows, text = oracle.run(cap.path, rtp_ports=[cap.facts["client_rtp_port"]])
    assert len(rows) == 1 and rows[0]["packets"] == truth(cap)[0].packets, text


def test_tshark_reports_the_dummy_packet(caps):
    """ffmpeg sends one 12-byte RTP packet (PT 0) from its RTP port to the
    server's after SETUP; -d on the client port makes tshark list it as a
    one-packet stream. The truth leaves it out."""
    cap = caps["ref-udp"]
    f = cap.facts
    rows, text = tshark_rows(cap)
    dummy = [r for r in rows if r["src_port"] == f["client_rtp_port"] and r["dst_port"] == f["server_rtp_port"]]
    assert len(dummy) == 1 and dummy[0]["packets"] == 1 and dummy[0]["payload"] == "g711U", text
    raw = pcapgen.read_capture(cap.path)
    d = [d for p in raw.packets if (d := pcapgen.decode(p, raw.linktype)) and d.proto == 17
         and d.sport == f["client_rtp_port"] and d.dport == f["server_rtp_port"]]
    assert len(d) == 1 and len(d[0].payload) == 12 and d[0].payload[1] & 0x7F == 0
    assert len(truth(cap)) == 1


@pytest.mark.parametrize("name", ["ref-tcp", "tcp-bulk"])
def test_tshark_is_wrong_on_interleaved_rtp(caps, name):
    """RTP interleaved on a loopback TCP connection: tshark counts the
    packets but its loss is absurd (a `$` frame completed by a later segment
    is handed over after the ones inside that segment, so the sequence
    seems to go back). The truth (reassembled byte stream) has no loss."""
    cap = caps[name]
    s = truth(cap)[0]
    assert s.transport == "tcp-interleaved" and s.loss()["lost"] == 0
    assert s.seqs == [(s.seqs[0] + i) & 0xFFFF for i in range(s.packets)]
    r = tshark_row(cap, s)
    assert r["packets"] == s.packets
    assert r["lost"] != 0 and r["problems"], r["line"]


def test_tcp_bulk_capture_has_64k_segments(caps):
    cap = caps["tcp-bulk"]
    raw = pcapgen.read_capture(cap.path)
    port = cap.facts["rtsp_port"]
    sizes = [len(d.payload) for p in raw.packets if (d := pcapgen.decode(p, raw.linktype))
             and d.proto == 6 and d.sport == port]
    assert max(sizes) >= 32768, sorted(sizes)[-5:]
    per_segment = collections_counter(captures.truth_streams(cap.path, facts=cap.facts)[0].frames)
    assert max(per_segment.values()) >= 20


def collections_counter(items):
    out = {}
    for x in items:
        out[x] = out.get(x, 0) + 1
    return out


def test_derived_captures_truth(caps):
    """What each derived capture holds, from the file itself."""
    base = truth(caps["ref-udp"])[0]
    loss = truth(caps["loss"])[0]
    assert loss.packets == base.packets - 7 and loss.loss()["lost"] == 7
    reorder = truth(caps["reorder"])[0]
    assert sorted(reorder.seqs) == sorted(base.seqs) and reorder.seqs != base.seqs
    assert reorder.seqs[-1] == base.seqs[-1] and reorder.loss()["lost"] == 0
    dup = truth(caps["duplicates"])[0]
    f = caps["duplicates"].facts
    assert dup.packets == base.packets + f["duplicates"]
    assert dup.loss()["lost"] == f["truth_lost"] == -f["duplicates"]
    assert tshark_row(caps["duplicates"], dup)["lost"] == f["tshark_lost"] != f["truth_lost"]
    wrap = truth(caps["wrap"])[0]
    k = caps["wrap"].facts["wrap_at"]
    assert wrap.seqs[k - 1:k + 1] == [65535, 0] and wrap.loss()["cycles"] == 65536 and wrap.loss()["lost"] == 0
    raw = pcapgen.read_capture(caps["wrap"].path)
    lt = raw.linktype
    port = caps["wrap"].facts["client_rtp_port"]
    assert all(pcapgen.udp_checksum_ok(p, lt) is None for p in raw.packets
               if (d := pcapgen.decode(p, lt)) and d.proto == 17 and d.dport == port and len(d.payload) > 12)
    ts = [p.t_ns for p in pcapgen.read_capture(caps["time-swap"].path).packets]
    assert ts != sorted(ts)
    jit = truth(caps["jitter"])[0]
    mean_j = lambda s: sum(s.jitter_ms()) / s.packets  # noqa: E731
    assert mean_j(jit) > mean_j(base) + 0.3, (mean_j(jit), mean_j(base))
    shift = [b - a for a, b in zip(base.t_ns, jit.t_ns)]
    assert jit.seqs == base.seqs and all(0 <= d < 10_000_000 for d in shift) and max(shift) > 5_000_000


# ---------------------------------------------------------------------------
# Part 2: the analyzer

AGREEMENT = ["ref-udp", "loss", "reorder", "duplicates", "wrap", "jitter", "lab", "ffmpeg-record"]


def analyze_args(cap):
    return [a for p in cap.facts.get("rtp_ports", []) for a in ("--rtp-port", p)]


def check_stream(name, a, want, lost, what):
    """One analyzer stream against the reference figures `want` (a tshark
    row or the model over the truth)."""
    errors = []
    if a.get("packets") != want["packets"]:
        errors.append(f"packets {a.get('packets')} != {what} {want['packets']}")
    if a.get("lost") != lost:
        errors.append(f"lost {a.get('lost')} != {lost}")
    for k in ("max_delta_ms", "mean_jitter_ms", "max_jitter_ms"):
        v = a.get(k)
        if not isinstance(v, (int, float)) or abs(v - want[k]) > TOL_MS:
            errors.append(f"{k} {v} vs {what} {want[k]:.3f} (tolerance {TOL_MS} ms)")
    assert not errors, f"{name} {a['src']} -> {a['dst']} ssrc {a['ssrc']}: " + "; ".join(errors)


@pytest.mark.parametrize("name", AGREEMENT)
def test_analyze_agrees_with_tshark(caps, analyze, name):
    """Per stream: packets equal, lost equal to tshark's (duplicates: equal to
    RFC 3550 A.3, tshark's value differs by design), max delta and mean/max
    jitter within 0.01 ms of tshark's; no stream the truth does not have."""
    cap = caps[name]
    report = analyze(cap, *analyze_args(cap))
    got = analyzer_streams(report)
    streams = truth(cap)
    assert set(got) == {norm_key(s.key) for s in streams}, \
        f"{name}: analyzer streams\n{describe_streams(report)}\ntruth {streams}"
    for s in streams:
        row = tshark_row(cap, s)
        a = got[norm_key(s.key)]
        if name == "duplicates":
            assert row["lost"] == cap.facts["tshark_lost"]  # documented: tshark -9, A.3 -4
            lost = s.loss()["lost"]
        else:
            lost = row["lost"]
            assert lost == s.loss()["lost"]
        if name == "lab":
            # Documented difference (docs/checks.md): tshark leaves marker
            # packets out of its delta figures, and every lab packet carries
            # the marker, so tshark prints a max delta of 0. The analyzer
            # reports the real largest gap between packets.
            assert row["max_delta_ms"] == 0.0
            row = dict(row, max_delta_ms=max(s.deltas_ms()))
        check_stream(name, a, row, lost, "tshark")
        assert a.get("transport") == "udp"
        assert a.get("payload_type") == 26


def test_analyze_tcp_interleaved_against_truth(caps, analyze):
    """ffmpeg over TCP: tshark's loss is wrong here (see Part 1), so the
    analyzer is held to the truth: the packets of the reassembled byte
    stream, no loss, and tshark's delta/jitter rules applied to them in
    byte-stream order."""
    cap = caps["ref-tcp"]
    report = analyze(cap)
    got = analyzer_streams(report)
    s = truth(cap)[0]
    assert set(got) == {norm_key(s.key)}, describe_streams(report)
    a = got[norm_key(s.key)]
    check_stream("ref-tcp", a, model_of(cap, s), 0, "truth")
    assert a.get("transport") == "tcp-interleaved" and a.get("channel") == cap.facts["channel"]
    assert tshark_row(cap, s)["lost"] != 0  # tshark is the one that is wrong


def test_trap_dummy_rtp_packet_is_not_a_stream(caps, analyze):
    """ffmpeg's 12-byte PT 0 packet to the server's RTP port is no stream."""
    cap = caps["ref-udp"]
    report = analyze(cap)
    f = cap.facts
    bad = [s for s in report["streams"]
           if norm_addr(s["dst"])[1] == f["server_rtp_port"] or s.get("payload_type") == 0]
    assert not bad, describe_streams(report)
    assert len(report["streams"]) == 1, describe_streams(report)


def test_trap_shared_ssrc_two_streams(caps, analyze):
    """Two clients, one server port, one SSRC, the same sequence numbers:
    two streams keyed by 5-tuple, each with its own packets and loss."""
    cap = caps["shared-ssrc"]
    report = analyze(cap, *analyze_args(cap))
    got = analyzer_streams(report)
    want = cap.facts["streams"]
    assert len(got) == 2, describe_streams(report)
    for key, w in want.items():
        src, dst = key.split()
        a = got.get(norm_key((src, dst, cap.facts["ssrc"])))
        assert a is not None, f"no stream {key}\n{describe_streams(report)}"
        assert (a["packets"], a["lost"], a.get("duplicates", 0)) == (w["packets"], w["lost"], 0), a
    for s in truth(cap):
        check_stream("shared-ssrc", got[norm_key(s.key)], tshark_row(cap, s), tshark_row(cap, s)["lost"], "tshark")


def test_trap_capture_not_in_time_order(caps, analyze):
    """Timestamps of two RTP packets exchanged (the file goes back in time
    twice): the capture is read whole, the stream keeps every packet, no
    loss, first_time <= last_time."""
    cap = caps["time-swap"]
    report = analyze(cap)
    raw = pcapgen.read_capture(cap.path)
    assert report["capture"]["packets"] == len(raw.packets)
    s = truth(cap)[0]
    got = analyzer_streams(report)
    assert set(got) == {norm_key(s.key)}, describe_streams(report)
    a = got[norm_key(s.key)]
    assert (a["packets"], a["lost"]) == (s.packets, 0)
    assert a["first_time"] <= a["last_time"]
    assert report["capture"]["first_time"] <= report["capture"]["last_time"]


def test_trap_rtp_in_64k_tcp_segments(caps, analyze):
    """RTP interleaved in TCP segments of tens of KB on lo: 0 loss and every
    packet, where tshark reports heavy loss."""
    cap = caps["tcp-bulk"]
    report = analyze(cap)
    got = analyzer_streams(report)
    s = truth(cap)[0]
    assert set(got) == {norm_key(s.key)}, describe_streams(report)
    check_stream("tcp-bulk", got[norm_key(s.key)], model_of(cap, s), 0, "truth")
    r = tshark_row(cap, s)
    assert r["lost"] > 1000, r["line"]


def test_trap_udp_gso_datagrams_on_lo(caps, analyze):
    """A plain loopback capture of `rtsp-harness serve` over UDP holds one
    GSO datagram per frame (several RTP packets back to back). The analyzer
    must count the RTP packets inside, not the datagrams: packets as after
    pcapgen.split_gso, no loss (tshark: ~80 % loss)."""
    cap = caps.get("ref-udp-gso")
    if cap is None:
        pytest.fail("no network namespace: no raw GSO capture")
    raw = pcapgen.read_capture(cap.path)
    port = cap.facts["client_rtp_port"]
    split, _ = pcapgen.split_gso(raw.packets, raw.linktype, select=lambda d: d.dport == port)
    path = pcapgen.write_pcap(cap.path.with_name("split-for-truth.pcap"), split, raw.linktype)
    s = captures.truth_streams(path, facts=cap.facts)[0]
    report = analyze(cap)
    got = analyzer_streams(report)
    assert set(got) == {norm_key(s.key)}, describe_streams(report)
    a = got[norm_key(s.key)]
    assert (a["packets"], a["lost"]) == (s.packets, 0), a
