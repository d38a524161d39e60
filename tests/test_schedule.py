import numpy as np
import pytest

from render.schedule import KeyframeError, Keyframes, parse_keyframes


def test_constant_expands_to_every_frame():
    assert parse_keyframes(1.5, fps=30).expand(4).tolist() == [1.5] * 4


def test_linear_between_frame_keys_and_holds_outside():
    kf = parse_keyframes({"2": 1.0, "6": 3.0}, fps=30)
    assert kf.expand(9).tolist() == [1.0, 1.0, 1.0, 1.5, 2.0, 2.5, 3.0, 3.0, 3.0]


def test_time_keys_use_fps():
    kf = parse_keyframes({"0s": 0.0, "0.5s": 10.0}, fps=8)  # 0.5 s = frame 4
    assert kf.expand(6).tolist() == [0.0, 2.5, 5.0, 7.5, 10.0, 10.0]


def test_step_holds_until_the_next_key():
    kf = parse_keyframes({"0": 10, "1": 3, "4": 5, "interp": "step"}, fps=1)
    assert kf.expand(6).tolist() == [10, 3, 3, 3, 5, 5]


def test_smooth_is_smoothstep():
    kf = parse_keyframes({"0": 0.0, "4": 1.0, "interp": "smooth"}, fps=1)
    # u = 0.25 -> 3u^2 - 2u^3 = 0.15625; u = 0.5 -> 0.5; u = 0.75 -> 0.84375
    np.testing.assert_allclose(kf.expand(5), [0.0, 0.15625, 0.5, 0.84375, 1.0])


def test_cubic_passes_through_keys_with_finite_difference_tangents():
    kf = parse_keyframes({"0": 0.0, "2": 2.0, "4": 0.0, "interp": "cubic"}, fps=1)
    values = kf.expand(5)
    assert values[[0, 2, 4]].tolist() == [0.0, 2.0, 0.0]
    # segment 0..2: p0=0, p1=2, tangents (scaled by h=2): m0 = 1*2 = 2, m1 = 0
    # at u=0.5: h00=0.5, h10=0.125, h01=0.5, h11=-0.125 -> 0 + 0.25 + 1.0 + 0 = 1.25
    assert values[1] == pytest.approx(1.25)
    assert values[3] == pytest.approx(1.25)


def test_bad_tables_name_the_subkey():
    with pytest.raises(KeyframeError) as err:
        parse_keyframes({"0": 1.0, "soon": 2.0}, fps=1)
    assert err.value.subkey == "soon"
    with pytest.raises(KeyframeError) as err:
        parse_keyframes({"0": 1.0, "interp": "bouncy"}, fps=1)
    assert err.value.subkey == "interp"
    with pytest.raises(KeyframeError):
        parse_keyframes({"0": 1.0, "0s": 2.0}, fps=1)


def test_map_keeps_keys():
    kf = Keyframes(((0.0, 2.0), (4.0, 4.0)), "linear").map(lambda v: v / 2)
    assert kf.expand(5).tolist() == [1.0, 1.25, 1.5, 1.75, 2.0]


# --- cyclic, vector and text schedules ---------------------------------------------------------

from render.schedule import (StackedKeyframes, TextSchedule, VectorKeyframes, parse_text_schedule,
                             parse_vector_keyframes, slerp)


def test_cyclic_numbers_flow_back_to_the_first_key():
    kf = parse_keyframes({"0": 0.0, "4": 4.0, "cycle": True}, fps=1)
    # period = 8 frames: 0 -> 4 over frames 0..4, then back 4 -> 0 over frames 4..8
    assert kf.expand(8).tolist() == [0.0, 1.0, 2.0, 3.0, 4.0, 3.0, 2.0, 1.0]
    assert kf.at([8.0, 9.0], period=8).tolist() == [0.0, 1.0]  # after the last frame: frame 0 again
    smooth = parse_keyframes({"2": 1.0, "5": 3.0, "interp": "cubic", "cycle": True}, fps=1)
    values = smooth.at(np.arange(0, 17), period=8)
    np.testing.assert_allclose(values[:8], values[8:16])  # periodic, including before the first key
    assert values[2] == 1.0 and values[5] == 3.0


def test_vector_interpolations_by_hand():
    lin = parse_vector_keyframes({"0": [0.0, 10.0], "4": [4.0, 2.0]}, fps=1)
    np.testing.assert_allclose(lin.expand(5), [[0, 10], [1, 8], [2, 6], [3, 4], [4, 2]])
    step = parse_vector_keyframes({"0": [0.0, 1.0], "2": [5.0, 6.0], "interp": "step"}, fps=1)
    np.testing.assert_allclose(step.expand(3), [[0, 1], [0, 1], [5, 6]])
    smooth = parse_vector_keyframes({"0": [0.0, 0.0], "4": [1.0, 2.0], "interp": "smooth"}, fps=1)
    np.testing.assert_allclose(smooth.expand(5)[1], [0.15625, 0.3125])
    # slerp a quarter turn: x-axis to y-axis, halfway is (cos 45, sin 45)
    turn = parse_vector_keyframes({"0": [1.0, 0.0], "2": [0.0, 1.0], "interp": "slerp"}, fps=1)
    np.testing.assert_allclose(turn.expand(3)[1], [np.sqrt(0.5), np.sqrt(0.5)], atol=1e-12)
    assert VectorKeyframes.constant([1.0, 2.0]).expand(3).shape == (3, 2)


def test_slerp_stays_on_the_sphere_and_between_the_norms():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(1, 50)), rng.normal(size=(1, 50))
    u = np.linspace(0, 1, 33)
    unit = slerp(np.repeat(a / np.linalg.norm(a), 33, 0), np.repeat(b / np.linalg.norm(b), 33, 0), u)
    np.testing.assert_allclose(np.linalg.norm(unit, axis=1), 1.0, atol=1e-12)
    path = slerp(np.repeat(a, 33, 0), np.repeat(3 * b, 33, 0), u)
    norms = np.linalg.norm(path, axis=1)
    low, high = sorted([np.linalg.norm(a), np.linalg.norm(3 * b)])
    assert np.all(norms >= low - 1e-9) and np.all(norms <= high + 1e-9)
    np.testing.assert_allclose(path[0], a[0]) and np.testing.assert_allclose(path[-1], 3 * b[0])
    # its steps along the arc are even (constant angular speed), unlike lerp's
    directions = path / norms[:, None]
    angles = np.arccos(np.clip(np.sum(directions[1:] * directions[:-1], axis=1), -1, 1))
    np.testing.assert_allclose(angles, angles.mean(), rtol=1e-6)


def test_cyclic_vector_value_after_the_last_key_equals_the_first():
    kf = parse_vector_keyframes({"0": [1.0, 0.0, 0.0], "3": [0.0, 1.0, 0.0], "6": [0.0, 0.0, 1.0],
                                 "interp": "slerp", "cycle": True}, fps=1)
    values = kf.at(np.arange(0, 10), period=9)
    np.testing.assert_allclose(values[9], values[0])
    np.testing.assert_allclose(np.linalg.norm(values, axis=1), 1.0)
    assert not np.allclose(values[8], values[6])  # frames 6..9 travel back toward the first key


def test_text_schedules_switch_at_keys_and_cycle():
    text = parse_text_schedule({"0": "a.png", "2s": "b.png"}, fps=2)
    assert text.expand(6) == ("a.png", "a.png", "a.png", "a.png", "b.png", "b.png")
    cyc = parse_text_schedule({"1": "a", "3": "b", "cycle": True}, fps=1)
    assert cyc.expand(5) == ("b", "a", "a", "b", "b")  # frame 0 is frame 5 of the previous loop
    assert TextSchedule.constant("x").expand(2) == ("x", "x")
    with pytest.raises(KeyframeError) as err:
        parse_text_schedule({"0": "a", "interp": "linear"}, fps=1)
    assert err.value.subkey == "interp"


def test_vector_schedule_errors_name_the_key():
    with pytest.raises(KeyframeError) as err:
        parse_vector_keyframes({"0": [1.0, 2.0], "5": [1.0]}, fps=1)
    assert err.value.subkey == "5"
    with pytest.raises(KeyframeError) as err:
        parse_vector_keyframes({"0": [1.0, 2.0], "interp": "bouncy"}, fps=1)
    assert err.value.subkey == "interp"


def test_stacked_components_are_scheduled_separately():
    stacked = StackedKeyframes((parse_keyframes(1.0, 1), parse_keyframes({"0": 0.0, "2": 2.0}, 1)))
    np.testing.assert_allclose(stacked.expand(3), [[1, 0], [1, 1], [1, 2]])


def test_vector_cubic_passes_through_every_key():
    kf = parse_vector_keyframes({"0": [0.0, 0.0], "2": [2.0, -2.0], "4": [0.0, 0.0], "interp": "cubic"}, fps=1)
    values = kf.expand(5)
    np.testing.assert_allclose(values[[0, 2, 4]], [[0, 0], [2, -2], [0, 0]])
    np.testing.assert_allclose(values[1], [1.25, -1.25])  # the scalar spline's value, per component
