"""The soundtrack in the video (issue 18), read back with the bundled ffmpeg (there is no ffprobe).

A click track has short clicks at known file times; a video built straight from arrays flashes white
at frame k = round((T_click - offset) * fps).  Both streams are decoded: the audio to 48 kHz PCM
(samples counted), the video frame by frame with each frame's presentation time, so "the sound starts
with the first frame", "the offset moves the sound" and "the sound lasts exactly the video" are
measured, not assumed.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
import subprocess
import wave
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from render.outputs.ffmpeg_tool import ffmpeg_exe
from render.outputs.video import SoundInput, encode_video, loop_order

RATE = 48_000          # what the decoded audio is read back at
TRACK_RATE = 44_100    # what the test tracks are written at (so the encoder's resampling is exercised)
SIDE = 64
FPS = 25
FRAMES = 40            # 1.6 s at 25 fps
OFFSET = 1.5
CLICKS = (0.7, 1.9, 2.62)   # file times: the first is before the offset and must not be heard
AUDIO_CODEC = {"mp4": "aac", "hevc": "aac", "webm": "opus", "prores": "pcm_s16le", "prores4444": "pcm_s16le"}


def write_track(path: Path, seconds: float, clicks, rate: int = TRACK_RATE) -> Path:
    """A mono track of silence with a 4 ms 3 kHz click (Hann windowed) at each of ``clicks`` seconds;
    WAV, or FLAC when ``path`` says so (converted by the bundled ffmpeg)."""
    samples = np.zeros(round(seconds * rate))
    burst = np.hanning(round(0.004 * rate)) * np.sin(2 * np.pi * 3000 * np.arange(round(0.004 * rate)) / rate)
    for time in clicks:
        start = round(time * rate) - len(burst) // 2    # the burst's peak is at the click's time
        samples[start:start + len(burst)] = 0.9 * burst
    wav = path.with_suffix(".wav")
    with wave.open(str(wav), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes((samples * 32767).astype("<i2").tobytes())
    if path.suffix != ".wav":
        subprocess.run([ffmpeg_exe(), "-v", "error", "-y", "-i", str(wav), str(path)], check=True)
        wav.unlink()
    return path


def flash_frames(offset: float, clicks, fps: float = FPS, frames: int = FRAMES) -> list[np.ndarray]:
    """Dark frames, white at the frame of each click heard in the video: round((T - offset) * fps)."""
    flashes = {round((time - offset) * fps) for time in clicks}
    return [np.full((SIDE, SIDE, 3), 255 if k in flashes else 16, np.uint8) for k in range(frames)]


@dataclasses.dataclass
class Decoded:
    frames: np.ndarray            # (n, H, W) grey, as stored (no frame rate conversion)
    frame_times: list[float]      # each frame's presentation time, s
    audio_codec: str | None       # the container's audio stream, None without one
    audio: np.ndarray             # mono samples at RATE, float in -1..1
    audio_start: float | None     # the first decoded audio frame's presentation time, s

    def clicks(self) -> list[float]:
        """Presentation times of the clicks heard: the peak of each burst of the 2 ms envelope."""
        envelope = np.convolve(np.abs(self.audio), np.ones(96) / 96, "same")
        if envelope.size == 0 or envelope.max() < 0.05:
            return []
        loud = np.flatnonzero(envelope > 0.3 * envelope.max())
        bursts = np.split(loud, np.flatnonzero(np.diff(loud) > 0.05 * RATE) + 1)
        return [self.audio_start + (b[0] + int(np.argmax(envelope[b[0]:b[-1] + 1]))) / RATE for b in bursts]

    def flashes(self) -> list[float]:
        return [self.frame_times[k] for k in np.flatnonzero(self.frames.mean(axis=(1, 2)) > 128)]


_SHOWN = re.compile(r"Parsed_a?showinfo_\d+ @ [^\]]*\] n:\s*\d+ pts:\s*-?\d+ pts_time:\s*(-?[\d.e+-]+)")


def _shown(command: list[str]) -> list[float]:
    """Run an ffmpeg decode with (a)showinfo; the presentation time of each frame it showed (one
    stream per run: two filter graphs' log lines may interleave)."""
    result = subprocess.run(command, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    return [float(t) for t in _SHOWN.findall(result.stderr)]


def decode(path: Path, tmp: Path, side: int = SIDE) -> Decoded:
    """Both streams of ``path``: grey frames and mono 48 kHz PCM, with the time of every video frame
    and of the first audio frame (showinfo / ashowinfo)."""
    header = subprocess.run([ffmpeg_exe(), "-hide_banner", "-i", str(path)], capture_output=True, text=True).stderr
    codec = re.search(r"Stream #0:\d+.*?: Audio: (\w+)", header)
    source = [ffmpeg_exe(), "-hide_banner", "-y", "-i", str(path)]
    frame_times = _shown(source + ["-map", "0:v:0", "-vf", "showinfo", "-fps_mode", "passthrough", "-f", "rawvideo",
                                   "-pix_fmt", "gray", str(tmp / "video.raw")])
    frames = np.fromfile(tmp / "video.raw", np.uint8).reshape(-1, side, side)
    assert len(frame_times) == len(frames)
    if not codec:
        return Decoded(frames, frame_times, None, np.zeros(0), None)
    audio_times = _shown(source + ["-map", "0:a:0", "-af", "ashowinfo", "-f", "s16le", "-ac", "1", "-ar", str(RATE),
                                   str(tmp / "audio.raw")])
    audio = np.fromfile(tmp / "audio.raw", "<i2").astype(np.float64) / 32768
    return Decoded(frames, frame_times, codec.group(1), audio, audio_times[0])


@pytest.fixture(scope="module")
def track(tmp_path_factory) -> Path:
    """4 s of FLAC with clicks at CLICKS: longer than offset + video, so the encoder must cut it."""
    return write_track(tmp_path_factory.mktemp("track") / "track.flac", 4.0, CLICKS)


def encode_flashes(tmp: Path, video: str, audio: SoundInput | None, frames: list[np.ndarray], fps: float = FPS,
                   order=None, name: str = "flash") -> Path:
    order = list(range(len(frames))) if order is None else order
    out = tmp / f"{name}.{video}"
    return encode_video(lambda k: frames[k], order, (SIDE, SIDE), fps, video, 20, out, audio=audio)


def assert_same_duration(decoded: Decoded, frames: int, fps: float) -> None:
    """The video has all its frames; the sound starts with the first and lasts as long, within half a
    frame (a sound one frame short or long fails at any rate)."""
    assert len(decoded.frames) == frames
    assert decoded.frame_times[0] == pytest.approx(0, abs=1e-3)
    assert decoded.audio_start == pytest.approx(decoded.frame_times[0], abs=1e-3)   # no encoder delay shown
    error = abs(len(decoded.audio) / RATE - frames / fps)
    assert error < 0.5 / fps, (len(decoded.audio) / RATE, frames / fps, f"{error * fps:.3f} frames")


@pytest.mark.parametrize("video, fps", [("mp4", 25), ("hevc", 25), ("webm", 25), ("prores", 25),
                                        ("prores4444", 25), ("mp4", 60), ("webm", 24)])
def test_the_video_carries_the_track_from_its_offset_for_exactly_its_duration(tmp_path, track, video, fps):
    frames = flash_frames(OFFSET, CLICKS, fps, frames=round(1.6 * fps))
    decoded = decode(encode_flashes(tmp_path, video, SoundInput(track, OFFSET), frames, fps), tmp_path)
    assert decoded.audio_codec == AUDIO_CODEC[video]
    assert_same_duration(decoded, len(frames), fps)
    heard, seen = decoded.clicks(), decoded.flashes()
    assert len(seen) == 2 and len(heard) == 2, (heard, seen)   # the click before the offset is not in the video
    for click, flash in zip(heard, seen):
        assert abs(click - flash) < 1 / fps, (heard, seen)
    for click, time in zip(heard, CLICKS[1:]):   # measured: to the sample; an AAC priming shift is 21 ms
        assert click == pytest.approx(time - OFFSET, abs=0.002)


def test_a_gif_has_no_audio_stream_and_a_note_says_so(tmp_path, track, notes):
    decoded = decode(encode_flashes(tmp_path, "gif", SoundInput(track, OFFSET), flash_frames(OFFSET, CLICKS),
                                    name="silent-gif"), tmp_path)
    assert decoded.audio_codec is None and len(decoded.frames) == FRAMES
    assert [n for n in notes if "silent-gif.gif has no sound" in n] != []


@pytest.mark.parametrize("video", ["mp4", "webm", "prores"])
def test_a_track_shorter_than_the_video_is_padded_with_silence(tmp_path, video):
    short = write_track(tmp_path / "short.wav", 1.0, (0.5,))       # 0.75 s of it from 0.25 s; the video lasts 1.6
    decoded = decode(encode_flashes(tmp_path, video, SoundInput(short, 0.25), flash_frames(0.25, (0.5,))), tmp_path)
    assert_same_duration(decoded, FRAMES, FPS)
    assert decoded.clicks() == [pytest.approx(0.25, abs=1 / FPS)] and decoded.flashes() == [pytest.approx(0.24)]
    assert np.abs(decoded.audio[round(0.8 * RATE):]).max() < 0.01     # silence after the track's end


def test_an_offset_past_the_tracks_end_gives_silence_for_the_whole_video(tmp_path, track):
    decoded = decode(encode_flashes(tmp_path, "mp4", SoundInput(track, 9.0), flash_frames(9.0, ())), tmp_path)
    assert_same_duration(decoded, FRAMES, FPS)
    assert np.abs(decoded.audio).max() < 0.01


def test_a_negative_offset_starts_the_track_after_the_first_frame(tmp_path, track):
    decoded = decode(encode_flashes(tmp_path, "webm", SoundInput(track, -0.5), flash_frames(-0.5, CLICKS)), tmp_path)
    assert_same_duration(decoded, FRAMES, FPS)
    assert decoded.clicks() == [pytest.approx(1.2, abs=0.002)] and decoded.flashes() == [pytest.approx(1.2)]


@pytest.mark.parametrize("fps", [24, 25, 30, 60, 24000 / 1001, 30000 / 1001, 12.5])
def test_the_duration_check_fails_a_sound_one_frame_off(fps):
    """assert_same_duration itself: lengths within less than half a frame pass; a sound one frame (or
    0.6 of one) short or long fails at every rate, never passing by a rounding hair."""
    frames = 40
    made = lambda seconds: Decoded(np.zeros((frames, 1, 1)), [k / fps for k in range(frames)], "aac",   # noqa: E731
                                   np.zeros(round(seconds * RATE)), 0.0)
    for error in (0.0, 0.4, -0.4):
        assert_same_duration(made((frames + error) / fps), frames, fps)
    for error in (1.0, -1.0, 0.6, -0.6):
        with pytest.raises(AssertionError):
            assert_same_duration(made((frames + error) / fps), frames, fps)


# --- an offset cut by decoded samples, in compressed tracks ----------------------------------------------

CUT_OFFSET = 1.3
CUT_CLICKS = (1.31, 1.55, 2.0)    # the first 10 ms after the offset: inside the MP3 frame a seek lands on
CUT_FPS = 24                      # frames 0, 6 and 17 hold them (0.24, 6.0 and 16.8 frames after the offset)
SOURCES = {                       # the bundled ffmpeg's encoders, with their encoder delay (priming)
    "mp3-cbr": ("mp3", ["-c:a", "libmp3lame", "-b:a", "192k"]),
    "mp3-vbr": ("mp3", ["-c:a", "libmp3lame", "-q:a", "4"]),
    "aac": ("m4a", ["-c:a", "aac", "-b:a", "192k"]),
    "opus": ("opus", ["-c:a", "libopus", "-b:a", "128k"]),
    "flac": ("flac", ["-c:a", "flac"]),
}


@pytest.fixture(scope="module")
def compressed(tmp_path_factory) -> dict[str, Path]:
    """3 s with clicks at CUT_CLICKS, as a 44.1 kHz WAV encoded into each of SOURCES."""
    folder = tmp_path_factory.mktemp("compressed")
    wav = write_track(folder / "clicks.wav", 3.0, CUT_CLICKS)
    made = {}
    for name, (extension, codec) in SOURCES.items():
        made[name] = folder / f"clicks-{name}.{extension}"
        subprocess.run([ffmpeg_exe(), "-v", "error", "-y", "-i", str(wav), *codec, str(made[name])], check=True)
    return made


def clicks_in(path: Path) -> list[float]:
    """The clicks of an audio file as ffmpeg decodes it from its first sample (its encoder delay
    dropped as ffmpeg drops it): what the features and the video must both hear."""
    pcm = subprocess.run([ffmpeg_exe(), "-v", "error", "-i", str(path), "-map", "0:a:0", "-ac", "1", "-ar", str(RATE),
                          "-f", "s16le", "-"], capture_output=True, check=True).stdout
    audio = np.frombuffer(pcm, "<i2").astype(np.float64) / 32768
    return Decoded(np.zeros((0, 1, 1)), [], None, audio, 0.0).clicks()


@pytest.mark.parametrize("source, video", [(name, "mp4") for name in SOURCES] + [("mp3-vbr", "webm"),
                                                                                 ("mp3-vbr", "prores")])
def test_an_offset_is_cut_by_decoded_samples_in_every_format(tmp_path, compressed, source, video):
    """A compressed track heard from an offset: each click is in the video within 1 ms of its time in
    the decoded file minus the offset (a click 10 ms after the offset included: an input seek into an
    MP3 lost it), and the onset feature peaks on the frame holding it, so picture and sound agree."""
    from render.audio import FeatureSpec, Track, sample_feature
    path = compressed[source]
    in_file = clicks_in(path)
    assert len(in_file) == len(CUT_CLICKS)
    assert np.abs(np.array(in_file) - CUT_CLICKS).max() < 0.002, in_file   # ffmpeg drops the priming
    frames = flash_frames(CUT_OFFSET, in_file, CUT_FPS, frames=CUT_FPS)
    decoded = decode(encode_flashes(tmp_path, video, SoundInput(path, CUT_OFFSET), frames, CUT_FPS), tmp_path)
    assert_same_duration(decoded, CUT_FPS, CUT_FPS)
    heard = decoded.clicks()
    assert len(heard) == len(in_file), (source, heard, in_file)
    errors = [heard_at - (file_time - CUT_OFFSET) for heard_at, file_time in zip(heard, in_file)]
    assert max(abs(e) for e in errors) < 0.001, (source, [f"{1000 * e:+.3f} ms" for e in errors])

    kick = sample_feature(Track.open(path), FeatureSpec("kick", "onset"), CUT_FPS, CUT_FPS, CUT_OFFSET)
    holding = [int(np.floor((t - CUT_OFFSET) * CUT_FPS + 0.5)) for t in in_file]
    assert holding == [0, 6, 17]
    for frame in holding:
        window = kick[max(0, frame - 2):frame + 3]
        assert max(0, frame - 2) + int(np.argmax(window)) == frame and kick[frame] > 0.8, (source, frame, kick)


def test_the_soundtrack_and_the_features_decode_a_track_from_the_same_first_sample(compressed):
    """The mux's cut and the analysis count from one origin: a click's hop in the features and its
    sample in the decoded file are the same time, in every format."""
    from render.audio import HOP_SECONDS, FeatureSpec, Track, feature_curve
    for name, path in compressed.items():
        curve = feature_curve(Track.open(path), FeatureSpec("kick", "onset"))
        for time in clicks_in(path):
            near = int(round(time / HOP_SECONDS))
            peak = near - 3 + int(np.argmax(curve[near - 3:near + 4]))
            assert abs(peak - time / HOP_SECONDS) <= 1.5, (name, time, peak * HOP_SECONDS)


def test_a_pingpong_video_plays_the_track_on_for_its_forward_and_back_duration(tmp_path, track):
    """Policy (README, Loops): the sound is not reversed; it plays on from the offset for the whole
    forward-and-back duration, so the click of file time 2.62 s is heard at 1.12 s, in the back half."""
    frames = [np.full((SIDE, SIDE, 3), 16, np.uint8) for _ in range(FRAMES)]
    order = loop_order(FRAMES, "pingpong")
    assert len(order) == 2 * FRAMES - 2
    decoded = decode(encode_flashes(tmp_path, "webm", SoundInput(track, 2.0), frames, order=order), tmp_path)
    assert_same_duration(decoded, len(order), FPS)                 # 3.12 s: beyond the 1.6 s forward half
    assert decoded.clicks() == [pytest.approx(0.62, abs=1 / FPS)]  # 2.62 s in the file, from the offset 2.0


WALK = """#:schema ../schemas/walk.json
kind = "walk"

[output]
size = [32, 32]
frames = 8
fps = 8
video = "mp4"

[model]
name = "dcgan-faces64"
precision = "float32"

[walk]
keys = [1, 2]
frames_per_key = 4
"""


def audio_settings(path: Path, offset: float):
    """What the recipe loader makes of ``[audio] file = PATH, offset = OFFSET``."""
    from render.recipe.model import AudioSettings
    data = Path(path).read_bytes()
    with wave.open(str(path)) as opened:
        duration = opened.getnframes() / opened.getframerate()
    return AudioSettings(Path(path), hashlib.sha256(data).hexdigest(), duration, offset)


def with_soundtrack(monkeypatch, module, path: Path, offset):
    """Make ``module.load_recipe`` (``render.graph``'s: every command loads through it) give every recipe ``path`` as its soundtrack from ``offset`` (a
    callable: read at each load), digested when loaded, as the recipe loader does with ``[audio]``."""
    from render.recipe import load_recipe

    def load(*args, **kwargs):
        return dataclasses.replace(load_recipe(*args, **kwargs), audio=audio_settings(path, offset()))
    monkeypatch.setattr(module, "load_recipe", load)


def test_render_encode_re_muxes_the_soundtrack_without_rendering(tmp_path, monkeypatch):
    """A tiny walk rendered once; then `render encode` muxes the track in, for any format, offset and
    loop, leaving the stored frames alone."""
    import render.graph
    from render.cli import main
    from render.recipe import load_recipe
    from render.runner import render as render_frames
    recipe = tmp_path / "walk.toml"
    recipe.write_text(WALK)
    out = tmp_path / "run"
    render_frames(load_recipe(recipe), out, encode=False)
    stored = {p.name: p.stat().st_mtime_ns for p in (out / "frames").iterdir()}
    track = write_track(tmp_path / "track.wav", 3.0, (0.9, 1.4))
    offset = [0.5]
    with_soundtrack(monkeypatch, render.graph, track, lambda: offset[0])
    runner = CliRunner()

    def encode(*extra) -> tuple[Decoded, str]:
        result = runner.invoke(main, ["encode", str(recipe), "--out", str(out), *extra])
        assert result.exit_code == 0, result.output
        path = Path(result.stdout.split("video: ", 1)[1].strip())
        return decode(path, tmp_path, side=32), result.output

    decoded, _ = encode()
    assert decoded.audio_codec == "aac"
    assert_same_duration(decoded, 8, 8)
    assert decoded.clicks() == [pytest.approx(0.4, abs=1 / 8), pytest.approx(0.9, abs=1 / 8)]   # from 0.5 s
    offset[0] = 0.2                                                           # a new offset: a new mux
    decoded, _ = encode("--video", "webm")
    assert decoded.audio_codec == "opus"
    assert_same_duration(decoded, 8, 8)
    assert decoded.clicks() == [pytest.approx(0.7, abs=1 / 8)]               # 1.4 s in the file is cut
    decoded, output = encode("--set", "output.loop=pingpong", "--video", "prores")
    assert decoded.audio_codec == "pcm_s16le"
    assert_same_duration(decoded, 14, 8)                                      # 0..7..1: 14 frames, 1.75 s
    assert decoded.clicks() == [pytest.approx(0.7, abs=1 / 8), pytest.approx(1.2, abs=1 / 8)]
    assert output.count("loops pingpong with sound") == 1, output
    assert "forward half" in output
    assert {p.name: p.stat().st_mtime_ns for p in (out / "frames").iterdir()} == stored    # nothing rendered


def test_a_new_take_of_the_track_under_the_same_name_is_published_again(tmp_path, monkeypatch):
    """The gallery's fingerprint holds the track's digest and offset: new bytes in track.wav (or a new
    offset) publish the video again, with the new sound; the same bytes leave it reused."""
    import render.graph
    from render.gallery import build_gallery, fingerprint
    from render.recipe import load_recipe
    monkeypatch.chdir(tmp_path)
    (tmp_path / "recipes").mkdir()
    recipe = tmp_path / "recipes" / "walk.toml"
    recipe.write_text(WALK)
    track = write_track(tmp_path / "track.wav", 2.0, (0.75,))
    offset = [0.25]
    with_soundtrack(monkeypatch, render.graph, track, lambda: offset[0])

    def published() -> Decoded:
        entries = build_gallery([recipe], tmp_path / "gallery")
        assert entries[0].status == "rendered", entries[0].reason
        return decode(tmp_path / "gallery" / "walk.mp4", tmp_path, side=32)

    assert published().clicks() == [pytest.approx(0.5, abs=1 / 8)]
    assert build_gallery([recipe], tmp_path / "gallery")[0].status == "reused"
    write_track(track, 2.0, (0.5,))                                   # a new take, same name
    assert published().clicks() == [pytest.approx(0.25, abs=1 / 8)]
    offset[0] = 0.0
    assert published().clicks() == [pytest.approx(0.5, abs=1 / 8)]
    plain = load_recipe(recipe)
    keys = ["k"] * 8
    stamps = {fingerprint(dataclasses.replace(plain, audio=audio_settings(track, o)), keys) for o in (0.0, 0.5)}
    assert len(stamps) == 2 and fingerprint(plain, keys) not in stamps
    manifest = json.loads((tmp_path / "gallery" / "manifest.json").read_text())
    assert manifest["walk"]["sound"] == {"file": "track.wav", "offset": 0.0}
    # made a ProRes master: its browser rendition keeps the sound, as AAC
    entries = build_gallery([recipe], tmp_path / "gallery", overrides=('output.video="prores"',))
    assert entries[0].status == "rendered" and entries[0].frames_rendered == 0, entries[0].reason
    rendition = decode(tmp_path / "gallery" / "web" / "walk.mp4", tmp_path, side=32)
    assert rendition.audio_codec == "aac" and rendition.clicks() == [pytest.approx(0.5, abs=1 / 8)]
    assert_same_duration(rendition, 8, 8)
