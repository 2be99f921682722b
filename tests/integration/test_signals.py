"""Signals at random moments during `rtsp-harness run`, and proof of cleanup.

A seeded loop of short runs against the reference server (userspace
impairment, so every stage exists), each killed by SIGINT, SIGTERM or
SIGKILL at a random moment inside one of its stages, which the test watches
from /proc while the run goes: start, lab set-up, capture, impairer, server
start, replay, teardown, analysis, report writing. After each run nothing
of it may be left: no process (its RTSP_HARNESS_RUN marker, the server's
command line), no network namespace it made, no lab link in the host's
namespace, no cgroup, no registry entry, no half-written report. SIGINT
and SIGTERM end in exit 130 with a schema-valid report marked interrupted
(or, once every scenario has run, the complete report and its verdict); a
SIGKILLed run is reported by the next run that gets past its start, on
stderr and in run.cleaned_up, and that run removes the temporary files of
a report the killed one was writing. Firewall rules, NFQUEUE binders and
the host's qdiscs are the same after the loop as before it. Also: SIGINT
twice in quick succession, SIGINT to the whole process group (a terminal's
Ctrl-C), and the sweep on a planted dead entry beside a live run of the
same name.

Each run sees the test's own registry folder as /run/rtsp-harness (a bind
mount in a mount namespace of its own), so runs of other tests on the
machine neither sweep this test's entries nor are swept by it.
RTSP_HARNESS_SIGNAL_SEED=N replays a loop; the seed is printed."""
import collections
import ctypes
import json
import os
import pathlib
import random
import re
import shutil
import signal
import subprocess
import time

import pytest

from run_util import PLAY, REF_CMD, ROOT, schema_errors

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the network lab needs root")

SCENARIO = """\
@name signals
@impair delay 5ms loss 1%

""" + PLAY + """\
rtp for 1s: frames >= 1
> TEARDOWN {url} RTSP/1.0
< RTSP/1.0 200
"""

STAGES = ("start", "lab", "capture", "impairer", "server", "replay", "teardown", "analysis", "report")
SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGKILL)
LAB, TEARDOWN = STAGES.index("lab"), STAGES.index("teardown")
LAB_LINKS = {"peer0", "sut0", "rt-peer", "rt-sut", "br0"}
REGISTRY_MOUNT = b"/run/rtsp-harness"
KILLS_PER_PAIR = 2  # each (stage, signal) pair: 9 x 3 x 2 = 54 runs
TOP_UP_TRIES = 4    # extra runs per signal for a short stage the loop missed
GONE_WITHIN_S = 10  # a SIGKILLed run's reaper dies by PR_SET_PDEATHSIG, asynchronously
CLEANED = re.compile(r"run (\S+) \(pid (\d+)\) ended without cleaning up \(killed\?\): "
                     r"(\d+) stray process(?:es)? removed; (?:(\d+) unfinished report files? removed from (\S+); )?")


def own_netns():
    return os.stat("/proc/self/ns/net").st_ino


def read(path):
    try:
        return pathlib.Path(path).read_text()
    except OSError:
        return ""


LIBC = ctypes.CDLL(None, use_errno=True)
CLONE_NEWNS, MS_BIND, MS_REC, MS_PRIVATE = 0x20000, 0x1000, 0x4000, 1 << 18


def private_registry(registry):
    """For the child, before exec: its own mount namespace with the test's
    registry folder over /run/rtsp-harness, so that runs of other tests on
    the machine neither sweep this test's entries nor are swept by it; and
    SIGINT and SIGTERM at their default action, as a shell in the foreground
    gives them. (A test suite started in the background inherits SIGINT
    ignored; a run killed before it installs its handler would then carry
    on, which is not what a user at a terminal sees.)"""
    def enter():
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        if (LIBC.unshare(CLONE_NEWNS) != 0 or LIBC.mount(b"none", b"/", None, MS_REC | MS_PRIVATE, None) != 0
                or LIBC.mount(bytes(registry), REGISTRY_MOUNT, None, MS_BIND, None) != 0):
            raise OSError(ctypes.get_errno(), "private /run/rtsp-harness")
    return enter


class Run:
    """One `rtsp-harness run` of the short scenario, watched from /proc.

    progress is the furthest stage seen: lab once the run has registered
    (building the lab is what it does next); capture and impairer
    by its threads (two capture threads, then the forwarder); server once it
    has a child (the SUT's reaper); replay while the main thread sits in the
    peer namespace (neither the host's nor the SUT's); teardown when it is
    back in the host's; analysis when only the main thread is left; report
    once a file appears in the report folder."""

    def __init__(self, harness_bin, base, name, media_dir, new_session=False):
        self.name, self.base = name, base
        self.report_dir = base / "reports" / name
        cmd = [harness_bin, "run", "--name", name, "--captures", str(base / "captures"),
               "--reports", str(base / "reports"), "--backend", "userspace",
               "--media-dir", str(media_dir), "--server-cmd", REF_CMD, str(base / "signals.rtsp")]
        self.registry = base / "registry"
        self.registry.mkdir(exist_ok=True)
        os.makedirs(REGISTRY_MOUNT, exist_ok=True)
        self.started = time.monotonic()
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                     cwd=ROOT, start_new_session=new_session,
                                     preexec_fn=private_registry(self.registry))
        self.pid = self.proc.pid
        self.host_ns = own_netns()
        self.progress = 0
        self.replay_seen = False
        self.first_seen = {}   # stage -> seconds since start
        self.seen_ns = set()   # every network namespace inode the run held
        self.seen_pids = set()  # the run, its children and grandchildren
        self.seen_cgroups = set()
        self.caught = ""       # SigCgt of the last sample

    def sample(self):
        """Looks at the run once (cheaply: short stages last a few
        milliseconds); False when it has ended."""
        pid = self.pid
        status = read(f"/proc/{pid}/status")
        if not status or "State:\tZ" in status:
            return False
        try:
            tasks = sorted(int(t) for t in os.listdir(f"/proc/{pid}/task"))
            task_ns = [os.stat(f"/proc/{pid}/task/{pid}/ns/net").st_ino]
            fds = os.listdir(f"/proc/{pid}/fd") if self.progress <= LAB else []
        except OSError:
            return False
        for path in [f"/proc/{pid}/task/{t}/ns/net" for t in tasks[1:]]:
            try:  # threads come and go between the listing and the look
                task_ns.append(os.stat(path).st_ino)
            except OSError:
                pass
        fd_ns = set()
        for fd in fds:  # the lab's namespaces are descriptors until threads enter them
            try:
                link = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            if link.startswith("net:["):
                fd_ns.add(int(link[5:-1]))
        self.caught = status.split("SigCgt:\t", 1)[-1][:16]
        kids = {int(k) for k in read(f"/proc/{pid}/task/{pid}/children").split()}
        kid_ns = set()
        for k in list(kids):
            kids.update(int(g) for g in read(f"/proc/{k}/task/{k}/children").split())
            try:
                kid_ns.add(os.stat(f"/proc/{k}/ns/net").st_ino)
            except OSError:
                pass
        for p in (kids | {pid}) - self.seen_pids:
            self.seen_cgroups.update(line.split(":", 2)[-1] for line in read(f"/proc/{p}/cgroup").splitlines())
        self.seen_pids |= kids | {pid}
        self.seen_ns |= (fd_ns | kid_ns | set(task_ns)) - {self.host_ns}
        main_ns = task_ns[0]
        if self.progress >= TEARDOWN and self.report_dir.is_dir() and any(os.scandir(self.report_dir)):
            stage = "report"
        elif self.replay_seen:
            stage = "analysis" if len(tasks) == 1 else "teardown" if main_ns == self.host_ns else "replay"
        elif kids and main_ns != self.host_ns and main_ns not in kid_ns:
            stage = "replay"
            self.replay_seen = True
        elif kids:
            stage = "server"
        elif len(tasks) >= 4:
            stage = "impairer"
        elif len(tasks) >= 2:
            stage = "capture"
        elif self.progress == LAB or (self.registry / str(pid)).exists():
            stage = "lab"  # registered: what comes next is the lab
        else:
            stage = "start"
        i = STAGES.index(stage)
        if i > self.progress:
            self.progress = i
        self.first_seen.setdefault(STAGES[self.progress], time.monotonic() - self.started)
        return True

    @property
    def stage(self):
        return STAGES[self.progress]

    def watch_until(self, stage, extra_s):
        """Samples until the run reaches stage, then for extra_s more;
        False if it ended first."""
        target = STAGES.index(stage)
        while self.progress < target:
            if not self.sample():
                return False
            time.sleep(0.0002)
        until = time.monotonic() + extra_s
        while time.monotonic() < until:
            if not self.sample():
                return False
            time.sleep(0.0002)
        return self.sample()

    def catches(self, sig):
        return self.caught != "" and int(self.caught, 16) >> (sig - 1) & 1 == 1

    def finish(self, timeout=120):
        self.out, self.err = self.proc.communicate(timeout=timeout)
        self.rc = self.proc.returncode
        path = self.report_dir / "report.json"
        self.report = json.loads(path.read_text()) if path.exists() else None
        return self


def marked(pid, run_name):
    """Whether the process carries the run's RTSP_HARNESS_RUN marker."""
    try:
        env = pathlib.Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    except OSError:
        return False
    return f"RTSP_HARNESS_RUN={run_name}".encode() in env


def processes_of(run, server_mark):
    """Processes left of a run: its marker, the server's unique command
    line, or a pid it had as a child."""
    left = []
    for p in pathlib.Path("/proc").iterdir():
        if not p.name.isdigit() or "State:\tZ" in read(p / "status"):
            continue
        cmdline = read(p / "cmdline").replace("\0", " ").strip()
        if marked(p.name, run.name) or server_mark in cmdline or int(p.name) in run.seen_pids:
            left.append(f"{p.name}: {cmdline[:200]}")
    return left


def namespaces_held(inodes):
    """Which of these network namespaces still exist, with what holds them
    (a process or thread inside, a descriptor, a bind mount)."""
    holders = collections.defaultdict(set)
    for p in pathlib.Path("/proc").iterdir():
        if not p.name.isdigit():
            continue
        try:
            for t in (p / "task").iterdir():
                ns = os.stat(t / "ns" / "net").st_ino
                if ns in inodes:
                    holders[ns].add(int(p.name))
            for fd in (p / "fd").iterdir():
                link = os.readlink(fd)
                if link.startswith("net:[") and int(link[5:-1]) in inodes:
                    holders[int(link[5:-1])].add(int(p.name))
        except OSError:
            continue
    mounts = read("/proc/self/mountinfo")
    for ns in inodes:
        if f"net:[{ns}]" in mounts:
            holders[ns].add("a bind mount")
    return holders


def leftovers(run, server_mark, own_cgroups):
    """Everything of a run that is still there, as sentences (empty: clean).
    Processes get GONE_WITHIN_S to die."""
    deadline = time.monotonic() + GONE_WITHIN_S
    while (procs := processes_of(run, server_mark)) and time.monotonic() < deadline:
        time.sleep(0.05)
    found = [f"process {p}" for p in procs]
    # The kernel reuses a freed namespace's inode number for the next one
    # made anywhere (other runs on the machine): a namespace is the run's
    # only if what holds it is a mount or a process of the run.
    for ns, holders in sorted(namespaces_held(run.seen_ns).items()):
        ours = [h for h in holders if h == "a bind mount" or h in run.seen_pids or marked(h, run.name)]
        found += [f"network namespace net:[{ns}] held by {ours}"] if ours else []
    found += [f"link {name} in the host's namespace" for name in sorted(LAB_LINKS & set(os.listdir("/sys/class/net")))]
    found += [f"cgroup {cg}" for cg in sorted(run.seen_cgroups - own_cgroups - {"/"})
              if any(pathlib.Path("/sys/fs/cgroup").glob(f"*{cg}"))]
    return found


def host_state():
    """The host namespace's firewall rules, NFQUEUE binders and qdiscs."""
    def out(*cmd):
        if not shutil.which(cmd[0]):
            pytest.fail(f"{cmd[0]} is missing (Debian packages nftables and iproute2)")
        return subprocess.run(cmd, capture_output=True, text=True, timeout=30).stdout
    return {"nft": out("nft", "-s", "list", "ruleset"),
            "nfqueue": read("/proc/net/netfilter/nfnetlink_queue"),
            "qdisc": out("tc", "qdisc", "show")}


@pytest.fixture
def lab(tmp_path):
    """The scenario file, and a media folder whose path makes the server's
    command line unique to this test."""
    (tmp_path / "signals.rtsp").write_text(SCENARIO)
    media = tmp_path / "media"
    media.mkdir()
    shutil.copyfile(ROOT / "fixtures" / "movie.Mjpeg", media / "movie.Mjpeg")
    own = {line.split(":", 2)[-1] for line in read("/proc/self/cgroup").splitlines()}
    return tmp_path, media, str(media), own


def judge(run, sig):
    """What a signalled run must have done; returns the outcome's name.

    Exit 0 with the complete report: the run had ended, or the signal came
    once every scenario had run (it interrupts nothing then). SIGKILL: no
    report, or a whole one (reports are renamed into place). SIGINT and
    SIGTERM: exit 130 and a schema-valid report marked interrupted, or, when
    the signal came before the run installed its handler (the process was
    still starting), death by the signal with nothing written."""
    entry = run.registry / str(run.pid)
    if run.report is not None:
        assert not schema_errors(run.report), (run.name, schema_errors(run.report)[:5])
    if run.rc == 0:
        assert run.exited_first or run.stage in ("analysis", "report"), (run.name, run.stage, run.err[-2000:])
        summary = run.report["summary"]
        assert summary["interrupted"] is False and summary["passed"] == 1, (run.name, summary)
        outcome = "exit 0: every scenario had run"
    elif sig == signal.SIGKILL:
        assert run.rc == -signal.SIGKILL, (run.name, run.rc, run.err[-2000:])
        if entry.exists():
            return "SIGKILL: left to the next run"
        if run.registry.joinpath(f".{run.pid}.tmp").exists():
            return "SIGKILL: while registering"
        if run.stage == "start":
            return "SIGKILL: before registering"
        # Past registry_leave: every report file is in place.
        written = sorted(p.name for p in run.report_dir.iterdir())
        assert written == ["index.html", "junit.xml", "report.json"], (run.name, run.stage, written)
        return "SIGKILL: after the report, while exiting"
    elif run.rc == -sig:
        assert not run.catches(sig), f"{run.name}: died of {sig.name} although it handles it"
        assert run.report is None and not entry.exists(), run.name
        return "died before installing its handler"
    else:
        assert run.rc == 130 and run.report is not None, (run.name, run.rc, run.err[-2000:])
        summary = run.report["summary"]
        assert summary["interrupted"] is True and summary["ran"] <= summary["scenarios"] == 1, (run.name, summary)
        assert f"interrupted by signal {int(sig)} " in run.err, (run.name, run.err[-2000:])
        outcome = "exit 130, report interrupted"
    assert not [p.name for p in run.report_dir.glob("*.tmp*")], run.name
    assert not entry.exists(), f"{run.name}: registry entry left"
    return outcome


class SignalLoop:
    """Runs killed one after the other, each checked; keeps the counts."""

    def __init__(self, harness_bin, base, media, server_mark, own_cgroups):
        self.harness_bin, self.base, self.media = harness_bin, base, media
        self.server_mark, self.own_cgroups = server_mark, own_cgroups
        self.kills = collections.Counter()     # (signal, stage) -> runs
        self.outcomes = collections.Counter()  # "signal: outcome" -> runs
        self.pending = {}   # pid -> (name, report dir) of SIGKILLed runs not yet reported
        self.reported = {}  # pid -> the sentence that reported it
        self.moments = []   # seconds from start to signal
        self.runs = 0

    def kill(self, target, sig, extra_s):
        """A run signalled extra_s into stage target (from its start for
        "start"), then every check."""
        run = Run(self.harness_bin, self.base, f"sig{self.runs:02d}-{sig.name}-{target}", self.media)
        self.runs += 1
        if target == "start":
            until = run.started + extra_s
            while time.monotonic() < until and run.sample():
                time.sleep(0.0002)
            alive = run.sample()
        else:
            alive = run.watch_until(target, extra_s)
        run.exited_first = not alive
        self.moments.append(time.monotonic() - run.started)
        run.proc.send_signal(sig)
        run.finish()
        stage = "exited" if run.exited_first else run.stage
        self.kills[(sig.name, stage)] += 1
        self.sweep_said(run)
        outcome = judge(run, sig)
        self.outcomes[f"{sig.name}: {outcome}"] += 1
        if outcome == "SIGKILL: left to the next run":
            self.pending[run.pid] = (run.name, run.report_dir)
        elif outcome == "SIGKILL: while registering":  # the entry has no name yet
            self.pending[run.pid] = ("?", run.report_dir)
        left = leftovers(run, self.server_mark, self.own_cgroups)
        assert not left, (run.name, stage, left)

    def sweep_said(self, run):
        """Checks what the run's sweep said about earlier SIGKILLed runs: each
        one, with no stray process, its report temporaries gone, and in the
        run's report when it wrote one. A run that got past its sweep must
        have reported every one still pending."""
        for m in CLEANED.finditer(run.err):
            pid = int(m.group(2))
            if pid not in self.pending:
                continue
            name, report_dir = self.pending.pop(pid)
            assert m.group(1) == name and m.group(3) == "0", m.group(0)
            assert not list(report_dir.glob(f"*.tmp{pid}")), m.group(0)
            self.reported[pid] = m.group(0)
            if run.report is not None:
                assert name in run.report["run"].get("cleaned_up", ""), run.report["run"]
        if run.progress >= LAB or run.report is not None:
            assert not self.pending, (run.name, self.pending, run.err[-2000:])

    def table(self):
        lines = []
        for sig in SIGNALS:
            row = ", ".join(f"{s} {self.kills[(sig.name, s)]}" for s in STAGES + ("exited",)
                            if self.kills[(sig.name, s)])
            lines.append(f"  {sig.name}: {sum(v for (n, _), v in self.kills.items() if n == sig.name)} ({row})")
        lines.append("  outcomes: " + "; ".join(f"{k} {v}" for k, v in sorted(self.outcomes.items())))
        lines.append(f"  SIGKILLed runs reported by a later run: {len(self.reported)}, "
                     f"{sum('unfinished report' in s for s in self.reported.values())} of them "
                     "with the temporary files of the report they were writing")
        return "\n".join(lines)


def test_runs_killed_at_random_moments_leave_nothing(harness_bin, lab):
    base, media, server_mark, own_cgroups = lab
    seed = int(os.environ.get("RTSP_HARNESS_SIGNAL_SEED", random.SystemRandom().randrange(1 << 32)))
    print(f"seed {seed} (RTSP_HARNESS_SIGNAL_SEED={seed} replays this loop)")
    rng = random.Random(seed)
    host_before = host_state()

    # The run's normal length and its stages' moments, from one run left alone.
    ref = Run(harness_bin, base, "sig-ref", media)
    while ref.sample():
        time.sleep(0.0002)
    normal_s = time.monotonic() - ref.started
    ref.finish()
    assert ref.rc == 0, (ref.out[-2000:], ref.err[-2000:])
    starts = [ref.first_seen.get(s, 0.0) for s in STAGES]
    ends = [max(starts[i], next((t for t in starts[i + 1:] if t), normal_s)) for i in range(len(STAGES))]
    window = {s: ends[i] - starts[i] for i, s in enumerate(STAGES)}
    print(f"normal run: {normal_s:.3f} s; stages from (s): "
          + ", ".join(f"{s} {ref.first_seen[s]:.3f}" for s in STAGES if s in ref.first_seen))

    loop = SignalLoop(harness_bin, base, media, server_mark, own_cgroups)
    plan = [(stage, sig) for stage in STAGES for sig in SIGNALS] * KILLS_PER_PAIR
    rng.shuffle(plan)
    loop_started = time.monotonic()
    for target, sig in plan:
        loop.kill(target, sig, rng.uniform(0, window[target]))
    # Lab set-up and report writing last milliseconds: a signal the loop
    # aimed there may have come late. Until each signal has hit each, more
    # runs signalled the moment the stage is seen.
    for stage in ("lab", "report"):
        for sig in SIGNALS:
            for _ in range(TOP_UP_TRIES):
                if loop.kills[(sig.name, stage)]:
                    break
                loop.kill(stage, sig, 0)
    loop_s = time.monotonic() - loop_started

    # One run left alone: it reports whatever is still pending, and after it
    # no registry entry is left.
    last = Run(harness_bin, base, "sig-last", media).finish()
    assert last.rc == 0, last.err[-2000:]
    loop.sweep_said(last)
    assert not list(last.registry.iterdir())
    assert host_state() == host_before

    print(f"{loop.runs} runs killed in {loop_s:.1f} s (moments {min(loop.moments):.3f}-{max(loop.moments):.3f} s "
          f"of a {normal_s:.3f} s run)\n{loop.table()}")
    for stage in ("lab", "report"):
        for sig in SIGNALS:
            assert loop.kills[(sig.name, stage)], (stage, sig.name, loop.table())


@pytest.mark.parametrize("how", ["sigint-twice", "process-group"])
def test_sigint_twice_and_to_the_process_group_end_in_an_interrupted_report(harness_bin, lab, how):
    base, media, server_mark, own_cgroups = lab
    run = Run(harness_bin, base, f"sig-{how}", media, new_session=how == "process-group")
    assert run.watch_until("replay", 0.2), run.finish().err[-2000:]
    if how == "sigint-twice":
        run.proc.send_signal(signal.SIGINT)
        time.sleep(0.02)
        run.proc.send_signal(signal.SIGINT)
    else:
        # A terminal's Ctrl-C: the harness, its reaper and anything else in
        # the foreground process group get it at once.
        os.killpg(run.pid, signal.SIGINT)
    run.exited_first = False
    run.finish()
    assert judge(run, signal.SIGINT) == "exit 130, report interrupted", (run.rc, run.err[-2000:])
    # The scenario it stopped says why.
    s = run.report["scenarios"][0]
    said = [s.get("error") or ""] + [f["message"] for f in s["failures"]]
    assert s["verdict"] != "pass" and any("interrupted by signal 2" in m for m in said), said
    assert not leftovers(run, server_mark, own_cgroups)


def test_the_sweep_cleans_after_a_dead_run_and_spares_a_live_run_of_the_same_name(harness_bin, lab):
    """The next run's sweep, without waiting for a random kill to land there:
    the entry of a dead run (a pid that has exited) whose report folder holds
    the temporary files of a report being written, and an entry caught
    half-written, are reported and removed; another process's temporary file
    stays; and a live run with the dead run's name keeps its server, whose
    environment carries the same RTSP_HARNESS_RUN marker."""
    base, media, _, _ = lab
    live = Run(harness_bin, base, "sig-twin", media)
    assert live.watch_until("replay", 0.1), live.finish().err[-2000:]
    half = subprocess.Popen(["true"])
    half.wait()
    dead = subprocess.Popen(["true"])
    dead.wait()
    report_dir = base / "reports" / "sig-twin-dead"
    report_dir.mkdir(parents=True)
    for name in ("report.json", "junit.xml"):
        (report_dir / f"{name}.tmp{dead.pid}").write_text("{")
    (report_dir / f"index.html.tmp{live.pid}").write_text("<")
    (live.registry / str(dead.pid)).write_text(f"sig-twin 1\n{report_dir}\n")
    (live.registry / f".{half.pid}.tmp").write_text("")

    sweeper = Run(harness_bin, base, "sig-sweeper", media).finish()
    live.finish()
    assert sweeper.rc == 0, sweeper.err[-2000:]
    said = (f"run sig-twin (pid {dead.pid}) ended without cleaning up (killed?): 0 stray processes removed; "
            f"2 unfinished report files removed from {report_dir}; ")
    assert said in sweeper.err and said in sweeper.report["run"]["cleaned_up"], sweeper.err[-2000:]
    assert f"run ? (pid {half.pid}) ended without cleaning up" in sweeper.err
    assert sorted(p.name for p in report_dir.iterdir()) == [f"index.html.tmp{live.pid}"]
    assert sorted(p.name for p in live.registry.iterdir()) == []
    assert live.rc == 0 and live.report["scenarios"][0]["verdict"] == "pass", live.report["scenarios"][0]["failures"]
