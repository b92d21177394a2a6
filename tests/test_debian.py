"""insp_cli.data.debian.unpacked_deb with a fake apt-get / dpkg on PATH (no network): the unpacked tree, the
version as Debian writes it (apt names an epoch ``4:`` as ``4%3a`` in the file name), and the error lines."""

import os
import stat
from pathlib import Path

import pytest

from insp_cli.data.debian import unpacked_deb
from insp_cli.errors import InspError


def _fake_tools(bin_dir: Path, fail: bool = False) -> None:
    bin_dir.mkdir()
    apt = "#!/bin/sh\n" + ("echo 'E: Unable to locate package nope' >&2; exit 100\n" if fail else
                          ": > \"$2_4%3a22.12.3-1_all.deb\"\n")
    dpkg = "#!/bin/sh\nmkdir -p \"$3/usr/share/x\" && echo photo > \"$3/usr/share/x/a.jpg\"\n"
    for name, text in (("apt-get", apt), ("dpkg", dpkg)):
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(stat.S_IRWXU)


def test_unpacked_deb_yields_the_tree_and_the_epoch_version(tmp_path, monkeypatch):
    _fake_tools(tmp_path / "bin")
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
    with unpacked_deb("palapeli-data", tmp_path / "data", "copy it by hand") as (tree, version):
        assert version == "4:22.12.3-1"
        assert (tree / "usr/share/x/a.jpg").read_text() == "photo\n"
        kept = tree.parent
    assert not kept.exists()  # the temporary folder under the data root is removed
    assert list((tmp_path / "data").iterdir()) == []


def test_unpacked_deb_errors_are_one_line(tmp_path, monkeypatch):
    _fake_tools(tmp_path / "bin", fail=True)
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
    with pytest.raises(InspError, match=r"`apt-get download nope` failed \(E: Unable to locate package nope\); "
                                        r"run `apt-get update` first, or copy it by hand$"):
        with unpacked_deb("nope", tmp_path / "data", "copy it by hand"):
            pass
    monkeypatch.setattr("shutil.which", lambda name: None)
    with pytest.raises(InspError, match="^Debian package nope is needed and this machine has no apt-get/dpkg: hint$"):
        with unpacked_deb("nope", tmp_path / "data", "hint"):
            pass


def test_two_fetches_of_one_package_at_once_keep_the_first_copy(tmp_path):
    """Two commands sharing a data root fetch the same package at once: the second ``place`` finds the first's
    complete folder, keeps it and raises nothing (it once ended in `error: Directory not empty`)."""
    from insp_cli.data.debian import place

    target = tmp_path / "data" / "opencv-doc" / "examples" / "data"
    for k in (1, 2):
        src = tmp_path / f".tmp{k}" / "x"
        src.mkdir(parents=True)
        (src / "baboon.jpg").write_text(f"copy {k}\n")
        place(src, target)
    assert (target / "baboon.jpg").read_text() == "copy 1\n" and (tmp_path / ".tmp2" / "x").is_dir()
    bad = tmp_path / "file-in-the-way"
    bad.write_text("")
    src = tmp_path / ".tmp3" / "x"
    src.mkdir(parents=True)
    with pytest.raises(OSError):  # anything else that stops the rename is still an error
        place(src, bad / "sub")
