"""The command-line front end: help, version, and usage errors (exit 2)."""
import re


def test_help_lists_every_subcommand(run_harness):
    r = run_harness("--help")
    assert r.returncode == 0
    assert r.stdout.startswith("usage: rtsp-harness <command>")
    commands = re.findall(r"^  (\S+)\s", r.stdout, re.M)
    assert "fixture" in commands


def test_each_listed_subcommand_has_help(run_harness):
    r = run_harness("--help")
    for cmd in re.findall(r"^  (\S+)\s", r.stdout, re.M):
        sub = run_harness(cmd, "--help")
        assert sub.returncode == 0, f"{cmd} --help exited {sub.returncode}: {sub.stderr}"
        assert "usage:" in sub.stdout


def test_version(run_harness):
    r = run_harness("--version")
    assert r.returncode == 0
    assert re.fullmatch(r"rtsp-harness \d+\.\d+\.\d+\n", r.stdout)


def test_no_arguments_is_a_usage_error(run_harness):
    r = run_harness()
    assert r.returncode == 2
    assert "usage:" in r.stderr
    assert r.stdout == ""


def test_unknown_subcommand_is_named(run_harness):
    r = run_harness("frobnicate")
    assert r.returncode == 2
    assert "unknown command 'frobnicate'" in r.stderr
    assert "usage:" in r.stderr


def test_unknown_top_level_flag_is_named(run_harness):
    r = run_harness("--frobnicate")
    assert r.returncode == 2
    assert "unknown option '--frobnicate'" in r.stderr
