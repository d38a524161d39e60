"""Soundtracks: a :class:`Track` names an audio file by the sha256 of its bytes, and :func:`samples`
decodes it with the bundled ffmpeg (the ``imageio-ffmpeg`` wheel's binary, as the video encoder uses)
into float32 at :data:`SR` Hz, one row per channel.

Any container and codec that ffmpeg decodes works (WAV, FLAC, OGG Vorbis/Opus, MP3, M4A/AAC...); the
first audio stream is used, decoded from its first sample (never from a container seek: ffmpeg's own
decoding drops an MP3's or AAC's encoder delay and an Opus pre-skip, and sample 0 of what it gives is
time 0 of the track for the features and for the video's soundtrack alike), its rate converted to
22050 Hz.  The channels are kept apart: the analysis combines their power spectra, never their samples
(:mod:`.features`), so a channel in inverted polarity is not cancelled by a downmix.
A valid file with no samples or only silence is fine (its features are 0).  What is not fine raises
:class:`AudioError`, one line naming the file: a missing path, a folder, a file without an audio
stream, a file ffmpeg cannot decode.

Decoded samples stay in a small in-process cache keyed by the digest, so the features of a run decode
the file once; the duration is also recorded on disk next to the feature cache (:mod:`.cache`), so a
run whose features are all cached never decodes at all.
"""

from __future__ import annotations

import subprocess
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import RenderError
from ..store import file_sha256

SR = 22050           # analysis sample rate (Hz): librosa's default, plenty for onsets, beats and chroma
_KEEP_DECODED = 2    # tracks whose samples stay in memory (a 3-minute stereo track is 32 MB)
_decoded: OrderedDict[str, np.ndarray] = OrderedDict()


class AudioError(RenderError):
    """A soundtrack that cannot be used: ``str()`` is one line, ``FILE: what is wrong``."""

    exit_code = 2

    def __init__(self, file, message: str):
        self.file = str(file)
        self.message = message
        super().__init__(f"{self.file}: {message}")


def _ffmpeg_decode(path: Path, rate: int = SR) -> np.ndarray:
    """float32 ``(channels, samples)`` of the first audio stream of ``path`` at ``rate`` Hz, from its
    first decoded sample (every channel kept; no downmix)."""
    from ..outputs.ffmpeg_tool import ffmpeg_exe
    command = [ffmpeg_exe(), "-nostdin", "-v", "error", "-i", str(path), "-map", "0:a:0", "-vn",
               "-ar", str(rate), "-c:a", "pcm_f32le", "-f", "wav", "-"]
    result = subprocess.run(command, capture_output=True)
    if result.returncode != 0:
        raise AudioError(path, _ffmpeg_problem(path, result.stderr.decode("utf-8", "replace")))
    return _wav_channels(result.stdout)


def _wav_channels(data: bytes) -> np.ndarray:
    """float32 ``(channels, samples)`` of a float WAV as ffmpeg writes it to a pipe (its sizes unknown:
    the data runs to the end)."""
    position, channels = 12, 1
    while position + 8 <= len(data):
        chunk, size = data[position:position + 4], int.from_bytes(data[position + 4:position + 8], "little")
        if chunk == b"fmt ":
            channels = max(1, int.from_bytes(data[position + 10:position + 12], "little"))
        elif chunk == b"data":
            body = data[position + 8:]
            body = body[:len(body) // (4 * channels) * 4 * channels]
            return np.frombuffer(body, dtype="<f4").astype(np.float32).reshape(-1, channels).T.copy()
        position += 8 + size + size % 2
    return np.zeros((channels, 0), np.float32)


def _ffmpeg_problem(path: Path, stderr: str) -> str:
    """ffmpeg's complaint as a short phrase."""
    if "matches no streams" in stderr or "does not contain any stream" in stderr:
        return "has no audio stream"
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    detail = lines[-1] if lines else "ffmpeg failed"
    for prefix in (str(path), path.name):  # ffmpeg repeats the file name in front of its message
        if detail.startswith(prefix + ":"):
            detail = detail[len(prefix) + 1:].strip()
    return f"not an audio file ffmpeg can decode ({detail})"


@dataclass(frozen=True)
class Track:
    """An audio file as the analysis knows it: ``digest`` (sha256 of the bytes) names its features in
    the cache, so a file replaced under the same name is analysed again; ``duration`` in seconds."""

    path: Path
    digest: str
    duration: float

    @classmethod
    def open(cls, path) -> "Track":
        """Hash the file and find its duration (decoding it unless a record of the digest exists).

        Raises :class:`AudioError` for a missing path, a folder, no audio stream, an undecodable file."""
        from .cache import read_duration, write_duration
        path = Path(path)
        if not path.exists():
            raise AudioError(path, "no such file")
        if path.is_dir():
            raise AudioError(path, "is a folder, not an audio file")
        if not path.is_file():
            raise AudioError(path, "is not a regular file (a device or a pipe?), not an audio file")
        try:
            digest = file_sha256(path)
        except OSError as err:
            raise AudioError(path, f"cannot be read ({err.strerror or err})") from None
        duration = read_duration(digest)
        if duration is None:
            y = _ffmpeg_decode(path)
            _remember(digest, y)
            duration = y.shape[-1] / SR
            write_duration(digest, duration)
        return cls(path, digest, duration)


def _remember(digest: str, y: np.ndarray) -> None:
    _decoded[digest] = y
    _decoded.move_to_end(digest)
    while len(_decoded) > _KEEP_DECODED:
        _decoded.popitem(last=False)


def samples(track: Track) -> np.ndarray:
    """The track's float32 samples at :data:`SR`, ``(channels, samples)`` (decoded once per process,
    checked against the digest so a file changed since :meth:`Track.open` is not analysed under the
    old name)."""
    y = _decoded.get(track.digest)
    if y is not None:
        _decoded.move_to_end(track.digest)
        return y
    if not Path(track.path).is_file() or file_sha256(Path(track.path)) != track.digest:
        raise AudioError(track.path, "changed or removed since it was opened; open it again")
    y = _ffmpeg_decode(Path(track.path))
    _remember(track.digest, y)
    return y
