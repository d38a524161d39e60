"""What kinds that follow a source sequence share: the ``[flow]`` table (optical flow of the source,
see :mod:`render.temporal`), and the words `render plan` prints about it."""

from __future__ import annotations

from ..recipe.fields import Choice, Number
from ..temporal import FlowSettings
from ..temporal.flow import PRESETS

FLOW = {
    "preset": Choice("medium", PRESETS, help="OpenCV DIS optical flow preset of the source: ultrafast | fast | "
                                             "medium (better flow, still a small share of a frame's time)"),
    "consistency": Number(0.5, 0.0, 100.0, help="forward-backward disagreement (px^2) beyond which a pixel "
                                                "counts as occluded (Ruder et al.)"),
    "boundary": Number(0.002, 0.0, 10.0, help="motion-boundary slack of the occlusion mask (Ruder et al.)"),
    "photometric": Number(0.1, 0.0, 1.0, help="colour error (0..1) of the source warped along the flow beyond "
                                              "which the flow is not trusted (catches small fast objects)"),
}


def flow_settings(sections) -> FlowSettings:
    table = sections["flow"]
    return FlowSettings(table["preset"], float(table["consistency"]), float(table["boundary"]),
                        float(table["photometric"]))


def describe_flow(settings: FlowSettings) -> str:
    return (f"flow     OpenCV DIS ({settings.preset}) between consecutive source frames; untrusted where the flows "
            f"disagree (consistency {settings.consistency:g}, boundary {settings.boundary:g}) or the warped "
            f"source differs (photometric {settings.photometric:g}); cached by content")
