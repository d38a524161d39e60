"""The command line: every --help, plan output, a full tiny run with --set, preview, encode."""

import json

import pytest
from click.testing import CliRunner

from render.cli import main
from render.outputs.probe import probe_video

COMMANDS = ["run", "plan", "validate", "encode", "models", "gallery", "schema", "train", "print", "inspect", "farm"]


@pytest.mark.parametrize("command", [[]] + [[c] for c in COMMANDS])
def test_help_works_for_every_command(command):
    result = CliRunner().invoke(main, command + ["--help"])
    assert result.exit_code == 0 and "Usage:" in result.output


def test_plan_prints_the_per_frame_table(write_recipe):
    result = CliRunner().invoke(main, ["plan", str(write_recipe()), "--set", "output.frames=5"])
    assert result.exit_code == 0, result.output
    assert "frames   5 at 8 fps" in result.output and "memory   ~" in result.output
    assert "chained frames" in result.output and "motion.pan=[1,0]" in result.output
    header = next(l.split() for l in result.output.splitlines() if l.split()[:1] == ["frame"])
    assert header == ["frame", "motion.zoom"]
    rows = [l.split() for l in result.output.splitlines() if l.strip() and l.split()[0].isdigit()]
    assert [float(r[1]) for r in rows] == pytest.approx([1.0, 1.01666, 1.03333, 1.05, 1.05], abs=1e-4)
    assert "set      output.frames=5" in result.output


def test_models_lists_layers_and_downloads():
    result = CliRunner().invoke(main, ["models"])
    assert "vgg16: " in result.output and "works offline" in result.output
    assert "inceptionv3-imagenet" in result.output and "needs a download" in result.output
    assert "mixed5[768]" in result.output


def test_run_with_overrides_records_them_and_encodes(write_recipe, tmp_path):
    out = tmp_path / "out"
    args = ["run", str(write_recipe()), "--out", str(out), "--quiet", "--set", "output.size=[48,32]",
            "--set", "output.frames=2", "--set", "dream.steps=1"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    meta = json.loads((out / "run.json").read_text())
    assert meta["overrides"] == ["output.size=[48,32]", "output.frames=2", "dream.steps=1"]
    facts = probe_video(out / "tiny.mp4")
    assert (facts.width, facts.height, facts.frames) == (48, 32, 2)
    loud = [a for a in args if a != "--quiet"] + ["--set", "output.quality=30"]  # video settings: no re-render
    again = CliRunner().invoke(main, loud)
    assert again.exit_code == 0 and "0 frames rendered, 2 reused" in again.output, again.output
    preview = CliRunner().invoke(main, ["run", str(write_recipe()), "--out", str(out), "--preview",
                                        "--set", "output.frames=1"])
    assert preview.exit_code == 0, preview.output
    assert (tmp_path / "out-preview" / "frames" / "frame_000000.png").exists()
    assert "1 frames rendered" in preview.output
    encoded = CliRunner().invoke(main, ["encode", str(write_recipe()), "--out", str(out), "--video", "gif",
                                        "--set", "output.size=[48,32]", "--set", "output.frames=2",
                                        "--set", "dream.steps=1"])
    assert encoded.exit_code == 0, encoded.output
    assert probe_video(out / "tiny.gif").frames == 2


def test_bad_frame_range_is_a_usage_error(write_recipe):
    result = CliRunner().invoke(main, ["run", str(write_recipe()), "--frames", "9-3"])
    assert result.exit_code == 2 and "--frames" in result.output


def test_gallery_goes_on_past_a_broken_recipe_and_reuses_on_a_second_run(tmp_path, monkeypatch):
    walk = ('kind = "walk"\n[output]\nsize = [32, 32]\nvideo = "{video}"\n[model]\nprecision = "float32"\n'
            '[walk]\nkeys = [1, 2]\nframes_per_key = 2\n')
    (tmp_path / "recipes").mkdir()
    (tmp_path / "recipes" / "a.toml").write_text(walk.format(video="gif"))
    (tmp_path / "recipes" / "b.toml").write_text(walk.format(video="gif").replace("keys = [1, 2]", "keys = [1]"))
    (tmp_path / "recipes" / "c.toml").write_text(walk.format(video="none").replace("frames_per_key = 2", "poster = true"))
    monkeypatch.chdir(tmp_path)
    first = CliRunner().invoke(main, ["gallery", "--quiet"])
    assert first.exit_code == 1, first.output
    lines = {l.split()[0]: l for l in first.output.splitlines() if l.startswith("recipes/")}
    assert "rendered" in lines["recipes/a.toml"] and "rendered" in lines["recipes/c.toml"]
    assert "failed" in lines["recipes/b.toml"] and "walk.keys: a walk needs at least two seeds" in lines["recipes/b.toml"]
    assert (tmp_path / "gallery" / "a.gif").exists() and (tmp_path / "gallery" / "c.png").exists()
    assert "3 recipes: 2 rendered, 0 reused, 1 failed" in first.output
    again = CliRunner().invoke(main, ["gallery", "--quiet", "recipes/a.toml", "recipes/c.toml"])
    assert again.exit_code == 0 and "2 recipes: 0 rendered, 2 reused, 0 failed" in again.output, again.output
