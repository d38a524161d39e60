"""Audio features of a 3-minute track, measured: cold (empty cache), warm (cached), and against a
plain reference (decode + one librosa STFT) in the same process.

    python benchmarks/bench_audio.py               # 3 minutes of synthetic music
    python benchmarks/bench_audio.py --seconds 60

The track (``tests/audio_signals.music``): drums (kick, snare, hats) at 112 bpm, a bass line and
sustained chords (Am F C G, one a bar), written as a WAV.  The features, as a recipe would ask for
them, sampled at 30 fps over the whole track: onset of the percussive part, rms, band 20-150 Hz,
chroma of the harmonic part, beat (a pulse).

Each measurement runs in a fresh Python process (``--child``), so nothing is warm that a real
``render run`` would not have warm:

- cold: an empty cache; imports of numpy and render.audio done before the clock starts, everything
  else (decoding, librosa's import and numba compilation, every analysis, sampling) inside it;
- cold after warm-up: the same, after the features of a 2-second track were computed in that process
  (librosa imported, numba compiled): the analysis alone; its difference from cold is the warm-up;
- warm: a fresh process, the cache filled: hashing the file, reading the curves, sampling;
- reference: decode + one ``librosa.stft`` of the same track, in the warmed-up process.

Target (issue 18): cold under 10 s on this CPU.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

FPS = 30.0
BPM = 112.0


def specs():
    from render.audio import FeatureSpec
    return [FeatureSpec("kick", "onset", part="percussive", release=0.15),
            FeatureSpec("loud", "rms", attack=0.05, release=0.3),
            FeatureSpec("bass", "band", low=20, high=150, release=0.1),
            FeatureSpec("notes", "chroma", part="harmonic", attack=0.1, release=0.5),
            FeatureSpec("pulse", "beat", decay=0.25)]


def features(path: Path) -> dict:
    """Open the track and sample every feature at 30 fps over its whole length; per-feature seconds."""
    from render.audio import Track, sample_feature
    seconds = {}
    start = time.perf_counter()
    track = Track.open(path)
    seconds["open (hash, decode)"] = time.perf_counter() - start
    frames = int(track.duration * FPS)
    for spec in specs():
        start = time.perf_counter()
        sample_feature(track, spec, frames, FPS)
        seconds[f"{spec.kind} ({spec.part})"] = time.perf_counter() - start
    return seconds


def child(mode: str, path: Path, warmup: Path) -> dict:
    import numpy  # noqa: F401  (imported before the clock starts)
    import render.audio  # noqa: F401
    result = {}
    if mode == "cold":
        start = time.perf_counter()
        result["parts"] = features(path)
        result["total"] = time.perf_counter() - start
    elif mode == "warmed":
        start = time.perf_counter()
        features(warmup)
        result["warmup"] = time.perf_counter() - start
        from render.audio import ANALYSES, clear_memory
        clear_memory()
        ANALYSES.reset()
        start = time.perf_counter()
        result["parts"] = features(path)
        result["total"] = time.perf_counter() - start
        result["analyses"] = ANALYSES.count
        result["reference"] = reference(path)
    elif mode == "warm":
        from render.audio import ANALYSES
        start = time.perf_counter()
        result["parts"] = features(path)
        result["total"] = time.perf_counter() - start
        result["analyses"] = ANALYSES.count
        result["librosa imported"] = "librosa" in sys.modules
    return result


def reference(path: Path) -> float:
    """Seconds of the plain way: decode with the bundled ffmpeg, one librosa STFT (best of 3)."""
    import librosa
    import numpy as np
    from render.audio.decode import _ffmpeg_decode
    times = []
    for _ in range(3):
        start = time.perf_counter()
        y = _ffmpeg_decode(path)
        np.abs(librosa.stft(y, n_fft=2048, hop_length=256))
        times.append(time.perf_counter() - start)
    return min(times)


def run_child(mode: str, path: Path, warmup: Path, cache: Path) -> dict:
    env = dict(os.environ, NEURAL_RENDER_CACHE=str(cache))
    out = subprocess.run([sys.executable, __file__, "--child", mode, str(path), str(warmup)], env=env,
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def quality(path: Path, cache: Path) -> str:
    """What the features found in the synthetic track, against what was written into it."""
    os.environ["NEURAL_RENDER_CACHE"] = str(cache)
    import numpy as np
    from render.audio import Track, feature_curve, hop_times, tempo
    track = Track.open(path)
    notes = feature_curve(track, specs()[3])
    times = hop_times(len(notes))
    bar = 4 * 60.0 / BPM
    chords = [{9, 0, 4}, {5, 9, 0}, {0, 4, 7}, {7, 11, 2}]     # Am F C G as pitch classes
    right = total = 0
    for k in range(int(track.duration / bar)):
        inside = (times > k * bar + 0.2 * bar) & (times < (k + 1) * bar - 0.2 * bar)
        top = set(np.argsort(notes[inside].mean(axis=0))[-3:])
        right += top == chords[k % 4]
        total += 1
    return (f"tempo found {tempo(track):.1f} bpm (written {BPM:g}); "
            f"harmonic chroma: top 3 = the chord in {right}/{total} bars")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=180.0)
    parser.add_argument("--child", nargs=3, metavar=("MODE", "TRACK", "WARMUP"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        mode, path, warmup = args.child
        print(json.dumps(child(mode, Path(path), Path(warmup))))
        return
    from benchmarks.common import machine_line
    from tests.audio_signals import music, write_wav
    work = Path(tempfile.mkdtemp(prefix="bench-audio-"))
    track = write_wav(work / "music.wav", music(args.seconds, BPM))
    warmup = write_wav(work / "warmup.wav", music(2.0, 100.0))
    print(machine_line())
    print(f"{args.seconds:g} s of synthetic music at {BPM:g} bpm, 5 features sampled at {FPS:g} fps")
    cold = run_child("cold", track, warmup, work / "cache-cold")
    warmed = run_child("warmed", track, warmup, work / "cache-warmed")
    warm = run_child("warm", track, warmup, work / "cache-warmed")
    print(f"cold (fresh process, empty cache):      {cold['total']:6.2f} s  (target < 10 s)")
    print(f"  of which librosa import + numba JIT:  {cold['total'] - warmed['total']:6.2f} s  "
          f"(the 2 s warm-up track took {warmed['warmup']:.2f} s)")
    print(f"cold after warm-up (analysis only):     {warmed['total']:6.2f} s  ({warmed['analyses']} analyses)")
    print(f"warm (fresh process, cached):           {warm['total']:6.3f} s  ({warm['analyses']} analyses, "
          f"librosa imported: {warm['librosa imported']})")
    print(f"reference (decode + one librosa STFT):  {warmed['reference']:6.2f} s  -> cold analysis is "
          f"{warmed['total'] / warmed['reference']:.1f}x, "
          f"warm {warm['total'] / warmed['reference']:.2f}x the reference")
    print("per step, cold after warm-up (s): " + ", ".join(f"{k} {v:.2f}" for k, v in warmed["parts"].items()))
    print("per step, cold (s):               " + ", ".join(f"{k} {v:.2f}" for k, v in cold["parts"].items()))
    print(quality(track, work / "cache-warmed"))


if __name__ == "__main__":
    main()
