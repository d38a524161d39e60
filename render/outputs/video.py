"""Encode stored frames into a video with ffmpeg-python, streaming raw RGB frames to ffmpeg's stdin.

Frames are read one at a time (memory stays at one frame), which also makes loop modes a matter of
frame order.  Frames of an odd size that the codec needs even are padded by one pixel on the right
and/or bottom, repeating the edge pixels; a note says so and the video's ``padded`` tag records it.
ffmpeg's own error text is reported when it fails.

A soundtrack (:class:`SoundInput`) is muxed from its offset, cut by decoded samples (decoded from its
first sample as the audio features decode it, never a container seek), for exactly the video's duration
(``len(order) / fps``): resampled to 48 kHz, padded with silence when the track ends first, cut when
it runs longer; AAC in mp4 and hevc, Opus in webm, 16-bit PCM in ProRes mov, nothing in GIF.  The
sound starts with the first frame: the AAC encoder's priming samples are covered by the mp4 edit list
and Opus's pre-skip by its header, so players (and ffmpeg) start both streams at time 0.
"""

from __future__ import annotations

import os
import re
import threading
from pathlib import Path
from typing import Callable, Sequence

import ffmpeg
import numpy as np

from ..errors import OutputError
from ..notices import note
from .ffmpeg_tool import ffmpeg_exe
from .formats import CODECS, SAMPLE_RATE, SoundInput, video_path  # noqa: F401  (part of this module's API)
from .limits import gif_timing, size_problem


def _first_lines(stderr: bytes, count: int = 2) -> str:
    """ffmpeg names the cause first; drop its ``[encoder @ 0x...]`` prefixes."""
    lines = [re.sub(r"^(\[[^\]]*\]\s*)+", "", line).strip()
             for line in stderr.decode(errors="replace").splitlines()]
    return " | ".join([line for line in lines if line][:count])


def loop_order(frames: int, mode: str) -> list[int]:
    """Frame indices in playing order: ``forward`` 0..n-1; ``pingpong`` 0..n-1..1 (loops seamlessly)."""
    order = list(range(frames))
    if mode == "pingpong" and frames > 2:
        order += list(range(frames - 2, 0, -1))
    return order


def soundtrack_stream(audio: SoundInput, seconds: float):
    """The ffmpeg-python audio stream of ``audio`` from its offset, exactly ``seconds`` long at 48 kHz
    (counted in samples, so no rounding of timestamps drifts): silence after the track's end.

    The offset is cut by decoded samples, never by a container seek: the track is decoded from its
    first sample, as the audio features decode it (:mod:`render.audio.decode`), resampled, and the
    first ``round(offset * 48000)`` samples are dropped (``atrim`` counts the samples it receives, not
    timestamps).  An input ``-ss`` into an MP3 (CBR or VBR) lost a click 10 ms after the offset (the
    frames just after a seek point need the bit reservoir of frames before it), and a VBR MP3's seek
    table is approximate besides."""
    if not Path(audio.path).is_file():
        raise OutputError(f"the soundtrack {audio.path} is missing")
    samples = round(seconds * SAMPLE_RATE)
    track = ffmpeg.input(str(Path(audio.path).absolute())).audio.filter("aresample", SAMPLE_RATE)
    if audio.offset > 0:   # from the offset: that many decoded samples dropped, the rest from time 0
        track = (track.filter("atrim", start_sample=round(audio.offset * SAMPLE_RATE))
                 .filter("asetpts", "N/SR/TB"))
    elif audio.offset < 0:   # the track starts that long after the first frame: silence until then
        track = track.filter("adelay", delays=f"{round(-audio.offset * SAMPLE_RATE)}S", all=1)
    return track.filter("apad", whole_len=samples).filter("atrim", end_sample=samples)


def encode_video(read_frame: Callable[[int], np.ndarray], order: Sequence[int], size: tuple[int, int],
                 fps: float, video: str, quality: int, out_path: Path, tags: dict[str, str] | None = None,
                 audio: SoundInput | None = None) -> Path:
    """Encode frames ``read_frame(i)`` (uint8 ``(H, W, 3)``) in ``order`` into ``out_path``.

    ``size`` is (width, height); ``tags`` container metadata (``title``, ``comment``...; GIF has none).
    An odd side the codec needs even is padded by repeating the edge pixels (tag ``padded``).
    ``audio``: the soundtrack, from its offset for the video's duration (none in a GIF: a note says so).
    A GIF's frames are laid on its centisecond grid, every delay 20 ms or more (frames dropped evenly
    above 50 fps, a note says so: :func:`render.outputs.limits.gif_timing`); a size ffmpeg cannot
    take is refused before anything is encoded.
    Written to a temporary name and renamed when ffmpeg succeeds.
    """
    codec = CODECS[video]
    width, height = size
    out_path = Path(out_path)
    tmp = out_path.with_name(f".{out_path.stem}.partial.{codec.extension}")
    coded = codec.padded_size(width, height)
    padded = coded != (width, height)
    pad = ((0, coded[1] - height), (0, coded[0] - width), (0, 0))
    too_large = size_problem(width, height, coded)
    if too_large:
        raise OutputError(f"output.size {too_large}")
    # a GIF's frames on the centisecond grid: delays of 20 ms or more, frames dropped evenly above 50 fps
    timing = gif_timing(len(order), fps) if video == "gif" else None
    if timing is not None:
        order = [order[position] for position in timing.picks]
    tags = dict(tags or {})
    options = dict(codec.options)
    if padded:
        tags["padded"] = f"{width}x{height} -> {coded[0]}x{coded[1]}"
        if codec.extension in ("mp4", "mov"):  # without it their muxer drops keys it has no atom for
            options["movflags"] = options.get("movflags", "") + "+use_metadata_tags"
    source = ffmpeg.input("pipe:", format="rawvideo", pix_fmt="rgb24", s=f"{coded[0]}x{coded[1]}",
                          framerate=100 if timing else fps)   # a GIF: time base 1/100 s, starts by setpts
    if timing is not None:
        source = source.filter("setpts", timing.setpts)
        options.update(fps_mode="passthrough", final_delay=timing.final_delay)
    if codec.uses_crf:
        options["crf"] = quality
    if video != "gif":
        for number, (name, value) in enumerate(tags.items()):
            options[f"metadata:g:{number}"] = f"{name}={value}"
    if video == "gif":
        split = source.split()
        palette = split[1].filter("palettegen", stats_mode="full")   # every frame's colours (diff missed the last)
        stream = ffmpeg.filter([split[0], palette], "paletteuse", dither="sierra2_4a").output(str(tmp.absolute()), **options)
    elif audio is not None and codec.audio is not None:
        options.update(codec.audio, max_muxing_queue_size=4096)
        sound = soundtrack_stream(audio, len(order) / fps)
        stream = ffmpeg.output(source.video, sound, str(tmp.absolute()), r=fps, **options)
    else:
        stream = source.output(str(tmp.absolute()), r=fps, **options)
    if audio is not None and codec.audio is None:
        note(f"the {video} video {out_path.name} has no sound: {codec.label} carries none, the soundtrack "
             f"{Path(audio.path).name} is left out")
    stream = stream.global_args("-hide_banner", "-loglevel", "error", "-nostats").overwrite_output()
    process = stream.run_async(cmd=ffmpeg_exe(), pipe_stdin=True, pipe_stderr=True)
    errors: list[bytes] = []
    reader = threading.Thread(target=lambda: errors.append(process.stderr.read()), daemon=True)
    reader.start()
    try:
        for index in order:
            frame = read_frame(index)
            if frame.shape != (height, width, 3):
                raise OutputError(f"frame {index} is {frame.shape[1]}x{frame.shape[0]}, expected {width}x{height}")
            if padded:
                frame = np.pad(frame, pad, mode="edge")
            process.stdin.write(np.ascontiguousarray(frame, np.uint8).tobytes())
        process.stdin.close()
    except BrokenPipeError:
        pass  # ffmpeg stopped early; its message follows
    except BaseException:
        process.kill()
        process.wait()
        tmp.unlink(missing_ok=True)
        raise
    code = process.wait()
    reader.join()
    if code != 0:
        tmp.unlink(missing_ok=True)
        sound = f" with the soundtrack {Path(audio.path).name}" if audio is not None and codec.audio else ""
        raise OutputError(f"ffmpeg failed encoding {out_path.name} ({video}{sound}): "
                          + (_first_lines(b"".join(errors)) or f"exit status {code}"))
    os.replace(tmp, out_path)
    if timing is not None and timing.note(out_path.name):
        note(timing.note(out_path.name), once=False)
    if padded:
        note(f"{width}x{height} frames padded to {coded[0]}x{coded[1]} for the {video} video {out_path.name} "
             f"({codec.label} needs {codec.needs}; edge pixels repeated)", once=False)
    return out_path
