"""Audio features (render.audio) on tiny synthetic soundtracks whose clicks, beats, pitches and loudness
steps are known: every expectation is computed here from what was written into the signal (or with
numpy from the raw curve), never by the code under test."""

from __future__ import annotations

import hashlib
import math
import subprocess
import sys

import numpy as np
import pytest

from render.audio import (ANALYSES, HOP_SECONDS, SR, AudioError, FeatureSpec, Track, beat_position, beat_times,
                          clear_memory, feature_curve, frame_times, sample_curve, sample_feature, smooth, tempo)
from tests import audio_signals as sig
from tests.helpers import REPO

CLICKS = (0.5, 1.25, 2.0, 3.3)
CLICK_SECONDS = 4.0
ONSET = FeatureSpec("kick", "onset")


def frame_of(t: float, fps: float, offset: float = 0.0) -> int:
    """The frame whose interval [t_n - 0.5/fps, t_n + 0.5/fps) holds the file time t."""
    return math.floor((t - offset) * fps + 0.5)


@pytest.fixture(scope="module")
def media(tmp_path_factory):
    """The test soundtracks, written once per module."""
    folder = tmp_path_factory.mktemp("audio")
    files = {"clicks": sig.write_wav(folder / "clicks.wav", sig.clicks(CLICKS, CLICK_SECONDS))}
    for bpm in (120, 100):
        y, _ = sig.pulse(bpm, 7.0)
        files[f"pulse{bpm}"] = sig.write_wav(folder / f"pulse{bpm}.wav", y)
    for name, freq in (("a440", 440.0), ("c4", sig.midi_hz(60)), ("low60", 60.0), ("high2k", 2000.0)):
        files[name] = sig.write_wav(folder / f"{name}.wav", sig.tone(freq, 2.0, start=0.5, stop=1.5))
    files["step"] = sig.write_wav(folder / "step.wav", sig.step(3.0, up=0.5, down=1.5))
    files["music"] = sig.write_wav(folder / "music.wav", sig.music(4.0, bpm=120))
    return files


def onset_frames(values: np.ndarray, fps: float, offset: float) -> None:
    """Every click peaks within one frame of its own frame; frames away from clicks stay low."""
    expected = [frame_of(t, fps, offset) for t in CLICKS]
    for e in expected:
        lo, hi = max(0, e - 3), min(len(values), e + 4)
        peak = lo + int(np.argmax(values[lo:hi]))
        assert abs(peak - e) <= 1, (fps, offset, e, peak, np.round(values[lo:hi], 2))
        assert values[peak] > 0.8, (fps, offset, e, values[peak])
    quiet = np.ones(len(values), bool)
    for e in expected:
        quiet[max(0, e - 2):e + 3] = False
    assert values[quiet].max() < 0.1, (fps, offset, np.flatnonzero(values * quiet >= 0.1))


@pytest.mark.parametrize("offset", [0.0, 0.37])
@pytest.mark.parametrize("fps", [24, 25, 30, 60])
def test_onsets_peak_on_the_frame_of_every_click(media, fps, offset):
    track = Track.open(media["clicks"])
    frames = int((CLICK_SECONDS - offset) * fps)
    values = sample_feature(track, ONSET, frames, fps, offset)
    assert values.shape == (frames,) and values.dtype == np.float64
    assert values.min() >= 0 and values.max() <= 1
    onset_frames(values, fps, offset)


def test_frames_are_sampled_at_their_time_not_by_hop_index():
    """A curve equal to each hop's own time: every sampled frame must read (about) its own time."""
    hops = 400
    ramp = np.arange(hops) * HOP_SECONDS
    duration = ramp[-1]
    for fps, offset in ((24, 0.0), (30, 0.37), (60, 1.1)):
        times = offset + np.arange(120) / fps
        inside = times + 0.5 / fps <= duration      # the frame's interval ends inside the curve
        mean = sample_curve(ramp, 120, fps, offset, duration, impulsive=False)
        assert np.allclose(mean[inside], times[inside], atol=HOP_SECONDS / 2 + 1e-9), (fps, offset)
        assert np.all(mean[times > duration] == 0)
        # the maximum is the last hop before the frame's interval ends at t_n + 0.5 / fps
        peak = sample_curve(ramp, 120, fps, offset, duration, impulsive=True)[inside]
        end = times[inside] + 0.5 / fps
        assert np.all((peak < end + 1e-9) & (peak > end - HOP_SECONDS - 1e-9)), (fps, offset)
    # above the hop rate no hop falls inside most frames: interpolated exactly at t_n
    times = 0.25 + np.arange(120) / 200
    assert np.allclose(sample_curve(ramp, 120, 200, 0.25, duration, impulsive=False), times, atol=1e-12)
    assert np.allclose(frame_times(5, 25, 0.5), [0.5, 0.54, 0.58, 0.62, 0.66])


def test_times_outside_the_track_are_silence(media):
    track = Track.open(media["music"])
    spec = FeatureSpec("loud", "rms")
    values = sample_feature(track, spec, 200, 25, offset=-2.0)       # 2 s before the file, 4 s in, 2 s after
    times = frame_times(200, 25, -2.0)
    assert np.all(values[(times < 0) | (times > track.duration)] == 0)
    assert values[(times > 0.3) & (times < 3.7)].max() > 0.5


@pytest.mark.parametrize("bpm", [120, 100])
def test_beats_of_a_steady_pulse(media, bpm):
    track = Track.open(media[f"pulse{bpm}"])
    _, written = sig.pulse(bpm, 7.0)
    beats = beat_times(track)
    period = 60.0 / bpm
    assert abs(tempo(track) - bpm) <= 0.02 * bpm, tempo(track)
    assert len(beats) >= len(written) - 2
    assert np.all(np.abs(np.diff(beats) - period) <= 1.5 * HOP_SECONDS), np.diff(beats)
    assert all(np.min(np.abs(written - b)) <= 0.025 for b in beats), (beats, written)   # on the kicks

    fps, offset = 30, 0.37
    frames = int((7.0 - offset) * fps)
    times = frame_times(frames, fps, offset)
    b = beat_position(track, frames, fps, offset)
    ends = times + 0.5 / fps                                # b is the count at the end of each frame's interval
    assert np.allclose(np.interp(beats, ends, b), np.arange(len(beats)), atol=1 / (fps * period))
    steps = np.flatnonzero(np.diff(np.floor(b))) + 1       # frames where floor(b) goes up
    assert np.all(np.diff(np.floor(b)) <= 1)
    holding = [int(np.floor((t - offset) * fps + 0.5)) for t in beats if times[0] + 0.5 / fps <= t < ends[-1]]
    assert list(steps) == holding                          # the frame whose interval holds the beat
    median = np.median(np.diff(beats))
    before = ends < beats[0]
    assert np.allclose(b[before], (ends[before] - beats[0]) / median, atol=1e-6)   # extrapolated, a beat a period

    impulse = sample_feature(track, FeatureSpec("hit", "beat"), frames, fps, offset)
    expected = np.zeros(frames)
    expected[[frame_of(t, fps, offset) for t in beats if 0 <= frame_of(t, fps, offset) < frames]] = 1.0
    assert np.array_equal(impulse, expected)
    nearest_kick = [written[np.argmin(np.abs(written - t))] for t in beats]
    assert all(abs(frame_of(t, fps, offset) - frame_of(w, fps, offset)) <= 1 for t, w in zip(beats, nearest_kick))

    pulse = sample_feature(track, FeatureSpec("hit", "beat", decay=0.2), frames, fps, offset)
    last = np.array([beats[beats < e].max() if (beats < e).any() else np.nan for e in ends])  # in or before the frame
    assert np.allclose(pulse, np.where(np.isnan(last), 0.0, np.exp(-np.maximum(times - last, 0) / 0.2)))
    rises = np.flatnonzero(np.diff(pulse) > 0) + 1
    assert np.array_equal(rises, np.flatnonzero(impulse))                      # the pulse jumps on the beat's frame
    assert np.all(pulse[impulse == 1] >= np.exp(-0.5 / fps / 0.2) - 1e-12)     # to (almost) 1: at most half a frame late


def test_chroma_finds_the_pitch_class(media):
    for name, pitch_class in (("a440", 9), ("c4", 0)):
        track = Track.open(media[name])
        chroma = sample_feature(track, FeatureSpec("notes", "chroma", normalize=None), 50, 25)
        assert chroma.shape == (50, 12)
        sounding = (frame_times(50, 25) > 0.6) & (frame_times(50, 25) < 1.4)
        assert np.all(np.argmax(chroma[sounding], axis=1) == pitch_class), name
        assert np.allclose(chroma[sounding, pitch_class], 1.0)
        others = np.delete(chroma[sounding], pitch_class, axis=1)
        assert others.max() < 0.5
        assert np.all(chroma[frame_times(50, 25) < 0.3] == 0)       # silence has no pitch


def test_band_energy_follows_the_tone(media):
    bass = dict(kind="band", low=20, high=150, normalize=None)
    treble = dict(kind="band", low=1000, high=4000, normalize=None)
    middle = slice(20, 30)        # 0.8 .. 1.2 s at 25 fps, the tones sound 0.5 .. 1.5 s
    low_track, high_track = Track.open(media["low60"]), Track.open(media["high2k"])
    low_bass = sample_feature(low_track, FeatureSpec("b", **bass), 50, 25)[middle]
    low_treble = sample_feature(low_track, FeatureSpec("t", **treble), 50, 25)[middle]
    high_bass = sample_feature(high_track, FeatureSpec("b", **bass), 50, 25)[middle]
    high_treble = sample_feature(high_track, FeatureSpec("t", **treble), 50, 25)[middle]
    # a sine of amplitude 0.5 has an rms of 0.5 / sqrt(2)
    sine_rms = 0.5 / math.sqrt(2)
    assert np.allclose(low_bass, sine_rms, rtol=0.03) and np.allclose(high_treble, sine_rms, rtol=0.03)
    assert low_treble.max() < 0.01 * low_bass.min() and high_bass.max() < 0.01 * high_treble.min()
    everything = sample_feature(low_track, FeatureSpec("b", "band", low=0, high=SR / 2, normalize=None), 50, 25)
    assert np.allclose(everything, sample_feature(low_track, FeatureSpec("r", "rms", normalize=None), 50, 25))


def test_smoothing_follows_attack_and_release_time_constants():
    # the follower itself, on an exact step: 1 - exp(-t / attack) up, exp(-t / release) down
    step = np.r_[np.zeros(10), np.ones(200), np.zeros(300)]
    out = smooth(step, attack=0.2, release=0.5)
    up = np.arange(200) * HOP_SECONDS
    level = 1 - np.exp(-(np.arange(1, 201)) * HOP_SECONDS / 0.2)
    assert np.allclose(out[10:210], level)
    down = np.arange(1, 301) * HOP_SECONDS
    assert np.allclose(out[210:], level[-1] * np.exp(-down / 0.5))
    assert up[0] == 0
    assert np.array_equal(smooth(step, 0, 0), step)


def test_smoothed_loudness_rises_with_attack_and_falls_with_release(media):
    track = Track.open(media["step"])           # a 1 kHz tone from 0.5 to 1.5 s
    attack, release = 0.25, 0.5
    raw = feature_curve(track, FeatureSpec("r", "rms", normalize=None))
    smoothed = feature_curve(track, FeatureSpec("r", "rms", normalize=None, attack=attack, release=release))
    times = np.arange(len(raw)) * HOP_SECONDS
    plateau = np.median(raw[(times > 0.7) & (times < 1.3)])
    at = lambda t: float(np.interp(t, times, smoothed))     # noqa: E731
    # the raw rms itself ramps over the 93 ms window, centred on the step: compare after the step
    for t in (0.1, 0.25, 0.5, 0.9):
        assert at(0.5 + t) == pytest.approx(plateau * (1 - math.exp(-t / attack)), abs=0.06 * plateau), t
    top = at(1.5)
    for t in (0.25, 0.5, 1.0):
        assert at(1.5 + t) == pytest.approx(top * math.exp(-t / release), abs=0.06 * plateau), t


def test_normalisation_and_gamma_match_numpy_on_the_raw_curve(media):
    track = Track.open(media["music"])
    raw = feature_curve(track, FeatureSpec("r", "rms", normalize=None))
    shaped = feature_curve(track, FeatureSpec("r", "rms", normalize=(5, 95), gamma=2.0))
    lo, hi = np.percentile(raw, 5), np.percentile(raw, 95)
    assert np.allclose(shaped, np.clip((raw - lo) / (hi - lo), 0, 1) ** 2)
    default = feature_curve(track, FeatureSpec("r", "rms"))
    lo, hi = np.percentile(raw, 1), np.percentile(raw, 99)
    assert np.allclose(default, np.clip((raw - lo) / (hi - lo), 0, 1))
    # percentiles of the whole track: a frame's value is the same whatever the offset and frame count
    spec = FeatureSpec("r", "rms", normalize=(5, 95), gamma=2.0)
    whole = sample_feature(track, spec, 100, 25)
    part = sample_feature(track, spec, 20, 25, offset=1.2)
    assert np.allclose(part, whole[30:50])
    chroma_raw = feature_curve(track, FeatureSpec("c", "chroma", normalize=None))
    chroma = feature_curve(track, FeatureSpec("c", "chroma", normalize=(10, 90)))
    lo, hi = np.percentile(chroma_raw, [10, 90])
    assert np.allclose(chroma, np.clip((chroma_raw - lo) / (hi - lo), 0, 1))


def test_percussive_and_harmonic_parts_separate_drums_from_chords(media):
    track = Track.open(media["music"])
    drums_p = feature_curve(track, FeatureSpec("o", "onset", part="percussive", normalize=None))
    chords = feature_curve(track, FeatureSpec("c", "chroma", part="harmonic"))
    times = np.arange(len(drums_p)) * HOP_SECONDS
    # 120 bpm: a kick or snare every 0.5 s; the percussive onsets peak there
    for t in np.arange(0.5, 3.6, 0.5):
        near = np.abs(times - t) < 0.03
        assert drums_p[near].max() > 0.5 * drums_p.max(), t
    bar = 2.0                          # first bar: A minor (A C E = 9 0 4), second: F major (F A C = 5 9 0)
    for k, chord in enumerate(({9, 0, 4}, {5, 9, 0})):
        inside = (times > k * bar + 0.4) & (times < (k + 1) * bar - 0.4)
        assert set(np.argsort(chords[inside].mean(axis=0))[-3:]) == chord


def test_the_cache_computes_each_feature_once(media, tmp_path, monkeypatch):
    monkeypatch.setenv("NEURAL_RENDER_CACHE", str(tmp_path / "cache"))
    clear_memory()
    ANALYSES.reset()
    path = tmp_path / "song.wav"
    sig.write_wav(path, sig.clicks(CLICKS, CLICK_SECONDS))
    track = Track.open(path)
    first = sample_feature(track, ONSET, 96, 24)
    assert ANALYSES.count == 1
    again = sample_feature(Track.open(path), FeatureSpec("another name", "onset"), 80, 30, offset=0.2)
    assert ANALYSES.count == 1                                   # cached; the name is not in the key
    assert np.array_equal(sample_feature(track, ONSET, 96, 24), first)
    sample_feature(track, FeatureSpec("kick", "onset", release=0.1), 96, 24)
    assert ANALYSES.count == 2                                   # other settings: computed
    beat_times(track)
    beat_times(track)
    assert ANALYSES.count == 3
    # other bytes under the same file name: computed again, and different
    sig.write_wav(path, sig.clicks((0.7, 2.6), CLICK_SECONDS))
    moved = Track.open(path)
    assert moved.digest != track.digest
    other = sample_feature(moved, ONSET, 96, 24)
    assert ANALYSES.count == 4
    assert abs(int(np.argmax(other)) - frame_of(0.7, 24)) <= 1
    # what the cache returns equals a fresh computation (another cache, nothing in memory)
    monkeypatch.setenv("NEURAL_RENDER_CACHE", str(tmp_path / "fresh"))
    clear_memory()
    assert np.array_equal(sample_feature(moved, ONSET, 96, 24), other)
    assert np.array_equal(sample_feature(Track.open(path), FeatureSpec("k", "onset"), 80, 30, offset=0.2),
                          sample_feature(moved, ONSET, 80, 30, offset=0.2))
    assert ANALYSES.count == 5
    assert again.shape == (80,)


def test_a_cached_run_neither_decodes_nor_imports_librosa(media, tmp_path):
    script = (f"import sys; from render.audio import *; t = Track.open({str(media['clicks'])!r}); "
              "v = sample_feature(t, FeatureSpec('k', 'onset'), 40, 10); "
              "print(ANALYSES.count, 'librosa' in sys.modules, round(float(v.max()), 3))")
    env = {"NEURAL_RENDER_CACHE": str(tmp_path), "PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO)}
    run = lambda: subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True,   # noqa: E731
                                 check=True, cwd=REPO).stdout.split()
    assert run() == ["1", "True", "1.0"]
    assert run() == ["0", "False", "1.0"]


@pytest.mark.parametrize("fmt", ["flac", "ogg", "opus", "mp3", "m4a"])
def test_every_format_gives_the_same_onsets(media, fmt, tmp_path):
    encoded = sig.encode(media["clicks"], fmt, tmp_path)
    track = Track.open(encoded)
    assert track.duration == pytest.approx(CLICK_SECONDS, abs=0.06)
    fps = 30
    values = sample_feature(track, ONSET, int(CLICK_SECONDS * fps), fps)
    onset_frames(values, fps, 0.0)
    wav = sample_feature(Track.open(media["clicks"]), ONSET, int(CLICK_SECONDS * fps), fps)
    assert [int(np.argmax(values[frame_of(t, fps) - 3:frame_of(t, fps) + 4])) for t in CLICKS] == \
           [int(np.argmax(wav[frame_of(t, fps) - 3:frame_of(t, fps) + 4])) for t in CLICKS]


def test_track_is_named_by_its_bytes(media):
    track = Track.open(media["clicks"])
    assert track.digest == hashlib.sha256(media["clicks"].read_bytes()).hexdigest()
    assert track.duration == pytest.approx(CLICK_SECONDS, abs=1 / SR)


def test_unusable_files_are_one_line_errors(tmp_path):
    text = tmp_path / "notes.wav"
    text.write_text("these are my notes, not a song\n")
    video = tmp_path / "silent-film.mp4"
    from render.outputs.ffmpeg_tool import ffmpeg_exe
    subprocess.run([ffmpeg_exe(), "-v", "error", "-f", "lavfi", "-i", "testsrc=size=32x32:rate=5:duration=1",
                    "-pix_fmt", "yuv420p", str(video)], check=True)
    cases = {text: "not an audio file", tmp_path / "missing.flac": "no such file", tmp_path: "folder",
             video: "no audio stream", tmp_path / "empty.mp3": "not an audio file"}
    (tmp_path / "empty.mp3").write_bytes(b"")
    for path, phrase in cases.items():
        with pytest.raises(AudioError) as caught:
            Track.open(path)
        message = str(caught.value)
        assert "\n" not in message and message.startswith(str(path)) and phrase in message, message
        assert caught.value.exit_code == 2


def test_silent_and_empty_tracks_give_zeros_and_no_beats(tmp_path):
    silent = Track.open(sig.write_wav(tmp_path / "silence.wav", sig.silence(2.0)))
    empty = Track.open(sig.write_wav(tmp_path / "empty.wav", sig.silence(0.0)))
    assert empty.duration == 0.0
    for track in (silent, empty):
        for spec in (ONSET, FeatureSpec("r", "rms"), FeatureSpec("b", "band", low=20, high=150),
                     FeatureSpec("c", "chroma", part="harmonic"), FeatureSpec("p", "beat", decay=0.3)):
            values = sample_feature(track, spec, 30, 15)
            assert values.shape == (30, spec.width) if spec.width > 1 else (30,)
            assert np.all(values == 0), (track.path, spec)
        assert len(beat_times(track)) == 0 and tempo(track) == 0.0
        with pytest.raises(AudioError, match="beat"):
            beat_position(track, 10, 25)


def test_feature_specs_check_their_settings_and_key_what_decides_the_values():
    assert FeatureSpec("a", "onset", attack=0).key() == FeatureSpec("b", "onset", attack=0.0).key()
    assert FeatureSpec("a", "onset", normalize=[2, 98]).normalize == (2.0, 98.0)
    assert FeatureSpec("a", "onset", gamma=2).key() != FeatureSpec("a", "onset").key()
    assert FeatureSpec("a", "beat", gamma=2).key() == FeatureSpec("a", "beat").key()    # no gamma on beats
    assert FeatureSpec("a", "beat", decay=0.2).key() != FeatureSpec("a", "beat").key()
    assert FeatureSpec("a", "band", low=20, high=150).key()["low"] == 20.0
    assert FeatureSpec("c", "chroma").width == 12 and FeatureSpec("r", "rms").width == 1
    for bad, phrase in ((dict(kind="loudness"), "kind"), (dict(kind="rms", part="drums"), "part"),
                        (dict(kind="band"), "low and high"), (dict(kind="band", low=200, high=100), "low < high"),
                        (dict(kind="rms", attack=-1), "attack"), (dict(kind="rms", gamma=0), "gamma"),
                        (dict(kind="rms", normalize=(50, 10)), "normalize"),
                        (dict(kind="rms", normalize=5), "normalize"), (dict(kind="rms", release="fast"), "release")):
        with pytest.raises(ValueError, match=phrase):
            FeatureSpec("x", **bad)


# --- channels are combined by power: a phase flip or a wide mix cannot erase a hit --------------------

HITS = tuple(0.5 * k for k in range(8))        # a kick every 0.5 s from 0 s: 120 bpm


def peaks_on(values: np.ndarray, times, fps: float, floor: float = 0.5) -> None:
    """The largest value near each time's frame is on that frame and above ``floor``; frames two or
    more from every time stay under 0.2."""
    expected = [frame_of(t, fps) for t in times]
    for e in expected:
        lo = max(0, e - 2)
        assert lo + int(np.argmax(values[lo:e + 3])) == e and values[e] > floor, (e, np.round(values[lo:e + 3], 2))
    quiet = np.ones(len(values), bool)
    for e in expected:
        quiet[max(0, e - 1):e + 2] = False
    assert values[quiet].max() < 0.2, np.flatnonzero(values * quiet >= 0.2)


def test_a_channel_in_inverted_polarity_keeps_its_onsets_and_beats(tmp_path):
    """Right = -left: the plain average of the samples is silence, but the track reads exactly as its
    in-phase take (and as the left channel alone): a kick on every hit, 120 bpm, in WAV and FLAC."""
    y = sig.drums(HITS, 4.0)
    takes = {"mono": y, "inphase": sig.stereo(y, y), "antiphase": sig.stereo(y, -y)}
    fps = 10
    kicks, beats = {}, {}
    for name, samples in takes.items():
        wav = sig.write_wav(tmp_path / f"{name}.wav", samples)
        for path in (wav, sig.encode(wav, "flac", tmp_path)):
            track = Track.open(path)
            assert track.duration == pytest.approx(4.0, abs=1 / SR)
            kicks[path.name] = sample_feature(track, ONSET, 40, fps)
            beats[path.name] = beat_times(track)
            peaks_on(kicks[path.name], HITS, fps, floor=0.8)
            assert tempo(track) == pytest.approx(120, rel=0.02), (path.name, tempo(track))
            assert np.abs(beats[path.name][:, None] - np.array(HITS)).min(axis=1).max() < 0.03, beats[path.name]
    assert np.array_equal(kicks["antiphase.wav"], kicks["inphase.wav"])      # the flip changes nothing
    assert np.array_equal(beats["antiphase.flac"], beats["inphase.flac"])
    assert np.allclose(kicks["antiphase.wav"], kicks["mono.wav"], atol=0.02)
    # the downmix a plain average makes of it: silence, where the old analysis found no onset and no beat
    assert np.abs(takes["antiphase"].mean(axis=0)).max() == 0


def test_a_wide_mix_keeps_every_hit_whichever_side_it_is_on(tmp_path):
    """Kicks on the left alone (0.5, 1.5, 2.5, 3.5 s) and on the right alone (1, 2, 3 s), and a snare
    only in the side signal (L = +s, R = -s at 1.25, 2.25, 3.25 s): every hit peaks on its frame, and
    the beat tracker hears the kicks of both sides (120 bpm, not the 60 of one side).  The same mix
    averaged to mono loses the snares: what the analysis no longer does."""
    left_kicks, right_kicks, snares = (0.5, 1.5, 2.5, 3.5), (1.0, 2.0, 3.0), (1.25, 2.25, 3.25)
    left, right = sig.drums(left_kicks, 4.0), sig.drums(right_kicks, 4.0)
    for t in snares:
        sig.place(left, sig.snare(), t, gain=0.6)
        sig.place(right, sig.snare(), t, gain=-0.6)
    fps = 20
    wide = Track.open(sig.write_wav(tmp_path / "wide.wav", sig.stereo(left, right)))
    onsets = sample_feature(wide, ONSET, 80, fps)
    peaks_on(onsets, sorted(left_kicks + right_kicks + snares), fps)
    assert tempo(wide) == pytest.approx(120, rel=0.02), tempo(wide)
    averaged = Track.open(sig.write_wav(tmp_path / "averaged.wav", (left + right) / 2))
    plain = sample_feature(averaged, ONSET, 80, fps)
    assert all(plain[frame_of(t, fps)] < 0.2 for t in snares), plain    # the snares cancel in a plain average


def test_an_analysis_of_the_old_version_is_not_reused(tmp_path, monkeypatch):
    """The cache key holds ANALYSIS_VERSION (5: channels combined by power): a curve the averaging
    analysis stored for the same bytes and settings is not read back."""
    from render.audio import ANALYSIS_VERSION, cache
    monkeypatch.setenv("NEURAL_RENDER_CACHE", str(tmp_path / "cache"))
    clear_memory()
    y = sig.drums(HITS, 4.0)
    track = Track.open(sig.write_wav(tmp_path / "antiphase.wav", sig.stereo(y, -y)))
    assert ANALYSIS_VERSION >= 5
    from render.audio.features import GRID
    with monkeypatch.context() as old:
        old.setattr(cache, "ANALYSIS_VERSION", 4)
        stale = cache.entry_key(track.digest, ONSET.key(), GRID)
        cache.store_array(stale, np.zeros(1 + int(4.0 * SR) // 256))          # what version 4 found: nothing
    assert cache.entry_key(track.digest, ONSET.key(), GRID) != stale
    ANALYSES.reset()
    assert sample_feature(track, ONSET, 40, 10).max() == 1.0
    assert ANALYSES.count == 1


@pytest.mark.parametrize("offset, fires", [(0.0, True), (-0.001, True), (-0.01, True), (-0.024, True),
                                           (-0.026, False), (-0.1, False)])
def test_a_frame_whose_interval_reaches_into_the_track_keeps_its_hit(offset, fires):
    """A hit at 0.005 s of the track, 20 fps: frame 0 stands for [offset - 25 ms, offset + 25 ms).  A
    small negative offset (the track starts just after the first frame's time) keeps the hit on frame
    0; only a frame whose whole interval lies before the track is silent."""
    from render.audio.features import HOP_SECONDS
    curve = np.zeros(200)
    curve[int(round(0.005 / HOP_SECONDS))] = 1.0
    for impulsive in (True, False):
        values = sample_curve(curve, 4, 20.0, offset, 2.0, impulsive=impulsive)
        assert (values[0] > 0) == fires, (offset, impulsive, values)
