"""Every kind of bad input gives one clear line naming file, key path and line; exit status 2."""

import subprocess
import sys

import pytest
from click.testing import CliRunner

from render.cli import main
from render.errors import RecipeError
from render.recipe import load_recipe
from tests.helpers import TINY_RECIPE


def error_of(path, overrides=()):
    with pytest.raises(RecipeError) as err:
        load_recipe(path, overrides)
    return err.value


def test_tiny_recipe_is_valid(write_recipe):
    recipe = load_recipe(write_recipe())
    assert recipe.output.size == (80, 48) and recipe.output.frames == 4
    assert [t.key for t in recipe.settings.targets] == ["block3_conv3", "block4_conv1:7"]
    assert recipe.settings.targets[1].channel == 7 and recipe.settings.tile == 64


def test_toml_syntax_error_names_the_line(write_recipe):
    err = error_of(write_recipe(TINY_RECIPE.replace("fps = 8", "fps = = 8")))
    assert err.line == 7 and "TOML syntax error" in str(err)
    assert str(err).startswith(str(err.file) + ":7:")


def test_unknown_key_suggests_the_right_one(write_recipe):
    err = error_of(write_recipe(TINY_RECIPE.replace("octave_scale", "octave_scael")))
    assert err.key == "dream.octave_scael" and err.line == 17
    assert "did you mean 'octave_scale'" in str(err)


def test_unknown_section(write_recipe):
    err = error_of(write_recipe(TINY_RECIPE.replace("[motion]", "[motoin]")))
    assert err.key == "motoin" and "did you mean 'motion'" in str(err) and err.line == 22


def test_wrong_type(write_recipe):
    err = error_of(write_recipe(TINY_RECIPE.replace("steps = 2", 'steps = "two"')))
    assert err.key == "dream.steps" and err.line == 18 and "number" in err.message


def test_out_of_range_value_and_keyframe(write_recipe):
    err = error_of(write_recipe(TINY_RECIPE.replace("fps = 8", "fps = -3")))
    assert err.key == "output.fps" and "out of range" in err.message
    err = error_of(write_recipe(TINY_RECIPE.replace("3 = 1.05", "3 = 7.0")))
    assert err.key == "motion.zoom.3" and err.line == 23 and "out of range" in err.message


def test_bad_keyframe_key(write_recipe):
    err = error_of(write_recipe(TINY_RECIPE.replace("3 = 1.05", "later = 1.05")))
    assert err.key == "motion.zoom.later" and "frame number" in err.message


def test_missing_and_unreadable_image(write_recipe, tmp_path):
    err = error_of(write_recipe(TINY_RECIPE.replace("chelsea.png", "nope.png")))
    assert err.key == "dream.init" and "not found" in err.message and err.line == 14
    (tmp_path / "broken.png").write_bytes(b"not an image")
    err = error_of(write_recipe(TINY_RECIPE.replace("chelsea.png", "broken.png")))
    assert err.key == "dream.init" and "cannot read image" in err.message


def test_unknown_layer_channel_and_model(write_recipe):
    err = error_of(write_recipe(TINY_RECIPE.replace("block3_conv3", "block3_conv4")))
    assert err.key == "dream.layers.block3_conv4" and "did you mean 'block3_conv3'" in str(err)
    err = error_of(write_recipe(TINY_RECIPE.replace("block4_conv1:7", "block4_conv1:512")))
    assert "channel 512 is out of range" in err.message
    err = error_of(write_recipe(TINY_RECIPE.replace('name = "vgg16"', 'name = "vgg_16"')))
    assert err.key == "model.name" and err.line == 11 and "did you mean 'vgg16'" in str(err)


def test_kind_missing_unknown_and_planned(write_recipe):
    assert error_of(write_recipe(TINY_RECIPE.replace('kind = "dream"', ""))).key == "kind"
    assert "did you mean 'dream'" in str(error_of(write_recipe(TINY_RECIPE.replace('"dream"', '"drem"'))))
    unknown = str(error_of(write_recipe(TINY_RECIPE.replace('"dream"', '"paint"'))))
    assert "unknown kind 'paint'" in unknown and "available: dream, style, translate, visualize, walk" in unknown


def test_frames_and_duration_conflict_and_an_odd_size_is_accepted(write_recipe):
    err = error_of(write_recipe(TINY_RECIPE.replace("frames = 4", 'frames = 4\nduration = "2s"')))
    assert err.key == "output.duration"
    odd = load_recipe(write_recipe(TINY_RECIPE.replace("[80, 48]", "[81, 47]")))  # mp4: padded when encoded
    assert odd.output.size == (81, 47) and odd.output.video == "mp4"


def test_set_overrides_are_validated_and_recorded(write_recipe):
    path = write_recipe()
    recipe = load_recipe(path, ["output.size=[32,32]", "output.duration='1s'", "model.name=vgg16"])
    assert recipe.output.size == (32, 32) and recipe.output.frames == 8  # 1 s at 8 fps replaces frames
    assert recipe.overrides == ("output.size=[32,32]", "output.duration='1s'", "model.name=vgg16")
    err = error_of(path, ["dream.steps=-1"])
    assert err.key == "dream.steps" and "set with --set" in str(err) and err.line is None
    assert error_of(path, ["dream.stepz=2"]).key == "dream.stepz"
    assert "key.path=VALUE" in str(error_of(path, ["nonsense"]))


def test_cli_reports_one_line_and_exit_2_without_traceback(write_recipe):
    path = write_recipe(TINY_RECIPE.replace("steps = 2", "steps = 2.5"))
    good = write_recipe(name="good.toml")
    result = CliRunner().invoke(main, ["validate", str(good), str(path)])
    assert result.exit_code == 2
    assert f"ok: {good}" in result.output
    assert f"{path}:18: dream.steps: must be a whole number" in result.output
    assert "Traceback" not in result.output
    for command in (["run", str(path)], ["plan", str(path)], ["encode", str(path)]):
        result = CliRunner().invoke(main, command)
        assert result.exit_code == 2, command
        assert result.output.strip().count("\n") == 0 and "dream.steps" in result.output


def test_validate_and_plan_never_import_tensorflow(write_recipe):
    path = write_recipe()
    code = ("import sys; from click.testing import CliRunner; from render.cli import main; "
            f"r = CliRunner().invoke(main, ['validate', {str(path)!r}]); assert r.exit_code == 0, r.output; "
            f"r = CliRunner().invoke(main, ['plan', {str(path)!r}]); assert r.exit_code == 0, r.output; "
            "assert 'tensorflow' not in sys.modules; print('clean')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0 and "clean" in out.stdout, out.stderr


def test_unclosed_table_at_the_end_points_at_the_last_line(write_recipe):
    err = error_of(write_recipe(TINY_RECIPE + "extra = [1, 2\n"))
    assert err.line == TINY_RECIPE.count("\n") + 1 and "Unclosed array" in err.message


def test_frames_smaller_than_the_model_accepts(write_recipe):
    text = TINY_RECIPE.replace('name = "vgg16"', 'name = "inceptionv3"').replace(
        '{ block3_conv3 = 1.0, "block4_conv1:7" = 0.5 }', "{ mixed3 = 1.0 }")
    err = error_of(write_recipe(text))
    assert err.key == "output.size" and "at least 75 px" in err.message


@pytest.mark.parametrize("fps, frames, refused", [("1e-9", 3, "out of range: must be >= 0.001"),
                                                  ("0.001", 3, None),        # a frame each 1000 s: 3000 s
                                                  ("0.001", 100, "last 1e+05 s; a video lasts at most 24 h"),
                                                  ("240", 100, None)])
def test_a_frame_rate_whose_video_no_container_holds_is_refused_naming_output_fps(write_recipe, fps, frames, refused):
    """ffmpeg failed after every frame was rendered (mp4 at 1e-9 fps) or wrote a GIF for hours; now
    the recipe is refused when it is read, in one line naming output.fps."""
    text = TINY_RECIPE.replace("fps = 8", f"fps = {fps}").replace("frames = 4", f"frames = {frames}")
    if refused is None:
        assert load_recipe(write_recipe(text)).output.fps == float(fps)
        return
    err = error_of(write_recipe(text))
    assert err.key == "output.fps" and refused in err.message and "\n" not in str(err), str(err)
