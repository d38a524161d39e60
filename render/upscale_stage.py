"""The upscale stage: rendered frames, stills, print pictures and picture files enlarged by
super-resolution networks (or Lanczos), tile by tile, keyed and resumable.

* A recipe's ``[output] upscale`` enlarges every stored frame after rendering into ``upscaled/`` in the
  run folder (each frame keyed by its frame key and the stages, so a rerun skips what is there);
  the still and the video are made of those.
* `render upscale FILE` writes ``FILE.<stages>.<ext>``: the same format and bit depth (a 16-bit TIFF
  stays 16-bit), dpi, ICC profile and text metadata as the source, the stages added to it.
* `render upscale RUN_FOLDER` enlarges a run's stored frames as ``[output] upscale`` would.
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


def settings_for(names: list[str] | tuple[str, ...], tile: int | None = None) -> UpscaleSettings:
    """Stage names as a user writes them (``esrgan-x4``, ``lanczos-x2``) -> settings; ``RenderError``
    (exit 2) naming the mistake."""
    try:
        stages = tuple(upscalers.canonical_stage(name) for name in names)
    except ValueError as err:
        error = RenderError(f"upscale: {err}")
        error.exit_code = 2
        raise error from None
    return UpscaleSettings(stages, tile, upscalers.chain_factor(stages))


def stage_key(settings: UpscaleSettings) -> str:
    return f"upscale{UPSCALE_VERSION}|{upscalers.stage_digest(settings.stages)}|tile={settings.tile}"


def upscaled_key(frame_key: str, settings: UpscaleSettings) -> str:
    """The key of an upscaled frame: its frame's key and everything the stages are."""
    return hashlib.sha256(f"{frame_key}|{stage_key(settings)}".encode()).hexdigest()


def _budget() -> int:
    from .backend.devices import machine_memory
    return int(0.5 * machine_memory())


class Upscaling:
    """The loaded stages of one :class:`UpscaleSettings`, applied to float ``(H, W, 3)`` 0..1 pictures."""

    def __init__(self, settings: UpscaleSettings):
        self.settings = settings
        self._stages: list[tuple[object, int]] = []
        self._nets: list[upscalers.Upscaler | None] = []
        for stage in settings.stages:
            if stage.startswith(upscalers.LANCZOS):
                self._stages.append((LANCZOS, upscalers.stage_factor(stage)))
                self._nets.append(None)
            else:
                net = upscalers.load_upscaler(stage)
                self._stages.append((net.net, net.factor))
                self._nets.append(net)

    def tiles(self, height: int, width: int) -> list[int]:
        """Each stage's tile side for a ``height`` x ``width`` input (the settings', else the largest
        up to :data:`DEFAULT_TILE` whose memory estimate fits half the machine)."""
        tiles = []
        for net, (_, factor) in zip(self._nets, self._stages):
            if net is None or self.settings.tile is not None:
                tiles.append(self.settings.tile or DEFAULT_TILE)
            else:
                try:
                    planned = plan_upscale_tile(height, width, factor, _budget(), net.activation_bytes,
                                                overlap=net.overlap)
                except ValueError:
                    raise OutputError(f"upscaling a {width}x{height} picture with {net.name} does not fit in "
                                      f"memory even with the smallest tiles") from None
                tiles.append(min(planned, DEFAULT_TILE))
            height, width = height * factor, width * factor
        return tiles

    def __call__(self, image: np.ndarray, progress: Callable[[int, int], None] | None = None) -> np.ndarray:
        image = np.asarray(image, np.float32)
        return upscale_chain(image, self._stages, tile=self.tiles(*image.shape[:2]), progress=progress)


def upscale_frames(store: RunStore, keys: list[str], settings: UpscaleSettings, picture_text: dict | None,
                   progress: Callable[[int, int], None] | None = None) -> RunStore:
    """Enlarge every stored frame of ``store`` not yet upscaled for ``settings`` into ``upscaled/``;
    returns that folder's store.  The caller holds ``store``'s lock."""
    upscaled = RunStore(store.root, picture_text, frames_folder=UPSCALED_DIR)
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

def _read_picture(path: Path) -> tuple[np.ndarray, int, dict]:
    """float (H, W, 3) 0..1, bits per channel, and what to keep: dpi, ICC profile, text metadata."""
    suffix = path.suffix.lower()
    keep: dict = {"format": {".tif": "tiff", ".tiff": "tiff", ".png": "png", ".jpg": "jpeg", ".jpeg": "jpeg"}.get(suffix)}
    if keep["format"] is None:
        raise OutputError(f"{path}: upscale reads TIFF, PNG and JPEG pictures")
    try:
        if keep["format"] == "tiff":
            import tifffile
            from .prints.files import ICC_TAG
            with tifffile.TiffFile(path) as tiff:
                page = tiff.pages[0]
                data = page.asarray()
                tags = page.tags
                keep["description"] = tags["ImageDescription"].value if "ImageDescription" in tags else None
                keep["icc"] = bytes(tags[ICC_TAG].value) if ICC_TAG in tags else None
                if "XResolution" in tags:
                    (xn, xd), (yn, yd) = tags["XResolution"].value, tags["YResolution"].value
                    keep["dpi"] = (xn / xd, yn / yd)
        else:
            with Image.open(path) as picture:
                keep["icc"] = picture.info.get("icc_profile")
                keep["dpi"] = picture.info.get("dpi")
                keep["text"] = {k: v for k, v in picture.info.items() if isinstance(v, str)}
                keep["comment"] = picture.info.get("comment")
                data = np.asarray(picture.convert("RGB"))
    except (OSError, ValueError) as err:
        raise OutputError(f"cannot read {path}: {err}") from None
    if data.ndim == 2:
        data = np.stack([data] * 3, axis=-1)
    data = data[..., :3]
    if data.dtype not in (np.uint8, np.uint16):
        raise OutputError(f"{path}: {data.dtype} pictures are not supported (8 or 16 bits per channel)")
    bits = data.dtype.itemsize * 8
    return data.astype(np.float32) / float(np.iinfo(data.dtype).max), bits, keep


def _write_picture(path: Path, image: np.ndarray, bits: int, keep: dict, stages: str) -> None:
    dtype = np.uint16 if bits == 16 else np.uint8
    data = np.rint(np.clip(image, 0.0, 1.0) * float(np.iinfo(dtype).max)).astype(dtype)
    buffer = io.BytesIO()
    if keep["format"] == "tiff":
        import tifffile
        from .prints.files import ICC_TAG
        description = keep.get("description")
        try:
            meta = json.loads(description) if description else {}
            meta["upscaled"] = stages
            description = json.dumps(meta, sort_keys=True)
        except ValueError:
            description = f"{description} (upscaled: {stages})"
        extratags = [(ICC_TAG, "B", len(keep["icc"]), keep["icc"], True)] if keep.get("icc") else []
        dpi = keep.get("dpi")
        tifffile.imwrite(buffer, data, photometric="rgb", compression="zlib", predictor=True, metadata=None,
                         description=description, extratags=extratags,
                         **({"resolution": dpi, "resolutionunit": "INCH"} if dpi else {}))
    else:
        from PIL import PngImagePlugin
        picture = Image.fromarray(data)
        options = {k: v for k, v in (("icc_profile", keep.get("icc")), ("dpi", keep.get("dpi"))) if v}
        if keep["format"] == "png":
            info = PngImagePlugin.PngInfo()
            for key, value in dict(keep.get("text") or {}, upscaled=stages).items():
                info.add_itxt(key, value)
            picture.save(buffer, format="PNG", pnginfo=info, **options)
        else:
            comment = keep.get("comment") or b""
            picture.save(buffer, format="JPEG", quality=95, subsampling=0, comment=comment, **options)
    atomic_write(path, buffer.getvalue())


def upscale_file(path: Path, settings: UpscaleSettings, out: Path | None = None,
                 progress: Callable[[int, int], None] | None = None) -> Path:
    """Enlarge one picture file; the result keeps format, bit depth, dpi, ICC profile and metadata.
    Default output: ``<stem>.<stage>[.<stage>].<ext>`` beside it."""
    path = Path(path)
    image, bits, keep = _read_picture(path)
    label = "+".join(settings.stages)
    target = Path(out) if out is not None else path.with_name(f"{path.stem}.{label}{path.suffix}")
    height, width = image.shape[:2]
    if max(height, width) * settings.factor > 65500:
        raise OutputError(f"{path}: {width}x{height} times {settings.factor} is over 65500 px")
    _write_picture(target, Upscaling(settings)(image, progress), bits, keep, label)
    return target


def upscale_run(run_dir: Path, settings: UpscaleSettings,
                progress: Callable[[int, int], None] | None = None) -> tuple[Path, int]:
    """Enlarge every stored frame of a run folder (keyed as ``[output] upscale`` keys them); returns
    the folder of upscaled frames and how many frames it holds."""
    store = RunStore(run_dir)
    sidecars = sorted(store.frames_dir.glob("frame_*.json"))
    if not sidecars:
        raise OutputError(f"{run_dir}: no stored frames (is it a run folder?)")
    keys = []
    for sidecar in sidecars:
        try:
            keys.append(json.loads(sidecar.read_text())["key"])
        except (OSError, ValueError, KeyError):
            raise OutputError(f"{sidecar}: unreadable; render the run again") from None
    indices = [int(s.stem.split("_")[1]) for s in sidecars]
    if indices != list(range(len(indices))):
        raise OutputError(f"{run_dir}: frames are missing (found {len(indices)}, numbered up to {indices[-1]})")
    with store:
        upscaled = upscale_frames(store, keys, settings, None, progress)
    return upscaled.frames_dir, len(keys)
