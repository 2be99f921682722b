"""Hostile submissions in `rtsp-harness sandbox` (harness/grade/sandbox.h):
a fork bomb, an endless loop at import, writes and reads outside the
submission's folder, a huge file, a memory hog, a server that binds every
port, and a Swing server under --xvfb. Each must be contained, and the
machine left as it was: no process of the test, no cgroup directory.

Needs root, bubblewrap and cgroups; the port test also needs a throwaway
network namespace, made only once /work/briefs/lab-free exists (a test
elsewhere counts the machine's namespaces)."""
import glob
import json
import os
import pathlib
import shutil
import subprocess
import textwrap
import time
import uuid

import pytest

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or not shutil.which("bwrap", path="/usr/bin"),
    reason="the sandbox needs root and bubblewrap")

NOBODY = 65534
LAB_FREE = pathlib.Path("/work/briefs/lab-free")


def own(path):
    for root, dirs, files in os.walk(path):
        for name in [root] + [os.path.join(root, n) for n in dirs + files]:
            os.lchown(name, NOBODY, NOBODY)


def cgroup_dirs(name):
    return [p for p in glob.glob("/sys/fs/cgroup/**/rtsp-harness/" + name, recursive=True)]


def tagged_processes(tag):
    """Processes whose environment carries the test's RTSP_HARNESS_RUN tag
    (the sandbox passes that one variable through)."""
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            env = pathlib.Path(f"/proc/{pid}/environ").read_bytes()
        except OSError:
            continue
        if f"RTSP_HARNESS_RUN={tag}".encode() in env.split(b"\0"):
            found.append(int(pid))
    return found


@pytest.fixture
def box(tmp_path, harness_bin):
    """A grading layout: subs/alice (the copy under test, owned by nobody),
    subs/bob (another submission), out/ (the grader's output). Yields a
    helper that runs a script of alice's in the sandbox; afterwards cleans
    up and checks that nothing was left behind."""
    subs = tmp_path / "subs"
    alice = subs / "alice"
    bob = subs / "bob"
    out = tmp_path / "out"
    for d in (alice, bob, out):
        d.mkdir(parents=True)
    (bob / "Server.py").write_text("# bob's secret work\n")
    own(alice)
    tag = "sandbox-test-" + uuid.uuid4().hex[:12]
    cgroup = tag
    env = dict(os.environ, RTSP_HARNESS_RUN=tag)

    class Box:
        pass

    b = Box()
    b.alice, b.bob, b.out, b.tag, b.cgroup, b.env = alice, bob, out, tag, cgroup, env

    def argv(script, limits=None, xvfb=False, cmd=None):
        (alice / "Server.py").write_text(textwrap.dedent(script))
        own(alice)
        a = [harness_bin, "sandbox", "--dir", str(alice), "--cgroup", cgroup]
        if limits:
            a += ["--limits", limits]
        if xvfb:
            a.append("--xvfb")
        return a + ["--"] + (cmd or ["python3", "Server.py", "8554"])

    def run(script, timeout=60, **kw):
        return subprocess.run(argv(script, **kw), capture_output=True, text=True, timeout=timeout, env=env)

    def stat():
        r = subprocess.run([harness_bin, "sandbox", "--stat", cgroup], capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        return {k: int(v) for k, v in (line.split() for line in r.stdout.splitlines())}

    b.argv, b.run, b.stat = argv, run, stat
    yield b
    r = subprocess.run([harness_bin, "sandbox", "--cleanup", cgroup], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert cgroup_dirs(cgroup) == []
    assert tagged_processes(tag) == []


def test_fork_bomb_stops_at_pids_max_and_cleanup_kills_all(box, harness_bin):
    proc = subprocess.Popen(box.argv("""
        import os
        while True:
            try:
                os.fork()
            except OSError:
                pass
        """, limits="pids=40"), env=box.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and not cgroup_dirs(box.cgroup):
        time.sleep(0.05)
    while time.monotonic() < deadline and box.stat()["pids"] < 40:
        time.sleep(0.1)
    time.sleep(1)
    # Pinned at the limit, and the host still forks and runs.
    assert box.stat()["pids"] == 40
    assert len(tagged_processes(box.tag)) <= 40
    assert subprocess.run(["/bin/true"]).returncode == 0
    t0 = time.monotonic()
    r = subprocess.run([harness_bin, "sandbox", "--cleanup", box.cgroup], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert time.monotonic() - t0 < 10
    assert proc.wait(timeout=10) != 0
    assert tagged_processes(box.tag) == []
    assert cgroup_dirs(box.cgroup) == []


def test_endless_loop_at_import_is_bounded_by_cpu_time(box):
    t0 = time.monotonic()
    r = box.run("""
        while True:
            pass
        """, limits="cpu=2")
    elapsed = time.monotonic() - t0
    # SIGXCPU at the soft limit (bwrap reports 128 + signal).
    assert r.returncode == 128 + 24, (r.returncode, r.stderr)
    assert elapsed < 15
    cpu_s = box.stat()["cpu_ns"] / 1e9
    assert 1.8 <= cpu_s < 4, cpu_s


WRITER = """
    import json, os
    targets = {targets}
    result = {{}}
    for path in targets:
        try:
            with open(path, "w") as f:
                f.write("pwned")
            result[path] = "written"
        except OSError as e:
            result[path] = e.strerror
    print(json.dumps(result))
    """


def test_writes_outside_the_folder_fail_or_stay_in_the_private_tmp(box, tmp_path):
    host_tmp_marker = pathlib.Path("/tmp") / (box.tag + ".pwned")
    targets = ["/pwned", "/etc/pwned", "/usr/pwned", "/bin/pwned", "/dev/pwned", "/proc/pwned",
               str(box.out / "pwned"), str(box.bob / "Server.py"), str(host_tmp_marker), "mine.txt"]
    r = box.run(WRITER.format(targets=json.dumps(targets)))
    assert r.returncode == 0, r.stderr
    result = json.loads(r.stdout)
    assert result.pop("mine.txt") == "written"
    # /tmp is a private tmpfs: the write lands there, and the host's /tmp
    # never sees it.
    assert result.pop(str(host_tmp_marker)) == "written"
    # /dev is bwrap's small private tmpfs (for /dev/shm): the same.
    assert result.pop("/dev/pwned") == "written"
    assert not pathlib.Path("/dev/pwned").exists()
    assert result["/etc/pwned"] == "Read-only file system"
    assert all(v != "written" for v in result.values()), result
    assert not host_tmp_marker.exists()
    assert not pathlib.Path("/pwned").exists()
    assert list(box.out.iterdir()) == []
    assert (box.bob / "Server.py").read_text() == "# bob's secret work\n"
    assert (box.alice / "mine.txt").read_text() == "pwned"


def test_reads_of_other_submissions_and_the_host_see_nothing(box):
    paths = [str(box.bob), str(box.bob / "Server.py"), str(box.out), "/root", "/work", "/home",
             "/etc/shadow", "/etc/ssh", "/var", "/run", "/sys/fs/cgroup"]
    r = box.run(f"""
        import json, os
        seen = {{p: os.path.exists(p) for p in {json.dumps(paths)}}}
        seen["/"] = sorted(os.listdir("/"))
        seen["procs"] = sorted(int(p) for p in os.listdir("/proc") if p.isdigit())
        seen["uid"] = os.getuid()
        seen["caps"] = [l for l in open("/proc/self/status") if l.startswith("CapEff")][0].split()[1]
        print(json.dumps(seen))
        """)
    assert r.returncode == 0, r.stderr
    seen = json.loads(r.stdout)
    assert [p for p in paths if seen[p]] == []
    assert set(seen["/"]) <= {"bin", "dev", "etc", "lib", "lib32", "lib64", "libx32", "proc", "sbin",
                              "submission", "tmp", "usr"}
    # Its own PID namespace: bwrap's init and the server, nothing of the host.
    assert len(seen["procs"]) <= 3 and max(seen["procs"]) < 10
    assert seen["uid"] == NOBODY
    assert int(seen["caps"], 16) == 0


def test_huge_file_stops_at_the_file_size_limit(box):
    r = box.run("""
        import os
        block = b"x" * (1 << 20)
        try:
            with open("huge.bin", "wb") as f:
                for _ in range(100):
                    f.write(block)
            print("wrote all")
        except OSError as e:
            print("stopped:", e.strerror)
        """, limits="fsize=4M")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "stopped: File too large"
    assert (box.alice / "huge.bin").stat().st_size <= 4 << 20


def test_memory_hog_is_killed_at_the_memory_limit(box):
    t0 = time.monotonic()
    r = box.run("""
        hoard = []
        while True:
            hoard.append(bytearray(8 << 20))
        """, limits="mem=96M")
    # The OOM killer acts inside the cgroup: SIGKILL (bwrap: 128 + 9).
    assert r.returncode == 128 + 9, (r.returncode, r.stderr)
    assert time.monotonic() - t0 < 30


@pytest.mark.skipif(not LAB_FREE.exists(), reason="no network namespace before /work/briefs/lab-free")
def test_binding_every_port_is_harmless_in_its_own_namespace(box):
    """What happens: below ip_unprivileged_port_start (1024) bind fails with
    EACCES (nobody has no CAP_NET_BIND_SERVICE), above it the server binds
    until it runs out of descriptors (nofile); all of it inside the
    throwaway namespace, none of it on the host's ports."""
    script = """
        import errno, json, os, socket
        socks, errors = [], {}
        for port in range(1, 65536):
            try:
                s = socket.socket()
            except OSError as e:
                errors["socket " + errno.errorcode[e.errno]] = port
                break
            try:
                s.bind(("0.0.0.0", port))
                s.listen()
                socks.append(s)
            except OSError as e:
                s.close()
                errors[errno.errorcode[e.errno]] = errors.get(errno.errorcode[e.errno], 0) + 1
        print(json.dumps({"bound": len(socks), "first": socks[0].getsockname()[1] if socks else 0,
                          "errors": errors, "netns": os.readlink("/proc/self/ns/net")}))
        """
    argv = box.argv(script, limits="nofile=128")
    r = subprocess.run(["unshare", "--net", "--", "sh", "-c", 'ip link set lo up && exec "$@"', "sh"] + argv,
                       capture_output=True, text=True, timeout=120, env=box.env)
    assert r.returncode == 0, r.stderr
    result = json.loads(r.stdout)
    assert result["netns"] != os.readlink("/proc/self/ns/net")
    assert result["errors"]["EACCES"] == 1023
    assert result["first"] == 1024
    assert "socket EMFILE" in result["errors"]
    assert 100 <= result["bound"] < 128


def test_swing_server_runs_under_xvfb(box):
    if not shutil.which("javac", path="/usr/bin") or not shutil.which("xvfb-run", path="/usr/bin"):
        pytest.skip("no javac or xvfb-run")
    (box.alice / "Server.java").write_text(textwrap.dedent("""
        import javax.swing.*;
        public class Server {
            public static void main(String[] a) throws Exception {
                JFrame f = new JFrame("RTSP server");
                f.setSize(200, 100);
                f.setVisible(true);
                System.out.println("shown on " + System.getenv("DISPLAY") + " port " + a[0]);
                System.exit(7);
            }
        }
        """))
    r = box.run("", cmd=["javac", "Server.java"], timeout=120)
    assert r.returncode == 0, r.stderr
    r = box.run("", cmd=["java", "-cp", ".", "Server", "8554"], xvfb=True, timeout=120)
    assert r.returncode == 7, r.stderr
    assert r.stdout.startswith("shown on :") and r.stdout.strip().endswith("port 8554")
    r = box.run("", cmd=["java", "-cp", ".", "Server", "8554"], timeout=120)
    # Without --xvfb there is no display: Swing refuses.
    assert r.returncode != 7
    assert "HeadlessException" in r.stderr
