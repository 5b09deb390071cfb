"""The notices' texts: short first line, the facts a phone screen needs."""

from __future__ import annotations

from pathlib import Path

from PIL import Image

from comfycine.diagnose import Diagnosis, Fix, diagnose
from comfycine.errors import JobFailed
from comfycine.notify import (
    batch_done_notice,
    format_duration,
    job_done_notice,
    job_failed_notice,
    still_rendering_notice,
)
from comfycine.results import JobResult

JOB = "1a2b3c4d-0000-4000-8000-000000000000"


def test_durations_read_naturally() -> None:
    """Seconds, minutes and seconds, hours and minutes."""
    assert [format_duration(s) for s in (4.4, 192, 3780, None)] == [
        "4 s",
        "3 min 12 s",
        "1 h 03 min",
        "",
    ]


def test_job_done_names_the_job_and_attaches_the_first_output(tmp_path: Path) -> None:
    """Template, 8-character id, time and target; the first output is the attachment."""
    outputs = [str(tmp_path / "a.mp4"), str(tmp_path / "b.mp4")]
    result = JobResult(JOB, "local", "succeeded", "wan22-t2v", outputs=outputs, seconds=192.0)
    notice = job_done_notice(result)
    assert notice.text.splitlines() == [
        "✅ wan22-t2v 1a2b3c4d done in 3 min 12 s (local)",
        f"{outputs[0]} (+1 more)",
    ]
    assert notice.attachment == Path(outputs[0])


def test_job_done_without_outputs_has_no_attachment() -> None:
    """A job that produced no file sends words only."""
    notice = job_done_notice(JobResult(JOB, "cloud", "succeeded", None))
    assert notice.text == "✅ job 1a2b3c4d done (cloud)"
    assert notice.attachment is None


def picture(path: Path, size: tuple[int, int] = (64, 36)) -> Path:
    """A real picture of ``size`` pixels (its format from the suffix)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, (200, 40, 40)).save(path)
    return path


def test_video_job_attaches_its_contact_sheet(tmp_path: Path) -> None:
    """A video with a contact sheet on disk: the sheet is attached, the text names the video."""
    video = str(tmp_path / "shot.mp4")
    sheet = picture(tmp_path / "previews" / "shot.sheet.jpg")
    poster = picture(tmp_path / "previews" / "shot.poster.jpg")
    previews = {video: {"poster": str(poster), "sheet": str(sheet)}}
    result = JobResult(JOB, "local", "succeeded", "wan", outputs=[video], previews=previews)
    notice = job_done_notice(result)
    assert notice.attachment == sheet
    assert notice.text.splitlines()[1] == video


def test_image_job_attaches_the_image_itself(tmp_path: Path) -> None:
    """An image Telegram takes as a photo is attached itself, not its thumbnail."""
    image = picture(tmp_path / "still.png", (640, 360))
    thumb = picture(tmp_path / "previews" / "still.thumb.jpg")
    previews = {str(image): {"thumbnail": str(thumb)}}
    result = JobResult(JOB, "local", "succeeded", "sd", outputs=[str(image)], previews=previews)
    assert job_done_notice(result).attachment == image


def test_image_too_wide_for_a_photo_attaches_its_thumbnail(tmp_path: Path) -> None:
    """An image beyond sendPhoto's shape limits (ratio above 20) sends its thumbnail."""
    image = picture(tmp_path / "pano.png", (4200, 200))
    thumb = picture(tmp_path / "previews" / "pano.thumb.jpg")
    previews = {str(image): {"thumbnail": str(thumb)}}
    result = JobResult(JOB, "local", "succeeded", "sd", outputs=[str(image)], previews=previews)
    assert job_done_notice(result).attachment == thumb


def test_without_previews_on_disk_the_output_is_attached(tmp_path: Path) -> None:
    """Previews listed but gone, or none made: the output itself, as before previews."""
    video = str(tmp_path / "shot.mp4")
    gone = {video: {"sheet": str(tmp_path / "previews" / "shot.sheet.jpg")}}
    cases: list[dict[str, dict[str, str]]] = [gone, {}, {video: {}}]
    for previews in cases:
        result = JobResult(JOB, "local", "succeeded", "wan", outputs=[video], previews=previews)
        assert job_done_notice(result).attachment == Path(video)


def test_job_failed_gives_the_top_fix() -> None:
    """The failure's first line, the cause and the diagnosis' first fix."""
    error = JobFailed("Allocation on device\ntraceback…", details={"job": JOB})
    diagnosis = Diagnosis(
        "out_of_memory",
        "The GPU ran out of memory.",
        [Fix("Lower the resolution:", "comfycine generate x --set width=960")],
    )
    notice = job_failed_notice(error, diagnosis, label="wan22-t2v")
    assert notice.text.splitlines() == [
        "❌ wan22-t2v 1a2b3c4d failed: Allocation on device",
        "The GPU ran out of memory.",
        "Fix: Lower the resolution: comfycine generate x --set width=960",
    ]


def test_job_failed_diagnoses_by_itself() -> None:
    """Without a diagnosis given, comfycine.diagnose supplies the fix line."""
    error = JobFailed("node exploded", hint="Do the thing.")
    notice = job_failed_notice(error)
    assert notice.text.startswith("❌ job failed: node exploded")
    top_fix = diagnose(error).top_fix
    assert top_fix and notice.text.endswith(f"\nFix: {top_fix}")


def test_batch_done_counts() -> None:
    """X/Y done, failures named, a warning mark when not all succeeded."""
    assert batch_done_notice(12, 0, 12, 3780).text == "✅ batch: 12/12 done in 1 h 03 min"
    assert (
        batch_done_notice(10, 2, 12, None, label="shots").text
        == "⚠️ batch shots: 10/12 done, 2 failed"
    )


def test_sweep_notice_attaches_its_grid(tmp_path: Path) -> None:
    """A sweep says so and attaches its grid when the file exists; none when it does not."""
    grid = picture(tmp_path / "sweep-ab12.grid.jpg")
    notice = batch_done_notice(4, 0, 4, 90, label="wan", kind="sweep", grid=str(grid))
    assert notice.text == "✅ sweep wan: 4/4 done in 1 min 30 s"
    assert notice.attachment == grid
    missing = str(tmp_path / "gone.grid.jpg")
    assert batch_done_notice(4, 0, 4, 90, kind="sweep", grid=missing).attachment is None


def test_still_rendering() -> None:
    """Label, short id and elapsed time."""
    notice = still_rendering_notice("hunyuan-t2v", JOB, 615)
    assert notice.text == "⏳ hunyuan-t2v 1a2b3c4d still rendering after 10 min 15 s"
