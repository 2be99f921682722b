"""`rtsp-harness grade` on the Java version of the lab
(fixtures/submissions-java/): the team's Swing server is compiled with
javac inside the sandbox, runs under Xvfb in every scenario and gets full
marks and the bonus like the Python one; a copy with a compile error is
failed at once with javac's message; a Swing window in the sandbox finds
the host's font cache instead of rebuilding it at every start."""
import csv
import json
import os
import pathlib
import re
import shutil
import subprocess
import textwrap
import time

import pytest

from run_util import ROOT, schema_errors

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="the network lab and the sandbox need root"),
    pytest.mark.skipif(not (shutil.which("javac", path="/usr/bin") and shutil.which("xvfb-run", path="/usr/bin")),
                       reason="no javac or xvfb-run"),
]

SUBMISSIONS = ROOT / "fixtures" / "submissions-java"
CORRECT = SUBMISSIONS / "correct"
NOBODY = 65534
CLASSES = ["Server.class", "RTPpacket.class", "VideoStream.class"]


def grade(harness_bin, submissions, out, *args, timeout=300):
    t0 = time.monotonic()
    proc = subprocess.run([harness_bin, "grade", str(submissions), "--out", str(out), "--jobs", "1", "-q",
                           *map(str, args)], capture_output=True, text=True, timeout=timeout, cwd=ROOT)
    return proc, time.monotonic() - t0


def gradebook(out):
    with open(out / "gradebook.csv", newline="") as f:
        return {row["submission"]: row for row in csv.DictReader(f)}


@pytest.fixture(scope="module")
def graded(harness_bin, tmp_path_factory):
    """The Java class graded once; --keep leaves the private copy, where
    javac's class files show that the grader compiled it."""
    out = tmp_path_factory.mktemp("grade-java") / "class"
    proc, took = grade(harness_bin, SUBMISSIONS, out, "--keep")
    return proc, out, took


def test_the_java_server_gets_full_marks_and_the_bonus(graded):
    proc, out, took = graded
    assert (out / "gradebook.csv").exists(), proc.stderr[-3000:]
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    row = gradebook(out)["correct"]
    assert row["dialect"] == "lab"
    assert float(row["total"]) == float(row["max"]) == 130, row
    assert float(row["bonus"]) == 10, row
    g = json.loads((out / "correct" / "grade.json").read_text())
    lost = [(i["id"], i["reasons"]) for i in g["items"] if i["status"] != "pass"]
    assert not lost, lost
    assert g["points"] == g["max"] == 130 and g["bonus"] == g["max_bonus"] == 10
    print(f"graded one Java submission in {took:.1f} s")
    # javac, one JVM start per scenario and the probe: well inside a minute.
    assert took < 60, took


def test_the_submission_was_compiled_in_the_sandbox(graded):
    _, out, _ = graded
    sub = json.loads((out / "correct" / "grade.json").read_text())["submission"]
    assert sub["language"] == "java" and sub["entry"] == "Server.java", sub
    assert sub["command"] == "java -cp . Server {port}"
    assert "problem" not in sub, sub
    # The fixture holds sources only; the class files in the copy were
    # written by javac running as the sandbox's user.
    assert not list(CORRECT.glob("*.class"))
    copy = out / ".work" / "correct"
    for name in CLASSES:
        assert (copy / name).is_file(), sorted(p.name for p in copy.iterdir())
        assert (copy / name).stat().st_uid == NOBODY, name


def test_every_scenario_ran_the_server_under_xvfb(graded):
    _, out, _ = graded
    sub = json.loads((out / "correct" / "grade.json").read_text())["submission"]
    assert sub["display"] == "Xvfb"
    report = json.loads((out / "correct" / "report.json").read_text())
    assert not schema_errors(report), schema_errors(report)[:3]
    assert len(report["scenarios"]) == 7
    copy = re.escape(f"'{out}/.work/correct'")
    for s in report["scenarios"]:
        assert s["verdict"] == "pass", (s["file"], s["failures"][:2])
        cmd = s["sut"]["command"]
        assert re.search(r" sandbox --dir " + copy + r" --cgroup \S+ --xvfb -- java -cp \. Server \d+$", cmd), cmd
        # Without a display the JFrame throws before the port listens.
        assert "HeadlessException" not in s["sut"]["stderr_tail"], s["sut"]["stderr_tail"]


def test_a_compile_error_fails_every_item_at_once_with_javacs_message(harness_bin, tmp_path):
    cls = tmp_path / "cls"
    broken = cls / "broken"
    shutil.copytree(CORRECT, broken)
    source = (broken / "Server.java").read_text().splitlines(keepends=True)
    line = next(n for n, text in enumerate(source) if text.strip() == "timer.stop();")
    source[line] = source[line].replace("timer.stop();", "timer.stop()")
    (broken / "Server.java").write_text("".join(source))

    out = tmp_path / "out"
    proc, took = grade(harness_bin, cls, out)
    assert proc.returncode == 1, proc.stdout[-2000:] + proc.stderr[-2000:]
    row = gradebook(out)["broken"]
    assert float(row["total"]) == 0 and float(row["bonus"]) == 0 and float(row["max"]) == 130, row
    g = json.loads((out / "broken" / "grade.json").read_text())
    sub = g["submission"]
    assert sub["problem"] == "javac failed (see compile_log)"
    assert f"Server.java:{line + 1}: error: ';' expected" in sub["compile_log"], sub["compile_log"]
    assert all(i["points"] == 0 and "javac failed (see compile_log)" in i["reasons"] for i in g["items"])
    report = json.loads((out / "broken" / "report.json").read_text())
    assert not schema_errors(report), schema_errors(report)[:3]
    assert report["scenarios"] == []
    page = (out / "broken" / "index.html").read_text()
    assert "compiler output" in page and "error: &#39;;&#39; expected" in page
    print(f"graded the broken copy in {took:.1f} s")
    # Nothing runs after javac: no probe, no scenario.
    assert took < 20, took


FONT_PROBE = """
    import java.awt.Graphics;
    import java.io.File;
    import java.util.Arrays;
    import java.util.concurrent.CountDownLatch;
    import java.util.concurrent.TimeUnit;
    import javax.swing.*;

    public class Server {
        public static void main(String[] a) throws Exception {
            CountDownLatch painted = new CountDownLatch(1);
            long t0 = System.nanoTime();
            SwingUtilities.invokeAndWait(() -> {
                JFrame frame = new JFrame("RTSP server");
                frame.add(new JLabel("Send frame #1") {
                    protected void paintComponent(Graphics g) {
                        super.paintComponent(g);
                        painted.countDown();
                    }
                });
                frame.setSize(300, 80);
                frame.setVisible(true);
            });
            System.out.println("painted " + painted.await(30, TimeUnit.SECONDS));
            System.out.println("ms " + (System.nanoTime() - t0) / 1000000);
            File cache = new File("/tmp/.cache/fontconfig");
            String[] names = cache.list();
            Arrays.sort(names);
            System.out.println("writable " + cache.canWrite());
            System.out.println("rebuilt " + new File("/tmp/.fontconfig").exists());
            System.out.println("caches " + String.join(" ", names));
            System.exit(0);
        }
    }
    """


def test_a_swing_window_in_the_sandbox_uses_the_hosts_font_cache(harness_bin, tmp_path):
    """fontconfig looks for its cache in /var/cache/fontconfig (not in the
    sandbox) and $HOME/.cache/fontconfig ($HOME is the private /tmp): the
    host's cache is there, read-only, so drawing a label's text reads it
    instead of scanning every font again, which took 300 ms of the event
    thread at every start. A cache it could not use would be rebuilt in
    /tmp/.fontconfig, the one place left it can write."""
    host = pathlib.Path("/var/cache/fontconfig")
    if not host.is_dir():
        pytest.skip("no fontconfig cache on this host")
    box = tmp_path / "box"
    box.mkdir()
    (box / "Server.java").write_text(textwrap.dedent(FONT_PROBE))
    shutil.chown(box, NOBODY, NOBODY)
    shutil.chown(box / "Server.java", NOBODY, NOBODY)
    sandbox = [harness_bin, "sandbox", "--dir", str(box)]
    r = subprocess.run(sandbox + ["--", "javac", "-proc:none", "Server.java"], capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stderr
    r = subprocess.run(sandbox + ["--xvfb", "--", "java", "-cp", ".", "Server"], capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stderr
    seen = dict(line.split(" ", 1) for line in r.stdout.splitlines())
    assert seen["painted"] == "true", r.stdout + r.stderr
    assert seen["writable"] == "false"
    assert seen["caches"].split() == sorted(p.name for p in host.iterdir())
    assert seen["rebuilt"] == "false", "the host's font cache is stale: fc-cache -s rebuilds it"
    print(f"first paint {seen['ms']} ms after the JVM started")
