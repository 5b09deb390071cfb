"""A timeline conformed end to end on the real CPU ComfyUI: where the time goes.

An OTIO timeline of ``--clips`` clips (``--seconds`` each, 24 fps, ``--size``, grainy
H.264 media made with PyAV) goes through ``comfycine.conform.run.conform`` with the
model-free ``testinvert-video`` template, once per delivery format asked, then once more
with the same arguments (the resume: everything found, nothing rendered). Per run the
bench times the pulls (``make_pulls``: cutting each source range, scanning it), the
renders (the batch), the finishing (``finish_shot``: fit, delivery, recipe, QC, summed
over clips) and the write-back, by wrapping those calls in this process.

    python bench/conform_e2e.py [--clips 4] [--seconds 2] [--size 640x360] \\
        [--deliver render,prores] [--url URL]

Without --url it builds (the first time: minutes) and starts the local CPU ComfyUI on a
free 127.0.0.1 port. Every wait is bounded (the server's start, each job by the batch).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

RATE = 24
GRAIN = 24  # ± levels of noise per pixel block, so x264 and ProRes have real work


def make_media(path: Path, frames: int, size: tuple[int, int]) -> None:
    """A grainy clip ``frames`` long: a gradient sliding across, film-like noise over it."""
    import av
    from PIL import Image, ImageChops

    gradient = Image.linear_gradient("L").rotate(90).resize(size)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=RATE)
        stream.width, stream.height, stream.pix_fmt = size[0], size[1], "yuv420p"
        for index in range(frames):
            moved = ImageChops.offset(gradient, 4 * index, 0)
            grain = Image.effect_noise(size, GRAIN).point(lambda v: v // 4)
            luma = ImageChops.add(moved, grain, scale=1.0, offset=-16)
            picture = Image.merge("RGB", (luma, moved, grain))
            for packet in stream.encode(av.VideoFrame.from_image(picture)):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def make_timeline(folder: Path, clips: int, seconds: float, size: tuple[int, int]) -> Path:
    """``clips`` clips in a row on V1, each the middle of its own media file."""
    import opentimelineio as otio

    frames = round(seconds * RATE)
    track = otio.schema.Track(name="V1", kind=otio.schema.TrackKind.Video)
    for n in range(clips):
        media = folder / f"plate{n + 1:02d}.mov"
        make_media(media, frames + 24, size)
        track.append(
            otio.schema.Clip(
                name=f"shot{(n + 1) * 10:03d}",
                media_reference=otio.schema.ExternalReference(target_url=media.as_uri()),
                source_range=otio.opentime.TimeRange(
                    otio.opentime.RationalTime(12, RATE), otio.opentime.RationalTime(frames, RATE)
                ),
            )
        )
    timeline = otio.schema.Timeline(name="bench")
    timeline.tracks.append(track)
    path = folder / "bench.otio"
    otio.adapters.write_to_file(timeline, str(path))
    return path


def size(text: str) -> tuple[int, int]:
    """``WxH`` → (W, H)."""
    width, _, height = text.partition("x")
    return int(width), int(height)


def main() -> None:
    """Make the timeline, start the server, conform per delivery, print the table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clips", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--size", type=size, default=(640, 360))
    parser.add_argument("--deliver", default="render,prores")
    parser.add_argument("--url", help="a running ComfyUI instead of starting one")
    args = parser.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    work = Path(tempfile.mkdtemp(prefix="comfycine-bench-conform-"))
    server = None
    try:
        url = args.url
        if url is None:
            from bench.take_overhead import start_local_server

            url, server = start_local_server(work / "server")
        os.environ.update(
            {
                "COMFYUI_URL": url,
                "COMFYCINE_OUTPUT_DIR": str(work / "out"),
                "COMFYCINE_DATA_DIR": str(work / "data"),
                "COMFYCINE_EXCHANGE_DIR": str(work / "exchange"),
                "COMFYCINE_CACHE_DIR": str(work / "cache"),
            }
        )
        (work / "media").mkdir()
        timeline = make_timeline(work / "media", args.clips, args.seconds, args.size)
        from bench.take_overhead import Spent
        from comfycine.conform import run as conform_run
        from comfycine.settings import resolve

        timer = Spent()
        timer.wrap(conform_run, "make_pulls", "pulls")
        timer.wrap(conform_run, "finish_shot", "finish")
        timer.wrap(conform_run, "_write_outputs", "write-back")
        rows = []
        for deliver in [d.strip() for d in args.deliver.split(",") if d.strip()]:
            for attempt in ("first", "again"):
                timer.reset()
                started = time.perf_counter()
                result = conform_run.conform(
                    resolve({}),
                    timeline,
                    conform_run.RenderOptions(template="testinvert-video", deliver=deliver),
                    output=work / f"out-{deliver}",
                )
                wall = time.perf_counter() - started
                renders = float((result.batch or {}).get("seconds") or 0.0)
                assert result.count("conformed") == args.clips, result.summary()
                rows.append((deliver, attempt, wall, timer.seconds["pulls"], renders,
                             timer.seconds["finish"], timer.seconds["write-back"]))  # fmt: skip
                print(f"{deliver} {attempt}: {wall:.2f} s", flush=True)
        frames = round(args.seconds * RATE)
        print(
            f"\n{args.clips} clips × {frames} frames ({args.size[0]}×{args.size[1]}, 24 fps), "
            f"testinvert-video on the CPU ComfyUI"
        )
        print(f"{'deliver':8} {'run':6} {'total':>7} {'pulls':>7} {'renders':>8} {'finish':>7} "
              f"{'write':>6}")  # fmt: skip
        for deliver, attempt, wall, pulls, renders, finish, write in rows:
            print(f"{deliver:8} {attempt:6} {wall:7.2f} {pulls:7.2f} {renders:8.2f} "
                  f"{finish:7.2f} {write:6.2f}")  # fmt: skip
        print("(seconds; finish = fit + delivery + recipe + QC, summed over clips)")
    finally:
        if server is not None:
            from comfycine.localserver import terminate_server

            terminate_server(server)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
