"""The media side of a conform on a 5 s 1280×720 24 fps clip: pull, scan, deliver, QC.

The clip is made first, outside the timing, with PyAV (libx264, preset ``fast``, CRF
20, a keyframe a second): a textured picture panning a few pixels a frame under grain
that changes every frame, so the encoders have real work (a flat or clean picture would
flatter them). Each step runs ``--runs`` times in this process, after a warm-up run
(imports and FFmpeg's first-use set-up are not counted), its outputs removed between
runs; the median wall time is printed with the frames per second it comes to.

    python bench/conform_media.py [--runs 5] [--keep DIR]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path
from typing import Any

SECONDS, SIZE, RATE = 5, (1280, 720), Fraction(24)
FRAMES = SECONDS * 24


def make_clip(path: Path) -> None:
    """Encode the panning test picture: 5 s at 24 fps, H.264 in MOV, timecode 01:00:00:00."""
    import av
    from PIL import Image

    width, height = SIZE
    noise = [Image.effect_noise((width // 16, height // 16), 90) for _ in range(3)]
    texture = Image.merge("RGB", noise).resize((width * 2, height), Image.Resampling.BICUBIC)
    grains = [
        Image.effect_noise((width // 2, height // 2), 24).resize(SIZE).convert("RGB")
        for _ in range(7)
    ]
    options = {"preset": "fast", "crf": "20", "x264-params": "keyint=24:min-keyint=24"}
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=24, options=options)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.metadata["timecode"] = "01:00:00:00"
        for index in range(FRAMES):
            step = index * 3
            frame = Image.blend(
                texture.crop((step, 0, step + width, height)), grains[index % 7], 0.15
            )
            container.mux(stream.encode(av.VideoFrame.from_image(frame)))
        container.mux(stream.encode(None))


def measure(label: str, runs: int, action: Callable[[], Any], clean: Callable[[], None]) -> None:
    """Run ``action`` once to warm up, then ``runs`` times; print the median."""
    action()
    clean()
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
        clean()
    median = statistics.median(times)
    spread = f"{min(times) * 1000:.0f}–{max(times) * 1000:.0f}"
    print(f"{label:40} {median * 1000:7.0f} ms ({spread:>11})  {FRAMES / median:6.0f} frames/s")


def main() -> None:
    """Make the clip, then measure and print."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--keep", type=Path, help="make the clip here and keep it")
    args = parser.parse_args()
    from comfycine.media.deliver import deliver
    from comfycine.media.fit import plan_fit
    from comfycine.media.probe import probe
    from comfycine.media.pull import extract_range
    from comfycine.media.qc import check
    from comfycine.media.scan import scan

    work = args.keep or Path(tempfile.mkdtemp(prefix="comfycine-bench-conform-"))
    work.mkdir(parents=True, exist_ok=True)
    out = work / "out"
    try:
        clip = work / "5s-720p.mov"
        if not clip.exists():
            make_clip(clip)
        size = clip.stat().st_size
        print(f"{clip.name}: {FRAMES} frames, {size / 1e6:.1f} MB, "
              f"{size * 8 / 1e6 / SECONDS:.1f} Mbit/s")  # fmt: skip

        def clean() -> None:
            shutil.rmtree(out, ignore_errors=True)
            out.mkdir()

        clean()
        runs = args.runs
        measure("probe", runs, lambda: probe(clip), clean)
        measure("extract_range, all 120 frames (H.264)", runs,
                lambda: extract_range(clip, 0, FRAMES, out / "pull.mov", timecode_frame=86400),
                clean)  # fmt: skip
        measure("scan (black, frozen)", runs, lambda: scan(clip, rate=RATE), clean)
        fit = plan_fit(probe(clip), FRAMES, RATE)
        for kind in ("prores", "dnxhr", "png", "h264"):

            def delivery(kind: str = kind) -> Any:
                return deliver(clip, out / "shot", kind=kind, fit=fit, rate=RATE,
                               timecode_frame=86400)  # fmt: skip

            measure(f"deliver {kind}", runs, delivery, clean)
        made = deliver(clip, work / "qc", kind="prores", fit=fit, rate=RATE, timecode_frame=86400)
        measure("QC check of the ProRes delivery", runs,
                lambda: check(made, frames=FRAMES, rate=RATE, source_scan=None, fit=fit),
                clean)  # fmt: skip
        made.path.unlink()
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
