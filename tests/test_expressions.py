"""Expressions in schedules: values against independent numpy formulas at every frame, keyframes
holding expressions, refusals (one line, exit status 2), range checks, and frame keys that change
exactly where an expression's values do."""

from __future__ import annotations

import math
import subprocess
import sys
import time

import numpy as np
import pytest

from render.errors import RecipeError
from render.expressions import ExpressionError, bind, compile_expression
from render.framekeys import frame_keys
from render.plan import make_plan
from render.recipe import load_recipe
from render.schedule import Keyframes
from render.signals import Signals
from tests.helpers import TINY_RECIPE

WALK = """\
kind = "walk"
seed = 2

[output]
size = [64, 64]
frames = 24
fps = 12
video = "none"

[walk]
keys = [4, 17, 42, 8]
frames_per_key = 8
truncation = 0.8
"""


def values(text: str, frames: int = 48, fps: float = 12.0) -> np.ndarray:
    return bind(text, Signals(fps)).evaluate(frames)


def test_expressions_match_numpy_at_every_frame():
    f = np.arange(48, dtype=np.float64)
    t = f / 12.0
    np.testing.assert_allclose(values("0.3 * sin(2 * pi * t / 8)"), 0.3 * np.sin(2 * np.pi * t / 8))
    np.testing.assert_allclose(values("1.01 + 0.04 * (f % 6 == 0)"), 1.01 + 0.04 * (f % 6 == 0))
    np.testing.assert_allclose(values("clip(t - 1, 0, 1.5)"), np.clip(t - 1, 0, 1.5))
    u = np.clip((t - 1) / 2, 0, 1)
    np.testing.assert_allclose(values("smoothstep(1, 3, t)"), u * u * (3 - 2 * u))
    np.testing.assert_allclose(values("tri(t / 2)"), 1 - np.abs(2 * ((t / 2) % 1) - 1))
    np.testing.assert_allclose(values("square(t, 0.25)"), ((t % 1) < 0.25).astype(float))
    np.testing.assert_allclose(values("2 if f > 10 and f < 20 else -1"), np.where((f > 10) & (f < 20), 2, -1))
    np.testing.assert_allclose(values("max(t, 1, 2 - t)"), np.maximum(np.maximum(t, 1), 2 - t))
    np.testing.assert_allclose(values("f / frames"), f / 48)
    np.testing.assert_allclose(values("t * fps"), f)
    noise = values("noise(t)")
    assert noise.min() >= 0 and noise.max() <= 1 and np.abs(np.diff(noise)).max() < 0.3  # smooth
    np.testing.assert_allclose(values("noise(3)"), values("noise(3)"))  # the same every time


def test_keyframes_may_hold_expressions_and_blend_them_frame_by_frame():
    signals = Signals(10.0)
    wobble = bind("2 + sin(t)", signals)
    f = np.arange(30, dtype=np.float64)
    expected_wobble = 2 + np.sin(f / 10)
    linear = Keyframes(((0.0, 1.0), (20.0, wobble)), "linear").expand(30)
    u = np.clip(f / 20, 0, 1)
    np.testing.assert_allclose(linear, 1.0 + (expected_wobble - 1.0) * u)
    assert linear[0] == 1.0 and np.allclose(linear[20:], expected_wobble[20:])  # after the last key: the expression


@pytest.mark.parametrize("interp", ["step", "linear", "smooth", "cubic"])
@pytest.mark.parametrize("cycle", [False, True])
def test_constant_expressions_interpolate_exactly_like_numbers(interp, cycle):
    """A key holding the expression "2.5" gives what the number 2.5 gives, for every interpolation."""
    signals = Signals(8.0)
    numbers = ((0.0, 1.0), (5.0, 2.5), (9.0, -1.0), (14.0, 0.5))
    mixed = tuple((k, bind(repr(v), signals) if i % 2 else v) for i, (k, v) in enumerate(numbers))
    plain = Keyframes(numbers, interp, cycle).expand(20)
    dynamic = Keyframes(mixed, interp, cycle)
    assert dynamic.dynamic
    np.testing.assert_allclose(dynamic.expand(20), plain, atol=1e-12)


def test_integer_fields_round_expressions(write_recipe):
    recipe = load_recipe(write_recipe(TINY_RECIPE.replace("steps = 2", 'steps = "1.4 + f / 2"')))
    np.testing.assert_array_equal(make_plan(recipe).columns["dream.steps"], np.round(1.4 + np.arange(4) / 2))


@pytest.mark.parametrize("text, words", [
    ("__import__('os')", "unknown function '__import__'"),
    ("t.real", "attribute access (t.real) is not allowed"),
    ("(lambda: 1)()", "lambdas are not allowed"),
    ("[x for x in (1, 2)]", "comprehensions are not allowed"),
    ("9**9**9", "gives inf at frame 0: power too large: 9 ** 387420489"),
    ("10 ** 400", "gives inf at frame 0: power too large: 10 ** 400"),
    ("(-8) ** (1/3)", "gives nan at frame 0: (-8) ** 0.3333333333 has no real value"),
    ("'a' * 10", "only numbers"),
    ("zom + 1", "unknown name 'zom'"),
    ("sinn(t)", "did you mean 'sin'"),
    ("b / 4", "b counts the beats of a soundtrack"),
    ("1 +", "not a valid expression"),
    ("log(t)", "gives -inf at frame 0"),
    ("0.5 + 0 * (" + "+".join(["t"] * 500) + ")", "nested too deeply"),
    ("-" * 400 + "t", "nested too deeply"),
    ("frame / 8", "did you mean 'f'"),
])
def test_refused_expressions_give_one_line_with_file_line_and_key(write_recipe, text, words):
    path = write_recipe(TINY_RECIPE.replace("rotate = 1.0", f'rotate = "{text}"'))
    done = subprocess.run([sys.executable, "-m", "render.cli", "validate", str(path)], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr
    assert lines[0].startswith(f"error: {path}:24: motion.rotate: ") and words in lines[0], lines[0]


def test_unknown_name_suggests_a_feature_or_name():
    with pytest.raises(ExpressionError, match="did you mean 'fps'"):
        compile_expression("fsp * 2", Signals(12.0))


def test_expression_values_are_range_checked_with_the_frame(write_recipe):
    path = write_recipe(TINY_RECIPE.replace("zoom = { 0 = 1.0, 3 = 1.05 }", 'zoom = "1 + 0.5 * f"'))
    with pytest.raises(RecipeError) as err:
        load_recipe(path)
    assert err.value.key == "motion.zoom" and err.value.line == 23
    assert "gives 2.5 at frame 3" in err.value.message and "<= 2" in err.value.message
    assert load_recipe(path, ['motion.zoom="clip(1 + 0.5 * f, 0.5, 2)"']).output.frames == 4


def test_non_keyframed_keys_say_they_take_no_expression(write_recipe):
    with pytest.raises(RecipeError, match="not keyframed"):
        load_recipe(write_recipe(TINY_RECIPE.replace("tile = 40", 'tile = "40 + f"')))


def test_vector_components_may_be_expressions(write_recipe):
    recipe = load_recipe(write_recipe(TINY_RECIPE.replace("pan = [1.0, 0.0]", 'pan = ["2 * cos(t)", 0.5]')))
    pan = make_plan(recipe).columns["motion.pan"]
    np.testing.assert_allclose(pan[:, 0], 2 * np.cos(np.arange(4) / 8))
    np.testing.assert_allclose(pan[:, 1], 0.5)


def _keys(path, *overrides):
    return frame_keys(make_plan(load_recipe(path, overrides)))


def _changed(a, b):
    return [i for i, (x, y) in enumerate(zip(a, b)) if x != y]


def test_independent_frames_change_exactly_where_the_expression_does(write_recipe):
    path = write_recipe(WALK, "walk.toml")
    before = _keys(path, 'walk.truncation="0.8"')
    assert before == _keys(path)  # an expression giving the same values as the number: same keys
    after = _keys(path, 'walk.truncation="0.8 + 0.1 * (f >= 10 and f < 13)"')
    assert _changed(before, after) == [10, 11, 12]


def test_chained_frames_change_from_the_first_frame_whose_value_changed(write_recipe):
    path = write_recipe(TINY_RECIPE.replace("frames = 4", "frames = 8"))
    before = _keys(path, 'motion.rotate="1.0"')
    after = _keys(path, 'motion.rotate="1.0 + 0.5 * (f == 5)"')
    assert _changed(before, after) == [5, 6, 7]


def test_walk_position_puts_each_frame_on_the_path_in_key_units(write_recipe):
    """position = floor(f / 3): frames 0-2 are exactly the first seed's latent, 3-5 the second's...;
    with loop the fifth key (position 4) is the first again."""
    from render.engines.geometry import key_latent
    path = write_recipe(WALK.replace("truncation = 0.8", 'position = "floor(f / 3)"\nloop = true'), "walk.toml")
    latents = make_plan(load_recipe(path)).columns["walk.latent"]
    seeds = [4, 17, 42, 8]
    for frame in range(24):
        expected = key_latent(seeds[(frame // 3) % 4], 0, 100)
        np.testing.assert_allclose(latents[frame], expected, atol=1e-9, err_msg=f"frame {frame}")


def test_walk_position_halfway_is_the_slerp_midpoint(write_recipe):
    from render.engines.geometry import key_latent
    from render.schedule import slerp
    path = write_recipe(WALK.replace("truncation = 0.8", 'position = "0.5 + f - f"'), "walk.toml")
    latent = make_plan(load_recipe(path)).columns["walk.latent"][7]
    a, b = key_latent(4, 0, 100)[None], key_latent(17, 0, 100)[None]
    np.testing.assert_allclose(latent, slerp(a, b, np.array([0.5]))[0], atol=1e-9)


def test_seed_ranges(write_recipe):
    recipe = load_recipe(write_recipe(WALK.replace("keys = [4, 17, 42, 8]", 'keys = "4, 17, 40-42"'), "walk.toml"))
    assert [seed for _, seed in recipe.settings.keys] == [4, 17, 40, 41, 42]
    with pytest.raises(RecipeError, match="runs backwards"):
        load_recipe(write_recipe(WALK.replace("keys = [4, 17, 42, 8]", 'keys = "9-3"'), "walk.toml"))


def test_constants_are_floats_so_nothing_overflows_slowly():
    assert values("2 ** 64 * 2 ** 64 * 1e300 > 0", 3).tolist() == [1.0, 1.0, 1.0]  # inf > 0, no hang
    with pytest.raises(ExpressionError, match="gives inf"):
        values("2 ** 64 * 2 ** 64 * 1e300", 3)
    assert math.isclose(values("pi", 1)[0], math.pi)


def test_a_multi_line_expression_reads_as_one_line(write_recipe):
    text = TINY_RECIPE.replace("rotate = 1.0", 'rotate = """\n    0.5\n      + 0.25 * f\n"""')
    np.testing.assert_allclose(make_plan(load_recipe(write_recipe(text))).columns["motion.rotate"],
                               0.5 + 0.25 * np.arange(4))


def test_plot_needs_a_picture_suffix_and_an_existing_folder(write_recipe, tmp_path):
    from click.testing import CliRunner
    from render.cli import main
    path = write_recipe()
    for target, words in ((tmp_path / "curves.txt", "draw to a .png"), (tmp_path / "no" / "c.png", "does not exist")):
        result = CliRunner().invoke(main, ["plan", str(path), "--plot", str(target)])
        assert result.exit_code == 2 and words in result.output and "Traceback" not in result.output


def test_powers_people_write_work_at_any_exponent(write_recipe):
    """No fixed exponent limit: a decay over a long clip reaches exponents in the hundreds."""
    f = np.arange(600, dtype=np.float64)
    np.testing.assert_allclose(values("0.97 ** f", 600, 30.0), 0.97 ** f, rtol=1e-15, atol=0)
    np.testing.assert_allclose(values("2 ** (f / 10)", 600, 30.0), 2 ** (f / 10), rtol=1e-15, atol=0)
    np.testing.assert_allclose(values("2 ** -f", 600), 2.0 ** -f, rtol=1e-15, atol=0)
    path = write_recipe(TINY_RECIPE.replace("zoom = { 0 = 1.0, 3 = 1.05 }", 'zoom = "1 + 0.05 * 0.97 ** f"'))
    zoom = make_plan(load_recipe(path, ["output.frames=600"])).columns["motion.zoom"]
    np.testing.assert_allclose(zoom, 1 + 0.05 * 0.97 ** f, rtol=1e-15, atol=0)
    # a large but finite power is a value like any other: the key's range decides
    with pytest.raises(RecipeError, match=r"gives 1\.0715\d*e\+301 at frame 0, out of range"):
        load_recipe(path, ['motion.zoom="2 ** 1000"'])


@pytest.mark.parametrize("text, words", [
    ("9**9**9", "power too large: 9 ** 387420489 is beyond float64"),
    ("10 ** 400", "power too large: 10 ** 400"),
    ("1.5 ** (f * 10)", "gives inf at frame 176: power too large: 1.5 ** 1760"),  # 1.5 ** 1750 is finite
    ("(-8) ** (1/3)", "(-8) ** 0.3333333333 has no real value (a negative number to a fractional power)"),
    ("(f - 3) ** 0.5", "gives nan at frame 0: (-3) ** 0.5 has no real value"),
    ("0 ** (f - 2)", "gives inf at frame 0: 0 ** -2 is a division by zero"),
])
def test_runaway_powers_are_refused_quickly_naming_the_frame_and_the_power(text, words):
    started = time.perf_counter()
    with pytest.raises(ExpressionError) as err:
        values(text, 600, 30.0)
    assert time.perf_counter() - started < 0.25   # one float64 power: no big-integer arithmetic
    message = str(err.value)
    assert words in message and "\n" not in message, message


def test_a_power_in_a_branch_not_taken_is_no_error():
    np.testing.assert_allclose(values("(f - 3) ** 0.5 if f >= 3 else 0", 6), [0, 0, 0, 0, 1, 2 ** 0.5])
    np.testing.assert_allclose(values("where(f > 3, 10 ** (1200 / f), 1)", 6), [1, 1, 1, 1, 1e300, 1e240])
    with pytest.raises(ExpressionError, match=r"gives inf at frame 1: power too large: 10 \*\* 400"):
        values("where(f > 0, 10 ** (400 / f), 0)", 3)
