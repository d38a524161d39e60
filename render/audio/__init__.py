"""Audio features of a soundtrack, sampled at a video's frame times: what makes the picture follow the
music (issue 18).

- :mod:`.decode`: :class:`Track` (an audio file named by the sha256 of its bytes) and its samples,
  decoded by the bundled ffmpeg; :class:`AudioError` for files that cannot be used.
- :mod:`.features`: :class:`FeatureSpec` (kind onset / rms / band / chroma / beat, on the mix or its
  percussive or harmonic part, with smoothing, normalisation and gamma), :func:`sample_feature` at the
  exact frame times ``offset + n / fps``, :func:`beat_times`, :func:`beat_position`, :func:`tempo`;
  the module docstring says how each is computed, with its sources.
- :mod:`.cache`: curves and beat times cached content-addressed on disk; :data:`ANALYSES` counts the
  analyses actually computed.

Framework-free (numpy, librosa, the ffmpeg binary); librosa is imported only when a feature is not
in the cache yet.  Typical use::

    track = Track.open("music/track.flac")
    kick = sample_feature(track, FeatureSpec("kick", "onset", part="percussive", release=0.2),
                          frames=240, fps=30, offset=12.0)          # float64 (240,), 0..1
    b = beat_position(track, frames=240, fps=30, offset=12.0)     # beats since the first beat
"""

from .cache import ANALYSIS_VERSION, default_audio_folder
from .decode import SR, AudioError, Track
from .features import (ANALYSES, GRID, HOP, HOP_SECONDS, KINDS, N_FFT, PARTS, AnalysisCounter, FeatureSpec,
                       beat_position, beat_times, clear_memory, feature_curve, frame_times, hop_times,
                       normalise, sample_curve, sample_feature, smooth, tempo)

__all__ = ["ANALYSES", "ANALYSIS_VERSION", "AnalysisCounter", "AudioError", "FeatureSpec", "GRID", "HOP",
           "HOP_SECONDS", "KINDS", "N_FFT", "PARTS", "SR", "Track", "beat_position", "beat_times",
           "clear_memory", "default_audio_folder", "feature_curve", "frame_times", "hop_times", "normalise",
           "sample_curve", "sample_feature", "smooth", "tempo"]
