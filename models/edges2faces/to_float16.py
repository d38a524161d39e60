"""Store generator.weights.h5 (beside this script) in float16: every floating-point dataset, in place.

    python models/edges2faces/to_float16.py              # convert; a float16 file is left as it is
    python models/edges2faces/to_float16.py --reference  # first, while the file is float32, write
                                                         # reference_outputs.npz (the oracle)

The file keeps Keras' ``.weights.h5`` layout (the same groups, attributes and dataset names); only the
datasets' dtype changes, so the file is half the size.  Keras casts each stored array to the dtype of
the variable it is loaded into, so the model is still built in float32 and computes in float32 or
bfloat16 as before: only the storage is float16.  HDF5 does not give back the space of a replaced
dataset, so the file is copied into a new one beside it and moved over the old one.

``--reference`` keeps what the float32 weights paint, for ``tests/test_models.py`` to check the
float16 file against: six 64x64 model inputs made the way the translate kind makes them (the three
drawings of ``recipes/translate-sketches.toml``, the HED edges of ``recipes/translate-photo.toml``'s
photo, and the HED edges of two held-out synthetic faces) and the float32 generator's uint8 pictures
of them, before any resize.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
from float16 import float_datasets, to_float16  # noqa: E402  (models/float16.py)

WEIGHTS = HERE / "generator.weights.h5"
REFERENCE = HERE / "reference_outputs.npz"


def reference_inputs() -> np.ndarray:
    """float32 ``(6, 64, 64, 1)`` sketches in 0..1, as the translate engine makes them."""
    from render.recipe import load_recipe
    from render.training.cli_support import HELD_OUT_SEED_OFFSET
    from render.training.pairs import load_hed, sketch_from_drawing, sketch_from_photo, synthetic_face_pairs
    recipes = HERE.parents[1] / "recipes"
    drawings = load_recipe(recipes / "translate-sketches.toml").settings.source
    photo = load_recipe(recipes / "translate-photo.toml").settings.source
    hed = load_hed()
    return np.concatenate([
        sketch_from_drawing(np.stack([drawings.read(i, 64, 64) for i in range(3)])),
        sketch_from_photo(hed, photo.read(0, 128, 128)[None], 64),
        synthetic_face_pairs(2, 64, seed=HELD_OUT_SEED_OFFSET, hed=hed)[0],
    ])


def pictures(generator, sketches: np.ndarray) -> np.ndarray:
    """The generator's uint8 ``(n, 64, 64, 3)`` pictures of ``sketches`` (0..1), rounded as the
    translate engine rounds them."""
    out = np.asarray(generator(sketches * 2.0 - 1.0, training=False), np.float32)
    return np.round(np.clip((out + 1.0) / 2.0, 0.0, 1.0) * 255.0).astype(np.uint8)


def write_reference(path: Path = REFERENCE) -> None:
    from render.engines.translate import load_translator
    from render.models.catalog import resolve
    if any(dtype != np.float32 for dtype in float_datasets(WEIGHTS).values()):
        raise SystemExit(f"{WEIGHTS} is not float32: the reference must come from the float32 weights")
    sketches = reference_inputs()
    np.savez_compressed(path, sketches=(sketches > 0.5), pictures=pictures(load_translator(resolve("edges2faces")),
                                                                           sketches))


if __name__ == "__main__":
    sys.path.insert(0, str(HERE.parents[1]))
    if "--reference" in sys.argv[1:]:
        write_reference()
        print(f"wrote {REFERENCE} ({REFERENCE.stat().st_size} bytes)")
    changed = to_float16(WEIGHTS)
    print(f"{WEIGHTS}: {'converted to' if changed else 'already'} float16, {WEIGHTS.stat().st_size} bytes")
