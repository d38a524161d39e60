"""What a kind of recipe is: the plug-in interface that the loader, plan, frame keys and runner use.

A kind owns everything specific to it: its recipe tables (field specs), its typed settings, which
extra facts go into frame keys, its preview policy, its memory estimate and its engine.  The generic
layers only ever call the methods below, so a new kind is one module plus a registry entry (or a
Python entry point in the ``neural_render.kinds`` group).

Frames are either *chained* (frame n starts from stored frame n-1: keys chain, frames render in order,
one at a time) or *independent* (keys cover only the frame's own row and inputs; frames render in any
order, in batches).

An engine renders a batch of :class:`FrameJob` and returns one uint8 ``(H, W, 3)`` image per job.
"""

from __future__ import annotations

from typing import Any, Mapping, Protocol, Sequence

from ..contracts import Engine, FrameJob, PrintRequest, PrintStage, Printer  # noqa: F401 (re-exported)
from ..recipe.fields import Field


class CheckError(Protocol):
    def __call__(self, key: str, message: str) -> Exception: ...


class Kind:
    """Base class of kind plug-ins.  Subclasses set the class attributes and override what differs.

    ``sections`` maps each of the kind's own tables to its field specs (besides the shared
    ``[output]`` and ``[model]``); ``roles`` lists the model roles it can use; ``engine_version`` goes
    into every frame key, so bump it when the same recipe would give other pixels.
    """

    name: str = ""
    description: str = ""
    chained: bool = True
    engine_version: str = "1"
    sections: dict[str, dict[str, Field]] = {}
    roles: tuple[str, ...] = ()
    default_model: str = ""
    model_help: str = ""
    default_batch: int = 1

    def settings(self, sections: dict[str, dict[str, Any]], model, output, error: CheckError) -> Any:
        """Typed settings from the clean ``sections``; checks that span fields (a layer the model
        lacks, for instance) raise ``error(key_path, message)``.  Default: the sections themselves."""
        return sections

    def sequence_source(self, sections: dict[str, dict[str, Any]]):
        """The :class:`render.media.MediaSource` the frames follow (a style's content, a translate
        input), or None.  A video or animation sets the frame rate when the recipe gives none."""
        return None

    def inert(self, sections: dict[str, dict[str, Any]], given: frozenset[str]) -> dict[str, str]:
        """Settings that do nothing with these ``sections``: key path (a key, or a whole table) -> why.
        ``given`` holds the key paths the recipe writes (``"output.frames"``, ``"motion"``,
        ``"motion.zoom"``).  The loader notes those the recipe writes, once; `render plan` leaves their
        columns out.  Default: none."""
        return {}

    def implied_defaults(self, data: dict[str, Any]) -> tuple[tuple[str, str, Any], ...]:
        """``(table, key, value)`` defaults that replace a field's own where the raw recipe ``data`` (the
        TOML as read) makes another fit better, such as a method's own carry; used only for keys the
        recipe leaves out.  Default: none."""
        return ()

    def uses_model(self, recipe) -> bool:
        """Whether ``recipe``'s frames depend on its ``[model]`` network (frame keys then name it).
        Default: yes."""
        return True

    def packaged_networks(self, recipe) -> tuple[str, ...]:
        """Names of the packaged networks (:mod:`render.models.packages`) the kind's frames need besides
        ``[model]``: fetched before anything renders.  Default: none."""
        return ()

    def frame_count(self, sections: dict[str, dict[str, Any]], output) -> int | None:
        """Frames implied by the kind's own tables, used when the recipe gives neither
        ``output.frames`` nor ``output.duration``.  Default: as many as :meth:`sequence_source`
        lasts when it is a sequence (a folder's files, a video's duration times the fps), else
        none (one frame)."""
        source = self.sequence_source(sections)
        return source.count if source is not None and source.is_sequence else None

    def extra_columns(self, recipe) -> dict[str, Any]:
        """Plan columns computed from the settings rather than read from one field (name -> schedule
        with ``expand(frames)``), such as a walk's latent path."""
        return {}

    def min_side(self, model) -> int:
        """Smallest frame side the kind can render with ``model``."""
        return model.min_side

    def min_side_for(self, model, sections: dict[str, dict[str, Any]]) -> int:
        """Smallest frame side with ``model`` and these ``sections`` (a setting may need no model).
        Default: :meth:`min_side`."""
        return self.min_side(model)

    def key_parts(self, recipe) -> dict[str, Any]:
        """Static facts (JSON data; :class:`pathlib.Path` values are hashed by content) that determine
        every frame besides the plan rows, seed, size, model and precision."""
        return {}

    def key_row(self, recipe, index: int, row: Mapping[str, Any]) -> Mapping[str, Any]:
        """What of frame ``index`` can change its pixels: by default its whole plan row.  Kinds drop
        what the frame does not use and add per-frame inputs (a :class:`pathlib.Path` is hashed by
        content), such as the frame of a content folder."""
        return row

    def preview_sections(self, sections: dict[str, dict[str, Any]], factor: float) -> dict[str, dict[str, Any]]:
        """Sections of a quick draft whose frame is ``factor`` (<= 1) times the size (default: same)."""
        return sections

    def batch_size(self, recipe) -> int:
        """Frames per engine call (1 for chained kinds)."""
        return 1 if self.chained else self.default_batch

    def memory_estimate(self, recipe) -> int:
        """Rough peak bytes of rendering one frame (or one batch)."""
        width, height = recipe.output.size
        return width * height * 3 * 4 * 8 * self.batch_size(recipe)

    def summary(self, recipe) -> list[str]:
        """Lines for ``render plan``'s header, after the generic ones."""
        return []

    def build_engine(self, recipe) -> Engine:  # pragma: no cover - abstract
        raise NotImplementedError

    # --- prints (render print) -------------------------------------------------------------------
    printable: bool = False
    print_from_frame: bool = True    # a print starts from the stored frame (else from the plan row only)
    print_tiles: tuple[int, ...] = (1024, 768, 512, 384, 256, 192, 128, 96, 64)

    def print_stages(self, recipe, row: Mapping[str, Any], width: int, height: int,
                     steps: int | None) -> list[PrintStage]:
        """The stages of a ``width`` x ``height`` print of the frame whose plan row is ``row``;
        ``steps`` overrides the steps per stage."""
        raise NotImplementedError(f"kind {self.name!r} cannot print")

    def print_tile(self, recipe) -> int:
        """The tile side a print uses unless memory asks for a smaller one."""
        return 512

    def print_memory(self, recipe, stages: Sequence[PrintStage], tile: int) -> int:
        """Estimated peak bytes of the whole process while printing ``stages`` with ``tile``."""
        raise NotImplementedError(f"kind {self.name!r} cannot print")

    def build_printer(self, recipe) -> Printer:
        raise NotImplementedError(f"kind {self.name!r} cannot print")
