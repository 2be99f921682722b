"""pcapgen: a small standard-library pcap/pcapng writer, reader and packet
builder for the analyzer tests (tests/integration/test_analyze_oracle.py).

Packets are `Packet(t_ns, data)`: a time in integer nanoseconds since the
epoch and the link-layer bytes. Everything else builds or rewrites those.

- Files: write_pcap (microsecond or nanosecond magic), write_pcapng (SHB,
  IDB with if_tsresol, EPB), read_capture (both formats, for rewriting real
  captures made by tcpdump).
- Link types: Ethernet (optional 802.1Q VLAN tag), Linux SLL and SLL2, raw
  IPv4/IPv6 (LINKTYPE_RAW), BSD null and OpenBSD loop. link_wrap() puts an
  IP packet into any of them, link_unwrap() takes it out again.
- IPv4/IPv6 with UDP or TCP, lengths and checksums right (or a UDP checksum
  zeroed or deliberately wrong on request).
- RTP (all header fields, CSRCs, extension, padding) and RFC 2435 payloads
  built from the real JPEGs of fixtures/movie.Mjpeg.
- RTSP over TCP: TcpConversation emits SYN, SYN-ACK, ACK, data both ways
  with correct seq/ack, FIN; interleaved() builds `$` frames.
- Impairments on lists of packets: drop, swap, delay, duplicate, RTP seq
  offset (to force a 16-bit wrap), time jitter, timestamp swap.
- split_gso: cuts the UDP GSO super-datagrams a Linux loopback capture
  holds (the kernel segments them only after the capture point on `lo`)
  into the RTP packets that a wire would carry.
- rfc3550_loss: RFC 3550 A.1/A.3 sequence accounting over a list of seqs.
"""
import collections
import ipaddress
import pathlib
import random
import struct

ROOT = pathlib.Path(__file__).resolve().parents[2]
MOVIE = ROOT / "fixtures" / "movie.Mjpeg"

# link types (https://www.tcpdump.org/linktypes.html)
LINKTYPE_NULL = 0
LINKTYPE_ETHERNET = 1
LINKTYPE_RAW = 101
LINKTYPE_LOOP = 108
LINKTYPE_LINUX_SLL = 113
LINKTYPE_LINUX_SLL2 = 276

ETH_P_IP = 0x0800
ETH_P_IPV6 = 0x86DD
ETH_P_8021Q = 0x8100

PROTO_TCP = 6
PROTO_UDP = 17

PCAP_MAGIC_US = 0xA1B2C3D4
PCAP_MAGIC_NS = 0xA1B23C4D


class Packet:
    """One captured frame: t_ns (int nanoseconds since the epoch), data
    (link-layer bytes), orig_len (the length on the wire, >= len(data))."""

    __slots__ = ("t_ns", "data", "orig_len")

    def __init__(self, t_ns, data, orig_len=None):
        self.t_ns = int(t_ns)
        self.data = bytes(data)
        self.orig_len = len(self.data) if orig_len is None else int(orig_len)

    @property
    def t(self):
        return self.t_ns / 1e9

    def copy(self, **kw):
        p = Packet(self.t_ns, self.data, self.orig_len)
        for k, v in kw.items():
            setattr(p, k, v)
        if "data" in kw and "orig_len" not in kw:
            p.orig_len = len(p.data)
        return p

    def __repr__(self):
        return f"<Packet t={self.t:.6f} len={len(self.data)}>"


def ns(t):
    """A time -> integer nanoseconds: an int is already nanoseconds, a
    float is seconds."""
    if isinstance(t, int):
        return t
    return int(round(t * 1e9))


# ---------------------------------------------------------------------------
# files

def write_pcap(path, packets, linktype=LINKTYPE_ETHERNET, nanosecond=False, snaplen=262144):
    """Classic pcap, native little-endian, magic a1b2c3d4 (microseconds) or
    a1b23c4d (nanoseconds). Frames longer than snaplen are cut (orig_len
    keeps the wire length)."""
    out = bytearray(struct.pack("<IHHiIII", PCAP_MAGIC_NS if nanosecond else PCAP_MAGIC_US,
                                2, 4, 0, 0, snaplen, linktype))
    for p in packets:
        sec, frac = divmod(p.t_ns, 1_000_000_000)
        if not nanosecond:
            frac //= 1000
        data = p.data[:snaplen]
        out += struct.pack("<IIII", sec, frac, len(data), max(p.orig_len, len(data))) + data
    pathlib.Path(path).write_bytes(out)
    return pathlib.Path(path)


def _pad4(b):
    return b + b"\0" * (-len(b) % 4)


def _option(code, value):
    return struct.pack("<HH", code, len(value)) + _pad4(value)


def write_pcapng(path, packets, linktype=LINKTYPE_ETHERNET, tsresol=6, snaplen=262144,
                 ifname="lo"):
    """pcapng: one Section Header Block, one Interface Description Block
    (if_name, if_tsresol 10^-tsresol), one Enhanced Packet Block per frame."""
    def block(btype, body):
        n = 12 + len(body)
        return struct.pack("<II", btype, n) + body + struct.pack("<I", n)

    shb = struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1) + _option(4, b"rtsp-harness pcapgen") + _option(0, b"")
    idb = struct.pack("<HHI", linktype, 0, snaplen)
    idb += _option(2, ifname.encode()) + _option(9, bytes([tsresol])) + _option(0, b"")
    out = bytearray(block(0x0A0D0D0A, shb) + block(0x00000001, idb))
    div = 10 ** (9 - tsresol)
    for p in packets:
        ts = p.t_ns // div
        data = p.data[:snaplen]
        body = struct.pack("<IIIII", 0, ts >> 32, ts & 0xFFFFFFFF, len(data),
                           max(p.orig_len, len(data))) + _pad4(data)
        out += block(0x00000006, body)
    pathlib.Path(path).write_bytes(out)
    return pathlib.Path(path)


Capture = collections.namedtuple("Capture", "format linktype nanosecond packets")


def read_capture(path):
    """Reads pcap (either byte order, us or ns) or pcapng (first interface's
    link type; EPB and SPB). Returns Capture(format, linktype, nanosecond,
    packets)."""
    raw = pathlib.Path(path).read_bytes()
    magic_le = struct.unpack("<I", raw[:4])[0]
    if magic_le == 0x0A0D0D0A:
        return _read_pcapng(raw)
    for endian in "<>":
        magic = struct.unpack(endian + "I", raw[:4])[0]
        if magic in (PCAP_MAGIC_US, PCAP_MAGIC_NS):
            break
    else:
        raise ValueError(f"{path}: not a pcap or pcapng file")
    nano = magic == PCAP_MAGIC_NS
    _, _, _, _, _, linktype = struct.unpack(endian + "HHiIII", raw[4:24])
    off, packets = 24, []
    while off + 16 <= len(raw):
        sec, frac, incl, orig = struct.unpack(endian + "IIII", raw[off:off + 16])
        data = raw[off + 16:off + 16 + incl]
        packets.append(Packet(sec * 1_000_000_000 + (frac if nano else frac * 1000), data, orig))
        off += 16 + incl
    return Capture("pcap", linktype & 0xFFFF, nano, packets)


def _read_pcapng(raw):
    off, endian = 0, "<"
    ifaces, packets = [], []
    while off + 12 <= len(raw):
        btype = struct.unpack(endian + "I", raw[off:off + 4])[0]
        if btype == 0x0A0D0D0A:
            bom = raw[off + 8:off + 12]
            endian = "<" if bom == b"\x4d\x3c\x2b\x1a" else ">"
        blen = struct.unpack(endian + "I", raw[off + 4:off + 8])[0]
        body = raw[off + 8:off + blen - 4]
        if btype == 0x00000001:
            linktype = struct.unpack(endian + "H", body[:2])[0]
            resol, p = 6, 8
            while p + 4 <= len(body):
                code, n = struct.unpack(endian + "HH", body[p:p + 4])
                if code == 0:
                    break
                if code == 9:
                    v = body[p + 4]
                    resol = v if not v & 0x80 else None
                p += 4 + n + (-n % 4)
            ifaces.append((linktype, resol))
        elif btype == 0x00000006:
            ifid, hi, lo, incl, orig = struct.unpack(endian + "IIIII", body[:20])
            ts = (hi << 32) | lo
            resol = ifaces[ifid][1] or 6
            t_ns = ts * 10 ** (9 - resol) if resol <= 9 else ts // 10 ** (resol - 9)
            packets.append(Packet(t_ns, body[20:20 + incl], orig))
        elif btype == 0x00000003:
            orig = struct.unpack(endian + "I", body[:4])[0]
            packets.append(Packet(0, body[4:4 + orig], orig))
        off += blen
    return Capture("pcapng", ifaces[0][0] if ifaces else LINKTYPE_ETHERNET,
                   bool(ifaces and ifaces[0][1] == 9), packets)


# ---------------------------------------------------------------------------
# link layer

def ethernet(payload, ethertype, src_mac=b"\x02\0\0\0\0\x01", dst_mac=b"\x02\0\0\0\0\x02", vlan=None):
    """Ethernet II header; vlan=VID (or (VID, PCP)) adds one 802.1Q tag."""
    hdr = dst_mac + src_mac
    if vlan is not None:
        vid, pcp = (vlan, 0) if isinstance(vlan, int) else vlan
        hdr += struct.pack("!HH", ETH_P_8021Q, (pcp << 13) | (vid & 0xFFF))
    return hdr + struct.pack("!H", ethertype) + payload


def sll(payload, protocol, pkttype=0, addr=b"\0" * 6, hatype=772):
    """Linux cooked v1 (16 bytes). hatype 772 = loopback, pkttype 0 = to us."""
    return struct.pack("!HHH", pkttype, hatype, len(addr)) + addr.ljust(8, b"\0")[:8] + \
        struct.pack("!H", protocol) + payload


def sll2(payload, protocol, ifindex=1, pkttype=0, addr=b"\0" * 6, hatype=772):
    """Linux cooked v2 (20 bytes)."""
    return struct.pack("!HHIHBB", protocol, 0, ifindex, hatype, pkttype, len(addr)) + \
        addr.ljust(8, b"\0")[:8] + payload


def _ip_version(ip):
    return ip[0] >> 4


def link_wrap(ip, linktype=LINKTYPE_ETHERNET, vlan=None):
    """An IPv4 or IPv6 packet -> link-layer frame of `linktype`."""
    v6 = _ip_version(ip) == 6
    etype = ETH_P_IPV6 if v6 else ETH_P_IP
    if linktype == LINKTYPE_ETHERNET:
        return ethernet(ip, etype, vlan=vlan)
    if linktype == LINKTYPE_LINUX_SLL:
        return sll(ip, etype)
    if linktype == LINKTYPE_LINUX_SLL2:
        return sll2(ip, etype)
    if linktype == LINKTYPE_RAW:
        return ip
    if linktype == LINKTYPE_NULL:  # host byte order; we write little-endian files
        return struct.pack("<I", 30 if v6 else 2) + ip  # AF_INET6 30 as on macOS/FreeBSD
    if linktype == LINKTYPE_LOOP:  # network byte order
        return struct.pack("!I", 24 if v6 else 2) + ip
    raise ValueError(f"link type {linktype} not supported")


def link_unwrap(data, linktype):
    """Link-layer frame -> (header bytes, IP packet) or (None, None) when the
    frame is not IPv4/IPv6."""
    if linktype == LINKTYPE_ETHERNET:
        off = 12
        etype = struct.unpack("!H", data[off:off + 2])[0]
        while etype in (ETH_P_8021Q, 0x88A8):
            off += 4
            etype = struct.unpack("!H", data[off:off + 2])[0]
        off += 2
        if etype not in (ETH_P_IP, ETH_P_IPV6):
            return None, None
        return data[:off], data[off:]
    if linktype == LINKTYPE_LINUX_SLL:
        etype = struct.unpack("!H", data[14:16])[0]
        return (data[:16], data[16:]) if etype in (ETH_P_IP, ETH_P_IPV6) else (None, None)
    if linktype == LINKTYPE_LINUX_SLL2:
        etype = struct.unpack("!H", data[:2])[0]
        return (data[:20], data[20:]) if etype in (ETH_P_IP, ETH_P_IPV6) else (None, None)
    if linktype == LINKTYPE_RAW:
        return b"", data
    if linktype in (LINKTYPE_NULL, LINKTYPE_LOOP):
        return data[:4], data[4:]
    raise ValueError(f"link type {linktype} not supported")


# ---------------------------------------------------------------------------
# IP, UDP, TCP

def checksum(data):
    """Internet checksum (RFC 1071)."""
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def _addr(a):
    return ipaddress.ip_address(a)


def _pseudo(src, dst, proto, length):
    s, d = _addr(src), _addr(dst)
    if s.version == 4:
        return s.packed + d.packed + struct.pack("!BBH", 0, proto, length)
    return s.packed + d.packed + struct.pack("!IxxxB", length, proto)


def ipv4(src, dst, proto, payload, ident=0, ttl=64, df=True, tos=0):
    hdr = struct.pack("!BBHHHBBH4s4s", 0x45, tos, 20 + len(payload), ident & 0xFFFF,
                      0x4000 if df else 0, ttl, proto, 0, _addr(src).packed, _addr(dst).packed)
    return hdr[:10] + struct.pack("!H", checksum(hdr)) + hdr[12:] + payload


def ipv6(src, dst, next_header, payload, hop_limit=64, flow=0):
    return struct.pack("!IHBB16s16s", (6 << 28) | flow, len(payload), next_header, hop_limit,
                       _addr(src).packed, _addr(dst).packed) + payload


def ip_packet(src, dst, proto, l4, ident=0):
    if _addr(src).version == 4:
        return ipv4(src, dst, proto, l4, ident=ident)
    return ipv6(src, dst, proto, l4)


def udp(src, dst, sport, dport, payload, csum=True):
    """UDP header + payload. csum: True computes it, False writes 0 (no
    checksum: legal over IPv4 only, tshark calls it illegal over IPv6), an
    int writes that value (a wrong checksum on purpose)."""
    n = 8 + len(payload)
    seg = struct.pack("!HHHH", sport, dport, n, 0) + payload
    if csum is True:
        c = checksum(_pseudo(src, dst, PROTO_UDP, n) + seg) or 0xFFFF
    elif csum is False:
        c = 0
    else:
        c = int(csum)
    return seg[:6] + struct.pack("!H", c) + seg[8:]


TCP_FIN, TCP_SYN, TCP_RST, TCP_PSH, TCP_ACK = 0x01, 0x02, 0x04, 0x08, 0x10


def tcp(src, dst, sport, dport, seq, ack, flags, payload=b"", window=65535, options=b""):
    options = _pad4(options)
    off = (20 + len(options)) // 4
    seg = struct.pack("!HHIIBBHHH", sport, dport, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF,
                      off << 4, flags, window, 0, 0) + options + payload
    c = checksum(_pseudo(src, dst, PROTO_TCP, len(seg)) + seg)
    return seg[:16] + struct.pack("!H", c) + seg[18:]


def udp_frame(t, src, dst, sport, dport, payload, linktype=LINKTYPE_ETHERNET, vlan=None,
              csum=True, ident=0):
    """One UDP datagram as a Packet; t: float seconds or int nanoseconds."""
    t_ns = ns(t)
    ip = ip_packet(src, dst, PROTO_UDP, udp(src, dst, sport, dport, payload, csum), ident)
    return Packet(t_ns, link_wrap(ip, linktype, vlan))


Decoded = collections.namedtuple("Decoded", "link ip_version src dst proto sport dport l4 payload ip_hdr")


def decode(pkt_or_data, linktype):
    """A frame -> Decoded (IP addresses as strings, payload = UDP/TCP
    payload; for TCP l4 is the TCP header) or None when not IP TCP/UDP.
    Only first fragments / unfragmented datagrams are decoded."""
    data = pkt_or_data.data if isinstance(pkt_or_data, Packet) else pkt_or_data
    link, ip = link_unwrap(data, linktype)
    if ip is None or len(ip) < 20:
        return None
    v = _ip_version(ip)
    if v == 4:
        ihl = (ip[0] & 15) * 4
        total = struct.unpack("!H", ip[2:4])[0]
        proto = ip[9]
        src, dst = str(ipaddress.IPv4Address(ip[12:16])), str(ipaddress.IPv4Address(ip[16:20]))
        body = ip[ihl:total]
        hdr = ip[:ihl]
    elif v == 6:
        if len(ip) < 40:
            return None
        plen = struct.unpack("!H", ip[4:6])[0]
        proto = ip[6]
        src, dst = str(ipaddress.IPv6Address(ip[8:24])), str(ipaddress.IPv6Address(ip[24:40]))
        body = ip[40:40 + plen]
        hdr = ip[:40]
    else:
        return None
    if proto == PROTO_UDP and len(body) >= 8:
        sport, dport, n = struct.unpack("!HHH", body[:6])
        return Decoded(link, v, src, dst, proto, sport, dport, body[:8], body[8:n], hdr)
    if proto == PROTO_TCP and len(body) >= 20:
        sport, dport = struct.unpack("!HH", body[:4])
        off = (body[12] >> 4) * 4
        return Decoded(link, v, src, dst, proto, sport, dport, body[:off], body[off:], hdr)
    return None


def rebuild_udp(pkt, linktype, payload, csum=True):
    """The same UDP datagram (addresses, ports, IPv4 id and TTL, link header)
    with a new payload; lengths and checksums recomputed (csum as udp())."""
    d = decode(pkt, linktype)
    assert d is not None and d.proto == PROTO_UDP, "not a UDP frame"
    seg = udp(d.src, d.dst, d.sport, d.dport, payload, csum)
    if d.ip_version == 4:
        h = bytearray(d.ip_hdr)
        h[2:4] = struct.pack("!H", len(h) + len(seg))
        h[10:12] = b"\0\0"
        h[10:12] = struct.pack("!H", checksum(bytes(h)))
        ip = bytes(h) + seg
    else:
        h = bytearray(d.ip_hdr)
        h[4:6] = struct.pack("!H", len(seg))
        ip = bytes(h) + seg
    return pkt.copy(data=d.link + ip)


def udp_checksum_ok(pkt, linktype):
    d = decode(pkt, linktype)
    c = struct.unpack("!H", d.l4[6:8])[0]
    if c == 0:
        return None
    return checksum(_pseudo(d.src, d.dst, PROTO_UDP, 8 + len(d.payload)) + d.l4 + d.payload) == 0


# ---------------------------------------------------------------------------
# RTP and RFC 2435

def rtp(seq, ts, ssrc, payload=b"", pt=26, marker=False, padding=0, ext=None, csrcs=(), version=2):
    """One RTP packet. ext=(profile, data) adds a header extension (data is
    padded to 32 bits); padding=N appends N bytes of padding (last byte N)
    and sets P."""
    b0 = (version << 6) | (0x20 if padding else 0) | (0x10 if ext else 0) | (len(csrcs) & 15)
    b1 = (0x80 if marker else 0) | (pt & 0x7F)
    out = struct.pack("!BBHII", b0, b1, seq & 0xFFFF, ts & 0xFFFFFFFF, ssrc & 0xFFFFFFFF)
    out += b"".join(struct.pack("!I", c) for c in csrcs)
    if ext:
        profile, data = ext
        data = _pad4(data)
        out += struct.pack("!HH", profile, len(data) // 4) + data
    out += payload
    if padding:
        out += b"\0" * (padding - 1) + bytes([padding])
    return out


RtpHeader = collections.namedtuple("RtpHeader", "version padding ext cc marker pt seq ts ssrc payload")


def parse_rtp(data):
    if len(data) < 12:
        return None
    b0, b1, seq, ts, ssrc = struct.unpack("!BBHII", data[:12])
    cc = b0 & 15
    off = 12 + 4 * cc
    if b0 & 0x10 and len(data) >= off + 4:
        off += 4 + 4 * struct.unpack("!H", data[off + 2:off + 4])[0]
    end = len(data) - (data[-1] if b0 & 0x20 and len(data) > off else 0)
    return RtpHeader(b0 >> 6, bool(b0 & 0x20), bool(b0 & 0x10), cc, bool(b1 & 0x80), b1 & 0x7F,
                     seq, ts, ssrc, data[off:end])


def with_rtp_seq(data, seq):
    return data[:2] + struct.pack("!H", seq & 0xFFFF) + data[4:]


def read_mjpeg(path=MOVIE):
    """Lab .Mjpeg file -> list of JPEG byte strings (5-digit length + JPEG)."""
    raw = pathlib.Path(path).read_bytes()
    frames, off = [], 0
    while off < len(raw):
        n = int(raw[off:off + 5])
        frames.append(raw[off + 5:off + 5 + n])
        off += 5 + n
    return frames


JpegParts = collections.namedtuple("JpegParts", "width height type qtables scan")


def jpeg_parts(jpeg):
    """Baseline JPEG -> size, RFC 2435 type (0 for 4:2:2, 1 for 4:2:0), the
    8-bit quantization tables in id order, the entropy-coded scan."""
    off, qt = 2, {}
    width = height = None
    rtype = 1
    while True:
        marker = jpeg[off + 1]
        n = struct.unpack("!H", jpeg[off + 2:off + 4])[0]
        seg = jpeg[off + 4:off + 2 + n]
        if marker == 0xDB:
            p = 0
            while p < len(seg):
                qt[seg[p] & 15] = seg[p + 1:p + 65]
                p += 65
        elif marker == 0xC0:
            height, width = struct.unpack("!HH", seg[1:5])
            rtype = 1 if seg[7] == 0x22 else 0
        elif marker == 0xDA:
            scan = jpeg[off + 2 + n:]
            if scan.endswith(b"\xff\xd9"):
                scan = scan[:-2]
            return JpegParts(width, height, rtype, b"".join(qt[k] for k in sorted(qt)), scan)
        off += 2 + n


def rfc2435_payload(parts, offset, length, q=255):
    """8-byte RFC 2435 main header, the quantization table header (Q >= 128,
    offset 0 only), then scan[offset:offset+length]."""
    out = struct.pack("!BBHBBBB", 0, (offset >> 16) & 0xFF, offset & 0xFFFF, parts.type, q,
                      parts.width // 8, parts.height // 8)
    if q >= 128 and offset == 0:
        out += struct.pack("!BBH", 0, 0, len(parts.qtables)) + parts.qtables
    return out + parts.scan[offset:offset + length]


def jpeg_rtp_payloads(jpeg, max_rtp=1372):
    """One JPEG -> the RTP payloads of one frame (each RTP packet at most
    max_rtp bytes with its 12-byte header)."""
    parts = jpeg_parts(jpeg) if isinstance(jpeg, (bytes, bytearray)) else jpeg
    out, off = [], 0
    while off < len(parts.scan):
        room = max_rtp - 12 - 8 - (4 + len(parts.qtables) if off == 0 else 0)
        out.append(rfc2435_payload(parts, off, room))
        off += room
    return out


RtpSpec = collections.namedtuple("RtpSpec", "t seq ts marker payload")  # t: int ns


def jpeg_stream(n_packets=None, n_frames=None, fps=20.0, seq0=1000, ts0=0, t0=1_700_000_000.0,
                max_rtp=1372, spacing=20e-6, mjpeg=MOVIE):
    """Truth for a synthetic RTP/JPEG stream: RtpSpec per packet, frames from
    the movie in order (looping), one frame every 1/fps s with its packets
    `spacing` s apart. Stops after n_packets packets or n_frames frames."""
    jpegs = [jpeg_parts(j) for j in read_mjpeg(mjpeg)]
    out, seq, f = [], seq0, 0
    t0 = ns(t0)
    step = round(90000 / fps)
    while True:
        if n_frames is not None and f >= n_frames:
            break
        pls = jpeg_rtp_payloads(jpegs[f % len(jpegs)], max_rtp)
        for i, pl in enumerate(pls):
            if n_packets is not None and len(out) >= n_packets:
                return out
            out.append(RtpSpec(t0 + round(f * 1e9 / fps) + i * ns(float(spacing)), seq & 0xFFFF, (ts0 + f * step) & 0xFFFFFFFF,
                               i == len(pls) - 1, pl))
            seq += 1
        f += 1
    return out


def rtp_packets(specs, src, dst, sport, dport, ssrc, pt=26, linktype=LINKTYPE_ETHERNET,
                csum=True, ident0=0):
    """RtpSpec list -> UDP Packets."""
    return [udp_frame(s.t, src, dst, sport, dport,
                      rtp(s.seq, s.ts, ssrc, s.payload, pt=pt, marker=s.marker),
                      linktype=linktype, csum=csum, ident=ident0 + i)
            for i, s in enumerate(specs)]


def interleaved(channel, data):
    """An RTSP interleaved frame: '$', channel, 16-bit length, data."""
    return struct.pack("!cBH", b"$", channel, len(data)) + data


# ---------------------------------------------------------------------------
# TCP conversations

class TcpConversation:
    """Builds one TCP connection packet by packet with correct sequence and
    acknowledgement numbers. Each method takes a time (float s or int ns;
    intervals likewise) and returns
    the Packets it added (all are kept in self.packets as well)."""

    def __init__(self, client, server, linktype=LINKTYPE_ETHERNET, isn_c=1000, isn_s=5000, mss=65483,
                 window=65535):
        self.c, self.s = client, server  # (ip, port)
        self.linktype = linktype
        self.seq = {"c": isn_c, "s": isn_s}
        self.mss = mss
        self.window = window
        self.packets = []
        self.ident = {"c": 1, "s": 1}

    def _emit(self, t, side, flags, payload=b""):
        a, b = (self.c, self.s) if side == "c" else (self.s, self.c)
        other = "s" if side == "c" else "c"
        ack = self.seq[other] if flags & TCP_ACK else 0
        seg = tcp(a[0], b[0], a[1], b[1], self.seq[side], ack, flags, payload, self.window)
        ip = ip_packet(a[0], b[0], PROTO_TCP, seg, self.ident[side])
        self.ident[side] += 1
        pkt = Packet(ns(t), link_wrap(ip, self.linktype))
        self.packets.append(pkt)
        self.seq[side] += len(payload) + (1 if flags & (TCP_SYN | TCP_FIN) else 0)
        return pkt

    def handshake(self, t, dt=10_000):
        t, dt = ns(t), ns(dt)
        return [self._emit(t, "c", TCP_SYN), self._emit(t + dt, "s", TCP_SYN | TCP_ACK),
                self._emit(t + 2 * dt, "c", TCP_ACK)]

    def send(self, t, side, data, ack=True, dt=5_000, segment=None):
        """`side` ("c" or "s") sends data in segments of at most `segment`
        (default mss) bytes; the peer ACKs once at the end when ack=True."""
        seg = segment or self.mss
        t, dt = ns(t), ns(dt)
        out = []
        for i in range(0, len(data), seg):
            out.append(self._emit(t + len(out) * dt, side, TCP_PSH | TCP_ACK, data[i:i + seg]))
        if ack:
            out.append(self._emit(t + len(out) * dt, "s" if side == "c" else "c", TCP_ACK))
        return out

    def close(self, t, dt=10_000):
        t, dt = ns(t), ns(dt)
        return [self._emit(t, "c", TCP_FIN | TCP_ACK), self._emit(t + dt, "s", TCP_FIN | TCP_ACK),
                self._emit(t + 2 * dt, "c", TCP_ACK)]


def tcp_streams(packets, linktype):
    """Reassembles every TCP connection of a capture (in-order by sequence
    number, retransmissions dropped). Returns {(src, sport, dst, dport):
    [(frame_no, t_ns, offset, data), ...]} per direction; offset is the
    byte offset of the segment in the stream."""
    flows = {}
    isn = {}
    for no, p in enumerate(packets, 1):
        d = decode(p, linktype)
        if d is None or d.proto != PROTO_TCP:
            continue
        key = (d.src, d.sport, d.dst, d.dport)
        seq = struct.unpack("!I", d.l4[4:8])[0]
        flags = d.l4[13]
        if flags & TCP_SYN:
            isn[key] = seq + 1
            continue
        if key not in isn:
            isn[key] = seq
        if d.payload:
            flows.setdefault(key, []).append((no, p.t_ns, (seq - isn[key]) & 0xFFFFFFFF, d.payload))
    out = {}
    for key, segs in flows.items():
        segs.sort(key=lambda s: s[2])
        kept, end = [], 0
        for no, t, off, data in segs:
            if off + len(data) <= end:
                continue
            if off < end:
                data = data[end - off:]
                off = end
            kept.append((no, t, off, data))
            end = off + len(data)
        out[key] = kept
    return out


def interleaved_rtp(segments):
    """Walks an RTSP byte stream (segments from tcp_streams) and returns the
    `$` frames as (frame_no, t_ns, channel, data), frame_no/t_ns of the
    segment holding the frame's last byte. RTSP messages in between are
    skipped by their headers and Content-Length."""
    buf = b"".join(d for _, _, _, d in segments)
    ends = []
    pos = 0
    for no, t, _, d in segments:
        pos += len(d)
        ends.append((pos, no, t))
    out, off, k = [], 0, 0
    while off < len(buf):
        if buf[off:off + 1] == b"$":
            if off + 4 > len(buf):
                break
            n = struct.unpack("!H", buf[off + 2:off + 4])[0]
            if off + 4 + n > len(buf):
                break
            last = off + 4 + n
            while ends[k][0] < last:
                k += 1
            out.append((ends[k][1], ends[k][2], buf[off + 1], buf[off + 4:last]))
            off = last
            continue
        end = buf.find(b"\r\n\r\n", off)
        if end < 0:
            break
        head = buf[off:end].decode("latin-1")
        length = 0
        for line in head.split("\r\n")[1:]:
            k2, _, v = line.partition(":")
            if k2.strip().lower() == "content-length":
                length = int(v)
        off = end + 4 + length
    return out


# ---------------------------------------------------------------------------
# impairments (each returns a new list; input lists are not modified)

def drop(packets, indices):
    gone = set(indices)
    return [p for i, p in enumerate(packets) if i not in gone]


def swap(packets, i, j, keep_times=True):
    """Packets i and j change places. keep_times=True keeps the time column
    in order (each slot keeps its time: what a reordering network produces);
    False moves the times along (the file is then not in time order)."""
    out = list(packets)
    if keep_times:
        ti, tj = out[i].t_ns, out[j].t_ns
        out[i], out[j] = out[j].copy(t_ns=ti), out[i].copy(t_ns=tj)
    else:
        out[i], out[j] = out[j], out[i]
    return out


def delay(packets, i, after, gap_ns=1000):
    """Packet i arrives right after packet `after` (> i), gap_ns later."""
    assert after > i
    out = list(packets)
    p = out.pop(i)
    anchor = out[after - 1]
    out.insert(after, p.copy(t_ns=anchor.t_ns + gap_ns))
    return out


def duplicate(packets, indices, gap_ns=1000):
    """Each packet in indices appears twice, the copy gap_ns later."""
    dup = set(indices)
    out = []
    for i, p in enumerate(packets):
        out.append(p)
        if i in dup:
            out.append(p.copy(t_ns=p.t_ns + gap_ns))
    return out


def swap_times(packets, i, j):
    """Exchanges the timestamps of packets i and j only: the file is then
    not in time order (what loopback captures sometimes hold)."""
    out = list(packets)
    out[i], out[j] = out[i].copy(t_ns=packets[j].t_ns), out[j].copy(t_ns=packets[i].t_ns)
    return out


def jitter(packets, max_ns, seed=1, keep_order=True, only=None):
    """Adds a random delay in [0, max_ns) to each packet (or to the packets
    whose indices are in `only`); keep_order makes the times of the whole
    list non-decreasing (a later packet never overtakes an earlier one)."""
    rnd = random.Random(seed)
    out, last = [], None
    for i, p in enumerate(packets):
        t = p.t_ns + (rnd.randrange(max_ns) if only is None or i in only else 0)
        if keep_order and last is not None and t < last:
            t = last
        last = t
        out.append(p.copy(t_ns=t))
    return out


def map_rtp(packets, linktype, select, fn, csum=True):
    """For each UDP packet where select(decoded) is true, replaces its
    payload by fn(payload, index) (None keeps it); UDP checksum recomputed
    (csum=True), zeroed (False) or set to an int."""
    out = []
    for i, p in enumerate(packets):
        d = decode(p, linktype)
        if d is not None and d.proto == PROTO_UDP and select(d):
            new = fn(d.payload, i)
            if new is not None:
                p = rebuild_udp(p, linktype, new, csum)
        out.append(p)
    return out


def seq_offset(packets, linktype, select, offset, csum=True):
    """Adds `offset` (mod 65536) to the RTP sequence number of the selected
    UDP packets, e.g. to make a stream cross 65535 -> 0 in the middle."""
    return map_rtp(packets, linktype, select,
                   lambda pl, i: with_rtp_seq(pl, struct.unpack("!H", pl[2:4])[0] + offset), csum)


def split_gso(packets, linktype, select=None, gap_ns=1000):
    """Cuts UDP datagrams holding several RTP packets back to back (a UDP
    GSO send seen before segmentation, as on Linux `lo`) into one datagram
    per RTP packet. The segment size is found from the RTP headers: the
    first offset where a header with the same SSRC and the next seq sits,
    every later segment of that size must follow the same rule. Returns
    (packets, number of datagrams split)."""
    out, split = [], 0
    for p in packets:
        d = decode(p, linktype)
        if d is None or d.proto != PROTO_UDP or (select and not select(d)):
            out.append(p)
            continue
        seg = gso_segment_size(d.payload)
        if seg is None:
            out.append(p)
            continue
        split += 1
        pl = d.payload
        for k, off in enumerate(range(0, len(pl), seg)):
            q = rebuild_udp(p, linktype, pl[off:off + seg])
            if d.ip_version == 4:  # distinct IP ids, as the kernel gives segments
                dd = decode(q, linktype)
                h = bytearray(dd.ip_hdr)
                h[4:6] = struct.pack("!H", (struct.unpack("!H", h[4:6])[0] + k) & 0xFFFF)
                h[10:12] = b"\0\0"
                h[10:12] = struct.pack("!H", checksum(bytes(h)))
                q = q.copy(data=dd.link + bytes(h) + q.data[len(dd.link) + len(h):])
            out.append(q.copy(t_ns=p.t_ns + k * gap_ns))
    return out, split


def gso_segment_size(pl):
    """Segment size of a concatenation of RTP packets (None when `pl` is one
    RTP packet)."""
    h = parse_rtp(pl)
    if h is None or h.version != 2 or len(pl) < 48:
        return None
    for seg in range(24, len(pl) - 11):
        nxt = pl[seg:seg + 12]
        if nxt[0] >> 6 != 2 or nxt[8:12] != pl[8:12]:
            continue
        if struct.unpack("!H", nxt[2:4])[0] != (h.seq + 1) & 0xFFFF:
            continue
        ok = True
        for k, off in enumerate(range(seg, len(pl), seg), 1):
            x = pl[off:off + 12]
            if len(x) < 12 or x[0] >> 6 != 2 or x[8:12] != pl[8:12] or \
                    struct.unpack("!H", x[2:4])[0] != (h.seq + k) & 0xFFFF:
                ok = False
                break
        if ok:
            return seg
    return None


# ---------------------------------------------------------------------------
# truth

def rfc3550_loss(seqs, max_dropout=3000, max_misorder=100):
    """RFC 3550 A.1 (without probation) and A.3 over sequence numbers in
    arrival order. Returns dict(received, expected, lost, cycles,
    base_seq, max_seq, bad). Duplicates count as received (lost goes
    negative); a reordered packet does not change max_seq."""
    mod = 1 << 16
    it = iter(seqs)
    try:
        first = next(it)
    except StopIteration:
        return {"received": 0, "expected": 0, "lost": 0, "cycles": 0, "base_seq": None, "max_seq": None, "bad": 0}
    base = max_seq = first
    cycles = 0
    received = 1
    bad_seq = mod + 1
    bad = 0
    for seq in it:
        udelta = (seq - max_seq) % mod
        if udelta < max_dropout:
            if seq < max_seq:
                cycles += mod
            max_seq = seq
        elif udelta <= mod - max_misorder:
            if seq == bad_seq:  # two sequential packets: the source restarted
                base = max_seq = seq
                cycles = 0
                received = 0
                bad_seq = mod + 1
            else:
                bad_seq = (seq + 1) % mod
                bad += 1
                continue
        received += 1
    expected = cycles + max_seq - base + 1
    return {"received": received, "expected": expected, "lost": expected - received,
            "cycles": cycles, "base_seq": base, "max_seq": max_seq, "bad": bad}


def rfc3550_jitter(arrivals_s, rtp_ts, clock=90000):
    """Running interarrival jitter (RFC 3550 6.4.1, A.8) in ms after each
    packet: (list of J in ms). The first packet's J is 0."""
    out = [0.0]
    j = 0.0
    for i in range(1, len(arrivals_s)):
        d = (arrivals_s[i] - arrivals_s[i - 1]) * clock - (((rtp_ts[i] - rtp_ts[i - 1] + 2**31) % 2**32) - 2**31)
        j += (abs(d) - j) / 16
        out.append(j * 1000.0 / clock)
    return out
