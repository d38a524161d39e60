"""The upscale stage: rendered frames, stills, print pictures and picture files enlarged by
super-resolution networks (or Lanczos), tile by tile, keyed and resumable.

* A recipe's ``[output] upscale`` enlarges every stored frame after rendering into ``upscaled/`` in the
  run folder (each frame keyed by its frame key and the stages, so a rerun skips what is there);
  the still and the video are made of those.
* `render upscale FILE` reads any picture the media loader reads and writes ``FILE.<stages>.<ext>``
  (or ``--out``, its format from the extension): dpi, ICC profile and text metadata carried over with
  the stages added, 16 bits kept in TIFF.
* `render upscale RUN_FOLDER` enlarges a run's stored frames, keyed as ``[output] upscale`` keys them,
  into ``upscaled-<stages>/`` beside the recipe's own ``upscaled/``.
* A print's enlargement is planned here too (:func:`stage_plan`: tiles and peak memory without loading
  a network), so the print's memory estimate includes it.
"""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path
from typing import Callable

import numpy as np
from PIL import Image

from .engines.upscale import LANCZOS, upscale_chain, plan_upscale_tile
from .errors import OutputError, RenderError
from .models import upscalers
from .recipe.model import UpscaleSettings
from .store import RunStore, atomic_write

UPSCALE_VERSION = 1       # bump when the stage's numbers change for the same networks
UPSCALED_DIR = "upscaled"
DEFAULT_TILE = 256        # input pixels, when memory allows
MAX_FACTOR = 16           # as a recipe's [output] upscale


def settings_for(names: list[str] | tuple[str, ...], tile: int | None = None) -> UpscaleSettings:
    """Stage names as a user writes them (``esrgan-x4``, ``lanczos-x2``) -> settings; ``RenderError``
    (exit 2) naming the mistake."""
    try:
        stages = tuple(upscalers.canonical_stage(name) for name in names)
    except ValueError as err:
        raise UpscaleError(f"upscale: {err}") from None
    factor = upscalers.chain_factor(stages)
    if factor > MAX_FACTOR:
        raise UpscaleError(f"upscale: the stages enlarge {factor} times; at most {MAX_FACTOR}")
    return UpscaleSettings(stages, tile, factor)


def stage_key(settings: UpscaleSettings) -> str:
    return f"upscale{UPSCALE_VERSION}|{upscalers.stage_digest(settings.stages)}|tile={settings.tile}"


def upscaled_key(frame_key: str, settings: UpscaleSettings) -> str:
    """The key of an upscaled frame: its frame's key and everything the stages are."""
    return hashlib.sha256(f"{frame_key}|{stage_key(settings)}".encode()).hexdigest()


def _budget() -> int:
    from .backend.devices import machine_memory
    return int(0.5 * machine_memory())


def stage_plan(settings: UpscaleSettings, height: int, width: int, budget: int) -> tuple[list[int], int]:
    """Each stage's tile side for a ``height`` x ``width`` input and the peak bytes of the whole chain
    (the largest stage's), without loading a network; ``OutputError`` when a stage does not fit
    ``budget`` even with the smallest tiles."""
    from .engines.upscale import upscale_memory
    tiles, peak = [], 0
    for stage in settings.stages:
        factor = upscalers.stage_factor(stage)
        if stage.startswith(upscalers.LANCZOS):
            tile = settings.tile or DEFAULT_TILE
            peak = max(peak, upscale_memory(height, width, factor, tile, 0.0))
        else:
            need = upscalers.activation_bytes(upscalers.resolve_upscaler(stage))
            if settings.tile is not None:
                tile = settings.tile
            else:
                try:
                    tile = min(DEFAULT_TILE, plan_upscale_tile(height, width, factor, budget, need,
                                                               overlap=upscalers.OVERLAP))
                except ValueError:
                    raise OutputError(f"upscaling a {width}x{height} picture with {stage} does not fit in "
                                      f"{budget / 2**30:.1f} GiB even with the smallest tiles") from None
            peak = max(peak, upscale_memory(height, width, factor, tile, need, upscalers.OVERLAP))
        tiles.append(tile)
        height, width = height * factor, width * factor
    return tiles, peak


class Upscaling:
    """The loaded stages of one :class:`UpscaleSettings`, applied to float ``(H, W, 3)`` 0..1 pictures."""

    def __init__(self, settings: UpscaleSettings):
        self.settings = settings
        self._stages: list[tuple[object, int]] = []
        for stage in settings.stages:
            if stage.startswith(upscalers.LANCZOS):
                self._stages.append((LANCZOS, upscalers.stage_factor(stage)))
            else:
                net = upscalers.load_upscaler(stage)
                self._stages.append((net.net, net.factor))

    def __call__(self, image: np.ndarray, progress: Callable[[int, int], None] | None = None,
                 budget: int | None = None) -> np.ndarray:
        """``image`` through every stage, each with the largest tile (up to :data:`DEFAULT_TILE`) whose
        memory estimate fits ``budget`` bytes (default: half the machine)."""
        image = np.asarray(image, np.float32)
        tiles, _ = stage_plan(self.settings, *image.shape[:2], budget or _budget())
        return upscale_chain(image, self._stages, tile=tiles, progress=progress)


def upscale_frames(store: RunStore, keys: list[str], settings: UpscaleSettings, picture_text: dict | None,
                   progress: Callable[[int, int], None] | None = None,
                   into: RunStore | None = None) -> RunStore:
    """Enlarge every stored frame of ``store`` not yet upscaled for ``settings`` into ``into`` (default:
    the run's ``upscaled/``); returns that store.  The caller holds ``store``'s lock."""
    upscaled = into or RunStore(store.root, picture_text, frames_folder=UPSCALED_DIR)
    upscaled.frames_dir.mkdir(parents=True, exist_ok=True)
    todo = [i for i, key in enumerate(keys) if not upscaled.is_done(i, upscaled_key(key, settings))]
    if todo:
        run = Upscaling(settings)
        for done, index in enumerate(todo):
            image = run(store.load(index).astype(np.float32) / 255.0)
            upscaled.save(index, np.rint(image * 255.0).astype(np.uint8), upscaled_key(keys[index], settings))
            if progress:
                progress(done + 1, len(todo))
    return upscaled


# --- picture files -----------------------------------------------------------------------------------

FILE_FORMATS = {".tif": "tiff", ".tiff": "tiff", ".png": "png", ".jpg": "jpeg", ".jpeg": "jpeg"}


class UpscaleError(RenderError):
    """A `render upscale` request that cannot be done as asked (a path, a format): exit 2."""

    exit_code = 2


def _read_picture(path: Path) -> tuple[np.ndarray, int, dict]:
    """float ``(H, W, 3)`` 0..1 upright and in sRGB as the media loader reads every picture (EXIF
    orientation, CMYK, palettes, planes and transparency over white), its bits per channel (8 or 16),
    and what to carry over: dpi, ICC profile, text metadata."""
    from .media.pictures import PictureError, picture_info, read_picture
    from .notices import note
    try:
        info = picture_info(path)
        image = read_picture(path)
    except PictureError as err:
        raise UpscaleError(str(err)) from None
    if info.animated:
        note(f"{path.name} is animated: its first frame is upscaled")
    if "A" in info.mode or info.premultiplied:
        note(f"{path.name} has transparency: it is laid over white (the result has no alpha)")
    bits = 16 if ("16" in info.mode or (info.decoder == "tifffile" and info.mode not in ("uint8", "bool"))) else 8
    keep: dict = {"icc": None, "dpi": None, "text": {}, "description": None}
    try:
        if info.decoder == "tifffile":
            import tifffile
            from .prints.files import ICC_TAG
            with tifffile.TiffFile(path) as tiff:
                tags = tiff.pages[0].tags
                keep["description"] = tags["ImageDescription"].value if "ImageDescription" in tags else None
                keep["icc"] = bytes(tags[ICC_TAG].value) if ICC_TAG in tags else None
                if "XResolution" in tags:
                    (xn, xd), (yn, yd) = tags["XResolution"].value, tags["YResolution"].value
                    keep["dpi"] = (xn / xd, yn / yd)
        else:
            with Image.open(path) as picture:
                icc = picture.info.get("icc_profile")
                # the loader converted a non-sRGB profile's colours to sRGB: the result says sRGB
                keep["icc"] = icc if not icc or _is_srgb(icc) else _srgb()
                keep["dpi"] = picture.info.get("dpi")
                keep["text"] = {k: v for k, v in picture.info.items() if isinstance(v, str)}
                keep["description"] = picture.tag_v2.get(270) if hasattr(picture, "tag_v2") else None
                comment = picture.info.get("comment")
                if isinstance(comment, bytes):
                    keep["description"] = comment.decode("utf-8", "replace")
    except (OSError, ValueError) as err:
        raise UpscaleError(f"cannot read {path}: {err}") from None
    return image, bits, keep


def _is_srgb(icc: bytes) -> bool:
    from .prints.files import icc_description
    try:
        return "srgb" in (icc_description(icc) or "").lower().replace(" ", "")
    except Exception:  # noqa: BLE001 - an unreadable profile: the loader used the values as sRGB
        return True


def _srgb() -> bytes:
    from .prints.files import srgb_profile
    return srgb_profile()


def _description(original: str | None, stages: str, size: tuple[int, int]) -> str:
    """The source's description with the stages added; the renderer's JSON keeps its fields, less
    those that describe the old pixels (a shape, a print size)."""
    try:
        meta = json.loads(original) if original else {}
        if not isinstance(meta, dict):
            raise ValueError
    except ValueError:
        return f"{original} (upscaled: {stages}, {size[0]}x{size[1]} px)"
    for stale in ("shape", "print_size"):
        meta.pop(stale, None)
    meta["upscaled"] = stages
    return json.dumps(meta, sort_keys=True)


def _write_picture(path: Path, fmt: str, image: np.ndarray, bits: int, keep: dict, stages: str) -> None:
    from .notices import note
    if bits == 16 and fmt != "tiff":
        note(f"{path.name}: {fmt.upper()} is written with 8 bits per channel here; give --out NAME.tif to keep 16")
        bits = 8
    dtype = np.uint16 if bits == 16 else np.uint8
    data = np.rint(np.clip(image, 0.0, 1.0) * float(np.iinfo(dtype).max)).astype(dtype)
    size = (data.shape[1], data.shape[0])
    buffer = io.BytesIO()
    if fmt == "tiff":
        import tifffile
        from .prints.files import ICC_TAG
        extratags = [(ICC_TAG, "B", len(keep["icc"]), keep["icc"], True)] if keep.get("icc") else []
        dpi = keep.get("dpi")
        tifffile.imwrite(buffer, data, photometric="rgb", compression="zlib", predictor=True, metadata=None,
                         description=_description(keep.get("description"), stages, size), extratags=extratags,
                         **({"resolution": tuple(dpi), "resolutionunit": "INCH"} if dpi else {}))
    else:
        from PIL import PngImagePlugin
        picture = Image.fromarray(data)
        options = {k: v for k, v in (("icc_profile", keep.get("icc")), ("dpi", keep.get("dpi"))) if v}
        if fmt == "png":
            info = PngImagePlugin.PngInfo()
            text = {k: v for k, v in (keep.get("text") or {}).items() if k not in ("shape", "print_size")}
            for key, value in dict(text, upscaled=stages).items():
                info.add_itxt(key, value)
            picture.save(buffer, format="PNG", pnginfo=info, **options)
        else:
            comment = _description(keep.get("description"), stages, size)
            picture.save(buffer, format="JPEG", quality=95, subsampling=0, comment=comment.encode("utf-8"), **options)
    atomic_write(path, buffer.getvalue())


def upscale_file(path: Path, settings: UpscaleSettings, out: Path | None = None,
                 progress: Callable[[int, int], None] | None = None) -> Path:
    """Enlarge one picture file (any the media loader reads); the result keeps dpi, ICC profile, text
    metadata and, in TIFF, 16 bits.  Its format follows ``out``'s extension (default: beside the
    source, ``<stem>.<stages>.<ext>``, in the source's format, or PNG for formats not written here).
    Raises :class:`UpscaleError` for an output format not written or an output that is the source."""
    path = Path(path)
    label = "+".join(settings.stages)
    if out is None:
        suffix = path.suffix.lower() if path.suffix.lower() in FILE_FORMATS else ".png"
        target = path.with_name(f"{path.stem}.{label}{suffix}")
    else:
        target = Path(out)
    fmt = FILE_FORMATS.get(target.suffix.lower())
    if fmt is None:
        raise UpscaleError(f"--out {target}: write .tif, .png or .jpg")
    if target.exists() and target.resolve() == path.resolve():
        raise UpscaleError(f"--out {target} is the picture itself: choose another name")
    image, bits, keep = _read_picture(path)
    height, width = image.shape[:2]
    if max(height, width) * settings.factor > 65500:
        raise UpscaleError(f"{path}: {width}x{height} times {settings.factor} is over 65500 px")
    _write_picture(target, fmt, Upscaling(settings)(image, progress), bits, keep, label)
    return target


def upscale_run(run_dir: Path, settings: UpscaleSettings, out: Path | None = None,
                progress: Callable[[int, int], None] | None = None) -> tuple[Path, int]:
    """Enlarge every stored frame of a run folder into ``out`` (default ``<run>/upscaled-<stages>``;
    the recipe's own ``upscaled/`` is left alone), keyed as ``[output] upscale`` keys them, so a rerun
    does only what is missing.  Returns the folder and how many frames it holds."""
    run_dir = Path(run_dir)
    store = RunStore(run_dir)
    sidecars = sorted(store.frames_dir.glob("frame_*.json"))
    if not sidecars:
        raise UpscaleError(f"{run_dir}: no stored frames (is it a run folder?)")
    keys = []
    for sidecar in sidecars:
        try:
            keys.append(json.loads(sidecar.read_text())["key"])
        except (OSError, ValueError, KeyError):
            raise OutputError(f"{sidecar}: unreadable; render the run again") from None
    indices = [int(s.stem.split("_")[1]) for s in sidecars]
    if indices != list(range(len(indices))):
        raise OutputError(f"{run_dir}: frames are missing (found {len(indices)}, numbered up to {indices[-1]})")
    target = Path(out) if out is not None else run_dir / f"{UPSCALED_DIR}-{'+'.join(settings.stages)}"
    if target.resolve() in (store.frames_dir.resolve(), (run_dir / UPSCALED_DIR).resolve()):
        raise UpscaleError(f"--out {target}: that folder belongs to the run; choose another")
    with store:
        upscale_frames(store, keys, settings, None, progress, RunStore(target.parent, frames_folder=target.name))
    return target, len(keys)
