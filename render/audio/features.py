"""Audio features of a soundtrack, sampled at the exact frame times of a video.

Every feature is first computed as a *curve* on the analysis grid, then sampled at frame times.

**Analysis grid.**  Samples at 22050 Hz, one row per channel (:mod:`.decode`); one short-time Fourier
transform per channel, n_fft 2048 (93 ms Hann window), hop 256 samples (11.6 ms, finer than a 60 fps
frame), centred frames: hop j stands for the time ``j * 256 / 22050`` s of the file, j = 0 ..
``samples // 256`` (the signal is zero-padded at both ends, so the edges read as silence).

**Channels.**  The track's spectrogram is the mean of its channels' *power* spectrograms, and its
magnitude the square root of that: ``|X|^2 = mean_c |X_c|^2``.  A phase flip cannot erase it: a
stereo track whose right channel is the left inverted (``R = -L``) reads exactly as its in-phase take
(``R = L``) and as the mono ``L``, where averaging the samples, ``(L + R) / 2``, would give silence
(no onsets, no beats); a hit panned hard to one side reads 3 dB below the same hit in the centre
(averaged samples: 6 dB), its onset (a rise in dB) the same.  A mono track's spectrogram is its
own, as before.  A 128-band mel power spectrogram is derived from it.  Everything is computed with
librosa (McFee et al., "librosa: Audio and Music Signal Analysis in Python", SciPy 2015), the field's
standard.

**Parts** (``part``): ``mix`` is the file as it is; ``percussive`` and ``harmonic`` come from
median-filtering harmonic/percussive source separation (Fitzgerald, "Harmonic/percussive separation
using median filtering", DAFx 2010; ``librosa.decompose.hpss``).  Separating the full 1025-bin
spectrogram takes 12-18 s for a 3-minute track on a 2-core CPU, so the soft masks (power 2, margin 1)
are computed on the 128-band mel power spectrogram, with medians over 31 hops (0.36 s) along time and
17 mel bands along frequency: 8 times faster, with the same onsets and chords (BENCHMARKS.md, "Audio
features"); the mel masks are spread back onto the STFT bins (each bin takes the mel filters'
weighted average of the band masks) for the features that need linear frequencies (rms, band,
chroma).

**Kinds** (one value per hop, or 12 for chroma; all >= 0):

- ``onset``: onset strength, ``librosa.onset.onset_strength`` (spectral flux: the positive
  differences of the part's log-mel spectrogram between hops, averaged over bands, shifted so a
  sound's attack peaks at the hop where it starts).  Impulsive: sampled by the maximum.
- ``rms``: loudness, the root mean square of the part per STFT frame (``librosa.feature.rms`` of the
  magnitude spectrogram, divided by the Hann window's rms: a sine of amplitude A reads A / sqrt(2)).
- ``band``: the same root mean square over the STFT bins whose centre lies between ``low`` and
  ``high`` Hz (the nearest bin if none does): how loud that band is.
- ``chroma``: the 12 pitch classes, ``librosa.feature.chroma_stft`` of the part's power spectrogram
  with the tuning estimated by librosa; each hop's maximum is 1 (pitch class 0 = C, 1 = C#, ...,
  9 = A, 11 = B); hops more than 60 dB below the track's loudest are 0 (silence has no pitch).
- ``beat``: beat times from ``librosa.beat.beat_track`` on the part's onset strength (Ellis, "Beat
  tracking by dynamic programming", J. New Music Research 2007), in seconds of the file.  Sampled as
  an impulse (``decay = 0``: 1.0 on frame ``round((beat - offset) * fps)``, halves rounded up, so
  the frame whose interval holds the beat; else 0) or a pulse (``decay > 0``: 1.0 on that frame,
  then ``exp(-(t_n - beat) / decay)`` until the next beat's frame; 0 before the first beat and after
  the end of the track).  Leading and trailing beats no onset supports are dropped (the tracker's
  grid running into silence), but a downbeat at 0 s is kept.
  ``attack``, ``release``, ``normalize`` and ``gamma`` do not apply to beats and are left out of
  their key.  :func:`beat_position` gives the beat count ``b``.

**Shaping** (scalar and chroma kinds, at the hop rate, so it does not depend on fps), in this order:

1. Smoothing: a one-pole envelope follower, ``y[j] = x[j] + a * (y[j-1] - x[j])`` with
   ``a = exp(-hop / attack)`` while rising (``x[j] > y[j-1]``) and ``exp(-hop / release)`` while
   falling (``a = 0`` for a time constant of 0: no smoothing), from ``y = 0`` before the track: a step
   from 0 to 1 reaches ``1 - exp(-t / attack)`` after t seconds.
2. Normalisation: the percentiles ``normalize = (lo, hi)`` of the whole track's curve (all 12 columns
   together for chroma) map to 0 and 1, clipped to 0..1; so a value does not depend on the offset,
   frame count or fps.  A flat curve (hi == lo) gives 0.  ``None`` keeps the raw values.
3. Gamma: ``v ** gamma``.

**Sampling to frames.**  Frame n (of ``frames``, at ``fps``, ``offset`` seconds into the file at frame
0) is at ``t_n = offset + n / fps`` and stands for ``[t_n - 0.5/fps, t_n + 0.5/fps)``: ``onset`` takes
the maximum of the hops inside that interval, ``rms``, ``band`` and ``chroma`` the mean.  Frames shorter
than a hop (above 86.13 fps), and any frame no hop falls in, take the curve interpolated linearly at
``t_n`` instead.  A frame whose interval holds no time of the track (all before 0 or after its end) is
silence: 0; one that reaches into the track keeps what its part of the track holds.  Never by hop index:
frame n is not hop n.

Curves after shaping and beat times are cached on disk (:mod:`.cache`); :data:`ANALYSES` counts the
ones actually computed.  librosa is imported only when something must be computed, so a run whose
features are all cached does not pay for it.
"""

from __future__ import annotations

import math
import numbers
import warnings
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

from . import cache
from .decode import SR, AudioError, Track, samples

N_FFT = 2048
HOP = 256
HOP_SECONDS = HOP / SR
N_MELS = 128
HPSS_KERNEL = (31, 17)          # medians over (hops along time, mel bands along frequency)
# librosa's onset strength, centred for n_fft 2048 at hop 256, peaks about a hop after an attack (measured
# over sub-hop positions, with a faint noise floor: clicks +0.9, hats +1.05, snares +1.1, kicks +1.3 hops on
# average); moved this many hops earlier, attacks peak on their own hop (means -0.1 .. +0.35 hops)
ONSET_SHIFT = 1
ONSET_FLOOR = 1.0               # onset strength (mean dB rise over mel bands) of the weakest hit normalised
                                # to 1: a drum or click measures 10-40 at any level, a steady tone's noise < 0.1
LEAD_HOPS = 8                   # hops of silence analysed before the track (a hit at 0 s is a hit)
SILENT_CHROMA_DB = 60.0         # hops this far below the track's loudest have no pitch (chroma 0)
GRID = {"sr": SR, "n_fft": N_FFT, "hop": HOP, "n_mels": N_MELS, "hpss": list(HPSS_KERNEL)}

KINDS = ("onset", "rms", "band", "chroma", "beat")
PARTS = ("mix", "percussive", "harmonic")
IMPULSIVE = frozenset({"onset"})   # sampled by the maximum over a frame; the others by the mean


class AnalysisCounter:
    """How many analyses (a feature's curve or a track's beat times) were actually computed, not read
    from the cache, since the last :meth:`reset`."""

    def __init__(self):
        self.count = 0

    def reset(self) -> None:
        self.count = 0

    def __repr__(self) -> str:
        return f"AnalysisCounter(count={self.count})"


ANALYSES = AnalysisCounter()


def _number(value, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise ValueError(f"{what} must be a finite number, not {value!r}")
    return float(value)


@dataclass(frozen=True)
class FeatureSpec:
    """One named feature of a recipe.  Construction checks every setting and raises ``ValueError``
    with one line naming the setting; numbers are stored as floats and ``normalize`` as a tuple, so
    ``attack = 0`` and ``attack = 0.0`` are the same feature."""

    name: str
    kind: str
    part: str = "mix"
    low: float | None = None
    high: float | None = None
    attack: float = 0.0
    release: float = 0.0
    normalize: tuple[float, float] | None = (1.0, 99.0)
    gamma: float = 1.0
    decay: float = 0.0

    def __post_init__(self):
        def put(field, value):
            object.__setattr__(self, field, value)

        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {', '.join(KINDS)}, not {self.kind!r}")
        if self.part not in PARTS:
            raise ValueError(f"part must be one of {', '.join(PARTS)}, not {self.part!r}")
        for field in ("attack", "release", "gamma", "decay"):
            value = _number(getattr(self, field), field)
            if value < 0 or (field == "gamma" and value == 0):
                raise ValueError(f"{field} must be {'> 0' if field == 'gamma' else '>= 0'}, not {value:g}")
            put(field, value)
        for field in ("low", "high"):
            if getattr(self, field) is not None:
                put(field, _number(getattr(self, field), field))
        if self.kind == "band":
            if self.low is None or self.high is None:
                raise ValueError("a band needs low and high (Hz)")
            if not 0 <= self.low < self.high:
                raise ValueError(f"a band needs 0 <= low < high, not low = {self.low:g}, high = {self.high:g}")
            if self.low >= SR / 2:
                raise ValueError(f"low = {self.low:g} Hz is above the analysis' highest frequency ({SR // 2} Hz)")
        if self.normalize is not None:
            try:
                lo, hi = self.normalize
            except (TypeError, ValueError):
                raise ValueError("normalize must be two percentiles [lo, hi] or none, "
                                 f"not {self.normalize!r}") from None
            lo, hi = _number(lo, "normalize"), _number(hi, "normalize")
            if not 0 <= lo < hi <= 100:
                raise ValueError(f"normalize needs percentiles 0 <= lo < hi <= 100, not [{lo:g}, {hi:g}]")
            put("normalize", (lo, hi))

    def key(self) -> dict:
        """JSON-ready settings that decide the values (not ``name``; settings that do not apply to the
        kind, such as a band's edges on an onset or gamma on a beat, are left out)."""
        settings = {"kind": self.kind, "part": self.part}
        if self.kind == "beat":
            settings["decay"] = self.decay
            return settings
        if self.kind == "band":
            settings.update(low=self.low, high=self.high)
        settings.update(attack=self.attack, release=self.release, gamma=self.gamma,
                        normalize=None if self.normalize is None else list(self.normalize))
        return settings

    @property
    def width(self) -> int:
        """Values per frame: 12 for chroma, else 1."""
        return 12 if self.kind == "chroma" else 1


# --- spectra of a track, in memory, shared by all its features --------------------------------------

class _Spectra:
    """The STFT magnitude (1025, hops: the square root of the channels' mean power), mel power
    (128, hops), HPSS masks and derived per-part spectrograms of one track, each computed on first use.

    The analysis runs on the track with :data:`LEAD_HOPS` hops of silence in front, so a sound at
    0 s has a silent hop before it: its onset is measured like any other (spectral flux needs a hop
    before) and the beat tracker sees it.  The curves handed out start at the track's 0 s."""

    def __init__(self, y: np.ndarray):
        import librosa
        y = np.atleast_2d(y)                                   # (channels, samples)
        self.hops = 1 + y.shape[1] // HOP
        y = np.concatenate([np.zeros((len(y), LEAD_HOPS * HOP), dtype=np.float32), y], axis=1)
        if y.shape[1] < N_FFT:
            y = np.pad(y, ((0, 0), (0, N_FFT - y.shape[1])))
        magnitudes = (np.abs(librosa.stft(channel, n_fft=N_FFT, hop_length=HOP, center=True))[
            :, :LEAD_HOPS + self.hops] for channel in y)       # one channel in memory at a time
        if len(y) == 1:
            self.magnitude_mix = next(magnitudes)              # a mono track: its own magnitude, bit for bit
        else:                                                  # channels combined by power, never by samples
            self.magnitude_mix = np.sqrt(sum(m ** 2 for m in magnitudes) / len(y)).astype(np.float32)
        self.mel_basis = librosa.filters.mel(sr=SR, n_fft=N_FFT, n_mels=N_MELS)
        self._memo: dict = {}

    def _track(self, array: np.ndarray) -> np.ndarray:
        """The hops of the track itself (the lead-in dropped)."""
        return array[..., LEAD_HOPS:LEAD_HOPS + self.hops]

    def _get(self, name, compute):
        if name not in self._memo:
            self._memo[name] = compute()
        return self._memo[name]

    def mel(self, part: str) -> np.ndarray:
        if part == "mix":
            return self._get("mel:mix", lambda: self.mel_basis @ self.magnitude_mix ** 2)
        return self._get(f"mel:{part}", lambda: self.mel("mix") * self.masks()[part])

    def masks(self) -> dict:
        """Soft HPSS masks on the mel bands (Fitzgerald 2010, median filters as librosa does)."""
        def compute():
            import librosa
            harmonic, percussive = librosa.decompose.hpss(self.mel("mix"), kernel_size=HPSS_KERNEL,
                                                          mask=True, power=2.0, margin=1.0)
            return {"harmonic": harmonic, "percussive": percussive}
        return self._get("masks", compute)

    def magnitude(self, part: str) -> np.ndarray:
        if part == "mix":
            return self._track(self.magnitude_mix)
        return self._get(f"magnitude:{part}",
                         lambda: self._track(self.magnitude_mix * (self._spread() @ self.masks()[part])))

    def _spread(self) -> np.ndarray:
        """(1025, 128): each STFT bin's weights over the mel bands (the filters' weights, summing to 1;
        bins no filter covers take their nearest band)."""
        def compute():
            import librosa
            weights = self.mel_basis.T.astype(np.float32).copy()       # (bins, bands)
            empty = weights.sum(axis=1) <= 0
            if empty.any():
                centres = librosa.mel_frequencies(N_MELS + 2, fmax=SR / 2)[1:-1]
                bins = librosa.fft_frequencies(sr=SR, n_fft=N_FFT)
                for k in np.flatnonzero(empty):
                    weights[k, np.argmin(np.abs(centres - bins[k]))] = 1.0
            return weights / weights.sum(axis=1, keepdims=True)
        return self._get("spread", compute)

    def onset(self, part: str) -> np.ndarray:
        def compute():
            import librosa
            envelope = librosa.onset.onset_strength(S=librosa.power_to_db(self.mel(part)), sr=SR,
                                                    hop_length=HOP, n_fft=N_FFT)
            # one hop earlier than librosa's centring (see ONSET_SHIFT), then the track's own hops
            envelope = np.concatenate([envelope[ONSET_SHIFT:], np.zeros(ONSET_SHIFT)])
            return self._track(envelope).astype(np.float64)
        return self._get(f"onset:{part}", compute)


_KEEP_SPECTRA = 1
_spectra: OrderedDict[str, _Spectra] = OrderedDict()


def _spectra_of(track: Track) -> _Spectra:
    found = _spectra.get(track.digest)
    if found is None:
        found = _Spectra(samples(track))
        _spectra[track.digest] = found
        while len(_spectra) > _KEEP_SPECTRA:
            _spectra.popitem(last=False)
    return found


def clear_memory() -> None:
    """Forget the decoded samples and spectra held in this process (the disk cache stays)."""
    from . import decode
    _spectra.clear()
    decode._decoded.clear()


# --- raw curves and shaping ------------------------------------------------------------------------

def _band_rows(low: float, high: float) -> np.ndarray:
    bins = np.arange(N_FFT // 2 + 1) * SR / N_FFT
    rows = (bins >= low) & (bins <= high)
    if not rows.any():
        rows[np.argmin(np.abs(bins - (low + high) / 2))] = True
    return rows


def _rms(magnitude: np.ndarray) -> np.ndarray:
    """Root mean square of the signal per STFT frame.  librosa's rms of a spectrogram is that of the
    Hann-windowed frame (a sine of amplitude A reads A * sqrt(3/8) / sqrt(2)); divided by the window's
    rms, a sine of amplitude A reads A / sqrt(2), as ``librosa.feature.rms(y=...)`` would say."""
    import librosa
    window_rms = math.sqrt(float(np.mean(librosa.filters.get_window("hann", N_FFT, fftbins=True) ** 2)))
    return librosa.feature.rms(S=magnitude, frame_length=N_FFT)[0].astype(np.float64) / window_rms


def raw_curve(spectra: _Spectra, spec: FeatureSpec) -> np.ndarray:
    """The unshaped curve: (hops,) or (hops, 12) for chroma, float64, >= 0."""
    if spec.kind == "onset":
        return spectra.onset(spec.part).copy()
    magnitude = spectra.magnitude(spec.part)
    if spec.kind == "rms":
        return _rms(magnitude)
    if spec.kind == "band":
        return _rms(magnitude * _band_rows(spec.low, spec.high)[:, None])
    if spec.kind == "chroma":
        import librosa
        power = magnitude ** 2     # float32: librosa's tuning estimate takes 5x longer in float64
        loudness = power.sum(axis=0, dtype=np.float64)
        if not loudness.any():
            return np.zeros((spectra.hops, 12))
        with warnings.catch_warnings():   # "estimate tuning from empty frequency set": no pitch, tuning 0
            warnings.filterwarnings("ignore", message="Trying to estimate tuning", category=UserWarning)
            chroma = librosa.feature.chroma_stft(S=power, sr=SR, n_fft=N_FFT, hop_length=HOP).T
        silent = loudness <= loudness.max() * 10 ** (-SILENT_CHROMA_DB / 10)
        chroma[silent] = 0.0
        return np.ascontiguousarray(chroma, dtype=np.float64)
    raise ValueError(f"{spec.kind} has no curve")


def smooth(curve: np.ndarray, attack: float, release: float, step: float = HOP_SECONDS) -> np.ndarray:
    """One-pole envelope follower along axis 0 (see the module docstring), from 0 before the first
    sample; ``step`` is the seconds between samples."""
    curve = np.asarray(curve, dtype=np.float64)
    if attack <= 0 and release <= 0:
        return curve.copy()
    rise = math.exp(-step / attack) if attack > 0 else 0.0
    fall = math.exp(-step / release) if release > 0 else 0.0
    columns = curve.reshape(len(curve), -1).T.tolist()      # plain floats: a Python loop over them is fast
    for values in columns:
        y = 0.0
        for j, x in enumerate(values):
            y = x + (rise if x > y else fall) * (y - x)
            values[j] = y
    return np.array(columns, dtype=np.float64).T.reshape(curve.shape)


def normalise(curve: np.ndarray, percentiles: tuple[float, float] | None, gamma: float,
              floor: float = 0.0) -> np.ndarray:
    """Percentiles of the whole curve mapped to 0..1 and clipped (skipped for None), then ``** gamma``.
    ``floor``: the value mapped to 1 is at least this (a curve of mere noise stays near 0)."""
    curve = np.asarray(curve, dtype=np.float64)
    if percentiles is not None and curve.size:
        lo, hi = np.percentile(curve, percentiles)
        hi = max(hi, lo + floor)
        span = hi - lo
        curve = np.clip((curve - lo) / span, 0.0, 1.0) if span > 0 else np.zeros_like(curve)
    return curve ** gamma if gamma != 1.0 else curve


def feature_curve(track: Track, spec: FeatureSpec) -> np.ndarray:
    """The shaped curve at the hop rate (hop j at ``j * HOP_SECONDS`` s of the file): (hops,) or
    (hops, 12) float64, from the cache or computed (and counted in :data:`ANALYSES`) and stored."""
    if spec.kind == "beat":
        raise ValueError("beats have no hop-rate curve: use beat_times or sample_feature")
    key = cache.entry_key(track.digest, spec.key(), GRID)
    stored = cache.load_array(key)
    if stored is not None:
        return stored
    curve = raw_curve(_spectra_of(track), spec)
    floor = ONSET_FLOOR if spec.kind == "onset" else 0.0
    curve = normalise(smooth(curve, spec.attack, spec.release), spec.normalize, spec.gamma, floor)
    ANALYSES.count += 1
    cache.store_array(key, curve)
    return curve


def hop_times(hops: int) -> np.ndarray:
    """Seconds of the file of hops 0 .. hops-1."""
    return np.arange(hops, dtype=np.float64) * HOP_SECONDS


# --- sampling at frame times -----------------------------------------------------------------------

def _check_frames(frames: int, fps: float, offset: float) -> tuple[int, float, float]:
    if isinstance(frames, bool) or not isinstance(frames, (int, np.integer)) or frames < 0:
        raise ValueError(f"frames must be a whole number >= 0, not {frames!r}")
    fps = _number(fps, "fps")
    if fps <= 0:
        raise ValueError(f"fps must be > 0, not {fps:g}")
    return int(frames), fps, _number(offset, "offset")


def frame_times(frames: int, fps: float, offset: float = 0.0) -> np.ndarray:
    """float64 (frames,): ``offset + n / fps``, the second of the file each frame shows."""
    frames, fps, offset = _check_frames(frames, fps, offset)
    return offset + np.arange(frames, dtype=np.float64) / fps


def sample_curve(curve: np.ndarray, frames: int, fps: float, offset: float, duration: float,
                 impulsive: bool) -> np.ndarray:
    """A hop-rate curve at the frame times: frame n is the max (impulsive) or mean of the hops in
    ``[t_n - 0.5/fps, t_n + 0.5/fps)``; linear interpolation at ``t_n`` when no hop is inside or frames
    are shorter than a hop; 0 for a frame whose whole interval lies outside the track (before 0 or
    after ``duration``): a frame just before 0 whose interval reaches into the track keeps its hits."""
    frames, fps, offset = _check_frames(frames, fps, offset)
    curve = np.asarray(curve, dtype=np.float64)
    hops = len(curve)
    times = offset + np.arange(frames, dtype=np.float64) / fps
    out = np.zeros((frames,) + curve.shape[1:])
    if frames == 0 or hops == 0:
        return out
    edges = offset + (np.arange(frames + 1, dtype=np.float64) - 0.5) / fps   # frame n: [edges[n], edges[n+1])
    index = np.clip(np.ceil(edges / HOP_SECONDS - 1e-9), 0, hops).astype(np.int64)
    counts = np.diff(index)
    padded = np.concatenate([curve, np.zeros((1,) + curve.shape[1:])])
    reduce = np.maximum if impulsive else np.add
    pooled = reduce.reduceat(padded, index, axis=0)[:-1]
    has = counts > 0
    if 1.0 / fps < HOP_SECONDS:
        has[:] = False           # frames shorter than a hop: interpolated at t_n, so the curve stays smooth
    if not impulsive:
        pooled = pooled / np.maximum(counts, 1).reshape((-1,) + (1,) * (curve.ndim - 1))
    out[has] = pooled[has]
    if not has.all():
        grid = hop_times(hops)
        flat = curve.reshape(hops, -1)
        between = np.stack([np.interp(times[~has], grid, flat[:, c], left=0.0, right=0.0)
                            for c in range(flat.shape[1])], axis=-1)
        out[~has] = between.reshape((-1,) + curve.shape[1:])
    out[outside_track(times, fps, duration)] = 0.0
    return out


def outside_track(times: np.ndarray, fps: float, duration: float) -> np.ndarray:
    """bool per frame: its interval ``[t_n - 0.5/fps, t_n + 0.5/fps)`` holds no time of the track."""
    return (times + 0.5 / fps <= 0.0) | (times - 0.5 / fps > duration)


def sample_feature(track: Track, spec: FeatureSpec, frames: int, fps: float, offset: float = 0.0) -> np.ndarray:
    """float64 (frames,) of the feature at ``t_n = offset + n / fps`` (seconds of the file); (frames, 12)
    for chroma.  Computes and caches the feature's curve on first use (see the module docstring)."""
    frames, fps, offset = _check_frames(frames, fps, offset)
    if spec.kind == "beat":
        return _sample_beats(beat_times(track, spec.part), frames, fps, offset, spec.decay, track.duration)
    curve = feature_curve(track, spec)
    return sample_curve(curve, frames, fps, offset, track.duration, spec.kind in IMPULSIVE)


def _sample_beats(beats: np.ndarray, frames: int, fps: float, offset: float, decay: float,
                  duration: float) -> np.ndarray:
    out = np.zeros(frames)
    if decay == 0:
        index = np.floor((beats - offset) * fps + 0.5).astype(np.int64)   # round half up: the frame's interval
        out[index[(index >= 0) & (index < frames)]] = 1.0
        return out
    times = offset + np.arange(frames, dtype=np.float64) / fps
    last = np.searchsorted(beats, times + 0.5 / fps, side="left") - 1   # the last beat in or before the frame's interval
    after = last >= 0
    out[after] = np.exp(-np.maximum(times[after] - beats[last[after]], 0.0) / decay)   # 1.0 on the beat's own frame
    out[outside_track(times, fps, duration)] = 0.0
    return out


# --- beats ------------------------------------------------------------------------------------------

def beat_times(track: Track, part: str = "mix") -> np.ndarray:
    """float64 beat times (seconds of the file, increasing) of the track's ``part``, from librosa's
    dynamic-programming beat tracker (Ellis 2007) on its onset strength; cached like the curves."""
    if part not in PARTS:
        raise ValueError(f"part must be one of {', '.join(PARTS)}, not {part!r}")
    key = cache.entry_key(track.digest, {"kind": "beat-times", "part": part}, GRID)
    stored = cache.load_array(key)
    if stored is not None:
        return stored
    import librosa
    envelope = _spectra_of(track).onset(part)
    _, beats = librosa.beat.beat_track(onset_envelope=envelope, sr=SR, hop_length=HOP, units="time", trim=False)
    beats = _trim_weak_ends(np.unique(np.asarray(beats, dtype=np.float64)), envelope)
    ANALYSES.count += 1
    cache.store_array(key, beats)
    return beats


WEAK_BEAT = 0.25   # a first or last beat whose onset is under this share of the median beat's is dropped


def _trim_weak_ends(beats: np.ndarray, envelope: np.ndarray) -> np.ndarray:
    """Drop leading and trailing beats that no onset supports (the tracker's grid running on into
    the silence before or after the music), and all of them when the typical beat has no onset
    above :data:`ONSET_FLOOR` (a steady tone, a drone: nothing to count).  librosa's own trimming (``trim=True``) also drops a
    beat on the very first hop, a downbeat at 0 s; this one keeps every beat a hit supports."""
    if len(beats) == 0:
        return beats
    hops = np.clip(np.round(beats / HOP_SECONDS).astype(int), 0, len(envelope) - 1)
    strength = np.array([envelope[max(0, h - 3):h + 4].max() for h in hops])
    if np.median(strength) < ONSET_FLOOR:   # a grid laid over noise: the track has no beat
        return beats[:0]
    if len(beats) < 3:
        return beats
    strong = strength >= WEAK_BEAT * np.median(strength)
    if not strong.any():
        return beats
    first, last = np.argmax(strong), len(strong) - 1 - np.argmax(strong[::-1])
    return beats[first:last + 1]


def tempo(track: Track, part: str = "mix") -> float:
    """Beats per minute: 60 / the median interval between :func:`beat_times`; 0.0 with fewer than two
    beats (silence, no pulse)."""
    beats = beat_times(track, part)
    return float(60.0 / np.median(np.diff(beats))) if len(beats) >= 2 else 0.0


def beat_position(track: Track, frames: int, fps: float, offset: float = 0.0, part: str = "mix") -> np.ndarray:
    """float64 (frames,): the beat count b of each frame, 0 at the first beat, 1 at the second, linear
    between beats, extrapolated with the median beat interval before the first and after the last
    beat.  Frame n stands for ``[t_n - 0.5/fps, t_n + 0.5/fps)`` and b is the count at the end of that
    interval, so ``floor(b)`` steps on the frame whose interval holds the beat: the frame a beat
    impulse (``decay = 0``) fires on.
    Raises :class:`AudioError` when the track has fewer than two beats."""
    frames, fps, offset = _check_frames(frames, fps, offset)
    beats = beat_times(track, part)
    if len(beats) < 2:
        raise AudioError(track.path, f"has {len(beats)} beat{'s' * (len(beats) != 1)}: "
                                     "a beat count needs a steady pulse")
    # the count at the end of each frame's interval: floor(b) steps on the frame holding the beat
    times = offset + (np.arange(frames, dtype=np.float64) + 0.5) / fps - 1e-9
    interval = float(np.median(np.diff(beats)))
    position = np.interp(times, beats, np.arange(len(beats), dtype=np.float64))
    before, after = times < beats[0], times > beats[-1]
    position[before] = (times[before] - beats[0]) / interval
    position[after] = len(beats) - 1 + (times[after] - beats[-1]) / interval
    return position
