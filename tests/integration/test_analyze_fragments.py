"""IP fragment reassembly in `rtsp-harness analyze` (harness/analyze/ipreasm.h).

The student lab sends each whole JPEG in one UDP datagram (PROTOCOL.md
section 1): 7-8 KB for the frames of fixtures/movie.Mjpeg, so a 1500-byte
MTU Ethernet link carries each as 5-6 IPv4 fragments. These captures are
the lab conversation of analyze_cases.lab_case() with every RTP datagram
cut as the sending host cuts it (fragments of MTU 1500, each 12 us after
the previous one), the fragments of each datagram shuffled on the way (the
time column stays in order), and impairments on single fragments. The
analyzer must measure the stream the receiving socket saw: a datagram
counts once all its fragments are in, at the time and frame of the last
one, and a datagram missing one fragment is a lost frame.
"""
import json
import random
import struct

import pytest

import analyze_cases as ac
import pcapgen

MTU = 1500
FRAG_GAP_NS = 12_000  # 1500 bytes at 1 Gbit/s


def fragment_ipv4(ip, mtu=MTU):
    """An IPv4 packet -> its fragments as IP packets (DF cleared, offsets
    and MF set, header checksum recomputed), as a host sending over a link
    of that MTU makes them."""
    ihl = (ip[0] & 15) * 4
    body = ip[ihl:struct.unpack("!H", ip[2:4])[0]]
    chunk = (mtu - ihl) & ~7
    out = []
    for off in range(0, len(body), chunk):
        part = body[off:off + chunk]
        h = bytearray(ip[:ihl])
        struct.pack_into("!HHH", h, 2, ihl + len(part), struct.unpack("!H", ip[4:6])[0],
                         (0x2000 if off + chunk < len(body) else 0) | (off // 8))
        h[10:12] = b"\0\0"
        h[10:12] = struct.pack("!H", pcapgen.checksum(bytes(h)))
        out.append(bytes(h) + part)
    return out


def fragment_ipv6(ip, ident, mtu=MTU):
    """An IPv6 packet without extension headers -> its fragments (RFC 8200
    4.5: fixed header, fragment header, data in multiples of 8 bytes)."""
    nh = ip[6]
    body = ip[40:40 + struct.unpack("!H", ip[4:6])[0]]
    chunk = (mtu - 48) & ~7
    out = []
    for off in range(0, len(body), chunk):
        part = body[off:off + chunk]
        h = bytearray(ip[:40])
        struct.pack_into("!H", h, 4, 8 + len(part))
        h[6] = 44
        frag = struct.pack("!BBHI", nh, 0, off | (1 if off + chunk < len(body) else 0), ident)
        out.append(bytes(h) + frag + part)
    return out


def n_fragments(datagram_len, ip_header=20, mtu=MTU):
    """How many fragments a datagram of that many bytes after the IP header takes."""
    chunk = (mtu - ip_header) & ~7
    return -(-datagram_len // chunk)


def as_packets(pkt, frags):
    """IP fragments -> Packets with pkt's link header, the first at pkt's
    time, then one every FRAG_GAP_NS (each time slot keeps its time, so a
    shuffled list is a reordering network's output)."""
    link, _ = pcapgen.link_unwrap(pkt.data, pcapgen.LINKTYPE_ETHERNET)
    return [pcapgen.Packet(pkt.t_ns + k * FRAG_GAP_NS, link + f) for k, f in enumerate(frags)]


def ip_of(pkt):
    return pcapgen.link_unwrap(pkt.data, pcapgen.LINKTYPE_ETHERNET)[1]


def run_json(run_harness, path, *args):
    proc = run_harness("analyze", path, "--json", *args, timeout=60)
    assert proc.returncode in (0, 1), f"exit {proc.returncode}: {proc.stderr}"
    return json.loads(proc.stdout), proc.returncode


class Fragmenter:
    """A post() for Case.build that fragments the lab RTP datagrams; keeps
    the fragments of each RTP sequence number to find their frame numbers."""

    def __init__(self, seed=7, drop_in=None):
        self.rnd = random.Random(seed)
        self.drop_in = drop_in or {}  # seq -> index (in the shuffled order) of the fragment to leave out
        self.frags = {}               # seq -> its fragment Packets as captured
        self.sizes = {}               # seq -> fragments the datagram was cut into
        self.packets = None           # the capture, in order
        self.case = None              # the analyze_cases.Case being built (set by lab20)

    def __call__(self, packets, pkt_of):
        where = {id(pkt_of(p)): p.seq for p in self.case.rtp}
        out = []
        for p in packets:
            seq = where.get(id(p))
            if seq is None:
                out.append(p)
                continue
            frags = fragment_ipv4(ip_of(p))
            self.sizes[seq] = len(frags)
            self.rnd.shuffle(frags)
            if seq in self.drop_in:
                del frags[self.drop_in[seq]]
            self.frags[seq] = as_packets(p, frags)
            out.extend(self.frags[seq])
        self.packets = sorted(out, key=lambda q: q.t_ns)
        return self.packets

    def frame(self, pkt):
        return next(n for n, q in enumerate(self.packets, 1) if q is pkt)

    def last_frame(self, seq):
        """Frame number of the last fragment of RTP packet seq."""
        return max(self.frame(q) for q in self.frags[seq])


def lab20(tmp_path, name, fragmenter):
    case = ac.lab_case(first_play=20, second_play=0)
    fragmenter.case = case
    path = case.build(tmp_path / name, post=fragmenter)
    return case, path


def test_lab_stream_fragmented_one_fragment_lost(run_harness, tmp_path):
    """20 whole-JPEG datagrams at MTU 1500, fragments shuffled, one fragment
    of frame 7 dropped: 19 packets, 1 lost, the other 19 fixture frames
    whole and decodable, frame 7 never reported as received."""
    frames = pcapgen.read_mjpeg()
    assert all(1472 < len(j) < 65000 for j in frames[:20]), "the fixture's frames need fragments"
    fr = Fragmenter(seed=7, drop_in={7: 2})
    _, path = lab20(tmp_path, "lab-frag.pcap", fr)
    for seq in range(1, 21):
        assert fr.sizes[seq] == n_fragments(8 + 12 + len(ac.lab_jpeg(seq))) >= 5
        assert len(fr.frags[seq]) == fr.sizes[seq] - (seq == 7)
    n_frags = sum(len(v) for v in fr.frags.values())
    data, rc = run_json(run_harness, path, "--decode", "all")
    cap = data["capture"]
    assert cap["packets"] == len(fr.packets)
    assert cap["ip_fragments"] == n_frags
    assert cap["ip_reassembled"] == 19
    assert cap["ip_incomplete"] == 1
    assert cap["ip_evicted"] == 0 and cap["ip_discarded"] == 0
    assert cap["undecoded"] == 0 and cap["truncated"] == 0
    assert data["profile"] == "lab" and rc == 0 and data["verdict"] == "pass"
    [s] = data["streams"]
    assert s["bound_by"] == "setup" and s["session"] == ac.LAB_SESSION
    assert s["src"] == f"{ac.SERVER_IP}:{ac.LAB_SRC_PORTS[0]}"
    assert s["packets"] == 19 and s["expected"] == 20 and s["lost"] == 1
    assert s["loss_rate"] == pytest.approx(0.05)
    assert s["duplicates"] == 0 and s["reordered"] == 0
    assert s["bytes"] == sum(len(ac.lab_jpeg(n)) for n in range(1, 21) if n != 7)
    f = s["frames"]
    assert f["complete"] == 19 and f["incomplete"] == 0
    assert f["decoded"] == 19 and f["undecodable"] == 0
    assert f["numbered"] == {"first": 1, "last": 20, "skipped": 1, "repeated": 0, "out_of_order": 0}
    # Each datagram arrives with its last fragment: the stream's times are those.
    t_last = max(q.t_ns for q in fr.frags[20])
    assert s["last_time"] == pytest.approx(t_last / 1e9, abs=2e-6)
    t_first = max(q.t_ns for q in fr.frags[1])
    assert s["first_time"] == pytest.approx(t_first / 1e9, abs=2e-6)
    # The gap is found where seq 8 came in: the frame of its last fragment.
    [gap] = [x for x in data["findings"] if x["check"] == "rtp.seq.gap"]
    assert gap["frame"] == fr.last_frame(8), (gap, fr.last_frame(8))
    assert "expected seq 7, got 8 (1 lost: 7)" in gap["detail"], gap
    assert any(x["check"] == "frame.skipped" for x in data["findings"])


def test_lab_stream_fragmented_whole_equals_unfragmented(run_harness, tmp_path):
    """Nothing lost: the fragmented capture gives the figures of the same
    capture without fragments (times aside), and the text report says how
    many fragments were put together."""
    fr = Fragmenter(seed=11)
    _, path = lab20(tmp_path, "lab-frag-whole.pcap", fr)
    plain = ac.lab_case(first_play=20, second_play=0).build(tmp_path / "lab-plain.pcap")
    data, rc = run_json(run_harness, path, "--decode", "all")
    ref, ref_rc = run_json(run_harness, plain, "--decode", "all")
    assert rc == ref_rc == 0
    cap = data["capture"]
    assert cap["ip_reassembled"] == 20 and cap["ip_incomplete"] == 0
    assert cap["ip_fragments"] == sum(len(v) for v in fr.frags.values())
    assert ref["capture"]["ip_fragments"] == 0 and ref["capture"]["ip_reassembled"] == 0
    [s] = data["streams"]
    [r] = ref["streams"]
    for key in ("packets", "expected", "lost", "duplicates", "reordered", "bytes", "payload_type"):
        assert s[key] == r[key], key
    assert s["packets"] == 20 and s["lost"] == 0
    assert s["frames"]["complete"] == 20 and s["frames"]["decoded"] == 20
    assert s["frames"]["numbered"] == r["frames"]["numbered"]
    assert sorted(x["check"] for x in data["findings"]) == sorted(x["check"] for x in ref["findings"])
    proc = run_harness("analyze", path, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert f"{cap['ip_fragments']} IP fragments: 20 datagrams reassembled, 0 incomplete" in proc.stdout


def test_ipv6_fragments_duplicate_overlap_and_loss(run_harness, tmp_path):
    """An IPv6 lab-style stream (no RTSP: bound by --rtp-port) in fragment
    headers, shuffled: a duplicated fragment changes nothing (frame 9), a
    fragment overlapping bytes received discards its datagram (frame 12,
    RFC 5722), a missing one loses it (frame 5)."""
    src, dst, sport, dport = "2001:db8::1", "2001:db8::2", 41000, ac.LAB_CLIENT_RTP
    rnd = random.Random(3)
    t0 = pcapgen.ns(ac.T0)
    packets = []
    for n in range(1, 21):
        payload = pcapgen.rtp(n, int(ac.T0), 0, ac.lab_jpeg(n))
        p = pcapgen.udp_frame(t0 + n * 50_000_000, src, dst, sport, dport, payload)
        ip = ip_of(p)
        ident = 0x10000 + n
        frags = fragment_ipv6(ip, ident)
        if n == 12:
            # bytes 1000..1999 right after the first fragment (bytes 0..1447):
            # partly over it, partly new
            body = ip[40:]
            over = bytearray(ip[:40]) + struct.pack("!BBHI", 17, 0, 1000 | 1, ident) + body[1000:2000]
            struct.pack_into("!H", over, 4, 8 + 1000)
            over[6] = 44
            frags.insert(1, bytes(over))
        else:
            rnd.shuffle(frags)
        if n == 9:
            frags.insert(2, frags[1])
        if n == 5:
            del frags[1]
        packets += as_packets(p, frags)
    path = pcapgen.write_pcap(tmp_path / "v6-frag.pcap", packets)
    data, rc = run_json(run_harness, path, "--profile", "lab", "--rtp-port", str(dport), "--decode", "all")
    cap = data["capture"]
    assert cap["ip_fragments"] == len(packets)
    assert cap["ip_reassembled"] == 18
    assert cap["ip_incomplete"] == 1 and cap["ip_discarded"] == 1 and cap["ip_evicted"] == 0
    assert cap["undecoded"] == 0
    assert rc == 0 and data["verdict"] == "pass"
    [s] = data["streams"]
    assert s["bound_by"] == "rtp-port"
    assert s["packets"] == 18 and s["expected"] == 20 and s["lost"] == 2 and s["duplicates"] == 0
    assert s["frames"]["complete"] == 18 and s["frames"]["decoded"] == 18
    assert s["frames"]["undecodable"] == 0 and s["frames"]["incomplete"] == 0
    assert s["frames"]["numbered"] == {"first": 1, "last": 20, "skipped": 2, "repeated": 0,
                                       "out_of_order": 0}
