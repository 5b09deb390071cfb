"""Previews: a contact sheet of a 10 s 1080p clip, a 16-cell sweep grid, a take's previews.

The clips are made first, outside the timing, with PyAV (libx264, preset ``fast``, CRF
20, 24 fps, yuv420p): a textured picture panning a few pixels a frame, with grain and a
frame counter, so the encoder has real work and the decoder real pictures at a real
bitrate (flat colours, or a clean pan, would flatter both). The 1080p clip is made
twice: with x264's default GOP (``keyint`` 250: one keyframe in 10 s, so the sheet
decodes the clip from its start, the sequential worst case) and with a keyframe a second
(``keyint`` 24, as most exports do: the sheet seeks). The 16 posters of the grid are
real poster frames of 16 clips.

Every measurement runs in a fresh Python process (``--child``). Its wall time covers the
call alone (imports of av, PIL and comfycine are timed apart); its peak memory is the
kernel's ``ru_maxrss`` of that one child, read by this parent with ``os.wait4`` (KiB on
Linux). This parent imports neither av nor PIL (Linux charges a child with the parent's
resident set at fork), and a baseline child that only imports them gives the floor.

    python bench/previews.py [--runs 5] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

TIMEOUT = 600.0  # a child running longer than this is killed: every wait is bounded


# ------------------------------------------------------------------ children (measured)


def make_clip(path: Path, seconds: int, size: tuple[int, int], keyint: int | None) -> None:
    """Encode the panning test picture: ``seconds`` at 24 fps, H.264 in MP4."""
    import av
    from PIL import Image, ImageDraw, ImageFont

    width, height = size
    noise = [Image.effect_noise((width // 16, height // 16), 90) for _ in range(3)]
    texture = Image.merge("RGB", noise).resize((width * 2, height), Image.Resampling.BICUBIC)
    # Grain that changes every frame (7 layers: no short cycle for x264's references to
    # find) brings the bitrate to what a 1080p export has (~9 Mbit/s at CRF 20).
    grains = [
        Image.effect_noise((width // 2, height // 2), 24).resize(size).convert("RGB")
        for _ in range(7)
    ]
    font = ImageFont.load_default(size=height // 8)
    options = {"preset": "fast", "crf": "20"}
    if keyint is not None:
        options["x264-params"] = f"keyint={keyint}:min-keyint={keyint}"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=24, options=options)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for index in range(seconds * 24):
            step = index * max(2, width // 480)
            frame = Image.blend(
                texture.crop((step, 0, step + width, height)), grains[index % 7], 0.15
            )
            ImageDraw.Draw(frame).text((height // 10, height // 10), f"{index}", font=font)
            for packet in stream.encode(av.VideoFrame.from_image(frame)):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def child(kind: str, args: list[str]) -> dict[str, Any]:
    """Run one measured action in this (fresh) process; return its timings."""
    started = time.perf_counter()
    import av  # noqa: F401  (the import cost, timed apart from the call)
    import PIL.Image  # noqa: F401

    from comfycine.takes.previews import (
        GridCell,
        contact_sheet,
        poster_frame,
        previews_for,
        sweep_grid,
    )

    imported = time.perf_counter()
    result: dict[str, Any] = {"import_s": imported - started}
    if kind == "baseline":
        pass
    elif kind == "sheet":
        sheet = contact_sheet(Path(args[0]), Path(args[1]))
        result["frames"] = sheet.frames
    elif kind == "poster":
        poster_frame(Path(args[0]), Path(args[1]))
    elif kind == "previews":
        result["files"] = sorted(previews_for(Path(args[0]), Path(args[1])))
    elif kind == "grid":
        posters = sorted(Path(args[0]).glob("*.jpg"))
        rows, columns = ["cfg 4.5", "cfg 6", "cfg 7.5", "cfg 9"], ["1", "2", "3", "4"]
        cells = [
            GridCell(rows[i // 4], columns[i % 4], path, caption=f"job {i:04x} · 41.2 s")
            for i, path in enumerate(posters[:16])
        ]
        sweep_grid(
            cells, Path(args[1]), rows=rows, columns=columns, row_title="cfg", column_title="seed"
        )
    elif kind == "make":
        keyint = None if args[3] == "default" else int(args[3])
        make_clip(Path(args[0]), int(args[1]), tuple(map(int, args[2].split("x"))), keyint)  # type: ignore[arg-type]
    elif kind == "posters":
        folder = Path(args[0])
        for i in range(16):
            make_clip(folder / f"take{i}.mp4", 1, (1280, 720), 24)
            poster_frame(folder / f"take{i}.mp4", folder / f"take{i:02d}.jpg")
            (folder / f"take{i}.mp4").unlink()
    result["call_s"] = time.perf_counter() - imported
    return result


# ------------------------------------------------------------------ parent (measuring)


def run_child(kind: str, *args: str) -> tuple[dict[str, Any], int]:
    """Run ``--child kind args`` as a fresh process: its JSON result and peak RSS (KiB)."""
    argv = [sys.executable, str(Path(__file__).resolve()), "--child", kind, *args]
    with tempfile.TemporaryFile(mode="w+") as out:
        process = subprocess.Popen(argv, stdout=out, stderr=subprocess.PIPE)
        killer = threading.Timer(TIMEOUT, process.kill)
        killer.start()
        try:
            _, status, usage = os.wait4(process.pid, 0)
        finally:
            killer.cancel()
        process.returncode = os.waitstatus_to_exitcode(status)
        assert process.stderr is not None
        errors = process.stderr.read().decode(errors="replace")
        process.stderr.close()
        if process.returncode != 0:
            raise SystemExit(f"child {kind} failed ({process.returncode}):\n{errors}")
        out.seek(0)
        return json.loads(out.read()), usage.ru_maxrss


def measure(label: str, runs: int, kind: str, *args: str) -> None:
    """Run a child ``runs`` times and print the median call time and peak memory."""
    calls, peaks, imports = [], [], []
    for _ in range(runs):
        result, peak = run_child(kind, *args)
        calls.append(result["call_s"] * 1000)
        imports.append(result["import_s"] * 1000)
        peaks.append(peak * 1024 / 1e6)
    call = f"{statistics.median(calls):7.0f} ms ({min(calls):.0f}–{max(calls):.0f})"
    print(
        f"{label:42} call {call:22} peak RSS {statistics.median(peaks):6.1f} MB"
        f"   imports {statistics.median(imports):4.0f} ms"
    )


def main() -> None:
    """Make the media, then measure and print."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--keep", type=Path, help="make the media here and keep it")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child[0], args.child[1:])))
        return
    work = args.keep or Path(tempfile.mkdtemp(prefix="comfycine-bench-previews-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        clips = {
            "1080p": (work / "10s-1080p.mp4", "10", "1920x1080", "default"),
            "1080p-gop24": (work / "10s-1080p-gop24.mp4", "10", "1920x1080", "24"),
            "720p": (work / "5s-720p.mp4", "5", "1280x720", "24"),
        }
        started = time.perf_counter()
        for path, seconds, size, keyint in clips.values():
            if not path.exists():
                run_child("make", str(path), seconds, size, keyint)
        (work / "posters").mkdir(exist_ok=True)
        if len(list((work / "posters").glob("*.jpg"))) < 16:
            run_child("posters", str(work / "posters"))
        print(f"media made in {time.perf_counter() - started:.1f} s (not measured) in {work}")
        for name, (path, *_) in clips.items():
            rate = path.stat().st_size * 8 / 1e6 / float(clips[name][1])
            print(f"  {path.name}: {path.stat().st_size / 1e6:.1f} MB, {rate:.1f} Mbit/s")
        runs = args.runs
        measure("floor: import av, PIL, previews", runs, "baseline")
        measure(
            "contact sheet, 10 s 1080p, GOP 250",
            runs,
            "sheet",
            str(clips["1080p"][0]),
            str(work / "s1.jpg"),
        )
        measure(
            "contact sheet, 10 s 1080p, GOP 24",
            runs,
            "sheet",
            str(clips["1080p-gop24"][0]),
            str(work / "s2.jpg"),
        )
        measure(
            "sweep grid, 4x4 of 640x360 posters",
            runs,
            "grid",
            str(work / "posters"),
            str(work / "grid.jpg"),
        )
        measure("poster only, 5 s 720p", runs, "poster", str(clips["720p"][0]), str(work / "p.jpg"))
        measure("sheet only, 5 s 720p", runs, "sheet", str(clips["720p"][0]), str(work / "s3.jpg"))
        measure(
            "previews_for (poster + sheet), 5 s 720p",
            runs,
            "previews",
            str(clips["720p"][0]),
            str(work / "take"),
        )
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
