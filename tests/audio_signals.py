"""Synthetic soundtracks for the audio tests and the audio benchmark, made with numpy, so every
expected time, tempo and pitch is known exactly (nothing is downloaded or committed).

Every maker returns mono float32 samples at :data:`SR`; :func:`stereo` puts two of them side by side
(a channel inverted, a wide mix), :func:`write_wav` stores mono or stereo as 16-bit PCM and
:func:`encode` turns a WAV into another format with the bundled ffmpeg.
"""

from __future__ import annotations

import subprocess
import wave
from pathlib import Path

import numpy as np

SR = 22050

# container -> (file extension, ffmpeg encoder arguments); each encoder is in the bundled ffmpeg
FORMATS = {
    "wav": ("wav", ["-c:a", "pcm_s16le"]),
    "flac": ("flac", ["-c:a", "flac"]),
    "ogg": ("ogg", ["-c:a", "libvorbis", "-q:a", "5"]),
    "opus": ("opus", ["-c:a", "libopus", "-b:a", "96k"]),
    "mp3": ("mp3", ["-c:a", "libmp3lame", "-b:a", "192k"]),
    "m4a": ("m4a", ["-c:a", "aac", "-b:a", "192k"]),
}


def silence(seconds: float, sr: int = SR) -> np.ndarray:
    return np.zeros(int(round(seconds * sr)), np.float32)


def clicks(times, seconds: float, sr: int = SR, length: float = 0.004, amplitude: float = 0.8) -> np.ndarray:
    """Short clicks (a 4 ms burst of decaying white noise) starting at each of ``times`` seconds,
    in silence."""
    y = silence(seconds, sr)
    n = int(length * sr)
    rng = np.random.default_rng(1)
    burst = (rng.uniform(-1, 1, n) * np.exp(-np.arange(n) / (n / 4)) * amplitude).astype(np.float32)
    for t in times:
        start = int(round(t * sr))
        y[start:start + n] += burst[:len(y) - start]
    return y


def kick(sr: int = SR, length: float = 0.25) -> np.ndarray:
    """A synthetic kick drum: a sine sweeping from 150 Hz down to 50 Hz with a fast decay, plus a
    click at the start."""
    t = np.arange(int(length * sr)) / sr
    freq = 50 + 100 * np.exp(-t / 0.03)
    phase = 2 * np.pi * np.cumsum(freq) / sr
    body = np.sin(phase) * np.exp(-t / 0.08)
    click = np.exp(-t / 0.002) * np.random.default_rng(2).uniform(-1, 1, len(t)) * 0.3
    return (body + click).astype(np.float32)


def snare(sr: int = SR, length: float = 0.18) -> np.ndarray:
    """Noise with a fast decay and a 190 Hz body."""
    t = np.arange(int(length * sr)) / sr
    noise = np.random.default_rng(3).uniform(-1, 1, len(t)) * np.exp(-t / 0.04)
    return (0.5 * noise + 0.3 * np.sin(2 * np.pi * 190 * t) * np.exp(-t / 0.05)).astype(np.float32)


def hat(sr: int = SR, length: float = 0.05) -> np.ndarray:
    """High-passed noise (first difference) with a very fast decay."""
    t = np.arange(int(length * sr)) / sr
    noise = np.diff(np.random.default_rng(4).uniform(-1, 1, len(t) + 1)) * np.exp(-t / 0.01)
    return (0.25 * noise).astype(np.float32)


def place(y: np.ndarray, sound: np.ndarray, t: float, sr: int = SR, gain: float = 1.0) -> None:
    start = int(round(t * sr))
    if start >= len(y):
        return
    end = min(len(y), start + len(sound))
    y[start:end] += gain * sound[:end - start]


def pulse(bpm: float, seconds: float, first: float = 0.5, sr: int = SR) -> tuple[np.ndarray, np.ndarray]:
    """A kick on every beat at ``bpm`` from ``first`` seconds: (samples, the beat times)."""
    y = silence(seconds, sr)
    times = np.arange(first, seconds - 0.3, 60.0 / bpm)
    for t in times:
        place(y, kick(sr), t, sr)
    return y, times


def tone(freq: float, seconds: float, sr: int = SR, amplitude: float = 0.5, start: float = 0.0,
         stop: float | None = None) -> np.ndarray:
    """A sine at ``freq`` Hz sounding from ``start`` to ``stop`` seconds (10 ms fades), in silence
    elsewhere."""
    y = silence(seconds, sr)
    stop = seconds if stop is None else stop
    a, b = int(round(start * sr)), int(round(stop * sr))
    t = np.arange(b - a) / sr
    fade = np.minimum(1.0, np.minimum(t, t[-1] - t) / 0.01)
    y[a:b] = (amplitude * np.sin(2 * np.pi * freq * t) * fade).astype(np.float32)
    return y


def step(seconds: float, up: float, down: float, sr: int = SR, freq: float = 1000.0) -> np.ndarray:
    """A 1 kHz tone at a constant loudness from ``up`` to ``down`` seconds (no fade: a step), silence
    elsewhere."""
    y = silence(seconds, sr)
    a, b = int(round(up * sr)), int(round(down * sr))
    y[a:b] = 0.5 * np.sin(2 * np.pi * freq * np.arange(b - a) / sr)
    return y


def midi_hz(note: float) -> float:
    return 440.0 * 2 ** ((note - 69) / 12)


def music(seconds: float = 180.0, bpm: float = 112.0, sr: int = SR) -> np.ndarray:
    """A music-like track: drums (kick on 1 and 3, snare on 2 and 4, eighth-note hats), a bass line
    on the chord roots and sustained chords (Am, F, C, G, one a bar) of soft saw-like tones."""
    y = silence(seconds, sr)
    beat = 60.0 / bpm
    k, s, h = kick(sr), snare(sr), hat(sr)
    chords = [(57, 60, 64), (53, 57, 60), (48, 52, 55), (55, 59, 62)]  # Am F C G (MIDI)
    n_beats = int(seconds / beat)
    t_bar = np.arange(int(4 * beat * sr)) / sr
    env = np.minimum(1.0, t_bar / 0.02) * np.minimum(1.0, (t_bar[-1] - t_bar) / 0.05)
    for i in range(n_beats):
        t = i * beat
        place(y, k if i % 2 == 0 else s, t, sr, 0.8)
        place(y, h, t + beat / 2, sr, 0.6)
        place(y, h, t, sr, 0.4)
        if i % 4 == 0:
            notes = chords[(i // 4) % len(chords)]
            bar = np.zeros_like(t_bar)
            for note in notes:
                f = midi_hz(note)
                for harmonic in (1, 2, 3):
                    bar += np.sin(2 * np.pi * f * harmonic * t_bar) / harmonic
            root = midi_hz(notes[0] - 24)
            bass = np.sin(2 * np.pi * root * t_bar) * (0.6 + 0.4 * np.cos(2 * np.pi * t_bar / beat))
            place(y, (0.08 * bar * env + 0.35 * bass * env).astype(np.float32), t, sr)
    peak = np.abs(y).max()
    return (0.9 * y / peak).astype(np.float32) if peak > 0 else y


def stereo(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """(2, samples): ``left`` and ``right`` as the channels of one track (``stereo(y, -y)``: the right
    channel is the left with its polarity inverted)."""
    return np.stack([left, right]).astype(np.float32)


def drums(hits, seconds: float, sr: int = SR, gain: float = 0.7) -> np.ndarray:
    """A kick at each of ``hits`` seconds, in silence."""
    y = silence(seconds, sr)
    for t in hits:
        place(y, kick(sr), t, sr, gain)
    return y


def write_wav(path: Path, y: np.ndarray, sr: int = SR) -> Path:
    """16-bit PCM WAV: mono for ``(samples,)``, one channel per row for ``(channels, samples)``."""
    path = Path(path)
    y = np.atleast_2d(y)
    data = (np.clip(y.T, -1, 1) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as out:
        out.setnchannels(len(y))
        out.setsampwidth(2)
        out.setframerate(sr)
        out.writeframes(data.tobytes())
    return path


def encode(wav: Path, fmt: str, out_folder: Path) -> Path:
    """``wav`` re-encoded as ``fmt`` (a key of :data:`FORMATS`) by the bundled ffmpeg."""
    from render.outputs.ffmpeg_tool import ffmpeg_exe
    extension, codec = FORMATS[fmt]
    out = Path(out_folder) / f"{Path(wav).stem}.{extension}"
    subprocess.run([ffmpeg_exe(), "-v", "error", "-y", "-i", str(wav), *codec, str(out)], check=True)
    return out
