"""Synthesise the demo soundtrack ``drums-and-bass.flac`` (16 s, 120 bpm, CC0) with numpy.

Eight bars of 4/4 at 120 beats per minute (a beat every 0.5 s): a kick on every beat, a snare on 2
and 4, closed hi-hats on the eighths, a bass line on the chord roots and a soft pad playing the
chords Am - F - C - G twice (one chord per bar).  Bar 5 drops the kick (a break), so a recipe that
kicks on the drums visibly pauses there.  Everything is generated from this file: no samples, no
randomness beyond a fixed seed, so the track is the same on every machine.

Run from the repository root::

    python recipes/assets/make_soundtrack.py            # writes recipes/assets/drums-and-bass.flac

Released under CC0 1.0 (public domain dedication), like the script itself.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np

RATE = 44100
BPM = 120.0
BEAT = 60.0 / BPM
BARS = 8
CHORDS = [("A", "C", "E"), ("F", "A", "C"), ("C", "E", "G"), ("G", "B", "D")]  # Am F C G
NOTE = {"C": 0, "C#": 1, "D": 2, "D#": 3, "E": 4, "F": 5, "F#": 6, "G": 7, "G#": 8, "A": 9, "A#": 10, "B": 11}
BREAK_BAR = 4   # 0-based: the fifth bar has no kick


def frequency(note: str, octave: int) -> float:
    """Equal temperament, A4 = 440 Hz."""
    return 440.0 * 2.0 ** ((NOTE[note] - 9) / 12.0 + (octave - 4))


def envelope(length: int, attack: float, decay: float) -> np.ndarray:
    t = np.arange(length) / RATE
    return np.minimum(1.0, t / max(attack, 1e-4)) * np.exp(-t / decay)


def kick(length: int) -> np.ndarray:
    t = np.arange(length) / RATE
    pitch = 45.0 + 70.0 * np.exp(-t / 0.04)            # a falling sine: the body
    phase = 2 * np.pi * np.cumsum(pitch) / RATE
    return np.sin(phase) * np.exp(-t / 0.22) + 0.3 * np.exp(-t / 0.004)   # plus a click


def snare(length: int, rng) -> np.ndarray:
    t = np.arange(length) / RATE
    noise = rng.standard_normal(length)
    noise = noise - np.convolve(noise, np.ones(4) / 4, mode="same")      # brighter: less low end
    return 0.5 * noise * np.exp(-t / 0.09) + 0.4 * np.sin(2 * np.pi * 185 * t) * np.exp(-t / 0.06)


def hat(length: int, rng) -> np.ndarray:
    t = np.arange(length) / RATE
    return np.diff(rng.standard_normal(length + 1)) * np.exp(-t / 0.02) * 0.35


def tone(freq: float, length: int, harmonics: tuple[float, ...]) -> np.ndarray:
    t = np.arange(length) / RATE
    return sum(a * np.sin(2 * np.pi * freq * (k + 1) * t) for k, a in enumerate(harmonics))


def add(track: np.ndarray, start_s: float, sound: np.ndarray, gain: float) -> None:
    """Mix ``sound`` in at ``start_s`` seconds, its last 20 ms faded out (a cut tail would click)."""
    fade = min(len(sound), int(0.02 * RATE))
    sound = sound.copy()
    sound[len(sound) - fade:] *= np.linspace(1.0, 0.0, fade)
    start = int(round(start_s * RATE))
    end = min(len(track), start + len(sound))
    track[start:end] += gain * sound[: end - start]


def synthesise() -> np.ndarray:
    """The track as float32 mono samples at :data:`RATE`, peak 0.9."""
    rng = np.random.default_rng(1234)
    bar = 4 * BEAT
    track = np.zeros(int(BARS * bar * RATE) + RATE // 2)
    for b in range(BARS):
        chord = CHORDS[b % len(CHORDS)]
        start = b * bar
        pad = sum(tone(frequency(n, 4), int(bar * RATE), (1.0, 0.3, 0.1)) for n in chord)
        add(track, start, pad * envelope(int(bar * RATE), 0.25, 3.0), 0.10)
        for beat in range(4):
            at = start + beat * BEAT
            if b != BREAK_BAR:
                add(track, at, kick(int(0.5 * RATE)), 0.9)
            if beat in (1, 3):
                add(track, at, snare(int(0.3 * RATE), rng), 0.5)
            for half in (0.0, 0.5):
                add(track, at + half * BEAT, hat(int(0.08 * RATE), rng), 0.5)
            for half in (0.0, 0.5):  # bass: the root on the eighths, an octave up on the off-beat
                octave = 2 if half == 0.0 else 3
                note = tone(frequency(chord[0], octave), int(0.24 * RATE), (1.0, 0.5, 0.25))
                add(track, at + half * BEAT, note * envelope(len(note), 0.005, 0.12), 0.35)
    return (track / np.abs(track).max() * 0.9).astype(np.float32)


def main(out: Path) -> None:
    from imageio_ffmpeg import get_ffmpeg_exe
    samples = synthesise()
    command = [get_ffmpeg_exe(), "-v", "error", "-y", "-f", "f32le", "-ar", str(RATE), "-ac", "1", "-i", "-",
               "-c:a", "flac", "-sample_fmt", "s16", "-metadata", "title=drums and bass (demo)",
               "-metadata", "copyright=CC0 1.0: made by make_soundtrack.py", str(out)]
    subprocess.run(command, input=samples.tobytes(), check=True)
    print(f"wrote {out} ({len(samples) / RATE:.1f} s)")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).with_name("drums-and-bass.flac"))
