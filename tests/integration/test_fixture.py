"""Integration tests of `rtsp-harness fixture`: the media it writes, checked
independently of the C code (the .Mjpeg container and the JPEG comment are
parsed here in Python, the frames decoded by ffmpeg), its verifier on good
and corrupt files, and its command-line errors."""
import json
import re
import shutil
import subprocess

import pytest

FFMPEG = shutil.which("ffmpeg")


def parse_mjpeg(data):
    """Split a lab .Mjpeg file into (record_offset, jpeg) pairs; strict format."""
    frames, off = [], 0
    while off < len(data):
        field = data[off:off + 5]
        assert len(field) == 5 and field.isdigit(), f"bad length field {field!r} at {off}"
        n = int(field)
        jpeg = data[off + 5:off + 5 + n]
        assert len(jpeg) == n, f"truncated frame at {off}"
        frames.append((off, jpeg))
        off += 5 + n
    return frames


def jpeg_comments(jpeg):
    """COM segment payloads before the first SOS, by walking the marker segments."""
    assert jpeg[:2] == b"\xff\xd8", "no SOI"
    off, comments = 2, []
    while off + 4 <= len(jpeg):
        assert jpeg[off] == 0xFF, f"expected a marker at {off}"
        marker = jpeg[off + 1]
        seglen = int.from_bytes(jpeg[off + 2:off + 4], "big")
        if marker == 0xFE:
            comments.append(jpeg[off + 4:off + 2 + seglen])
        if marker == 0xDA:
            break
        off += 2 + seglen
    return comments


def ffmpeg_frame_count(jpegs):
    """Decode a concatenated JPEG sequence with ffmpeg; returns (frames, stderr)."""
    proc = subprocess.run(
        [FFMPEG, "-v", "error", "-f", "mjpeg", "-i", "-", "-fps_mode", "passthrough",
         "-f", "framemd5", "-"],
        input=b"".join(jpegs), capture_output=True, timeout=300)
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")
    lines = [l for l in proc.stdout.decode().splitlines() if l and not l.startswith("#")]
    return len(lines), proc.stderr.decode(errors="replace")


@pytest.fixture(scope="module")
def movie500(tmp_path_factory, run_harness):
    path = tmp_path_factory.mktemp("fixture") / "m.Mjpeg"
    proc = run_harness("fixture", "--frames", 500, "--out", path)
    assert proc.returncode == 0, proc.stderr
    return path


def verify_json(run_harness, path, *extra):
    proc = run_harness("fixture", "--verify", path, "--json", *extra)
    return proc.returncode, json.loads(proc.stdout)


def test_500_frames_read_back_with_their_markers(movie500):
    frames = parse_mjpeg(movie500.read_bytes())
    assert len(frames) == 500
    for i, (_, jpeg) in enumerate(frames, start=1):
        assert jpeg_comments(jpeg) == [f"rtsp-harness frame {i}".encode()]
        assert jpeg.endswith(b"\xff\xd9")
        assert len(jpeg) < 65507  # one lab RTP datagram per frame


def test_verify_json_agrees_with_python(run_harness, movie500):
    rc, doc = verify_json(run_harness, movie500)
    sizes = [len(j) for _, j in parse_mjpeg(movie500.read_bytes())]
    assert rc == 0
    assert doc["path"] == str(movie500)
    assert doc["frames"] == 500
    assert (doc["width"], doc["height"]) == (384, 288)
    assert doc["markers_ok"] is True
    assert doc["errors"] == []
    assert doc["bytes_min"] == min(sizes)
    assert doc["bytes_max"] == max(sizes)
    assert doc["bytes_mean"] == pytest.approx(sum(sizes) / len(sizes))


def test_verify_text_summary(run_harness, movie500):
    proc = run_harness("fixture", "--verify", movie500)
    assert proc.returncode == 0, proc.stderr
    assert "500 frames, 384x288" in proc.stdout
    assert "markers ok (1..500)" in proc.stdout


@pytest.mark.skipif(FFMPEG is None, reason="ffmpeg not installed")
def test_ffmpeg_decodes_every_frame(movie500):
    jpegs = [j for _, j in parse_mjpeg(movie500.read_bytes())]
    count, stderr = ffmpeg_frame_count(jpegs)
    assert count == 500
    assert stderr == ""


def test_two_runs_are_byte_identical(run_harness, tmp_path):
    for pattern in ("bars", "noise"):
        a, b = tmp_path / f"a-{pattern}.Mjpeg", tmp_path / f"b-{pattern}.Mjpeg"
        for p in (a, b):
            proc = run_harness("fixture", "--frames", 40, "--pattern", pattern, "--out", p)
            assert proc.returncode == 0, proc.stderr
        assert a.read_bytes() == b.read_bytes()


def test_jpeg_dir_format(run_harness, tmp_path):
    out = tmp_path / "frames"
    proc = run_harness("fixture", "--frames", 12, "--format", "jpeg-dir", "--size", "320x240",
                       "--pattern", "gradient", "--out", out)
    assert proc.returncode == 0, proc.stderr
    names = sorted(p.name for p in out.iterdir())
    assert names == [f"frame-{i:05d}.jpg" for i in range(1, 13)]
    for i, name in enumerate(names, start=1):
        assert jpeg_comments((out / name).read_bytes()) == [f"rtsp-harness frame {i}".encode()]
    rc, doc = verify_json(run_harness, out)
    assert rc == 0, doc
    assert (doc["frames"], doc["width"], doc["height"]) == (12, 320, 240)
    if FFMPEG:
        count, _ = ffmpeg_frame_count([(out / n).read_bytes() for n in names])
        assert count == 12
    # regenerating over our own output replaces it
    proc = run_harness("fixture", "--frames", 3, "--format", "jpeg-dir", "--out", out)
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in out.iterdir()) == [f"frame-{i:05d}.jpg" for i in (1, 2, 3)]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["frames"]  # no temporaries left


def test_jpeg_dir_refuses_to_replace_a_foreign_directory(run_harness, tmp_path):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    proc = run_harness("fixture", "--frames", 2, "--format", "jpeg-dir", "--out", out)
    assert proc.returncode == 1
    assert "not a directory of frame-N.jpg files" in proc.stderr
    assert (out / "notes.txt").read_text() == "keep me"


def test_first_option_numbers_and_verifies(run_harness, tmp_path):
    path = tmp_path / "f.Mjpeg"
    proc = run_harness("fixture", "--frames", 5, "--first", 1000, "--out", path)
    assert proc.returncode == 0, proc.stderr
    comments = [jpeg_comments(j) for _, j in parse_mjpeg(path.read_bytes())]
    assert comments == [[f"rtsp-harness frame {n}".encode()] for n in range(1000, 1005)]
    rc, doc = verify_json(run_harness, path, "--first", 1000)
    assert rc == 0 and doc["markers_ok"] is True
    rc, doc = verify_json(run_harness, path)
    assert rc == 1 and doc["markers_ok"] is False
    assert len(doc["errors"]) == 5
    assert doc["errors"][0]["frame"] == 0
    assert "carries number 1000, expected 1" in doc["errors"][0]["message"]


def test_failed_generation_leaves_nothing(run_harness, tmp_path):
    path = tmp_path / "big.Mjpeg"
    proc = run_harness("fixture", "--frames", 3, "--size", "1024x768", "--quality", 100,
                       "--pattern", "noise", "--out", path)
    assert proc.returncode == 1
    assert "frame 1:" in proc.stderr and "lower --quality" in proc.stderr
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("args, flag", [
    (["--frames", "abc", "--out", "x.Mjpeg"], "--frames"),
    (["--frames", "0", "--out", "x.Mjpeg"], "--frames"),
    (["--frames", "-3", "--out", "x.Mjpeg"], "--frames"),
    (["--out", "x.Mjpeg", "--frames"], "--frames"),
    (["--frames", "5", "--out", "x.Mjpeg", "--bogus"], "--bogus"),
    (["--frames", "5", "--out", "x.Mjpeg", "--quality", "0"], "--quality"),
    (["--frames", "5", "--out", "x.Mjpeg", "--quality=101"], "--quality"),
    (["--frames", "5", "--out", "x.Mjpeg", "--size", "385x288"], "--size"),
    (["--frames", "5", "--out", "x.Mjpeg", "--size", "big"], "--size"),
    (["--frames", "5", "--out", "x.Mjpeg", "--size", "4096x288"], "--size"),
    (["--frames", "5", "--out", "x.Mjpeg", "--pattern", "plaid"], "--pattern"),
    (["--frames", "5", "--out", "x.Mjpeg", "--format", "avi"], "--format"),
    (["--frames", "5", "--out", "x.Mjpeg", "--first", "x"], "--first"),
    (["--frames", "5", "--out", "x.bin"], "--format"),
    (["--frames", "5"], "--out"),
    (["--out", "x.Mjpeg"], "--frames"),
    (["--verify", "x.Mjpeg", "--frames", "3"], "--verify"),
    (["--frames", "5", "--out", "x.Mjpeg", "--json"], "--json"),
    (["--verify"], "--verify"),
    (["--frames", "2", "--first", "4294967295", "--out", "x.Mjpeg"], "--first"),
])
def test_usage_errors_exit_2_naming_the_flag(run_harness, tmp_path, args, flag):
    proc = run_harness("fixture", *args, cwd=tmp_path)
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    assert flag in proc.stderr
    assert list(tmp_path.iterdir()) == []  # nothing written


def test_help(run_harness):
    proc = run_harness("fixture", "--help")
    assert proc.returncode == 0
    assert "--frames N" in proc.stdout and "--verify PATH" in proc.stdout


@pytest.fixture
def good_frames(movie500):
    return [j for _, j in parse_mjpeg(movie500.read_bytes())][:40]


def build(frames):
    return b"".join(b"%05d" % len(j) + j for j in frames)


def record_offset(frames, index):
    return sum(5 + len(j) for j in frames[:index])


def corrupt_case(name, frames):
    """(file bytes, frame index, byte offset, text) for one kind of damage."""
    data = bytearray(build(frames))
    if name == "length-field":
        off = record_offset(frames, 17)
        data[off + 2] = ord("a")
        return bytes(data), 17, off, "is not 5 decimal digits"
    if name == "truncated":
        off = record_offset(frames, 30)
        return bytes(data[:off + 5 + 100]), 30, off, "truncated frame (length says"
    if name == "soi":
        off = record_offset(frames, 8)
        data[off + 6] = 0x00
        return bytes(data), 8, off + 5, "does not start with SOI FFD8"
    if name == "zero-length":
        off = record_offset(frames, 12)
        return bytes(data[:off]) + b"00000" + bytes(data[off:]), 12, off, "frame length is zero"
    if name == "trailing":
        return bytes(data) + b"\r\n", 40, len(data), "trailing garbage"
    raise AssertionError(name)


@pytest.mark.parametrize("case", ["length-field", "truncated", "soi", "zero-length", "trailing"])
def test_corrupt_container_exit_1_with_index_and_offset(run_harness, tmp_path, good_frames, case):
    data, index, offset, text = corrupt_case(case, good_frames)
    path = tmp_path / "bad.Mjpeg"
    path.write_bytes(data)
    proc = run_harness("fixture", "--verify", path)
    assert proc.returncode == 1
    assert f"bad.Mjpeg: frame {index} at byte {offset}: " in proc.stderr
    assert text in proc.stderr
    assert f"{index} frames" in proc.stdout  # the frames before the damage were checked
    rc, doc = verify_json(run_harness, path)
    assert rc == 1
    assert doc["frames"] == index
    assert doc["errors"][-1]["frame"] == index
    assert doc["errors"][-1]["offset"] == offset


def test_swapped_frames_are_mismatched(run_harness, tmp_path, good_frames):
    frames = list(good_frames)
    frames[5], frames[6] = frames[6], frames[5]
    path = tmp_path / "swap.Mjpeg"
    path.write_bytes(build(frames))
    rc, doc = verify_json(run_harness, path)
    assert rc == 1 and doc["markers_ok"] is False
    assert [e["frame"] for e in doc["errors"]] == [5, 6]
    assert doc["errors"][0]["offset"] == record_offset(frames, 5)
    assert "carries number 7, expected 6" in doc["errors"][0]["message"]


def test_damaged_jpeg_inside_a_good_container(run_harness, tmp_path, good_frames):
    frames = list(good_frames)
    frames[10] = frames[10][:len(frames[10]) // 2]  # lengths stay consistent, JPEG cut short
    frames[20] = frames[20].replace(b"rtsp-harness frame 21", b"rtsp-harness-frame 21")
    path = tmp_path / "damaged.Mjpeg"
    path.write_bytes(build(frames))
    rc, doc = verify_json(run_harness, path)
    assert rc == 1
    by_frame = {e["frame"]: e["message"] for e in doc["errors"]}
    assert set(by_frame) == {10, 20}
    assert "frame 10 at byte" in by_frame[10]
    assert "no \"rtsp-harness frame N\" comment (expected 21)" in by_frame[20]
    assert doc["frames"] == 40


def test_frames_of_another_size_are_reported(run_harness, tmp_path, good_frames):
    small = tmp_path / "small.Mjpeg"
    proc = run_harness("fixture", "--frames", 3, "--size", "320x240", "--out", small)
    assert proc.returncode == 0, proc.stderr
    frames = list(good_frames[:3])
    frames[2] = parse_mjpeg(small.read_bytes())[2][1]  # frame 3, but 320x240
    path = tmp_path / "mixed.Mjpeg"
    path.write_bytes(build(frames))
    rc, doc = verify_json(run_harness, path)
    assert rc == 1 and doc["markers_ok"] is True
    assert [e["frame"] for e in doc["errors"]] == [2]
    assert "is 320x240, frame 0 is 384x288" in doc["errors"][0]["message"]


def test_verify_missing_and_empty_files(run_harness, tmp_path):
    proc = run_harness("fixture", "--verify", tmp_path / "nope.Mjpeg")
    assert proc.returncode == 1
    assert "nope.Mjpeg" in proc.stderr
    empty = tmp_path / "empty.Mjpeg"
    empty.write_bytes(b"")
    proc = run_harness("fixture", "--verify", empty)
    assert proc.returncode == 1
    assert "no frames" in proc.stderr


def test_checked_in_movie_verifies(run_harness, fixtures_dir, tmp_path):
    movie = fixtures_dir / "movie.Mjpeg"
    rc, doc = verify_json(run_harness, movie)
    assert rc == 0, doc["errors"]
    assert (doc["frames"], doc["width"], doc["height"]) == (100, 384, 288)
    assert doc["markers_ok"] is True
    assert len(parse_mjpeg(movie.read_bytes())) == 100
    # the command fixtures/README.md gives regenerates it byte for byte
    readme = (fixtures_dir / "README.md").read_text()
    m = re.search(r"rtsp-harness fixture (--frames 100 [^`\n]*--out fixtures/movie\.Mjpeg)", readme)
    assert m, "fixtures/README.md does not give the regeneration command"
    args = m.group(1).split()
    args[args.index("fixtures/movie.Mjpeg")] = str(tmp_path / "movie.Mjpeg")
    proc = run_harness("fixture", *args)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "movie.Mjpeg").read_bytes() == movie.read_bytes()
