"""The recipes of docs/grading.md, "The class report, and slices of a
class", run as the page gives them: GNU parallel sends the slices of a
class over ssh to two hosts (network namespaces, each with its own sshd,
cgroups and disk) and brings them back with --return; the GitHub Actions
workflow docs/examples/grade-matrix.yml runs step by step in a simulation
of its runners. Both merged gradebooks must equal the class graded in one
piece, row for row.

The class is small on purpose: two of the team's fixture submissions that
are graded in full, and two that fail at once (a server that exits, a
folder with no server), one per slice."""
import csv
import fnmatch
import json
import os
import pathlib
import re
import shlex
import shutil
import signal
import socket
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import yaml

from run_util import ROOT, schema_errors

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the network lab and the sandbox need root")

SUBMISSIONS = ROOT / "fixtures" / "submissions"
GRADING_MD = ROOT / "docs" / "grading.md"
WORKFLOW = ROOT / "docs" / "examples" / "grade-matrix.yml"
SECTION = "## The class report, and slices of a class"

# What the parallel recipe assumes of each host.
HOSTS = ("grader1", "grader2")
WORKDIR = "/srv/rtsp-harness"
CLASS = "/srv/class"


def gradebook(out):
    with open(out / "gradebook.csv", newline="") as f:
        return {row["submission"]: row for row in csv.DictReader(f)}


def differences(got, want):
    """The rows that differ, column by column: (got, wanted)."""
    diff = {}
    for name in sorted(set(got) | set(want)):
        a, b = got.get(name, {}), want.get(name, {})
        cols = {c: (a.get(c), b.get(c)) for c in sorted(set(a) | set(b)) if a.get(c) != b.get(c)}
        if cols:
            diff[name] = cols
    return diff


def section():
    text = GRADING_MD.read_text()
    start = text.index(SECTION)
    end = text.find("\n## ", start + len(SECTION))
    return text[start:end]


def recipe(after):
    """The commands of the indented block that follows the paragraph of
    the section starting with AFTER, continuation lines joined, split as
    the shell splits them."""
    lines = section().split(after, 1)[1].split("\n")
    block = []
    for line in lines[1:]:
        if line.startswith("    "):
            block.append(line[4:])
        elif block and line.strip():
            break
    return [shlex.split(cmd) for cmd in "\n".join(block).replace("\\\n", " ").split("\n") if cmd.strip()]


# The sandbox's cgroup v1 controllers (harness/grade/sandbox.c).
CONTROLLERS = ("pids", "memory", "cpuacct", "freezer")


def remove_cgroup(top):
    for d, _, _ in os.walk(top, topdown=False):
        os.rmdir(d)


def machine_cgroups(request, name):
    """Cgroups of its own for a stand-in machine (a host, a runner), under
    this process's cgroup in each hierarchy the sandbox uses, removed at the
    end. Separate machines have separate cgroup trees: a grader makes its
    submissions' cgroups under its own cgroup (docs/grading.md,
    "Isolation"), and the graders of two hosts share none."""
    own = {}
    with open("/proc/self/cgroup") as f:
        for line in f:
            _, names, path = line.rstrip("\n").split(":", 2)
            for c in names.split(","):
                own[c] = path.rstrip("/")
    dirs = []
    for c in CONTROLLERS:
        d = pathlib.Path(f"/sys/fs/cgroup/{c}{own[c]}/{name}")
        d.mkdir()
        dirs.append(d)
        request.addfinalizer(lambda d=d: remove_cgroup(d))
    return dirs


# Joins the cgroups named after "--", then runs the rest.
JOIN_CGROUPS = 'while [ "$1" != -- ]; do echo $$ > "$1/cgroup.procs"; shift; done; shift; exec "$@"'


@pytest.fixture(scope="module")
def small_class(tmp_path_factory):
    cls = tmp_path_factory.mktemp("recipes") / "class"
    cls.mkdir()
    for name in ("correct", "wrong-pt"):
        shutil.copytree(SUBMISSIONS / name, cls / name, symlinks=False)
    (cls / "exits-at-start").mkdir()
    (cls / "exits-at-start" / "Server.py").write_text("print('hello')\n")
    (cls / "no-server").mkdir()
    (cls / "no-server" / "README.txt").write_text("the server is on my other laptop\n")
    return cls


@pytest.fixture(scope="module")
def whole(harness_bin, small_class, graded_class, tmp_path_factory):
    """The small class graded in one piece: its gradebook rows. The two
    working servers' rows come from the whole fixture class, graded once for
    every test (the same rubric and seed give the same row wherever a
    submission is graded); the two that never start are graded here."""
    out = tmp_path_factory.mktemp("whole") / "out"
    one_piece = tmp_path_factory.mktemp("whole") / "class"
    for name in ("exits-at-start", "no-server"):
        shutil.copytree(small_class / name, one_piece / name)
    proc = subprocess.run([harness_bin, "grade", str(one_piece), "--out", str(out), "--jobs", "4", "-q"],
                          capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert (out / "gradebook.csv").exists(), proc.stderr[-3000:]
    book = gradebook(out)
    _, class_out, _ = graded_class
    assert (class_out / "gradebook.csv").exists(), graded_class[0].stderr[-3000:]
    class_book = gradebook(class_out)
    book.update({name: class_book[name] for name in ("correct", "wrong-pt")})
    assert float(book["correct"]["total"]) == float(book["correct"]["max"])
    assert float(book["wrong-pt"]["total"]) < float(book["correct"]["total"])
    return book


def checkout(where, harness_bin, small_class=None):
    """A stand-in for a checkout of rtsp-harness that was built: build/ is
    the folder of the binary under test (which finds the rubric and the
    scenarios next to itself), class/ the class when given."""
    where.mkdir(parents=True)
    (where / "build").symlink_to(os.path.dirname(os.path.realpath(harness_bin)))
    if small_class is not None:
        shutil.copytree(small_class, where / "class", symlinks=True)
    return where


# ---------------------------------------------------------------------------
# GNU parallel across hosts


def sh(*argv):
    subprocess.run(argv, check=True, capture_output=True, text=True, timeout=30)


def keygen(path):
    sh("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", path.name, "-f", str(path))
    return (path.parent / (path.name + ".pub")).read_text().strip()


# A host's own view of the disk, set up in its own mount namespace before
# sshd starts: /run/sshd (sshd's privilege separation folder) and /srv on
# private tmpfs, the checkout at WORKDIR, the class at CLASS. Whatever a job
# writes under WORKDIR stays on that host.
HOST_SETUP = """
mount -t tmpfs -o mode=0755 rh-ssh-run /run
mkdir -m 0755 /run/sshd
mount -t tmpfs -o mode=0755 rh-ssh-srv /srv
mkdir -p "$1" "$2"
ln -s "$3" "$1/build"
mount --bind "$4" "$2"
exec /usr/sbin/sshd -D -e -f "$5"
"""


class Host:
    def __init__(self, name, addr, sshd, log):
        self.name, self.addr, self.sshd, self.log = name, addr, sshd, log

    def disk(self, path):
        """PATH as this host sees it (its sshd's root, in its mount namespace)."""
        return pathlib.Path(f"/proc/{self.sshd.pid}/root{path}")


def ns_pids(ns):
    out = subprocess.run(["ip", "netns", "pids", ns], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


def remove_host(ns, outer):
    """Ends every process of the namespace (sshd, its sessions and what
    they started), then removes the namespace and the veth."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in ns_pids(ns):
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + 10
        while ns_pids(ns) and time.monotonic() < deadline:
            time.sleep(0.1)
    subprocess.run(["ip", "netns", "del", ns], capture_output=True)
    subprocess.run(["ip", "link", "del", outer], capture_output=True)


@pytest.fixture
def ssh_hosts(request, harness_bin, small_class, tmp_path):
    """Two hosts, HOSTS, each a network namespace reached over a veth, with
    its own sshd (a throwaway host key, root's login by a throwaway key),
    its own cgroups and its own disk (HOST_SETUP). Returns (the client's
    ssh config, the hosts)."""
    keys = tmp_path / "ssh"
    keys.mkdir()
    client_pub = keygen(keys / "client")
    (keys / "authorized_keys").write_text(client_pub + "\n")
    binary_dir = os.path.dirname(os.path.realpath(harness_bin))
    subnet = f"198.19.{os.getpid() % 250}"
    hosts, known, client_cfg = [], [], []
    for k, name in enumerate(HOSTS, 1):
        ns, outer = f"rh-ssh-{os.getpid()}-{k}", f"rh-ssh-{os.getpid() % 100000}-{k}"
        near, addr = f"{subnet}.{4 * k - 3}", f"{subnet}.{4 * k - 2}"
        # Finalizers run last first: the processes end, then their cgroups go.
        cgroups = machine_cgroups(request, ns)
        request.addfinalizer(lambda ns=ns, outer=outer: remove_host(ns, outer))
        sh("ip", "netns", "add", ns)
        sh("ip", "link", "add", outer, "type", "veth", "peer", "name", "eth0", "netns", ns)
        sh("ip", "addr", "add", f"{near}/30", "dev", outer)
        sh("ip", "link", "set", outer, "up")
        sh("ip", "-n", ns, "addr", "add", f"{addr}/30", "dev", "eth0")
        sh("ip", "-n", ns, "link", "set", "eth0", "up")
        sh("ip", "-n", ns, "link", "set", "lo", "up")
        host_pub = keygen(keys / f"{name}_host")
        known.append(f"{name} {host_pub}")
        cfg = keys / f"{name}_sshd_config"
        cfg.write_text(
            f"ListenAddress {addr}\n"
            f"HostKey {keys / (name + '_host')}\n"
            f"AuthorizedKeysFile {keys / 'authorized_keys'}\n"
            "PermitRootLogin prohibit-password\n"
            "PasswordAuthentication no\n"
            "KbdInteractiveAuthentication no\n"
            "UsePAM no\n"
            "StrictModes no\n"
            "PidFile none\n"
            # The sanitized build's options reach the hosts' graders.
            "AcceptEnv ASAN_OPTIONS UBSAN_OPTIONS LSAN_OPTIONS\n")
        log = open(tmp_path / f"{name}_sshd.log", "w")
        request.addfinalizer(log.close)
        # sh, nsenter and unshare exec without forking: the process started
        # is sshd itself, in its own cgroups, network and mount namespaces.
        sshd = subprocess.Popen(["sh", "-c", JOIN_CGROUPS, "join", *cgroups, "--",
                                 "nsenter", f"--net=/run/netns/{ns}", "unshare", "--mount", "--propagation",
                                 "private", "sh", "-ec", HOST_SETUP, "host", WORKDIR, CLASS, binary_dir,
                                 str(small_class), str(cfg)], stdout=log, stderr=subprocess.STDOUT)
        hosts.append(Host(name, addr, sshd, tmp_path / f"{name}_sshd.log"))
        client_cfg.append(f"Host {name}\n    HostName {addr}\n    HostKeyAlias {name}\n")
    (keys / "known_hosts").write_text("\n".join(known) + "\n")
    client_cfg.append(
        "Host *\n"
        "    User root\n"
        f"    IdentityFile {keys / 'client'}\n"
        "    IdentitiesOnly yes\n"
        f"    UserKnownHostsFile {keys / 'known_hosts'}\n"
        "    StrictHostKeyChecking yes\n"
        "    CheckHostIP no\n"
        "    BatchMode yes\n"
        "    ConnectTimeout 10\n"
        "    LogLevel ERROR\n"
        "    SendEnv ASAN_OPTIONS UBSAN_OPTIONS LSAN_OPTIONS\n")
    ssh_config = keys / "ssh_config"
    ssh_config.write_text("".join(client_cfg))
    for host in hosts:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection((host.addr, 22), timeout=1).close()
                break
            except OSError:
                assert host.sshd.poll() is None and time.monotonic() < deadline, host.log.read_text()
                time.sleep(0.1)
    return ssh_config, hosts


def test_parallel_sshlogin_recipe_grades_each_slice_on_its_host(harness_bin, whole, ssh_hosts, tmp_path):
    """The recipe's two commands, the first with only `--ssh` (the
    throwaway key) and `--joblog` (where each job went) added. Each slice
    is graded on the host parallel sent it to and exists only on that
    host's disk until --return brings it here; the merged gradebook is the
    one graded in one piece."""
    ssh_config, hosts = ssh_hosts
    send, merge = recipe("On several hosts with GNU parallel")
    assert send[0] == "parallel" and send[send.index("--sshlogin") + 1] == ",".join(f"2/{h}" for h in HOSTS)
    assert send[send.index("--workdir") + 1] == WORKDIR
    job = send[send.index(":::") - 1]
    assert f"build/rtsp-harness grade {CLASS} --out out/{{}} --shard {{}}/4" in job
    slices = send[send.index(":::") + 1:]
    assert slices == ["1", "2", "3", "4"]

    here = checkout(tmp_path / "here", harness_bin)
    joblog = tmp_path / "joblog"
    proc = subprocess.run([send[0], "--ssh", f"ssh -F {ssh_config}", "--joblog", str(joblog), *send[1:]],
                          capture_output=True, text=True, timeout=600, cwd=here)
    logs = "".join(h.log.read_text()[-1500:] for h in hosts)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:] + logs

    # Where parallel sent each slice: the joblog's Host column.
    with open(joblog, newline="") as f:
        sent = {row["Command"].split("--shard ")[1].split("/")[0]: row["Host"]
                for row in csv.DictReader(f, delimiter="\t")}
    assert sorted(sent) == slices and set(sent.values()) == set(HOSTS), sent
    by_name = {h.name: h for h in hosts}
    for k, host in sent.items():
        # Graded there: the slice is on that host's disk and on no other.
        there = by_name[host].disk(f"{WORKDIR}/out/{k}")
        assert (there / "report.json").exists(), (k, host)
        for other in hosts:
            if other.name != host:
                assert not other.disk(f"{WORKDIR}/out/{k}").exists(), (k, other.name)
        # Brought back by --return, byte for byte.
        for name in ("gradebook.csv", "report.json", "class.json"):
            assert (here / "out" / k / name).read_bytes() == (there / name).read_bytes(), (k, name)
        # The slice holds its share: names in order, every fourth one.
        assert list(gradebook(here / "out" / k)) == sorted(whole)[int(k) - 1::4]
        report = json.loads((here / "out" / k / "report.json").read_text())
        assert not schema_errors(report), (k, schema_errors(report)[:3])

    proc = subprocess.run(merge, capture_output=True, text=True, timeout=120, cwd=here)
    assert proc.returncode == 0, proc.stderr
    assert f"grades of {len(whole)} submissions" in proc.stdout
    merged = here / "out" / "all"
    assert gradebook(merged) == whole, differences(gradebook(merged), whole)
    report = json.loads((merged / "report.json").read_text())
    assert not schema_errors(report), schema_errors(report)[:3]
    assert {s["run"] for s in report["scenarios"]} == {"correct", "wrong-pt"}
    assert {g["submission"]["name"] for g in report["grades"]} == set(whole)
    assert json.loads((merged / "class.json").read_text())["submissions"] == len(whole)


# ---------------------------------------------------------------------------
# The GitHub Actions matrix

MATRIX_EXPR = re.compile(r"\$\{\{\s*matrix\.(\w+)\s*\}\}")


def expand(text, matrix):
    """TEXT with its `${{ matrix.KEY }}` filled in, as the runner does; no
    other expression is used."""
    out = MATRIX_EXPR.sub(lambda m: str(matrix[m.group(1)]), str(text))
    assert "${{" not in out, out
    return out


def workflow():
    return yaml.safe_load(WORKFLOW.read_text())


def test_workflow_is_the_one_docs_show_and_its_jobs_fit_together():
    # The page shows the file's jobs verbatim.
    shown = re.search(r"```yaml\n(.*?)```", section(), re.S).group(1)
    assert shown in WORKFLOW.read_text()
    wf = workflow()
    # YAML 1.1 reads the key `on` as True.
    assert wf.get("on", wf.get(True)) == "workflow_dispatch"
    grade, book = wf["jobs"]["grade"], wf["jobs"]["gradebook"]
    shards = grade["strategy"]["matrix"]["shard"]
    assert shards == [1, 2, 3, 4] and grade["strategy"]["fail-fast"] is False
    assert book["needs"] == "grade"
    runs = [s["run"] for s in grade["steps"] if "run" in s]
    grading = [r for r in runs if " grade " in r]
    assert len(grading) == 1 and f"--shard ${{{{ matrix.shard }}}}/{len(shards)} " in grading[0]
    # Every slice uploaded under its own name, every one downloaded, then
    # merged from where the download puts it.
    upload = next(s for s in grade["steps"] if s.get("uses") == "actions/upload-artifact@v4")
    assert upload["with"]["path"] == grading[0].split("--out ")[1].split()[0]
    names = [expand(upload["with"]["name"], {"shard": k}) for k in shards]
    assert len(set(names)) == len(shards)
    download = next(s for s in book["steps"] if s.get("uses") == "actions/download-artifact@v4")
    assert fnmatch.filter(names, download["with"]["pattern"]) == names
    merge = next(s["run"] for s in book["steps"] if "report merge" in s.get("run", ""))
    assert merge.endswith(f" {download['with']['path']}/{download['with']['pattern']}")


class Runners:
    """Fresh runners for the jobs of one workflow run, and the run's
    artifact store."""

    def __init__(self, tmp_path, harness_bin, small_class):
        self.tmp, self.harness_bin, self.small_class = tmp_path, harness_bin, small_class
        self.artifacts = tmp_path / "artifacts"
        self.artifacts.mkdir()
        # The job runs as root already: this sudo only runs its command
        # (the test machine may have no sudo).
        shim = tmp_path / "sudo"
        shim.mkdir()
        (shim / "sudo").write_text('#!/bin/sh\nexec "$@"\n')
        (shim / "sudo").chmod(0o755)
        self.env = {**os.environ, "PATH": f"{shim}:{os.environ['PATH']}"}

    def run(self, job, folder, matrix, cgroups):
        """JOB's steps in order, in FOLDER, its processes in CGROUPS."""
        log = []
        for step in job["steps"]:
            uses, run = step.get("uses"), step.get("run")
            with_ = {k: expand(v, matrix) for k, v in step.get("with", {}).items()}
            if uses == "actions/checkout@v4":
                checkout(folder, self.harness_bin, self.small_class)
            elif uses == "actions/upload-artifact@v4":
                # v4 uploads the folder's contents without hidden files,
                # and refuses a name already taken in the run.
                dest = self.artifacts / with_["name"]
                assert not dest.exists(), with_["name"]
                shutil.copytree(folder / with_["path"], dest, ignore=shutil.ignore_patterns(".*"))
            elif uses == "actions/download-artifact@v4":
                # Several artifacts: each in PATH/<its name>/.
                for name in fnmatch.filter(sorted(os.listdir(self.artifacts)), with_["pattern"]):
                    shutil.copytree(self.artifacts / name, folder / with_["path"] / name)
            elif run is not None and re.match(r"(sudo )?make ", run):
                # The checkout's build: the checkout above links the binary
                # under test in as build/ instead.
                pass
            elif run is not None:
                cmd = expand(run, matrix)
                # The runner's shell for `run:`.
                proc = subprocess.run(["sh", "-c", JOIN_CGROUPS, "join", *cgroups, "--",
                                       "bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", cmd],
                                      capture_output=True, text=True, timeout=600, cwd=folder, env=self.env)
                log.append(f"$ {cmd}\n{proc.stdout}{proc.stderr}")
                assert proc.returncode == 0, "\n".join(log)
            else:
                raise AssertionError(f"the simulation does not know the step {step}")


def test_actions_matrix_graded_on_simulated_runners_merges_into_the_unsharded_gradebook(
        request, harness_bin, small_class, whole, tmp_path):
    """Each matrix job on a fresh runner (a folder and cgroups of its own)
    with its shard filled in, side by side as the runners would; the
    artifacts copied to and from a store as upload-artifact and
    download-artifact do; then the gradebook job. The `make` steps stand
    for the checkout's build: the binary under test is linked in instead."""
    wf = workflow()
    runners = Runners(tmp_path, harness_bin, small_class)
    grade = wf["jobs"]["grade"]
    shards = grade["strategy"]["matrix"]["shard"]
    with ThreadPoolExecutor(len(shards)) as pool:
        jobs = [pool.submit(runners.run, grade, tmp_path / f"grade-{k}", {"shard": k},
                            machine_cgroups(request, f"rh-runner-{os.getpid()}-{k}")) for k in shards]
    for job in jobs:
        job.result()
    runners.run(wf["jobs"]["gradebook"], tmp_path / "gradebook", {},
                machine_cgroups(request, f"rh-runner-{os.getpid()}-gradebook"))
    assert sorted(os.listdir(runners.artifacts)) == ["gradebook"] + [f"slice-{k}" for k in shards]
    book = gradebook(runners.artifacts / "gradebook")
    assert book == whole, differences(book, whole)
    report = json.loads((runners.artifacts / "gradebook" / "report.json").read_text())
    assert not schema_errors(report), schema_errors(report)[:3]
    assert {g["submission"]["name"] for g in report["grades"]} == set(whole)
