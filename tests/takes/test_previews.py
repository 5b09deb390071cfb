"""Posters, contact sheets and thumbnails made from real media encoded in the test.

Each clip's frame ``i`` is a flat, known colour (:mod:`tests.takes.clips`), so a cell of a
sheet is checked to hold exactly the frame its timecode names, not a neighbour.
"""

from __future__ import annotations

import os
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import av
import pytest
from PIL import Image, ImageStat

from comfycine.errors import MediaNotFound, OutputNotWritable, UsageError
from comfycine.takes import media, previews, video
from comfycine.takes.previews import (
    contact_sheet,
    poster_frame,
    previews_for,
    sheet_layout,
    spread,
    thumbnail,
)

from .clips import close, colour, cut, has_encoder, make_animation, make_clip

FAKECOMFY_CLIP = Path(__file__).resolve().parents[1] / "fakecomfy" / "clip.mp4"
# 72 frames (3 s at 24 fps), 12 wanted: first and last included, rounded half up.
SPREAD_72_12 = [0, 6, 13, 19, 26, 32, 39, 45, 52, 58, 65, 71]
TIMECODES_72_12 = [
    "00:00:00:00", "00:00:00:06", "00:00:00:13", "00:00:00:19", "00:00:01:02", "00:00:01:08",
    "00:00:01:15", "00:00:01:21", "00:00:02:04", "00:00:02:10", "00:00:02:17", "00:00:02:23",
]  # fmt: skip


def centre(image: Image.Image, box: tuple[int, int, int, int]) -> tuple[int, ...]:
    """The mean colour of the middle half of ``box`` (away from edges and labels)."""
    left, top, right, bottom = box
    w, h = right - left, bottom - top
    inner = image.crop((left + w // 4, top + h // 4, right - w // 4, bottom - h // 4))
    return tuple(round(v) for v in ImageStat.Stat(inner).mean)


def files(folder: Path) -> list[str]:
    """Every name in ``folder``, hidden ones too, sorted."""
    return sorted(p.name for p in folder.iterdir())


@pytest.fixture(scope="module")
def h264(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 3 s, 24 fps, 320x180 H.264 MP4 of 72 known colours."""
    return make_clip(tmp_path_factory.mktemp("clips") / "shot.mp4")


def test_sheet_places_frames_spread_evenly_with_exact_timecodes(h264: Path, tmp_path: Path) -> None:
    """Twelve frames of a 72-frame clip: first and last included, timecodes at 24 fps."""
    sheet = contact_sheet(h264, tmp_path / "s.jpg")
    assert sheet.path == tmp_path / "s.jpg"
    assert (sheet.frames, sheet.timecodes) == (12, TIMECODES_72_12)
    assert sheet.duration == pytest.approx(3.0) and not sheet.truncated
    assert spread(72, 12) == SPREAD_72_12


def test_sheet_cells_hold_the_frames_their_timecodes_name(h264: Path, tmp_path: Path) -> None:
    """Each cell's colour is that of its own frame (blue jumps 37 a frame: no neighbour passes)."""
    contact_sheet(h264, tmp_path / "s.png")
    image = Image.open(tmp_path / "s.png").convert("RGB")
    layout = sheet_layout(12, 4, 1280, (320, 180))
    assert image.size == layout.size and image.width == 1280
    got = [centre(image, box) for box in layout.frames]
    for index, value in zip(SPREAD_72_12, got, strict=True):
        assert close(value, colour(index, 72)), (index, value, colour(index, 72))
    assert len(set(got)) == 12


def test_sheet_labels_are_burnt_under_each_frame(h264: Path, tmp_path: Path) -> None:
    """Each label strip holds light text on black; the header line holds text too."""
    contact_sheet(h264, tmp_path / "s.png")
    image = Image.open(tmp_path / "s.png").convert("L")
    layout = sheet_layout(12, 4, 1280, (320, 180))
    for box in [layout.header, *layout.labels]:
        low, high = image.crop(box).getextrema()
        assert low < 40 and high > 200, box


@pytest.mark.parametrize(
    ("name", "codec", "pix_fmt"),
    [
        ("shot.webm", "libvpx-vp9", "yuv420p"),
        ("shot.mov", "prores_ks", "yuv422p10le"),
        ("shot.mkv", "libx264", "yuv420p"),
    ],
)
def test_sheet_reads_webm_prores_and_mkv(
    tmp_path: Path, name: str, codec: str, pix_fmt: str
) -> None:
    """VP9 WebM, ProRes MOV and H.264 MKV give the same frames and timecodes as the MP4."""
    if not has_encoder(codec):
        pytest.skip(f"this PyAV wheel has no {codec} encoder")
    clip = make_clip(tmp_path / name, codec=codec, pix_fmt=pix_fmt)
    sheet = contact_sheet(clip, tmp_path / "s.png")
    assert (sheet.frames, sheet.timecodes) == (12, TIMECODES_72_12)
    image = Image.open(sheet.path).convert("RGB")
    boxes = sheet_layout(12, 4, 1280, (320, 180)).frames
    for index, box in zip(SPREAD_72_12, boxes, strict=True):
        assert close(centre(image, box), colour(index, 72)), index


@pytest.mark.parametrize("name", ["anim.gif", "anim.webp", "anim.png"])
def test_sheet_of_an_animation_places_every_frame(tmp_path: Path, name: str) -> None:
    """A 10-frame GIF, animated WebP or APNG at 10 fps: all ten frames, 0.1 s apart."""
    animation = make_animation(tmp_path / name)
    sheet = contact_sheet(animation, tmp_path / "s.png")
    assert sheet.frames == 10
    assert sheet.timecodes == [f"00:00:00:{i:02d}" for i in range(10)]
    assert sheet.duration == pytest.approx(1.0)
    image = Image.open(sheet.path).convert("RGB")
    boxes = sheet_layout(10, 4, 1280, (96, 54)).frames
    assert image.size == sheet_layout(10, 4, 1280, (96, 54)).size
    for index, box in enumerate(boxes):
        assert close(centre(image, box), colour(index, 10)), index


def test_short_clip_gives_every_frame_in_fewer_columns(tmp_path: Path) -> None:
    """Three frames with twelve asked: three placed, three columns across the same width."""
    clip = make_clip(tmp_path / "short.mp4", frames=3)
    sheet = contact_sheet(clip, tmp_path / "s.png")
    assert sheet.timecodes == ["00:00:00:00", "00:00:00:01", "00:00:00:02"]
    layout = sheet_layout(3, 4, 1280, (320, 180))
    assert Image.open(sheet.path).size == layout.size
    assert [box[1] for box in layout.frames] == [layout.frames[0][1]] * 3  # one row


@pytest.mark.parametrize(("seek_after", "seeks"), [(0, 4), (12, 3), (10_000, 1)])
def test_seeking_or_decoding_on_gives_the_same_frames(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, seek_after: int, seeks: int
) -> None:
    """Keyframes every 12 frames: seeking to each, or decoding through, gives the same frames."""
    monkeypatch.setattr(video, "SEEK_AFTER", seek_after)
    done: list[int] = []
    seek = video.AvClip._seek
    monkeypatch.setattr(
        video.AvClip, "_seek", lambda self, pts: done.append(pts) or seek(self, pts)
    )
    options = {"x264-params": "keyint=12:min-keyint=12:scenecut=0"}
    clip = make_clip(tmp_path / "gop.mp4", options=options)
    sheet = contact_sheet(clip, tmp_path / "s.png", frames=4, columns=4)
    assert sheet.timecodes == ["00:00:00:00", "00:00:01:00", "00:00:01:23", "00:00:02:23"]
    assert len(done) == seeks
    image = Image.open(sheet.path).convert("RGB")
    boxes = sheet_layout(4, 4, 1280, (320, 180)).frames
    for index, box in zip([0, 24, 47, 71], boxes, strict=True):
        assert close(centre(image, box), colour(index, 72)), index


def test_fakecomfy_clip_gives_its_twelve_frames(tmp_path: Path) -> None:
    """The rendered clip of the fake server (12 frames at 12 fps) yields 12 timecodes."""
    sheet = contact_sheet(FAKECOMFY_CLIP, tmp_path / "s.jpg")
    assert sheet.timecodes == [f"00:00:00:{i:02d}" for i in range(12)]
    assert sheet.duration == pytest.approx(1.0)


def test_ntsc_rates_count_frames_at_their_nominal_rate(tmp_path: Path) -> None:
    """23.976 fps counts as 24 (non-drop-frame); hours, minutes and seconds carry over."""
    clip = make_clip(tmp_path / "ntsc.mp4", fps=Fraction(24000, 1001), frames=30)
    sheet = contact_sheet(clip, tmp_path / "s.jpg", frames=2)
    assert sheet.timecodes == ["00:00:00:00", "00:00:01:05"]
    info = media.ClipInfo(clip, 1, Fraction(30000, 1001), 1.0, 1, 1, "h264")
    assert info.timecode(30 * 3661 + 5) == "01:01:01:05"


def test_header_names_file_duration_size_and_rate(h264: Path) -> None:
    """The header line says name, duration, pixel size, frame rate and codec."""
    with video.open_clip(h264) as clip:
        line = previews.header_line(clip.info)
    assert line.startswith("shot.mp4 · 3.00 s · 320x180 · 24 fps · h264 · ")


def test_rotated_video_is_shown_upright(tmp_path: Path) -> None:
    """A display matrix turning the clip a quarter clockwise is applied, as players do."""
    if not hasattr(av.video.stream.VideoStream, "set_display_rotation"):
        pytest.skip("this PyAV cannot write a display matrix")

    def mark(index: int, image: Image.Image) -> None:
        image.paste((255, 0, 0), (0, 0, 32, 18))  # the stored top-left corner

    clip = make_clip(tmp_path / "r.mp4", frames=4, size=(64, 36), rotation=-90, paint=mark)
    sheet = contact_sheet(clip, tmp_path / "s.png", frames=1, columns=1, width=400)
    image = Image.open(sheet.path).convert("RGB")
    box = sheet_layout(1, 1, 400, (36, 64)).frames[0]
    assert image.size == sheet_layout(1, 1, 400, (36, 64)).size  # portrait cells
    left, top, right, _ = box
    top_right = image.getpixel((right - 10, top + 10))
    top_left = image.getpixel((left + 10, top + 10))
    assert close(top_right, (255, 0, 0), 40) and not close(top_left, (255, 0, 0), 40)


def test_poster_is_the_frame_at_a_third_at_most_640_wide(tmp_path: Path) -> None:
    """A 1280x720 clip's poster is 640x360 and shows frame 24 of 72 (1 s of 3 s)."""
    clip = make_clip(tmp_path / "hd.mp4", size=(1280, 720))
    poster = Image.open(poster_frame(clip, tmp_path / "p.jpg"))
    assert poster.format == "JPEG" and poster.size == (640, 360)
    assert close(centre(poster, (0, 0, 640, 360)), colour(24, 72))


def test_poster_of_a_small_clip_is_not_enlarged(h264: Path, tmp_path: Path) -> None:
    """A 320x180 clip gives a 320x180 poster, not a blurred 640-wide one."""
    assert Image.open(poster_frame(h264, tmp_path / "p.jpg")).size == (320, 180)


def test_poster_passes_over_a_black_third(tmp_path: Path) -> None:
    """When the frame at 1/3 is black (a fade in), the frame at 1/2 is the poster."""

    def fade(index: int, image: Image.Image) -> None:
        if index < 30:
            image.paste((0, 0, 0), (0, 0, *image.size))

    clip = make_clip(tmp_path / "fade.mp4", paint=fade)
    poster = Image.open(poster_frame(clip, tmp_path / "p.jpg"))
    assert close(centre(poster, (0, 0, *poster.size)), colour(36, 72))


def test_thumbnail_applies_exif_orientation(tmp_path: Path) -> None:
    """A JPEG stored sideways with Orientation 6 comes out upright: 100x200, red on top."""
    source = Image.new("RGB", (200, 100), (0, 0, 255))
    source.paste((255, 0, 0), (0, 0, 100, 100))  # stored left half = displayed top half
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to display
    source.save(tmp_path / "side.jpg", exif=exif, quality=95)
    thumb = Image.open(thumbnail(tmp_path / "side.jpg", tmp_path / "t.jpg"))
    assert thumb.size == (100, 200)
    assert close(centre(thumb, (0, 0, 100, 100)), (255, 0, 0), 30)
    assert close(centre(thumb, (0, 100, 100, 200)), (0, 0, 255), 30)


def test_thumbnail_scales_to_width_and_flattens_transparency(tmp_path: Path) -> None:
    """A 2048x1024 transparent PNG becomes a 512x256 JPEG, see-through parts grey."""
    Image.new("RGBA", (2048, 1024), (0, 0, 0, 0)).save(tmp_path / "cut.png")
    thumb = Image.open(thumbnail(tmp_path / "cut.png", tmp_path / "t.jpg"))
    assert (thumb.format, thumb.size) == ("JPEG", (512, 256))
    assert close(centre(thumb, (0, 0, 512, 256)), (128, 128, 128), 3)


def test_previews_for_a_video_writes_poster_and_sheet(h264: Path, tmp_path: Path) -> None:
    """A video gives <stem>.poster.jpg and <stem>.sheet.jpg, and nothing else in the folder."""
    got = previews_for(h264, tmp_path / "previews")
    assert got == {
        "poster": str(tmp_path / "previews" / "shot.poster.jpg"),
        "sheet": str(tmp_path / "previews" / "shot.sheet.jpg"),
    }
    assert files(tmp_path / "previews") == ["shot.poster.jpg", "shot.sheet.jpg"]
    assert Image.open(got["poster"]).size == (320, 180)
    assert Image.open(got["sheet"]).size == sheet_layout(12, 4, 1280, (320, 180)).size


def test_previews_for_an_image_and_an_animation(tmp_path: Path) -> None:
    """A PNG still gets a thumbnail; an animated WebP counts as a video."""
    Image.new("RGB", (1024, 512), (9, 99, 199)).save(tmp_path / "still.png")
    make_animation(tmp_path / "loop.webp")
    assert previews_for(tmp_path / "still.png", tmp_path / "p") == {
        "thumbnail": str(tmp_path / "p" / "still.thumb.jpg")
    }
    assert Image.open(tmp_path / "p" / "still.thumb.jpg").size == (512, 256)
    assert set(previews_for(tmp_path / "loop.webp", tmp_path / "p")) == {"poster", "sheet"}


def test_previews_for_other_kinds_is_empty(tmp_path: Path) -> None:
    """A JSON or WAV output has no preview: nothing written, no folder made."""
    (tmp_path / "meta.json").write_text("{}")
    (tmp_path / "voice.wav").write_bytes(b"RIFF")
    assert previews_for(tmp_path / "meta.json", tmp_path / "p") == {}
    assert previews_for(tmp_path / "voice.wav", tmp_path / "p") == {}
    assert not (tmp_path / "p").exists()


def test_mp4_cut_before_its_index_is_unreadable(h264: Path, tmp_path: Path) -> None:
    """Half an MP4 whose index is at its end: media_unreadable, and nothing written."""
    half = tmp_path / "half.mp4"
    half.write_bytes(h264.read_bytes())
    cut(half)
    with pytest.raises(UsageError) as caught:
        previews_for(half, tmp_path / "p")
    assert caught.value.code == "media_unreadable"
    assert "half.mp4" in caught.value.message and "\n" not in caught.value.message
    assert "comfycine" in caught.value.hint
    assert not (tmp_path / "p").exists() or files(tmp_path / "p") == []


def test_faststart_mp4_cut_in_half_gives_a_sheet_of_what_decodes(tmp_path: Path) -> None:
    """Index first, half the frames gone: the frames that decode, marked truncated."""
    clip = cut(make_clip(tmp_path / "fs.mp4", faststart=True))
    sheet = contact_sheet(clip, tmp_path / "s.jpg")
    assert sheet.truncated and 1 <= sheet.frames <= 12
    assert sheet.duration < 2.0
    assert sheet.timecodes[0] == "00:00:00:00" and sheet.timecodes == sorted(set(sheet.timecodes))
    assert sheet.timecodes[-1] < "00:00:02:00"


def test_webm_cut_in_half_is_marked_truncated(tmp_path: Path) -> None:
    """A WebM cut in half announces 3 s but holds about 1.5 s: the sheet says so."""
    if not has_encoder("libvpx-vp9"):
        pytest.skip("this PyAV wheel has no VP9 encoder")
    clip = cut(make_clip(tmp_path / "half.webm", codec="libvpx-vp9"))
    sheet = contact_sheet(clip, tmp_path / "s.jpg")
    assert sheet.truncated and sheet.duration < 2.0 and sheet.frames >= 1


@pytest.mark.parametrize(
    ("name", "content", "why"),
    [
        ("empty.mp4", b"", "empty"),
        ("notes.mp4", b"these are not frames\n" * 50, "not a video"),
        ("broken.png", b"\x89PNG\r\n\x1a\n" + b"\0" * 40, "not an image"),
    ],
)
def test_unreadable_files_say_which_and_why(
    tmp_path: Path, name: str, content: bytes, why: str
) -> None:
    """An empty, non-video or corrupt file: media_unreadable naming it, exit code 2."""
    (tmp_path / name).write_bytes(content)
    with pytest.raises(UsageError) as caught:
        previews_for(tmp_path / name, tmp_path / "p")
    error = caught.value
    assert (error.code, error.exit_code) == ("media_unreadable", 2)
    assert name in error.message and why in error.message
    assert not (tmp_path / "p").exists() or files(tmp_path / "p") == []


def test_truncated_png_is_unreadable(tmp_path: Path) -> None:
    """A PNG cut short says it is truncated instead of giving half a thumbnail."""
    Image.effect_noise((256, 256), 60).convert("RGB").save(tmp_path / "t.png")
    cut(tmp_path / "t.png")
    with pytest.raises(UsageError, match="truncated") as caught:
        thumbnail(tmp_path / "t.png", tmp_path / "thumb.jpg")
    assert caught.value.code == "media_unreadable"
    assert not (tmp_path / "thumb.jpg").exists()


def test_missing_file_is_media_not_found(tmp_path: Path) -> None:
    """A path that is not there is named as such (media_not_found), not as unreadable."""
    with pytest.raises(MediaNotFound):
        contact_sheet(tmp_path / "gone.mp4", tmp_path / "s.jpg")


def test_failed_write_keeps_the_old_file_and_leaves_no_temporary(
    h264: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An encoder failing mid-file leaves the previous sheet intact and no .part behind."""
    out = tmp_path / "s.jpg"
    out.write_bytes(b"previous sheet")

    def half_then_fail(self: Image.Image, fp: object, *args: object, **kwargs: object) -> None:
        fp.write(b"\xff\xd8 half a jpeg")  # type: ignore[attr-defined]
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Image.Image, "save", half_then_fail)
    with pytest.raises(OutputNotWritable) as caught:
        contact_sheet(h264, out)
    assert caught.value.code == "disk_full"
    assert out.read_bytes() == b"previous sheet"
    assert files(tmp_path) == ["s.jpg"]


def test_unwritable_folder_is_output_not_writable(h264: Path, tmp_path: Path) -> None:
    """A file standing where the previews folder goes: output_not_writable, exit code 8."""
    (tmp_path / "p").write_text("a file")
    with pytest.raises(OutputNotWritable) as caught:
        previews_for(h264, tmp_path / "p")
    assert caught.value.exit_code == 8


def test_bad_sizes_are_a_callers_mistake(h264: Path, tmp_path: Path) -> None:
    """Zero frames, zero columns or a sheet too narrow for its columns raise ValueError."""
    for kwargs in ({"frames": 0}, {"columns": 0}, {"width": 100, "columns": 8}):
        with pytest.raises(ValueError):
            contact_sheet(h264, tmp_path / "s.jpg", **kwargs)  # type: ignore[arg-type]
    assert not (tmp_path / "s.jpg").exists()


def test_importing_previews_loads_neither_av_nor_pillow() -> None:
    """The CLI may import the previews module at start-up: av and PIL stay unloaded."""
    code = "import sys, comfycine.takes.previews; print(sorted({'av', 'PIL'} & set(sys.modules)))"
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=env
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
