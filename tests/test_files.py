"""Publishing a finished ``.part`` file: never over an existing one."""

from __future__ import annotations

from pathlib import Path

from comfycine.files import publish_part


def test_a_taken_name_gets_the_next_free_variant(tmp_path: Path) -> None:
    """shot.mov and shot-2.mov exist: the part becomes shot-3.mov, the others untouched."""
    (tmp_path / "shot.mov").write_bytes(b"a")
    (tmp_path / "shot-2.mov").write_bytes(b"b")
    part = tmp_path / ".shot.mov.part"
    part.write_bytes(b"new")
    published = publish_part(part, tmp_path / "shot.mov")
    assert published == tmp_path / "shot-3.mov" and published.read_bytes() == b"new"
    assert (tmp_path / "shot.mov").read_bytes() == b"a" and not part.exists()


def test_without_rename_a_taken_name_publishes_nothing(tmp_path: Path) -> None:
    """rename=False and the name taken: None, the existing file and the part both kept."""
    (tmp_path / "shot.mov").write_bytes(b"a")
    part = tmp_path / ".shot.mov.part"
    part.write_bytes(b"new")
    assert publish_part(part, tmp_path / "shot.mov", rename=False) is None
    assert (tmp_path / "shot.mov").read_bytes() == b"a" and part.read_bytes() == b"new"
