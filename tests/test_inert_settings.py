"""Settings that do nothing with the rest of the recipe say so once, as a note naming file, line and
key, and `render plan` leaves their columns out; the same settings left at their defaults say nothing."""

from __future__ import annotations


import pytest
from click.testing import CliRunner
from PIL import Image

from render.graph import load_graph
from tests.helpers import write

DREAM = """\
kind = "dream"
[output]
size = [64, 64]
frames = 3
[dream]
{source}
layers = {{ block3_conv1 = 1.0 }}
{extra}
"""


@pytest.fixture
def footage(tmp_path):
    folder = tmp_path / "frames"
    folder.mkdir()
    for i in range(3):
        Image.new("RGB", (64, 64), (60 * i, 90, 200)).save(folder / f"f{i}.png")
    return folder


CASES = {  # recipe text -> the notes it must give, as "line: key"
    "dream without source": (DREAM.format(source='init = "noise"', extra="blend = 0.3\nsteps_per_frame = 2\n"
                                          "[flow]\npreset = \"fast\"\n"),
                             ["8: dream.blend", "9: dream.steps_per_frame", "10: flow"]),
    "dream over footage": (DREAM.format(source='source = "frames"', extra="color_coherence = 0.2\n"
                                        "[motion]\nzoom = 1.02\n"),
                           ["8: dream.color_coherence", "9: motion"]),
    "dream defaults": (DREAM.format(source='source = "frames"', extra=""), []),
    "dream footage from noise": (DREAM.format(source='source = "frames"\ninit = "noise"', extra=""), ["7: dream.init"]),
    "style still": ('kind = "style"\n[output]\nsize = [64, 64]\n[style]\ncontent = "frames/f0.png"\n'
                    'images = { a = "frames/f1.png" }\ncarry = 0.5\n', ["7: style.carry"]),
    "style footage": ('kind = "style"\n[output]\nsize = [64, 64]\n[style]\ncontent = "frames"\n'
                      'images = { a = "frames/f1.png" }\ncarry = 0.5\n[motion]\nrotate = 1.0\n', ["8: motion"]),
    "walk position": ('kind = "walk"\n[output]\nsize = [64, 64]\nframes = 8\n[walk]\nkeys = [1, 2, 3]\n'
                      'frames_per_key = 4\nposition = "f / 4"\n', ["7: walk.frames_per_key"]),
    "walk position, length from keys": ('kind = "walk"\n[output]\nsize = [64, 64]\n[walk]\nkeys = [1, 2, 3]\n'
                                        'frames_per_key = 4\nposition = "f / 4"\n', []),
    "atlas": ('kind = "visualize"\n[output]\nsize = [64, 64]\n[visualize]\nobjective = { "block4_conv1:3" = 1.0 }\n'
              '[visualize.atlas]\nlayer = "block1_conv1"\nchannels = 4\ncolumns = 2\n', ["5: visualize.objective"]),
}


@pytest.mark.parametrize("case", CASES, ids=list(CASES))
def test_a_setting_that_does_nothing_gets_one_note_with_its_line(case, tmp_path, footage, notes):
    text, expected = CASES[case]
    path = write(tmp_path, f"{case.replace(' ', '-').replace(',', '')}.toml", text)
    load_graph(path)
    load_graph(path)   # loaded again (the gallery loads each recipe twice): still once
    said = [n for n in notes if "does nothing here" in n]
    assert sorted(n.split(": does nothing here")[0] for n in said) == sorted(f"{path}:{e}" for e in expected), said


def plan_lines(main, path) -> str:
    ran = CliRunner().invoke(main, ["plan", str(path)])
    assert ran.exit_code == 0, ran.output
    return "\n".join(line for line in ran.output.splitlines() if not line.startswith("note:"))


def test_plan_leaves_out_the_columns_of_settings_that_do_nothing(tmp_path, footage):
    from render.cli import main
    still = write(tmp_path, "still.toml", DREAM.format(source='init = "noise"', extra="blend = 0.3\n"))
    shown = plan_lines(main, still)
    assert "dream.blend" not in shown and "dream.steps_per_frame" not in shown and "motion.zoom=1" in shown, shown
    moving = write(tmp_path, "moving.toml", DREAM.format(source='source = "frames"', extra=""))
    shown = plan_lines(main, moving)
    assert "motion." not in shown and "dream.color_coherence" not in shown and "dream.blend=0.6" in shown, shown


def test_notes_come_in_line_order_and_a_set_value_says_so(tmp_path, footage, notes):
    text = DREAM.format(source='source = "frames"', extra="color_coherence = 0.2\n[motion]\nzoom = 1.02\n")
    path = write(tmp_path, "ordered.toml", text.replace("[motion]\nzoom = 1.02\n", "") + "[motion]\nzoom = 1.02\n")
    load_graph(path, ["dream.init=\"noise\""])
    said = [n for n in notes if "does nothing here" in n]
    assert [n.split(": does nothing")[0] for n in said] == [f"{path}:8: dream.color_coherence", f"{path}:10: motion",
                                                            f"{path}: dream.init"], said
    assert said[-1].endswith("(set with --set)") and not said[0].endswith("(set with --set)")
