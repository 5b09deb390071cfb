"""deliver(): each format decoded back — codec, frames, colours, rate and timecode."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import pytest

from comfycine.media.deliver import deliver
from comfycine.media.errors import ConformError
from comfycine.media.fit import plan_fit
from comfycine.media.probe import probe
from tests.media.media import make_video, middle_colours
from tests.takes.clips import close, colour

NTSC = Fraction(24000, 1001)
HOUR = 86400  # 01:00:00:00 at 23.976 (counted at 24)


@pytest.fixture(scope="module")
def render(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """53 frames at 23.976 for a 48-frame clip (5 too many), 256×144."""
    folder = tmp_path_factory.mktemp("render")
    return make_video(folder / "render.mp4", frames=53, fps=NTSC, size=(256, 144))


def colours_match(got: list[tuple[int, int, int]], want: list[int], count: int) -> bool:
    """Frame j of ``got`` has the colour of source frame ``want[j]`` of ``count``."""
    return len(got) == len(want) and all(
        close(g, colour(i, count)) for g, i in zip(got, want, strict=True)
    )


def test_prores_is_422_hq_10_bit_trimmed_and_timecoded(render: Path, tmp_path: Path) -> None:
    """ProRes 422 HQ 10-bit BT.709, 48 frames (5 trimmed), right colours, rate and TC."""
    fit = plan_fit(probe(render), 48, NTSC)
    made = deliver(render, tmp_path / "shot", kind="prores", fit=fit, rate=NTSC,
                   timecode_frame=HOUR)  # fmt: skip
    assert (made.path, made.kind, made.frames) == (tmp_path / "shot.mov", "prores", 48)
    assert made.timecode == "01:00:00:00"
    with av.open(str(made.path)) as container:
        context = container.streams.video[0].codec_context
        assert (context.name, context.profile, context.pix_fmt) == ("prores", "HQ", "yuv422p10le")
        assert (context.colorspace, context.color_primaries, context.color_trc) == (1, 1, 1)
    info = probe(made.path)
    assert (info.rate, info.frames, info.start_frame) == (NTSC, 48, HOUR)
    assert colours_match(middle_colours(made.path), list(range(48)), 53)


def test_dnxhr_decodes_back(render: Path, tmp_path: Path) -> None:
    """DNxHR HQ in a MOV: dnxhd 4:2:2, 48 frames, right colours, timecode."""
    fit = plan_fit(probe(render), 48, NTSC)
    made = deliver(render, tmp_path / "shot", kind="dnxhr", fit=fit, rate=NTSC,
                   timecode_frame=HOUR + 24)  # fmt: skip
    with av.open(str(made.path)) as container:
        context = container.streams.video[0].codec_context
        assert (context.name, context.profile, context.pix_fmt) == ("dnxhd", "DNXHR HQ", "yuv422p")
    assert probe(made.path).timecode == "01:00:01:00"
    assert colours_match(middle_colours(made.path), list(range(48)), 53)


def test_dnxhr_refuses_a_picture_under_256x120(tmp_path: Path) -> None:
    """A 160×90 render: delivery_unsupported (exit 5) naming the size, nothing written."""
    small = make_video(tmp_path / "small.mp4", frames=4)
    with pytest.raises(ConformError) as caught:
        deliver(small, tmp_path / "shot", kind="dnxhr", fit=plan_fit(probe(small), 4, Fraction(24)),
                rate=Fraction(24), timecode_frame=None)  # fmt: skip
    assert (caught.value.code, caught.value.exit_code) == ("delivery_unsupported", 5)
    assert "160×90" in caught.value.message
    assert sorted(p.name for p in tmp_path.iterdir()) == ["small.mp4"]


def test_png_sequence_is_numbered_from_the_timecode(render: Path, tmp_path: Path) -> None:
    """shot/shot.0086400.png … 0086447.png, 8-bit RGB, right colours."""
    fit = plan_fit(probe(render), 48, NTSC)
    made = deliver(render, tmp_path / "shot", kind="png", fit=fit, rate=NTSC, timecode_frame=HOUR)
    folder = tmp_path / "shot"
    assert made.sequence == (folder, "shot.", 7, ".png")
    assert made.path == folder / "shot.0086400.png"
    names = sorted(p.name for p in folder.iterdir())
    assert names == [f"shot.{HOUR + j:07d}.png" for j in range(48)]
    with av.open(str(made.path)) as container:
        assert container.streams.video[0].codec_context.pix_fmt == "rgb24"
    got = middle_colours(folder / "shot.%07d.png", start_number=HOUR)
    assert colours_match(got, list(range(48)), 53)


def test_png_from_a_10_bit_render_is_16_bit(tmp_path: Path) -> None:
    """A ProRes (10-bit) render becomes 16-bit PNGs, numbered from 0 without timecode."""
    deep = make_video(tmp_path / "deep.mov", frames=3, codec="prores_ks", pix_fmt="yuv422p10le")
    made = deliver(deep, tmp_path / "seq", kind="png", fit=plan_fit(probe(deep), 3, Fraction(24)),
                   rate=Fraction(24), timecode_frame=None)  # fmt: skip
    assert made.path.name == "seq.0000000.png"
    with av.open(str(made.path)) as container:
        assert container.streams.video[0].codec_context.pix_fmt == "rgb48be"


def test_copy_keeps_the_render_s_stream(tmp_path: Path) -> None:
    """A render that matches its clip is copied packet for packet, timecode added."""
    source = make_video(tmp_path / "render.mp4", frames=24)
    made = deliver(source, tmp_path / "shot", kind="copy",
                   fit=plan_fit(probe(source), 24, Fraction(24)), rate=Fraction(24),
                   timecode_frame=HOUR)  # fmt: skip
    assert (made.kind, made.frames, made.notes) == ("copy", 24, [])

    def packets(path: Path) -> list[bytes]:
        with av.open(str(path)) as container:
            return [bytes(p) for p in container.demux(video=0) if p.size]

    assert packets(made.path) == packets(source)
    assert probe(made.path).timecode == "01:00:00:00"


def test_copy_of_a_render_that_needs_fitting_is_re_encoded(render: Path, tmp_path: Path) -> None:
    """53 frames for 48: not copied but H.264, with a note saying why."""
    fit = plan_fit(probe(render), 48, NTSC)
    made = deliver(render, tmp_path / "shot", kind="copy", fit=fit, rate=NTSC, timecode_frame=None)
    assert (made.kind, made.frames) == ("h264", 48)
    assert "needs a trim" in made.notes[0]
    assert probe(made.path).codec == "h264"


def test_a_16_fps_render_is_restamped_and_a_12_fps_one_doubled(tmp_path: Path) -> None:
    """48 frames at 16 fps → 24 fps frame for frame; 24 at 12 fps → 48, each twice."""
    fast = make_video(tmp_path / "r16.mp4", frames=48, fps=16)
    made = deliver(fast, tmp_path / "a", kind="h264", fit=plan_fit(probe(fast), 48, Fraction(24)),
                   rate=Fraction(24), timecode_frame=None)  # fmt: skip
    assert (probe(made.path).rate, made.frames) == (Fraction(24), 48)
    slow = make_video(tmp_path / "r12.mp4", frames=24, fps=12)
    made = deliver(slow, tmp_path / "b", kind="h264", fit=plan_fit(probe(slow), 48, Fraction(24)),
                   rate=Fraction(24), timecode_frame=None)  # fmt: skip
    assert colours_match(middle_colours(made.path), [j // 2 for j in range(48)], 24)


def test_an_odd_size_and_audio_are_said(tmp_path: Path) -> None:
    """H.264 of a 161×91 render with sound: padded to 162×92 and audio dropped, noted."""
    odd = make_video(tmp_path / "odd.mov", frames=4, size=(161, 91), codec="prores_ks",
                     pix_fmt="yuv422p10le", audio=True)  # fmt: skip
    made = deliver(odd, tmp_path / "shot", kind="h264", fit=plan_fit(probe(odd), 4, Fraction(24)),
                   rate=Fraction(24), timecode_frame=None)  # fmt: skip
    assert any("audio is not carried" in note for note in made.notes)
    assert any("161×91 to 162×92" in note for note in made.notes)
    assert (probe(made.path).width, probe(made.path).has_audio) == (162, False)
    assert colours_match(middle_colours(made.path), [0, 1, 2, 3], 4)


def test_a_taken_name_gets_the_next_number(render: Path, tmp_path: Path) -> None:
    """shot.mov and shot/ taken: shot-2.mov and shot-2/ with shot-2.NNNNNNN.png."""
    fit = plan_fit(probe(render), 48, NTSC)
    (tmp_path / "shot.mov").write_bytes(b"earlier")
    (tmp_path / "shot").mkdir()
    made = deliver(render, tmp_path / "shot", kind="prores", fit=fit, rate=NTSC,
                   timecode_frame=None)  # fmt: skip
    sequence = deliver(render, tmp_path / "shot", kind="png", fit=fit, rate=NTSC,
                       timecode_frame=5)  # fmt: skip
    assert made.path.name == "shot-2.mov"
    assert (tmp_path / "shot.mov").read_bytes() == b"earlier"
    assert sequence.path == tmp_path / "shot-2" / "shot-2.0000005.png"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]
