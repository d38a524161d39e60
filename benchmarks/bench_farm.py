"""Render farm scaling: a 240-frame walk and a three-recipe gallery, locally (one process, the
default path) and on a local Ray instance with two workers, same machine, same frames (checked).

    RAY_AUTH_MODE=disabled python benchmarks/bench_farm.py      # needs pip install -e ".[ray]"

Farm times include starting the workers (each imports TensorFlow and loads its model once); the
"warm" column repeats the farm run into fresh folders with the workers already resident.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import REPO, machine_line  # noqa: E402

WALK = """kind = "walk"
[output]
size = [256, 256]
video = "none"
[model]
name = "dcgan-faces64"
[walk]
keys = [1, 2, 3, 4, 5, 6]
frames_per_key = 40
loop = true
batch = 16
"""

DREAM = """kind = "dream"
[output]
size = [192, 128]
frames = 8
video = "none"
[dream]
init = "{chelsea}"
steps = 3
octaves = 2
tile = 256
[motion]
zoom = 1.03
"""


def frame_bytes(folder: Path, frames: int) -> list[bytes]:
    return [(folder / "frames" / f"frame_{i:06d}.png").read_bytes() for i in range(frames)]


def main() -> None:
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    from render.farm.cluster import Farm
    from render.farm.engine import farm_engine_factory
    from render.gallery import build_gallery
    from render.recipe import load_recipe
    from render.runner import render
    print(machine_line())
    work = Path(tempfile.mkdtemp(prefix="bench-farm-"))
    os.chdir(work)
    (work / "walk.toml").write_text(WALK)
    recipes = work / "recipes"
    recipes.mkdir()
    (recipes / "dream.toml").write_text(DREAM.format(chelsea=REPO / "recipes/assets/chelsea.png"))
    (recipes / "walk-a.toml").write_text(WALK.replace("frames_per_key = 40", "frames_per_key = 32")
                                         .replace("[1, 2, 3, 4, 5, 6]", "[7, 8, 9]"))       # 96 frames
    (recipes / "walk-b.toml").write_text(WALK.replace("frames_per_key = 40", "frames_per_key = 48")
                                         .replace("[1, 2, 3, 4, 5, 6]", "[10, 11]"))        # 96 frames
    walk = load_recipe(work / "walk.toml")
    paths = sorted(recipes.glob("*.toml"))

    started = time.perf_counter()
    render(walk, work / "walk-local")
    walk_local = time.perf_counter() - started
    started = time.perf_counter()
    build_gallery(paths, work / "gallery-local")
    gallery_local = time.perf_counter() - started
    shutil.rmtree(work / "renders")

    started = time.perf_counter()
    farm = Farm(workers=2, cpus_per_worker=1)
    startup = time.perf_counter() - started
    timings = {}
    for attempt in ("cold", "warm"):
        started = time.perf_counter()
        render(walk, work / f"walk-farm-{attempt}", engine_factory=farm_engine_factory(farm))
        walk_farm = time.perf_counter() - started
        started = time.perf_counter()
        build_gallery(paths, work / f"gallery-farm-{attempt}", farm=farm)
        gallery_farm = time.perf_counter() - started
        shutil.rmtree(work / "renders")
        timings[attempt] = (walk_farm, gallery_farm)
        assert frame_bytes(work / f"walk-farm-{attempt}", 240) == frame_bytes(work / "walk-local", 240)
    farm.shutdown()
    print(f"farm start (a local Ray instance and 2 workers; models load on first use): {startup:.1f} s")
    print(f"{'job':<28} {'local s':>8} {'farm cold s':>12} {'farm warm s':>12} {'speed-up warm':>14}")
    for name, local, index in (("walk, 240 frames 256x256", walk_local, 0),
                               ("gallery, 3 recipes", gallery_local, 1)):
        cold, warm = timings["cold"][index], timings["warm"][index]
        print(f"{name:<28} {local:>8.1f} {cold:>12.1f} {warm:>12.1f} {local / warm:>13.2f}x")
    print("frames: farm walk == local walk, byte for byte")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
