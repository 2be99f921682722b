"""Real captures on loopback for the analyzer tests, and their truth.

Each capture: tcpdump on `lo` (started first, ready when it prints
"listening on lo"), `rtsp-harness serve --port 0` (serve_util.Server) or an
ffmpeg listener, one client, then tcpdump is stopped with SIGINT. Returns a
Cap: the pcap path and facts (client RTP port, server ports, expected frame
count, ...).

Where the captures run. By default each one runs in a private network
namespace (`unshare -n`, then `nsenter` for every process) whose `lo` has
`gso_max_segs 1`:

- isolation: the capture holds only this test's traffic, and fixed ports
  cannot collide with anything else on the machine;
- UDP GSO: the reference server sends each frame's RTP packets with one
  UDP_SEGMENT sendmsg. On `lo` the kernel segments such a datagram only
  after the capture point, so tcpdump on a normal `lo` records ONE
  datagram of ~7 KB per frame (several RTP packets back to back), not the
  1372-byte packets a wire would carry; tshark then counts one packet per
  frame and ~83 % loss. With gso_max_segs 1 the kernel segments before
  the capture point, so the capture shows the real packets.
  capture_gso_raw() keeps the default (GSO on) on purpose, as a trap.

If namespaces are unavailable (not root, no unshare), captures run on the
host's `lo` and GSO datagrams are cut afterwards with pcapgen.split_gso
(facts["gso_split"] counts them); the capture may then hold foreign
loopback traffic.

The truth of a capture (truth_streams) is computed here in Python from the
pcap itself: RTP packets per stream from the SETUP facts, RFC 3550 loss
and jitter over them.
"""
import json
import os
import pathlib
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

import pcapgen  # noqa: E402
from serve_util import LAB_CLIENT, MOVIE, Server  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[2]
PYTHON = "/usr/bin/python3"
FFMPEG = shutil.which("ffmpeg") or "ffmpeg"
TCPDUMP = shutil.which("tcpdump") or "tcpdump"


class Cap:
    """A capture file and what is known about it."""

    def __init__(self, name, path, facts):
        self.name = name
        self.path = pathlib.Path(path)
        self.facts = facts

    def __repr__(self):
        return f"<Cap {self.name} {self.path} {self.facts}>"


# ---------------------------------------------------------------------------
# network namespace

class Netns:
    """A private network namespace with `lo` up, held by a `sleep` process.
    gso=False sets `gso_max_segs 1` on its lo (see the module docstring).
    prefix is the argv prefix that runs a command inside it."""

    def __init__(self, gso=False):
        cmd = "ip link set lo up && "
        if not gso:
            cmd += "ip link set lo gso_max_segs 1 && "
        cmd += "echo ready && exec sleep 100000"
        self.proc = subprocess.Popen(["unshare", "-n", "--", "sh", "-c", cmd], stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)
        line = self.proc.stdout.readline()
        if line.strip() != "ready":
            err = self.proc.stderr.read() if self.proc.poll() is not None else ""
            self.close()
            raise OSError(f"unshare -n failed: {line!r} {err!r}")
        # the holder has exec'd sleep in the new namespace: check before use
        mine = os.readlink("/proc/self/ns/net")
        theirs = os.readlink(f"/proc/{self.proc.pid}/ns/net")
        if mine == theirs:
            self.close()
            raise OSError("unshare -n did not give a new network namespace")
        self.pid = self.proc.pid
        self.gso = gso
        self.prefix = ["nsenter", "-t", str(self.pid), "-n", "--"]

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(5)

    def wrapper(self, binary, path):
        """A script that runs `binary` inside the namespace (nsenter execs,
        so the pid and signals are the binary's): what serve_util.Server
        takes as its binary."""
        path = pathlib.Path(path)
        path.write_text(f'#!/bin/sh\nexec nsenter -t {self.pid} -n -- "{binary}" "$@"\n')
        path.chmod(0o755)
        return str(path)


_NETNS_OK = None


def netns_available():
    global _NETNS_OK
    if _NETNS_OK is None:
        try:
            Netns().close()
            _NETNS_OK = True
        except (OSError, subprocess.SubprocessError):
            _NETNS_OK = False
    return _NETNS_OK


class Place:
    """Where a capture runs: a Netns, or the host (prefix [])."""

    def __init__(self, use_netns=None, gso=False):
        if use_netns is None:
            use_netns = netns_available()
        self.ns = Netns(gso=gso) if use_netns else None
        self.prefix = self.ns.prefix if self.ns else []
        self.gso = gso if self.ns else True

    def binary(self, binary, workdir, name="rtsp-harness-ns"):
        return self.ns.wrapper(binary, pathlib.Path(workdir) / name) if self.ns else binary

    def close(self):
        if self.ns:
            self.ns.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def free_tcp_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


# ---------------------------------------------------------------------------
# tcpdump

class Tcpdump:
    """tcpdump -i lo -U --immediate-mode -w FILE (as root: -Z root so it can
    write into a private tmp dir). Started and ready (its "listening on lo"
    line on stderr) when the constructor returns. stop() sends SIGINT and
    returns its statistics."""

    def __init__(self, path, prefix=(), bpf=None, timeout=5.0):
        self.path = pathlib.Path(path)
        argv = [*prefix, TCPDUMP, "-i", "lo", "-n", "-U", "--immediate-mode", "-B", "32768", "-s", "0",
                "-w", str(self.path)]
        if os.geteuid() == 0:
            argv[len(prefix) + 1:len(prefix) + 1] = ["-Z", "root"]
        if bpf:
            argv.append(bpf)
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, text=True)
        self.err = []
        ready = threading.Event()

        def reader():
            for line in self.proc.stderr:
                self.err.append(line)
                if "listening on" in line:
                    ready.set()
            ready.set()

        self._thread = threading.Thread(target=reader, daemon=True)
        self._thread.start()
        if not ready.wait(timeout) or self.proc.poll() is not None:
            self.proc.kill()
            raise RuntimeError("tcpdump did not start: " + "".join(self.err))

    def kill(self):
        """Ends tcpdump at once if it still runs (error paths)."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)

    def stop(self, linger=0.3):
        """Waits `linger` s for the last packets, then SIGINT. Returns
        {"captured": n, "received": n, "dropped": n}."""
        time.sleep(linger)
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
        self._thread.join(5)
        text = "".join(self.err)
        stats = {}
        for key, pat in (("captured", r"(\d+) packets? captured"), ("received", r"(\d+) packets? received by filter"),
                         ("dropped", r"(\d+) packets? dropped by kernel")):
            m = re.search(pat, text)
            stats[key] = int(m.group(1)) if m else None
        if stats["dropped"]:
            raise RuntimeError(f"tcpdump dropped packets: {text}")
        return stats


# ---------------------------------------------------------------------------
# the captures

def _start_server(place, harness_bin, workdir, media, args=()):
    binary = place.binary(harness_bin, workdir)
    argv = ["--port", "0", "--media", str(media), *map(str, args)]
    srv = Server(binary, argv, workdir)
    try:
        srv.wait_ready(5.0)
    except BaseException:
        srv.kill()
        raise
    return srv


def _stop_server(srv):
    rc = srv.stop()
    if rc != 0:
        raise RuntimeError(f"server exit status {rc!r}\n{srv.describe()}")


def _run(place, argv, timeout, log):
    p = subprocess.run([*place.prefix, *argv], stdin=subprocess.DEVNULL, capture_output=True,
                       text=True, timeout=timeout)
    pathlib.Path(log).write_text(p.stderr + p.stdout)
    return p


def _finish(place, name, path, facts, dump_stats):
    """Facts from the capture itself; GSO datagrams cut when the capture ran
    on the host (and kept as they are in the raw GSO capture)."""
    facts["tcpdump"] = dump_stats
    facts["netns"] = place.ns is not None
    facts["gso_split"] = 0
    facts.update(rtsp_facts(path))
    if place.ns is None and not facts.get("keep_gso"):
        ports = {s[k] for s in facts["setups"] for k in ("client_rtp_port", "server_rtp_port") if k in s}
        cap = pcapgen.read_capture(path)
        pkts, n = pcapgen.split_gso(cap.packets, cap.linktype, select=lambda d: d.dport in ports)
        if n:
            raw = path.with_suffix(".gso.pcap")
            path.rename(raw)
            pcapgen.write_pcap(path, pkts, cap.linktype, cap.nanosecond)
            facts["gso_split"] = n
    return Cap(name, path, facts)


def capture_ffmpeg(harness_bin, workdir, transport="udp", seconds=3, media_dir=None, gso=False,
                   name=None, use_netns=None):
    """The reference server and `ffmpeg -rtsp_transport T -i URL -t S -f null -`."""
    name = name or f"ffmpeg-{transport}" + ("-gso" if gso else "")
    workdir = pathlib.Path(workdir) / name
    workdir.mkdir(parents=True, exist_ok=True)
    media_dir = media_dir or MOVIE.parent
    path = workdir / f"{name}.pcap"
    with Place(use_netns, gso=gso) as place:
        dump = Tcpdump(path, place.prefix)
        try:
            srv = _start_server(place, harness_bin, workdir, media_dir)
            try:
                url = srv.url("movie.Mjpeg")
                p = _run(place, [FFMPEG, "-nostdin", "-hide_banner", "-rtsp_transport", transport, "-i", url,
                                 "-t", str(seconds), "-f", "null", "-"], 60, workdir / "ffmpeg.log")
            finally:
                _stop_server(srv)
            stats = dump.stop()
        finally:
            dump.kill()
    if p.returncode != 0:
        raise RuntimeError(f"ffmpeg exited {p.returncode}: {p.stderr[-2000:]}")
    facts = {"client": "ffmpeg", "transport": "tcp-interleaved" if transport == "tcp" else "udp",
             "rtsp_port": srv.port, "expected_frames": int(seconds * 20), "fps": 20,
             "keep_gso": gso, "sender": "server"}
    return _finish(place, name, path, facts, stats)


def capture_lab(harness_bin, workdir, play=1.5, pause=0.5, play2=1.0, use_netns=None):
    """The reference server and fixtures/lab_client.py (lab dialect: bare
    LF, bare file name, one whole JPEG per RTP packet, seq = frame number)."""
    name = "lab"
    workdir = pathlib.Path(workdir) / name
    workdir.mkdir(parents=True, exist_ok=True)
    path = workdir / f"{name}.pcap"
    with Place(use_netns) as place:
        dump = Tcpdump(path, place.prefix)
        try:
            srv = _start_server(place, harness_bin, workdir, MOVIE.parent)
            try:
                p = _run(place, [PYTHON, str(LAB_CLIENT), "127.0.0.1", str(srv.port), "0", "movie.Mjpeg",
                                 "--play", str(play), "--pause", str(pause), "--play2", str(play2), "--json"],
                         60, workdir / "lab_client.log")
            finally:
                _stop_server(srv)
            stats = dump.stop()
        finally:
            dump.kill()
    if p.returncode != 0:
        raise RuntimeError(f"lab client exited {p.returncode}: {p.stdout[-2000:]} {p.stderr[-2000:]}")
    summary = json.loads(p.stdout)
    facts = {"client": "lab_client", "transport": "udp", "rtsp_port": srv.port,
             "lab_rtp_port": summary["rtp_port"], "lab_summary": {k: summary[k] for k in (
                 "frames_shown", "packets_total", "first_seq", "last_seq", "seq_gaps")},
             "expected_frames": int((play + play2) * 20), "fps": 20, "sender": "server"}
    return _finish(place, name, path, facts, stats)


def capture_ffmpeg_record(workdir, seconds=3, use_netns=None):
    """ffmpeg's RTSP output: `ffmpeg -rtsp_flags listen -i rtsp://127.0.0.1:P/live
    -f null -` receives, `ffmpeg -re -f mjpeg -i frames -c copy -f rtsp
    -rtsp_transport udp rtsp://127.0.0.1:P/live` pushes with ANNOUNCE,
    SETUP (mode=record) and RECORD; RTP goes from the pushing client's
    client_port to the listener's server_port."""
    name = "ffmpeg-record"
    workdir = pathlib.Path(workdir) / name
    workdir.mkdir(parents=True, exist_ok=True)
    path = workdir / f"{name}.pcap"
    jpegs = workdir / "movie.mjpeg"  # plain concatenated JPEGs for ffmpeg's mjpeg demuxer
    jpegs.write_bytes(b"".join(pcapgen.read_mjpeg(MOVIE)))
    with Place(use_netns) as place:
        port = 8554 if place.ns else free_tcp_port()
        url = f"rtsp://127.0.0.1:{port}/live"
        dump = Tcpdump(path, place.prefix)
        try:
            llog = open(workdir / "listen.log", "w")
            listener = subprocess.Popen([*place.prefix, FFMPEG, "-nostdin", "-hide_banner", "-rtsp_flags", "listen",
                                         "-i", url, "-f", "null", "-"], stdin=subprocess.DEVNULL,
                                        stdout=llog, stderr=subprocess.STDOUT)
            try:
                deadline = time.monotonic() + 5
                while True:  # the listener is up when its port is bound
                    probe = subprocess.run([*place.prefix, "ss", "-Hltn", f"sport = :{port}"],
                                           capture_output=True, text=True)
                    if probe.stdout.strip():
                        break
                    if time.monotonic() > deadline or listener.poll() is not None:
                        raise RuntimeError("ffmpeg listener did not start: "
                                           + (workdir / "listen.log").read_text())
                    time.sleep(0.05)
                p = _run(place, [FFMPEG, "-nostdin", "-hide_banner", "-re", "-f", "mjpeg", "-framerate", "20",
                                 "-i", str(jpegs), "-t", str(seconds), "-c", "copy", "-f", "rtsp",
                                 "-rtsp_transport", "udp", url], 60, workdir / "push.log")
                lrc = listener.wait(15)
            finally:
                if listener.poll() is None:
                    listener.kill()
                    listener.wait(5)
                llog.close()
            stats = dump.stop()
        finally:
            dump.kill()
    if p.returncode != 0 or lrc != 0:
        raise RuntimeError(f"ffmpeg push exited {p.returncode}, listener {lrc}: {p.stderr[-2000:]}")
    facts = {"client": "ffmpeg-push", "transport": "udp", "rtsp_port": port,
             "expected_frames": int(seconds * 20), "fps": 20, "sender": "client"}
    return _finish(place, name, path, facts, stats)


SLOW_TCP_CLIENT = r'''
import socket, sys, time
host, port, stall = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
s.connect((host, port))
url = "rtsp://%s:%d/movie.Mjpeg" % (host, port)
buf = b""
def req(msg):
    global buf
    s.sendall(msg.encode())
    while b"\r\n\r\n" not in buf:
        buf += s.recv(65536)
    head, _, buf = buf.partition(b"\r\n\r\n")
    return head.decode()
h = req("SETUP %s/track0 RTSP/1.0\r\nCSeq: 1\r\nTransport: RTP/AVP/TCP;unicast;interleaved=0-1\r\n\r\n" % url)
sid = [l.split(":", 1)[1].split(";")[0].strip() for l in h.split("\r\n") if l.lower().startswith("session:")][0]
s.sendall(("PLAY %s RTSP/1.0\r\nCSeq: 2\r\nSession: %s\r\n\r\n" % (url, sid)).encode())
time.sleep(stall)            # read nothing: the server's socket buffer fills
s.settimeout(0.5)
end = time.monotonic() + 1.5
while time.monotonic() < end:  # then drain: the window opens wide
    try:
        if not s.recv(1 << 20):
            break
    except socket.timeout:
        pass
s.sendall(("TEARDOWN %s RTSP/1.0\r\nCSeq: 3\r\nSession: %s\r\n\r\n" % (url, sid)).encode())
time.sleep(0.3)
s.close()
'''


def capture_tcp_bulk(harness_bin, workdir, stall=1.5, use_netns=None):
    """RTP interleaved in large TCP segments: a client that SETUPs TCP,
    PLAYs, reads nothing for `stall` s (64 KB receive buffer), then drains.
    On `lo` (MTU 65536) the queued data leaves in segments of tens of KB,
    each holding dozens of `$` frames."""
    name = "tcp-bulk"
    workdir = pathlib.Path(workdir) / name
    workdir.mkdir(parents=True, exist_ok=True)
    path = workdir / f"{name}.pcap"
    with Place(use_netns) as place:
        dump = Tcpdump(path, place.prefix)
        try:
            srv = _start_server(place, harness_bin, workdir, MOVIE.parent)
            try:
                p = _run(place, [PYTHON, "-c", SLOW_TCP_CLIENT, "127.0.0.1", str(srv.port), str(stall)], 60,
                         workdir / "client.log")
            finally:
                _stop_server(srv)
            stats = dump.stop()
        finally:
            dump.kill()
    if p.returncode != 0:
        raise RuntimeError(f"slow TCP client exited {p.returncode}: {p.stderr[-2000:]}")
    facts = {"client": "slow-tcp", "transport": "tcp-interleaved", "rtsp_port": srv.port,
             "expected_frames": None, "fps": 20, "sender": "server"}
    return _finish(place, name, path, facts, stats)


# ---------------------------------------------------------------------------
# facts and truth from a capture

def _rtsp_messages(data):
    """RTSP/1.0 messages (start line, headers dict lower-case, body) in a
    CRLF byte stream, skipping `$` frames."""
    out, off = [], 0
    while off < len(data):
        if data[off:off + 1] == b"$":
            if off + 4 > len(data):
                break
            off += 4 + int.from_bytes(data[off + 2:off + 4], "big")
            continue
        end = data.find(b"\r\n\r\n", off)
        if end < 0:
            break
        lines = data[off:end].decode("latin-1").split("\r\n")
        headers = {}
        for line in lines[1:]:
            k, _, v = line.partition(":")
            headers[k.strip().lower()] = v.strip()
        length = int(headers.get("content-length", "0") or 0)
        out.append((lines[0], headers, data[end + 4:end + 4 + length]))
        off = end + 4 + length
    return out


def _lab_messages(data):
    """Lab-dialect messages: split before each line that starts a request or
    a reply."""
    text = data.decode("latin-1")
    parts = re.split(r"(?=^(?:SETUP|PLAY|PAUSE|TEARDOWN|DESCRIBE|OPTIONS|RTSP/1\.0) )", text, flags=re.M)
    out = []
    for part in parts:
        if not part.strip():
            continue
        lines = [l.rstrip("\r") for l in part.split("\n") if l.strip()]
        headers = {}
        for line in lines[1:]:
            k, _, v = line.partition(":")
            headers[k.strip().lower()] = v.strip()
        out.append((lines[0], headers, b""))
    return out


def rtsp_facts(path):
    """The RTSP connection(s) of a capture: server address, client and
    server RTP ports or interleaved channels from SETUP and its reply."""
    cap = pcapgen.read_capture(path)
    flows = pcapgen.tcp_streams(cap.packets, cap.linktype)
    facts = {"setups": []}
    for key, segs in flows.items():
        data = b"".join(d for _, _, _, d in segs)
        if not re.match(rb"(OPTIONS|DESCRIBE|SETUP|ANNOUNCE|PLAY) ", data):
            continue
        src, sport, dst, dport = key
        rev = flows.get((dst, dport, src, sport), [])
        rdata = b"".join(d for _, _, _, d in rev)
        lab = not data.split(b"\n", 1)[0].endswith(b"\r")
        reqs = _lab_messages(data) if lab else _rtsp_messages(data)
        reps = _lab_messages(rdata) if lab else [m for m in _rtsp_messages(rdata) if m[0].startswith("RTSP/")]
        facts["server"] = (dst, dport)
        facts["client_addr"] = (src, sport)
        facts["lab"] = lab
        by_cseq = {}
        for start, h, _ in reps:
            by_cseq[h.get("cseq")] = h
        for start, h, _ in reqs:
            if not start.startswith("SETUP"):
                continue
            rep = by_cseq.get(h.get("cseq"), {})
            t_req = h.get("transport", "")
            t_rep = rep.get("transport", t_req)
            entry = {"request": start, "transport_req": t_req, "transport_rep": t_rep}
            m = re.search(r"client_port\s*=\s*(\d+)", t_rep) or re.search(r"client_port\s*=\s*(\d+)", t_req)
            if m:
                entry["client_rtp_port"] = int(m.group(1))
            m = re.search(r"server_port\s*=\s*(\d+)", t_rep)
            if m:
                entry["server_rtp_port"] = int(m.group(1))
            m = re.search(r"interleaved\s*=\s*(\d+)", t_rep)
            if m:
                entry["channel"] = int(m.group(1))
            m = re.search(r"ssrc\s*=\s*([0-9A-Fa-f]+)", t_rep)
            if m:
                entry["ssrc"] = int(m.group(1), 16)
            entry["record"] = "record" in t_req.lower()
            facts["setups"].append(entry)
    if facts["setups"]:
        s = facts["setups"][0]
        for k in ("client_rtp_port", "server_rtp_port", "channel", "ssrc"):
            if k in s:
                facts[k] = s[k]
    return facts


class Stream:
    """Truth for one RTP stream: arrival times (ns), RTP headers, frame
    numbers; loss, jitter and deltas computed per RFC 3550 / tshark."""

    def __init__(self, key, transport, channel=None):
        self.key = key  # (src "a:p", dst "a:p", ssrc int)
        self.transport = transport
        self.channel = channel
        self.t_ns, self.seqs, self.ts, self.pts, self.markers, self.sizes, self.frames = [], [], [], [], [], [], []

    def add(self, frame_no, t_ns, h, size):
        self.frames.append(frame_no)
        self.t_ns.append(t_ns)
        self.seqs.append(h.seq)
        self.ts.append(h.ts)
        self.pts.append(h.pt)
        self.markers.append(h.marker)
        self.sizes.append(size)

    @property
    def packets(self):
        return len(self.seqs)

    def loss(self):
        return pcapgen.rfc3550_loss(self.seqs)

    def jitter_ms(self, clock=90000):
        return pcapgen.rfc3550_jitter([t / 1e9 for t in self.t_ns], self.ts, clock)

    def deltas_ms(self):
        return [(b - a) / 1e6 for a, b in zip(self.t_ns, self.t_ns[1:])]

    def summary(self):
        j = self.jitter_ms()
        d = self.deltas_ms()
        loss = self.loss()
        return {"src": self.key[0], "dst": self.key[1], "ssrc": f"0x{self.key[2]:08x}",
                "transport": self.transport, "channel": self.channel, "packets": self.packets,
                "expected": loss["expected"], "lost": loss["lost"],
                "max_delta_ms": max(d) if d else 0.0, "max_jitter_ms": max(j),
                "mean_jitter_ms": sum(j) / len(j), "frames": sum(self.markers),
                "first_seq": self.seqs[0], "last_seq": self.seqs[-1]}

    def __repr__(self):
        return f"<Stream {self.key[0]}->{self.key[1]} 0x{self.key[2]:08x} {self.packets} pkts>"


def truth_streams(path, rtp_ports=None, facts=None, min_len=13):
    """The RTP streams of a capture, from the file itself.

    UDP: datagrams to or from the RTP ports (from the SETUP facts, or
    `rtp_ports`) that parse as RTP v2, grouped by 5-tuple and SSRC;
    datagrams shorter than `min_len` (the 12-byte dummy ffmpeg and
    GStreamer send) and RTCP (port+1) are left out. TCP: `$` frames of
    the even channels in the reassembled server->client (or, for RECORD,
    client->server) byte stream. Returns a list of Stream, in order of
    first packet."""
    cap = pcapgen.read_capture(path)
    facts = facts or rtsp_facts(path)
    ports = set(rtp_ports or ())
    for s in facts.get("setups", []):
        for k in ("client_rtp_port", "server_rtp_port"):
            if k in s:
                ports.add(s[k])
    streams = {}
    for no, p in enumerate(cap.packets, 1):
        d = pcapgen.decode(p, cap.linktype)
        if d is None or d.proto != pcapgen.PROTO_UDP:
            continue
        if d.dport not in ports or len(d.payload) < min_len:
            continue
        h = pcapgen.parse_rtp(d.payload)
        if h is None or h.version != 2 or 72 <= h.pt <= 76:
            continue
        src = f"{d.src}:{d.sport}" if d.ip_version == 4 else f"[{d.src}]:{d.sport}"
        dst = f"{d.dst}:{d.dport}" if d.ip_version == 4 else f"[{d.dst}]:{d.dport}"
        key = (src, dst, h.ssrc)
        if key not in streams:
            streams[key] = Stream(key, "udp")
        streams[key].add(no, p.t_ns, h, len(h.payload))
    if any("channel" in s for s in facts.get("setups", [])):
        flows = pcapgen.tcp_streams(cap.packets, cap.linktype)
        for key4, segs in flows.items():
            for no, t_ns, ch, data in pcapgen.interleaved_rtp(segs):
                if ch % 2:
                    continue
                h = pcapgen.parse_rtp(data)
                if h is None or h.version != 2:
                    continue
                key = (f"{key4[0]}:{key4[1]}", f"{key4[2]}:{key4[3]}", h.ssrc)
                if key not in streams:
                    streams[key] = Stream(key, "tcp-interleaved", ch)
                streams[key].add(no, t_ns, h, len(h.payload))
    return sorted(streams.values(), key=lambda s: s.t_ns[0])


def udp_rtp_select(facts):
    """A pcapgen select() for the RTP packets (sender -> receiver) of the
    first SETUP of a capture."""
    s = facts["setups"][0]
    port = s["server_rtp_port"] if s.get("record") else s["client_rtp_port"]
    return lambda d: d.dport == port and len(d.payload) > 12


def stream_model(stream, t_ref_ns):
    """tshark_oracle.model over a truth Stream (its packets in capture
    order): what a correct tshark would print for it."""
    import tshark_oracle
    return tshark_oracle.model(stream.t_ns, stream.seqs, stream.ts, stream.markers, stream.pts, t_ref_ns)


def first_time_ns(path):
    return pcapgen.read_capture(path).packets[0].t_ns


# ---------------------------------------------------------------------------
# captures derived from a real UDP capture by rewriting it

def main_stream(cap):
    """The RTP stream of a single-session UDP capture (truth)."""
    streams = truth_streams(cap.path, facts=cap.facts)
    assert len(streams) == 1, f"{cap.name}: expected one RTP stream, truth has {streams}"
    return streams[0]


def _derive(base, workdir, name, fn, **facts):
    """Reads base's pcap, maps (packets, file indices of the RTP stream,
    linktype) through fn, writes NAME.pcap; the facts are base's plus
    `facts` plus derived_from."""
    cap = pcapgen.read_capture(base.path)
    s = main_stream(base)
    idx = [f - 1 for f in s.frames]
    packets = fn(cap.packets, idx, cap.linktype)
    d = pathlib.Path(workdir) / "derived"
    d.mkdir(parents=True, exist_ok=True)
    path = pcapgen.write_pcap(d / f"{name}.pcap", packets, cap.linktype, cap.nanosecond)
    f = dict(base.facts)
    f.update(facts, derived_from=base.name)
    return Cap(name, path, f)


def derive_loss(base, workdir, picks=(10, 11, 50, 120, 200, 201, 202)):
    """RTP packets number `picks` (0-based in the stream, never the first or
    last) are gone: lost = len(picks)."""
    def fn(packets, idx, lt):
        assert max(picks) < len(idx) - 1 and min(picks) > 0
        return pcapgen.drop(packets, [idx[k] for k in picks])
    return _derive(base, workdir, "loss", fn, dropped=list(picks), truth_lost=len(picks))


def derive_reorder(base, workdir):
    """Two pairs of packets of one frame swapped (times stay in order), and
    the last packet of a frame (marker) delayed behind the first packet of
    the next frame. The last packet of the stream is untouched, so tshark's
    `last seq seen` rule still gives lost 0."""
    moved = {}

    def fn(packets, idx, lt):
        s_markers = []
        for k, i in enumerate(idx):
            h = pcapgen.parse_rtp(pcapgen.decode(packets[i], lt).payload)
            s_markers.append(h.marker)
        out = pcapgen.swap(packets, idx[20], idx[21])
        out = pcapgen.swap(out, idx[60], idx[62])
        k = next(k for k in range(len(idx) // 2, len(idx) - 3) if s_markers[k])
        moved["marker_packet"] = k
        return pcapgen.delay(out, idx[k], idx[k + 1])
    cap = _derive(base, workdir, "reorder", fn, truth_lost=0)
    cap.facts.update(moved, swapped=[(20, 21), (60, 62)])
    return cap


def derive_duplicates(base, workdir, now=(30, 31, 120), late_back=5):
    """Packets `now` each arrive twice (the copy 1 us later), and a copy of
    the packet `late_back` before the last arrives after the last one.
    RFC 3550 A.3: lost = -(number of duplicates). tshark: its `last seq
    seen` is then `late_back` below the highest, so it prints
    -(duplicates) - late_back."""
    def fn(packets, idx, lt):
        out = pcapgen.duplicate(packets, [idx[k] for k in now])
        last = idx[-1] + len(now)  # the last RTP packet's position after the copies
        late = packets[idx[-1 - late_back]].copy(t_ns=out[last].t_ns + 2000)
        out.insert(last + 1, late)
        return out
    n = len(now) + 1
    return _derive(base, workdir, "duplicates", fn, duplicates=n, truth_lost=-n,
                   tshark_lost=-n - late_back)


def derive_wrap(base, workdir, at=None):
    """Every RTP sequence number shifted so that the stream crosses
    65535 -> 0 at packet `at` (default: the middle); UDP checksums zeroed
    (legal for IPv4) on the rewritten packets."""
    info = {}

    def fn(packets, idx, lt):
        k = len(idx) // 2 if at is None else at
        first = pcapgen.parse_rtp(pcapgen.decode(packets[idx[0]], lt).payload).seq
        off = (65536 - k - first) % 65536
        info.update(wrap_at=k, seq_offset=off)
        chosen = set(idx)
        out = list(packets)
        for i in chosen:
            d = pcapgen.decode(out[i], lt)
            seq = pcapgen.parse_rtp(d.payload).seq
            out[i] = pcapgen.rebuild_udp(out[i], lt, pcapgen.with_rtp_seq(d.payload, seq + off), csum=False)
        return out
    cap = _derive(base, workdir, "wrap", fn, truth_lost=0)
    cap.facts.update(info)
    return cap


def derive_jitter(base, workdir, max_ms=10.0, seed=7):
    """Each RTP packet delayed by a random 0..max_ms ms, order kept: gives
    the jitter figures something to measure."""
    def fn(packets, idx, lt):
        return pcapgen.jitter(packets, int(max_ms * 1e6), seed=seed, keep_order=True, only=set(idx))
    return _derive(base, workdir, "jitter", fn, truth_lost=0, jitter_max_ms=max_ms)


def derive_time_swap(base, workdir, pairs=((40, 42), (150, 151))):
    """The timestamps of RTP packets (a, b) exchanged, packets left in place:
    the file is not in time order, as loopback captures sometimes are."""
    def fn(packets, idx, lt):
        out = packets
        for a, b in pairs:
            out = pcapgen.swap_times(out, idx[a], idx[b])
        return out
    return _derive(base, workdir, "time-swap", fn, truth_lost=0, swapped_times=[list(p) for p in pairs])


# ---------------------------------------------------------------------------
# synthetic captures (pcapgen only)

def rtsp_session_packets(conv, t, url, client_rtp, server_rtp, ssrc, session, cseq0=1,
                         play_for=3.0):
    """One RFC 2326 session on a pcapgen.TcpConversation: handshake, SETUP
    (UDP, client_port) and its reply (server_port, ssrc), PLAY and 200;
    TEARDOWN, 200 and FIN `play_for` s later. Returns the time PLAY was
    answered (s)."""
    def req(t, method, headers):
        lines = [f"{method} {url} RTSP/1.0", f"CSeq: {headers.pop('CSeq')}"]
        lines += [f"{k}: {v}" for k, v in headers.items()]
        conv.send(t, "c", ("\r\n".join(lines) + "\r\n\r\n").encode())

    def rep(t, cseq, headers=()):
        lines = ["RTSP/1.0 200 OK", f"CSeq: {cseq}", *(f"{k}: {v}" for k, v in headers)]
        conv.send(t, "s", ("\r\n".join(lines) + "\r\n\r\n").encode())

    conv.handshake(t)
    c = cseq0
    req(t + 0.001, "SETUP", {"CSeq": c, "Transport": f"RTP/AVP;unicast;client_port={client_rtp}-{client_rtp + 1}"})
    rep(t + 0.002, c, [("Transport", f"RTP/AVP;unicast;client_port={client_rtp}-{client_rtp + 1};"
                                     f"server_port={server_rtp}-{server_rtp + 1};ssrc={ssrc:08X}"),
                       ("Session", f"{session};timeout=60")])
    req(t + 0.003, "PLAY", {"CSeq": c + 1, "Session": session, "Range": "npt=0.000-"})
    rep(t + 0.004, c + 1, [("Session", session)])
    tend = t + 0.004 + play_for
    req(tend, "TEARDOWN", {"CSeq": c + 2, "Session": session})
    rep(tend + 0.001, c + 2, [("Session", session)])
    conv.close(tend + 0.002)
    return t + 0.004


def synthetic_shared_ssrc(path, lose_a=(7, 40, 41)):
    """gst-rtsp-server's shared media factory, rebuilt with pcapgen: one
    server RTP port (10.9.0.1:20000) sends the SAME stream (same SSRC,
    same sequence numbers) to two clients on 10.9.0.2, RTP ports 5000
    (from t0, packets `lose_a` of its stream lost) and 5002 (joins 1 s
    later). Each client has its own RTSP connection (port 8554) with
    SETUP/PLAY/TEARDOWN. Truth: two streams keyed by 5-tuple."""
    server, client = "10.9.0.1", "10.9.0.2"
    ssrc = 0x5EED5EED
    t0 = 1_700_000_000.0
    specs = pcapgen.jpeg_stream(n_frames=60, seq0=65000, t0=t0 + 0.01)  # crosses 65535 -> 0 as well
    conv_a = pcapgen.TcpConversation((client, 41000), (server, 8554), isn_c=111, isn_s=222)
    conv_b = pcapgen.TcpConversation((client, 41002), (server, 8554), isn_c=333, isn_s=444)
    rtsp_session_packets(conv_a, t0 - 0.01, f"rtsp://{server}:8554/shared", 5000, 20000, ssrc, "AAAA0001",
                         play_for=3.1)
    rtsp_session_packets(conv_b, t0 + 0.99, f"rtsp://{server}:8554/shared", 5002, 20000, ssrc, "BBBB0002",
                         play_for=2.1)
    a = pcapgen.rtp_packets(specs, server, client, 20000, 5000, ssrc, ident0=1)
    a = pcapgen.drop(a, lose_a)
    b_specs = [s for s in specs if s.t >= pcapgen.ns(t0 + 1.0)]
    b = pcapgen.rtp_packets(b_specs, server, client, 20000, 5002, ssrc, ident0=30000)
    packets = sorted(conv_a.packets + conv_b.packets + a + b, key=lambda p: p.t_ns)
    pcapgen.write_pcap(path, packets)
    facts = {"rtp_ports": [5000, 5002], "ssrc": ssrc,
             "streams": {f"{server}:20000 {client}:5000": {"packets": len(specs) - len(lose_a), "lost": len(lose_a)},
                         f"{server}:20000 {client}:5002": {"packets": len(b_specs), "lost": 0}}}
    return Cap("shared-ssrc", path, facts)
