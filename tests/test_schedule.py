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
