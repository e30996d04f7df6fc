"""Data access: the three places data is looked for, sample images, downloads that never half-write."""
import hashlib
import os
import http.server
import threading
from pathlib import Path

import numpy as np
import pytest

from helpers import CourseError
from helpers import data as D


def test_sample_images_ship_with_packages():
    for name in ["chelsea", "coffee", "astronaut", "china", "flower", "grace_hopper", "motorcycle"]:
        img = D.sample_image(name)
        assert img.dtype == np.uint8 and img.ndim == 3 and img.shape[-1] == 3, name
    for name in D.TEXTURES:
        assert D.sample_image(name).ndim == 2
    with pytest.raises(CourseError, match="did you mean 'chelsea'"):
        D.sample_image("chelse")


def test_shared_data_is_found_and_complete():
    assert len(D.imagenet_sample_files()) == 1000
    assert D.imagenet_sample_files()[0].name.startswith("n01440764")
    assert set(D.style_image()) == {"starry_night", "the_scream", "shipwreck", "woman-with-hat-matisse"}
    assert max(D.content_image().shape[:2]) == 512
    assert max(D.style_image("starry_night", size=128).shape[:2]) == 128
    with pytest.raises(CourseError, match="did you mean 'starry_night'"):
        D.style_image("stary_night")


def test_cifar10_subset_is_balanced_and_ordered():
    x, y, classes = D.load_cifar10("test", per_class=3, progress=False)
    assert x.shape == (30, 32, 32, 3) and x.dtype == np.uint8
    assert y.tolist() == sorted(y.tolist()) and np.bincount(y).tolist() == [3] * 10
    assert classes[3] == "cat"
    with pytest.raises(CourseError, match="'train' or 'test'"):
        D.load_cifar10("val")


def _fake_root(base: Path, with_styles=True):
    (base / "styles").mkdir(parents=True)
    if with_styles:
        from PIL import Image
        Image.new("RGB", (8, 6), (255, 0, 0)).save(base / "styles" / "starry_night.jpg")
    return base


def test_search_order_env_then_project_then_shared(tmp_path, monkeypatch):
    project = tmp_path / "course"
    (project / "helpers").mkdir(parents=True)
    (project / "course.sh").write_text("")
    monkeypatch.setattr(D, "__file__", str(project / "helpers" / "data.py"))
    shared = _fake_root(tmp_path / "shared" / "data")
    local = _fake_root(project / "data")
    env = _fake_root(tmp_path / "elsewhere")
    monkeypatch.setenv(D.DATA_ENV, str(env))
    assert D.find("styles") == env / "styles"
    monkeypatch.delenv(D.DATA_ENV)
    assert D.find("styles") == local / "styles"
    (local / "styles" / "starry_night.jpg").unlink()
    assert D.find("styles") == shared / "styles"
    (shared / "styles" / "starry_night.jpg").unlink()
    with pytest.raises(CourseError, match=r"bash course.sh data styles"):
        D.find("styles")
    other = _fake_root(tmp_path / "other")          # several roots in COURSE_DATA, searched in order
    (env / "styles" / "starry_night.jpg").unlink()
    monkeypatch.setenv(D.DATA_ENV, f"{env}{os.pathsep}{other}")
    assert D.candidate_roots()[:2] == [env, other] and D.find("styles") == other / "styles"
    with pytest.raises(CourseError, match="unknown data set"):
        D.find("mnist")


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *a):
        pass


@pytest.fixture
def server(tmp_path):
    """A loopback HTTP server over a temporary folder (no outside network is used)."""
    root = tmp_path / "www"
    root.mkdir()
    handler = lambda *a, **k: _Quiet(*a, directory=str(root), **k)  # noqa: E731
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield root, f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()


def test_fetch_verifies_and_never_leaves_partial_files(server, tmp_path):
    root, url = server
    payload = bytes(range(256)) * 100
    (root / "f.bin").write_bytes(payload)
    good = D._fetch(url + "f.bin", tmp_path / "out" / "f.bin", size=len(payload),
                    md5=hashlib.md5(payload).hexdigest())
    assert good.read_bytes() == payload
    with pytest.raises(CourseError, match="checksum"):
        D._fetch(url + "f.bin", tmp_path / "out" / "g.bin", md5="0" * 32)
    with pytest.raises(CourseError, match="expected 5 bytes"):
        D._fetch(url + "f.bin", tmp_path / "out" / "h.bin", size=5)
    with pytest.raises(CourseError, match="could not download"):
        D._fetch(url + "missing.bin", tmp_path / "out" / "m.bin")
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["f.bin"]


def test_download_styles_into_layout(server, tmp_path, monkeypatch):
    from PIL import Image
    root, url = server
    for f in D.SOURCES["styles"]["files"]:
        Image.new("RGB", (1024, 600), (0, 0, 255)).save(root / f)
    monkeypatch.setitem(D.SOURCES, "styles", dict(D.SOURCES["styles"], base=url))
    out = D.download("styles", tmp_path / "data")
    assert sorted(p.name for p in out.iterdir()) == sorted(D.SOURCES["styles"]["files"])
    assert Image.open(out / "starry_night.jpg").size == (512, 300)
    assert [p.name for p in (tmp_path / "data").iterdir()] == ["styles"]  # no temporary leftovers


def test_interrupted_download_leaves_no_data_set(server, tmp_path, monkeypatch):
    root, url = server
    monkeypatch.setitem(D.SOURCES, "styles", dict(D.SOURCES["styles"], base=url))  # files absent: fails
    with pytest.raises(CourseError, match="Nothing was written"):
        D.download("styles", tmp_path / "data")
    assert not (tmp_path / "data").exists()      # it created the folder, and removed it again


def test_offline_download_says_what_to_do_and_exits_1(tmp_path, monkeypatch, capsys):
    """``bash course.sh data`` with no network: one message per data set (what failed, the
    layout to copy the data in, COURSE_DATA), exit status 1, no traceback, nothing written."""
    import socket
    with socket.socket() as s:           # a port nobody listens on: the connection is refused
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setitem(D.SOURCES, "cifar10", dict(D.SOURCES["cifar10"], url=f"http://127.0.0.1:{port}/c.tar.gz"))
    monkeypatch.setitem(D.SOURCES, "styles", dict(D.SOURCES["styles"], base=f"http://127.0.0.1:{port}/"))
    monkeypatch.setenv("COURSE_DATA", str(tmp_path / "nowhere"))
    monkeypatch.setattr(D, "project_root", lambda: tmp_path / "course")
    assert D.main(["download", "cifar10", "styles"]) == 1
    err = capsys.readouterr().err
    assert err.count("error: ") == 2 and "could not download" in err and "Connection refused" in err
    assert f"into {tmp_path / 'course' / 'data'} as cifar10/train/<class>/NNNN.jpg" in err and "COURSE_DATA" in err
    assert ".cifar10-" not in err, "the message must not point at the temporary staging folder"
    assert not (tmp_path / "course" / "data").exists()


def test_missing_data_message_gives_the_readme_command(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_DATA", str(tmp_path))
    monkeypatch.setattr(D, "project_root", lambda: tmp_path / "course")
    with pytest.raises(CourseError, match=r"run `bash course.sh data cifar10` in the course folder"):
        D.find("cifar10")
