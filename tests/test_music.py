"""Music in recipes: the [audio] table, features read by expressions at the exact frame times, the
frame count following the track, frame keys that change exactly where the music changes a value,
features computed once per track, and events on beats for the three kinds that show them."""

from __future__ import annotations

import shutil
import subprocess
import sys

import numpy as np
import pytest

from render import audio
from render.errors import RecipeError
from render.framekeys import frame_keys
from render.plan import format_plan, make_plan
from render.recipe import load_recipe
from tests.audio_signals import clicks, pulse, write_wav
from tests.helpers import CHELSEA, REPO, TINY_RECIPE

CLICKS = (0.5, 1.25, 2.0, 3.3)

WALK = """\
kind = "walk"
seed = 2

[output]
size = [64, 64]
fps = {fps}
duration = "audio"
video = "none"

[audio]
file = "track.wav"
offset = {offset}

[audio.features.click]
kind = "onset"

[walk]
keys = [4, 17, 42, 8]
truncation = "0.5 + 0.5 * click"
"""


@pytest.fixture
def click_track(tmp_path):
    return write_wav(tmp_path / "track.wav", clicks(CLICKS, 4.0))


def _walk(tmp_path, fps=24, offset=0.0, extra="", name="walk.toml"):
    path = tmp_path / name
    path.write_text(WALK.format(fps=fps, offset=offset) + extra)
    return path


@pytest.mark.parametrize("fps", [24, 25, 30, 60])
@pytest.mark.parametrize("offset", [0.0, 0.37])
def test_a_click_drives_the_frame_at_its_time(tmp_path, click_track, fps, offset):
    """Through the recipe: truncation = 0.5 + 0.5 * click peaks at frame round((T - offset) * fps)
    for every click, within one frame, and stays low between clicks."""
    recipe = load_recipe(_walk(tmp_path, fps, offset))
    assert recipe.output.frames == round((4.0 - offset) * fps)      # duration = "audio"
    truncation = make_plan(recipe).columns["walk.truncation"]
    for time in CLICKS:
        expected = round((time - offset) * fps)
        window = truncation[max(0, expected - 3): expected + 4]
        peak = max(0, expected - 3) + int(np.argmax(window))
        assert abs(peak - expected) <= 1, (time, peak, expected)
        assert truncation[peak] > 0.9
    quiet = [round((a - offset) * fps + 0.25 * fps) for a in CLICKS]  # a quarter second after each click
    assert all(truncation[q] < 0.6 for q in quiet if q < len(truncation))


def test_the_frame_count_follows_the_track_from_its_offset(tmp_path, click_track):
    assert load_recipe(_walk(tmp_path, 25, 1.5)).output.frames == round(2.5 * 25)
    moved = WALK.replace('duration = "audio"\n', "").replace("offset = {offset}", 'offset = {offset}\nduration = "audio"')
    path = tmp_path / "audio-duration.toml"
    path.write_text(moved.format(fps=10, offset=0.0))
    assert load_recipe(path).output.frames == 40
    assert load_recipe(path, ["output.frames=7"]).output.frames == 7   # --set wins
    path.write_text(moved.replace("fps = {fps}", "fps = {fps}\nframes = 9").format(fps=10, offset=0.0))
    with pytest.raises(RecipeError, match="set twice"):
        load_recipe(path)


@pytest.mark.parametrize("change, message", [
    ('file = "track.wav"', 'file = "missing.wav"'),
    ("offset = 0.0", "offset = 9.0"),
    ('kind = "onset"', 'kind = "onsets"'),
    ('kind = "onset"', 'kind = "band"'),
    ('[audio.features.click]', '[audio.features.sin]'),
    ('"0.5 + 0.5 * click"', '"0.5 + 0.5 * clik"'),
])
def test_audio_mistakes_give_one_line(tmp_path, click_track, change, message):
    path = _walk(tmp_path)
    path.write_text(path.read_text().replace(change, message))
    done = subprocess.run([sys.executable, "-m", "render.cli", "validate", str(path)], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1, done.stderr
    line = done.stderr.strip()
    expected = {"missing.wav": "audio.file", "9.0": "audio.offset: 9 s is past the end",
                "onsets": "did you mean 'onset'", '"band"': "audio.features.click.low: missing",
                "sin]": "already a name", "clik": "did you mean 'click'"}
    assert any(key in message and words in line for key, words in expected.items()), line
    assert line.startswith(f"error: {path}:")


def _keys(path, *overrides):
    return frame_keys(make_plan(load_recipe(path, overrides)))


def test_a_new_take_of_the_track_re_renders_exactly_the_frames_it_changes(tmp_path):
    """Independent frames: a click added at 2.8 s changes the keys of the frames around it only; the
    same bytes under another name change nothing; a changed file under the same name is analysed
    again (the cache is keyed by content).  Raw values: a percentile normalisation over the whole
    track would rescale every frame a little when a click is added."""
    write_wav(tmp_path / "track.wav", clicks(CLICKS, 4.0))
    path = _walk(tmp_path, 25)
    path.write_text(path.read_text().replace('"0.5 + 0.5 * click"', '"clip(0.5 + 0.1 * click, 0, 2)"')
                    .replace('kind = "onset"', 'kind = "onset"\nnormalize = false'))
    before = _keys(path)
    shutil.copy(tmp_path / "track.wav", tmp_path / "copy.wav")
    assert _keys(path, 'audio.file="copy.wav"') == before
    write_wav(tmp_path / "track.wav", clicks(CLICKS + (2.8,), 4.0))
    after = _keys(path)
    changed = [i for i, (a, b) in enumerate(zip(before, after)) if a != b]
    assert changed and min(changed) >= round(2.8 * 25) - 2 and max(changed) <= round(2.8 * 25) + 8, changed


def test_chained_kinds_re_render_from_the_first_frame_the_music_changes(tmp_path):
    write_wav(tmp_path / "track.wav", clicks(CLICKS, 4.0))
    shutil.copy(CHELSEA, tmp_path / "chelsea.png")
    dream = TINY_RECIPE.replace("frames = 4", 'duration = "audio"').replace(
        "rotate = 1.0", 'rotate = "2 * click"') + '\n[audio]\nfile = "track.wav"\n[audio.features.click]\nkind = "onset"\nnormalize = false\n'
    path = tmp_path / "dream.toml"
    path.write_text(dream.replace('"2 * click"', '"clip(0.2 * click, -90, 90)"'))
    before = _keys(path)
    write_wav(tmp_path / "track.wav", clicks(CLICKS + (2.8,), 4.0))
    after = _keys(path)
    first = next(i for i, (a, b) in enumerate(zip(before, after)) if a != b)
    assert round(2.8 * 8) - 2 <= first <= round(2.8 * 8) + 1
    assert before[:first] == after[:first] and all(a != b for a, b in zip(before[first:], after[first:]))


def test_features_are_computed_once_per_track(tmp_path):
    """Loading, planning, keying and `render plan` of a recipe with two features and beats analyse
    each once; later loads read the cache; a new setting analyses again.  (A track no other test
    uses: the cache is shared by the whole test session.)"""
    write_wav(tmp_path / "track.wav", clicks(CLICKS + (3.71,), 4.0))
    extra = '\n[audio.features.loud]\nkind = "rms"\n'
    path = _walk(tmp_path, extra=extra)
    path.write_text(path.read_text().replace('truncation = "0.5 + 0.5 * click"',
                                             'truncation = "0.5 + 0.2 * click + 0.2 * loud + 0.01 * (b > 1)"'))
    audio.ANALYSES.reset()
    recipe = load_recipe(path)
    frame_keys(make_plan(recipe))
    format_plan(make_plan(recipe))
    assert audio.ANALYSES.count == 3          # click, loud, the beat times
    audio.clear_memory()
    frame_keys(make_plan(load_recipe(path)))
    assert audio.ANALYSES.count == 3          # from the disk cache
    load_recipe(path, ["audio.features.loud.release=0.2"])
    assert audio.ANALYSES.count == 4          # only the changed feature


def test_a_walk_changes_seed_exactly_on_the_beats(tmp_path):
    """position = floor(b / 2): the latent jumps to the next seed on the frame of every second beat
    (the beat times from the tracker, independently turned into frames) and nowhere else; with loop
    the fifth position is the first seed again, so that is a jump too."""
    y, _ = pulse(120.0, 6.0, first=0.25)
    write_wav(tmp_path / "track.wav", y)
    path = _walk(tmp_path, 24)
    path.write_text(path.read_text().replace('truncation = "0.5 + 0.5 * click"', 'position = "floor(b / 2)"\nloop = true'))
    recipe = load_recipe(path)
    latents = make_plan(recipe).columns["walk.latent"]
    jumps = [i for i in range(1, len(latents)) if not np.allclose(latents[i], latents[i - 1])]
    beats = audio.beat_times(audio.Track.open(tmp_path / "track.wav"))
    assert abs(np.median(np.diff(beats)) - 0.5) < 0.02          # the tracker found the 120 bpm pulse
    period = np.median(np.diff(beats))
    times = list(beats) + [beats[-1] + k * period for k in range(1, 4)]  # b goes on at the tempo after the last
    expected = [int(np.floor(t * 24 + 0.5)) for t in times[0::2]]   # the frame whose interval holds the beat
    expected = [e for e in expected if e < len(latents)]
    assert jumps == expected


def test_a_style_switches_and_a_dream_kicks_on_beats(tmp_path, click_track):
    """The mix of a style recipe written with square(b / 4) switches style on beats 0, 2, 4 ... (on
    the frame whose interval holds the beat) and a dream zoom written with an onset feature peaks on the clicks."""
    y, beat_seconds = pulse(120.0, 4.0, first=0.5)
    write_wav(tmp_path / "pulse.wav", y)
    shutil.copy(CHELSEA, tmp_path / "chelsea.png")
    style = """
kind = "style"
[output]
size = [64, 64]
fps = 10
duration = "audio"
[audio]
file = "pulse.wav"
[style]
content = "chelsea.png"
images = { a = "chelsea.png", b = "chelsea.png" }
mix.a = "square(b / 4)"
mix.b = "1 - square(b / 4)"
"""
    path = tmp_path / "style.toml"
    path.write_text(style)
    recipe = load_recipe(path)
    plan = make_plan(recipe)
    a = plan.columns["style.mix.a"]
    beats = audio.beat_times(audio.Track.open(tmp_path / "pulse.wav"))
    switches = [i for i in range(1, len(a)) if a[i] != a[i - 1]]
    expected = [int(np.floor(t * 10 + 0.5)) for t in beats[0::2] if t * 10 < len(a)]
    assert switches == expected and set(np.unique(a)) == {0.0, 1.0}

    dream = TINY_RECIPE.replace("frames = 4", 'duration = "audio"').replace(
        "zoom = { 0 = 1.0, 3 = 1.05 }", 'zoom = "1.0 + 0.05 * kick"') + \
        '\n[audio]\nfile = "track.wav"\n[audio.features.kick]\nkind = "onset"\n'
    path = tmp_path / "dream.toml"
    path.write_text(dream)
    zoom = make_plan(load_recipe(path)).columns["motion.zoom"]
    peaks = [i for i in range(1, len(zoom) - 1) if zoom[i] > 1.04 and zoom[i] >= zoom[i - 1] and zoom[i] >= zoom[i + 1]]
    assert [round(t * 8) for t in CLICKS] == [min(peaks, key=lambda p: abs(p - round(t * 8))) for t in CLICKS]
    assert all(min(abs(p - round(t * 8)) for t in CLICKS) <= 1 for p in peaks)


def test_plan_lists_features_with_ranges_and_plots_them(tmp_path, click_track):
    from render.plot import plot_plan
    path = _walk(tmp_path, 24, extra='\n[audio.features.notes]\nkind = "chroma"\n')
    recipe = load_recipe(path)
    text = format_plan(make_plan(recipe))
    assert "feature  click      onset" in text and "0 .. 1" in text
    assert "feature  notes" in text and "name[0] = C" in text
    assert "audio    track.wav (4.00 s" in text
    out = plot_plan(make_plan(recipe), tmp_path / "curves.png")
    from PIL import Image
    with Image.open(out) as image:
        assert image.size[0] > 600 and image.size[1] > 300


@pytest.mark.parametrize("name", ["music-zoom", "music-walk", "music-morph"])
def test_the_demo_recipes_use_the_shipped_track(name):
    recipe = load_recipe(REPO / "recipes" / f"{name}.toml")
    assert recipe.audio is not None and recipe.audio.path.name == "drums-and-bass.flac"
    assert recipe.output.frames == round(min(recipe.output.frames / recipe.output.fps,
                                             recipe.audio.duration) * recipe.output.fps)


def test_a_hit_at_zero_seconds_is_a_hit_and_the_first_beat(tmp_path):
    """The analysis hears silence before the track: a click at 0 s peaks on frame 0 and starts the
    beat count (b = 0 on frame 0), as it would anywhere else."""
    write_wav(tmp_path / "track.wav", clicks([0.0, 1.0, 2.0, 3.0, 4.0, 5.0], 6.0))
    path = _walk(tmp_path, 10)
    recipe = load_recipe(path, ['walk.position="floor(b)"', "walk.loop=true"])
    truncation = make_plan(recipe).columns["walk.truncation"]
    assert truncation[0] > 0.95 and truncation[1:5].max() < 0.6
    beats = audio.beat_times(audio.Track.open(tmp_path / "track.wav"))
    assert abs(beats[0]) < 0.02 and len(beats) == 6
    assert np.floor(audio.beat_position(audio.Track.open(tmp_path / "track.wav"), 60, 10.0))[0] == 0


def test_a_track_without_beats_has_no_invented_ones(tmp_path):
    """A steady tone: its onset stays near 0 after the start (noise is not stretched to full range),
    it has no beats, and an expression reading b says so in one line naming the key."""
    from tests.audio_signals import tone
    write_wav(tmp_path / "track.wav", tone(220.0, 4.0))
    path = _walk(tmp_path, 10)
    truncation = make_plan(load_recipe(path)).columns["walk.truncation"]
    assert truncation[3:].max() < 0.55
    assert len(audio.beat_times(audio.Track.open(tmp_path / "track.wav"))) == 0
    with pytest.raises(RecipeError) as err:
        load_recipe(path, ['walk.position="b / 4"'])
    assert err.value.key == "walk.position" and "0 beats" in err.value.message


def test_a_negative_offset_starts_the_track_later(tmp_path, click_track):
    recipe = load_recipe(_walk(tmp_path, 10, -1.0))
    assert recipe.output.frames == 50                                  # 1 s of silence + the 4 s track
    truncation = make_plan(recipe).columns["walk.truncation"]
    assert truncation[:10].max() == 0.5                                # nothing before the track starts
    assert int(np.argmax(truncation[10:20])) + 10 == round((0.5 + 1.0) * 10)   # the click at 0.5 s of the file
    assert "silence before the track starts" in format_plan(make_plan(recipe))


def test_a_device_is_not_an_audio_file(tmp_path):
    path = _walk(tmp_path)
    path.write_text(path.read_text().replace('file = "track.wav"', 'file = "/dev/zero"'))
    done = subprocess.run([sys.executable, "-m", "render.cli", "validate", str(path)], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 2 and "not a regular file" in done.stderr


def test_render_run_puts_the_recipes_track_in_its_video(tmp_path):
    """End to end through `render run` with a real [audio] table: the mp4 carries the track from the
    offset for the video's length, and `render inspect` says so."""
    from click.testing import CliRunner
    from render.cli import main
    from tests.test_soundtrack import assert_same_duration, decode
    write_wav(tmp_path / "track.wav", clicks((0.5, 1.2), 3.0))
    path = _walk(tmp_path, 8, 0.25).read_text().replace('video = "none"', 'video = "mp4"')
    (tmp_path / "walk.toml").write_text(path.replace("size = [64, 64]", "size = [32, 32]"))
    runner = CliRunner()
    result = runner.invoke(main, ["run", str(tmp_path / "walk.toml"), "--out", str(tmp_path / "run"), "--quiet"])
    assert result.exit_code == 0, result.output
    video = tmp_path / "run" / "walk.mp4"
    decoded = decode(video, tmp_path, side=32)
    assert decoded.audio_codec == "aac"
    assert_same_duration(decoded, 22, 8)                       # (3.0 - 0.25) s x 8 fps
    assert decoded.clicks() == [pytest.approx(0.25, abs=1 / 8), pytest.approx(0.95, abs=1 / 8)]
    shown = runner.invoke(main, ["inspect", str(video)]).output
    assert "sound       aac" in shown and "soundtrack track.wav from 0.25 s" in shown
