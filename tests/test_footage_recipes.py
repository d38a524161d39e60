"""Recipes as footage (issue 17): a translate (or style) recipe whose input is another recipe's frames.

The upstream is the cheapest recipe there is, a 7-frame walk of the embedded face generator at 64x64;
the downstream translates it with edges2faces, which renders each frame from its own input alone, so
equal output pixels say "this frame was made from that upstream frame".  Checked: the order (frame i
of the downstream is made from upstream frame i, the last one held), frame keys (editing the upstream
from frame k re-renders the downstream from frame k only; an unchanged rerun renders nothing), cycles
(one line naming the chain), one `render run` rendering the missing upstream frames first, and a run
killed inside the upstream resuming to the same bytes.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from render.errors import RecipeError
from render.framekeys import frame_keys
from render.graph import load_graph, render_graph
from render.media.pictures import load_picture
from render.plan import make_plan
from render.recipe import load_recipe
from render.runner import render
from render.store import RunStore
from tests.helpers import REPO, frame_bytes, pixels, write

WALK = """\
kind = "walk"
seed = 11
[output]
size = [64, 64]
fps = 12
video = "none"
[model]
precision = "float32"
[walk]
keys = [4, 17, 42, 7]
frames_per_key = 2
batch = 8
"""

TRANSLATE = """\
kind = "translate"
[output]
size = [64, 48]
video = "none"
[model]
name = "edges2faces"
precision = "float32"
[translate]
input = {input}
batch = 8
"""

STYLE = """\
kind = "style"
[output]
size = [64, 48]
video = "none"
[style]
content = { recipe = "walk.toml" }
images = { a = "a.png" }
steps = 0
steps_per_frame = 0
scales = [1.0]
"""

UPSTREAM = '{ recipe = "walk.toml", out = "walk-run" }'


def run(path, out, overrides=()):
    """``render run`` of ``path`` into ``out``: the graph of recipes it reaches, rendered."""
    return render_graph(load_graph(path, overrides, out_dir=out))


@pytest.fixture
def recipes(tmp_path):
    """walk.toml (7 frames, stored in walk-run/) and down.toml translating it."""
    return (write(tmp_path, "walk.toml", WALK),
            write(tmp_path, "down.toml", TRANSLATE.format(input=UPSTREAM)))


def test_downstream_frame_i_is_made_from_upstream_frame_i(recipes, tmp_path):
    walk, down = recipes
    graph = load_graph(down, ["output.frames=9"], out_dir=tmp_path / "down")  # two frames past the walk's end
    recipe = graph.recipe
    source = recipe.settings.source
    assert (source.kind, source.count, recipe.output.fps) == ("recipe", 7, 12.0)  # the walk's fps
    assert load_graph(down).recipe.output.frames == 7  # its frame count when the recipe gives none
    done = render_graph(graph)
    result, upstream_result = done.result, done.upstream[0][1]
    assert sorted(result.rendered) == list(range(9)) and upstream_result.rendered == list(range(7))
    upstream = RunStore(tmp_path / "walk-run")
    keys = frame_keys(make_plan(load_recipe(walk)))
    assert all(upstream.is_done(i, keys[i]) for i in range(7))
    assert [source.identity(i) for i in range(9)] == keys + [keys[6], keys[6]]
    # the source reads the stored upstream frame, fitted as any picture is
    for i in (0, 3, 6, 8):
        np.testing.assert_array_equal(source.read(i, 64, 48), load_picture(upstream.frame_path(min(i, 6)), 64, 48))

    # the reference: the same translate over a folder holding copies of the upstream frames
    copies = tmp_path / "copies"
    copies.mkdir()
    for i in range(7):
        shutil.copyfile(upstream.frame_path(i), copies / f"frame_{i}.png")
    reference = load_recipe(write(tmp_path, "ref.toml", TRANSLATE.format(input='"copies"')), ["output.frames=9"])
    render(reference, tmp_path / "ref")
    made = [pixels(tmp_path / "down" / "frames" / f"frame_{i:06d}.png") for i in range(9)]
    expected = [pixels(tmp_path / "ref" / "frames" / f"frame_{i:06d}.png") for i in range(9)]
    for i in range(7):  # the references differ from each other, so a swapped or repeated frame fails
        assert not any(np.array_equal(expected[i], expected[j]) for j in range(7) if j != i)
    for i in range(9):
        np.testing.assert_array_equal(made[i], expected[i], err_msg=f"frame {i}")


def test_editing_the_upstream_from_frame_k_rerenders_the_downstream_from_frame_k_only(recipes, tmp_path):
    walk, down = recipes
    first = run(down, tmp_path / "down")
    assert len(first.result.rendered) == 7
    before = frame_bytes(tmp_path / "down", 7)
    stamps = [path.stat().st_mtime_ns for path in sorted((tmp_path / "walk-run").rglob("*"))]
    again = run(down, tmp_path / "down")
    assert (again.result.rendered, again.result.reused) == ([], 7)  # unchanged: nothing at all
    assert (again.upstream[0][1].rendered, again.upstream[0][1].reused) == ([], 0)  # nothing read: none checked
    assert [path.stat().st_mtime_ns for path in sorted((tmp_path / "walk-run").rglob("*"))] == stamps  # untouched

    walk.write_text(WALK.replace("keys = [4, 17, 42, 7]", "keys = [4, 17, 42, 99]"))  # the last key
    edited = run(down, tmp_path / "down")
    assert edited.upstream[0][1].rendered == [5, 6]  # the walk's frames between the third key and the last
    assert sorted(edited.result.rendered) == [5, 6]
    after = frame_bytes(tmp_path / "down", 7)
    assert after[:5] == before[:5] and after[5] != before[5] and after[6] != before[6]

    # a keyframed truncation from frame 3 on: frames 3.. change, upstream and downstream alike
    walk.write_text(WALK.replace("keys = [4, 17, 42, 7]", "keys = [4, 17, 42, 99]")
                    + "truncation = { 2 = 1.0, 3 = 0.6 }\n")
    edited = run(down, tmp_path / "down")
    assert edited.upstream[0][1].rendered == [3, 4, 5, 6]
    assert sorted(edited.result.rendered) == [3, 4, 5, 6]


def test_a_style_content_may_be_a_recipe(recipes, tmp_path):
    from PIL import Image
    Image.fromarray(np.full((48, 64, 3), 128, np.uint8)).save(tmp_path / "a.png")
    recipe = load_graph(write(tmp_path, "style.toml", STYLE)).recipe
    content = recipe.settings.content
    assert (content.kind, recipe.output.frames, recipe.output.fps) == ("recipe", 7, 12.0)
    assert content.folder == Path("renders") / "walk"  # the walk's default run folder, from where one runs
    keys = frame_keys(make_plan(load_recipe(tmp_path / "walk.toml")))
    assert [content.identity(i) for i in range(7)] == keys


CYCLES = {
    "self": ({"a.toml": "a.toml"}, "a.toml", "a.toml -> a.toml"),
    "two": ({"a.toml": "b.toml", "b.toml": "a.toml"}, "b.toml", "a.toml -> b.toml -> a.toml"),
    "three": ({"a.toml": "b.toml", "b.toml": "c.toml", "c.toml": "a.toml"}, "c.toml",
              "a.toml -> b.toml -> c.toml -> a.toml"),
}


@pytest.mark.parametrize("case", CYCLES, ids=list(CYCLES))
def test_recipes_that_name_each_other_in_a_cycle_get_one_line_naming_it(case, tmp_path):
    links, blamed, chain = CYCLES[case]
    for name, upstream in links.items():
        write(tmp_path, name, TRANSLATE.format(input=f'{{ recipe = "{upstream}" }}'))
    with pytest.raises(RecipeError) as caught:
        load_graph(tmp_path / "a.toml")
    message = str(caught.value)
    assert "\n" not in message and chain in message, message
    assert message.startswith(f"{tmp_path / blamed}:9: translate.input: "), message  # file:line: key:
    from render.cli import main
    shown = CliRunner().invoke(main, ["validate", str(tmp_path / "a.toml")])
    assert shown.exit_code == 2 and chain in shown.output, shown.output


@pytest.mark.parametrize("table, message", [
    ('{ recipe = "nowhere.toml" }', "recipe not found"),
    ('{ recipe = "walk.toml", folder = "x" }', "unknown key 'folder'"),
    ('{ out = "x" }', 'expected { recipe = "file.toml" }'),
    ('{ recipe = "broken.toml" }', "broken.toml:11: walk.frames_per_key: "),  # the upstream's own mistake
    ('{ recipe = "broken.toml" }', "(reached from {bad}:9 translate.input)"),   # ... and who reached it
    ('{ recipe = "frames/" }', "is a folder, not a .toml recipe"),
    ('{ recipe = "a.png" }', "a.png is not a .toml recipe"),
    ('{ recipe = "nothere.png" }', "nothere.png is not a .toml recipe"),
    ('"walk.toml"', 'walk.toml is a recipe: to use its frames, write { recipe = "walk.toml" }'),
])
def test_a_bad_recipe_table_gets_one_clear_line(table, message, recipes, tmp_path):
    write(tmp_path, "broken.toml", WALK.replace("frames_per_key = 2", "frames_per_key = 0"))
    (tmp_path / "frames").mkdir()
    write(tmp_path, "a.png", "not really a picture")
    path = write(tmp_path, "bad.toml", TRANSLATE.format(input=table))
    message = message.replace("{bad}", str(path))
    with pytest.raises(RecipeError) as caught:
        load_graph(path)
    assert message in str(caught.value) and "\n" not in str(caught.value), str(caught.value)


def test_one_render_run_renders_the_missing_upstream_frames_first(tmp_path, monkeypatch):
    from render.cli import main
    monkeypatch.chdir(tmp_path)
    write(tmp_path, "walk.toml", WALK)
    down = write(tmp_path, "down.toml", TRANSLATE.format(input='{ recipe = "walk.toml" }'))
    planned = CliRunner().invoke(main, ["plan", str(down)])
    assert planned.exit_code == 0, planned.output
    line = next(text for text in planned.output.splitlines() if text.startswith("input"))
    assert "walk.toml" in line and "walk recipe, 7 frames at 12 fps" in line and "none stored yet" in line, line

    ran = CliRunner().invoke(main, ["run", str(down), "--no-encode"])
    assert ran.exit_code == 0, ran.output
    assert "upstream walk.toml: 7 frames rendered, 0 reused" in ran.output, ran.output
    assert "\n7 frames rendered" in ran.output, ran.output
    keys = frame_keys(make_plan(load_recipe(tmp_path / "walk.toml")))
    upstream = RunStore(tmp_path / "renders" / "walk")  # the walk's own default run folder
    assert all(upstream.is_done(i, keys[i]) for i in range(7))
    assert not list((tmp_path / "renders" / "walk").glob("*.mp4"))  # the upstream is not encoded

    planned = CliRunner().invoke(main, ["plan", str(down)])
    assert "all stored in renders/walk" in planned.output, planned.output
    rerun = CliRunner().invoke(main, ["run", str(down), "--no-encode"])
    assert "upstream walk.toml: nothing needed from it (the frames that read it are stored)" in rerun.output, \
        rerun.output
    assert "\n0 frames rendered, 7 reused" in rerun.output, rerun.output


KILL_IN_UPSTREAM = textwrap.dedent("""
    import os, signal, sys, time
    from pathlib import Path
    from render.engines.walk import WalkEngine
    from render.graph import load_graph, render_graph

    inner = WalkEngine.render_batch
    def render_batch(self, jobs):
        if any(job.index == 4 for job in jobs):
            stored = Path(sys.argv[3]) / "frames" / "frame_000003.json"
            for _ in range(200):  # the frames before are written by background threads: let them land
                if stored.exists():
                    break
                time.sleep(0.05)
            os.kill(os.getpid(), signal.SIGKILL)  # dies inside the upstream's engine
        return inner(self, jobs)
    WalkEngine.render_batch = render_batch
    render_graph(load_graph(sys.argv[1], out_dir=Path(sys.argv[2])), encode=False)
""")


def test_a_run_killed_inside_the_upstream_resumes_to_the_same_frames(recipes, tmp_path):
    walk, down = recipes
    write(tmp_path, "walk.toml", WALK.replace("batch = 8", "batch = 2"))
    run(down, tmp_path / "unbroken")
    shutil.move(tmp_path / "walk-run", tmp_path / "walk-unbroken")
    env = dict(os.environ, PYTHONPATH=str(REPO))
    killed = subprocess.run([sys.executable, "-c", KILL_IN_UPSTREAM, str(down), str(tmp_path / "killed"),
                             str(tmp_path / "walk-run")], env=env, capture_output=True, text=True, cwd=REPO)
    assert killed.returncode == -9, killed.stderr
    kept = sorted(path.name for path in (tmp_path / "walk-run" / "frames").glob("*.json"))
    assert kept == [f"frame_{i:06d}.json" for i in range(4)]  # the two batches before the kill
    assert not (tmp_path / "killed" / "frames" / "frame_000000.json").exists()
    resumed = subprocess.run([sys.executable, "-m", "render.cli", "run", str(down), "--out", str(tmp_path / "killed"),
                              "--no-encode"], env=env, capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr
    assert "upstream walk.toml: 3 frames rendered, 4 reused" in resumed.stdout, resumed.stdout  # frames 4, 5 and 6 only
    assert frame_bytes(tmp_path / "walk-run", 7) == frame_bytes(tmp_path / "walk-unbroken", 7)
    assert frame_bytes(tmp_path / "killed", 7) == frame_bytes(tmp_path / "unbroken", 7)


def test_a_parallel_gallery_renders_an_upstream_recipe_before_the_recipes_that_use_it(tmp_path, monkeypatch):
    """With --jobs 2, the walk and the recipe using it as footage would both render renders/walk at
    once (one of them failing on its lock); the gallery renders the walk in an earlier wave."""
    from render.gallery import build_gallery
    monkeypatch.chdir(tmp_path)
    walk = write(tmp_path, "walk.toml", WALK)
    down = write(tmp_path, "down.toml", TRANSLATE.format(input='{ recipe = "walk.toml" }'))
    entries = build_gallery([down, walk], tmp_path / "gallery", jobs=2)
    assert [e.status for e in entries] == ["rendered", "rendered"], [e.reason for e in entries]
    assert [e.recipe for e in entries] == [down, walk]  # reported in the order given


def test_a_chain_of_three_recipes_is_planned_rendered_and_reported_at_every_level(tmp_path, monkeypatch):
    """walk.toml -> mid.toml (translates it) -> top.toml (translates mid): `render plan` shows every
    level, `render run` renders them bottom up and reports each, an edit at the bottom re-renders
    exactly its changed frames at every level, and a mistake at the bottom names the keys that reached
    it, outermost first."""
    from render.cli import main
    monkeypatch.chdir(tmp_path)
    walk = write(tmp_path, "walk.toml", WALK)
    write(tmp_path, "mid.toml", TRANSLATE.format(input='{ recipe = "walk.toml" }'))
    top = write(tmp_path, "top.toml", TRANSLATE.format(input='{ recipe = "mid.toml" }'))
    planned = CliRunner().invoke(main, ["plan", str(top)])
    assert planned.exit_code == 0, planned.output
    assert "order    walk.toml -> mid.toml -> top.toml" in planned.output, planned.output
    assert planned.output.index("upstream walk.toml, whose frames mid.toml uses: 0 of 7 stored") \
        < planned.output.index("upstream mid.toml, whose frames top.toml uses: 0 of 7 stored"), planned.output
    assert "  kind     walk" in planned.output and "  kind     translate" in planned.output

    ran = CliRunner().invoke(main, ["run", str(top), "--no-encode"])
    assert ran.exit_code == 0, ran.output
    lines = [line for line in ran.output.splitlines() if "frames rendered" in line]
    assert lines == ["upstream walk.toml: 7 frames rendered, 0 reused, in renders/walk",
                     "upstream mid.toml: 7 frames rendered, 0 reused, in renders/mid",
                     "7 frames rendered, 0 reused, in renders/top"], ran.output

    walk.write_text(WALK.replace("keys = [4, 17, 42, 7]", "keys = [4, 17, 42, 99]"))   # frames 5 and 6
    graph = load_graph(top)
    assert [node.name for node in graph.nodes] == ["walk.toml", "mid.toml", "top.toml"]
    done = render_graph(graph, encode=False)
    assert [result.rendered for _, result in done.levels] == [[5, 6], [5, 6], [5, 6]]
    assert [result.reused for _, result in done.levels] == [0, 0, 5]   # upstream: of the frames read

    walk.write_text(WALK.replace("frames_per_key = 2", "frames_per_key = 0"))
    with pytest.raises(RecipeError) as caught:
        load_graph(top)
    assert str(caught.value) == (f"{walk}:11: walk.frames_per_key: 0 is out of range: must be >= 1 (reached from "
                                 f"{top}:9 translate.input -> {tmp_path / 'mid.toml'}:9 translate.input)")


def test_preview_previews_the_upstream_recipes_too(tmp_path, monkeypatch):
    from render.cli import main
    from PIL import Image
    monkeypatch.chdir(tmp_path)
    write(tmp_path, "walk.toml", WALK.replace("size = [64, 64]", "size = [320, 320]"))
    down = write(tmp_path, "down.toml", TRANSLATE.format(input='{ recipe = "walk.toml" }'))
    ran = CliRunner().invoke(main, ["run", str(down), "--preview", "--no-encode"])
    assert ran.exit_code == 0, ran.output
    assert "upstream walk.toml: 7 frames rendered, 0 reused, in renders/walk-preview" in ran.output, ran.output
    assert not (tmp_path / "renders" / "walk").exists()   # the full-size upstream is not rendered
    with Image.open(tmp_path / "renders" / "walk-preview" / "frames" / "frame_000000.png") as frame:
        assert frame.size == (256, 256)   # the walk's own draft size
    graph = load_graph(down, preview=True)
    source = graph.recipe.settings.source
    assert source.folder == Path("renders/walk-preview") and list(source.keys) == graph.nodes[0].keys
    assert graph.nodes[0].keys != load_graph(tmp_path / "walk.toml").root.keys


def test_footage_without_an_output_size_renders_at_the_footage_size(tmp_path):
    from PIL import Image
    frames = tmp_path / "frames"
    frames.mkdir()
    for i in range(3):
        Image.new("RGB", (80, 48), (40 * i, 90, 200)).save(frames / f"f{i}.png")
    text = TRANSLATE.format(input='"frames"').replace("size = [64, 48]\n", "")
    assert load_graph(write(tmp_path, "folder.toml", text)).recipe.output.size == (80, 48)
    write(tmp_path, "walk.toml", WALK)
    text = TRANSLATE.format(input='{ recipe = "walk.toml" }').replace("size = [64, 48]\n", "")
    assert load_graph(write(tmp_path, "down.toml", text)).recipe.output.size == (64, 64)   # the walk's
    still = TRANSLATE.format(input='"frames/f0.png"').replace("size = [64, 48]\n", "")
    assert load_graph(write(tmp_path, "still.toml", still)).recipe.output.size == (640, 360)  # not footage


def test_a_chained_downstream_asks_its_upstream_for_the_frames_before_too(tmp_path):
    """A style (chained: each frame starts from the one before, and follows the content's flow) asked
    for frame 2 needs its frames 0..2, so the walk's frames 0..2; the one already stored is reused and
    the walk's others are not rendered."""
    from PIL import Image
    Image.fromarray(np.full((48, 64, 3), 128, np.uint8)).save(tmp_path / "a.png")
    write(tmp_path, "walk.toml", WALK)
    style = write(tmp_path, "style.toml", STYLE.replace('{ recipe = "walk.toml" }', UPSTREAM))
    render_graph(load_graph(tmp_path / "walk.toml", out_dir=tmp_path / "walk-run"), [1])
    done = render_graph(load_graph(style, out_dir=tmp_path / "style"), [2], encode=False)
    (walk, walk_result), (_, style_result) = done.levels
    assert (walk_result.rendered, walk_result.reused) == ([0, 2], 1)
    assert style_result.rendered == [0, 1, 2]
    assert [RunStore(tmp_path / "walk-run").is_done(i, key) for i, key in enumerate(walk.keys)] == \
        [True, True, True, False, False, False, False]


def test_a_cycle_through_other_folders_names_each_recipe_by_its_path(tmp_path):
    for here, there in (("p", "q"), ("q", "p")):
        (tmp_path / here).mkdir()
        write(tmp_path / here, "a.toml", TRANSLATE.format(input=f'{{ recipe = "../{there}/a.toml" }}'))
    with pytest.raises(RecipeError) as caught:
        load_graph(tmp_path / "p" / "a.toml")
    message = str(caught.value)
    assert message.startswith(f"{tmp_path / 'q' / 'a.toml'}:9: translate.input: "), message   # no p/../q
    assert f"{tmp_path / 'p' / 'a.toml'} -> {tmp_path / 'q' / 'a.toml'} -> {tmp_path / 'p' / 'a.toml'}" in message


def test_a_recipe_table_where_one_picture_is_expected_says_where_recipes_go(tmp_path):
    write(tmp_path, "walk.toml", WALK)
    path = write(tmp_path, "style.toml", STYLE.replace('images = { a = "a.png" }', 'images = { a = { recipe = "walk.toml" } }'))
    with pytest.raises(RecipeError, match=r"style.images.a: this key takes one picture; another recipe's frames"):
        load_graph(path)


def test_an_upstream_that_cannot_be_rendered_says_for_whom_it_was_rendered(tmp_path):
    from render.cli import main
    write(tmp_path, "walk.toml", WALK)
    write(tmp_path, "afile", "a file where the upstream's run folder would be")
    down = write(tmp_path, "down.toml", TRANSLATE.format(input='{ recipe = "walk.toml", out = "afile/run" }'))
    ran = CliRunner().invoke(main, ["run", str(down), "--out", str(tmp_path / "down")])
    assert ran.exit_code == 1, ran.output
    assert ran.output.startswith(f"error: cannot use run folder {tmp_path / 'afile' / 'run'}: "), ran.output
    assert ran.output.rstrip().endswith(f"(rendering the frames of {tmp_path / 'walk.toml'} that down.toml uses)")
    assert ran.output.count("\n") == 1, ran.output
