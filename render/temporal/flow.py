"""Dense optical flow between consecutive *source* frames, the occlusion mask that says where it can be
trusted, and warping along it: the pieces of temporal coherence for footage (Ruder, Dosovitskiy and
Brox, "Artistic style transfer for videos", GCPR 2016, section 3.2).

Conventions (all arrays float32, frames ``(h, w, 3)`` in 0..1):

- a flow ``(h, w, 2)`` in pixels, (dx, dy), from frame A to frame B: the content at ``p`` in A is at
  ``p + flow[p]`` in B;
- frame n's *backward* flow goes from n to n-1 and its *forward* flow from n-1 to n;
- :func:`warp_previous` carries an image aligned with frame n-1 onto frame n with the backward flow
  (``out[p] = previous[p + backward[p]]``, bilinear; outside the picture the nearest edge);
- the mask ``(h, w)`` is 1 where the warp is trusted, 0 where the source frame n-1 warped by the flow
  does not match frame n (mean absolute colour error above ``photometric``: a flow both directions
  agree on can still miss a small, fast object), where the content entered the frame (it was
  outside frame n-1), at disocclusions (the forward and backward
  flows disagree: ``|w_f(p + w_b(p)) + w_b(p)|^2 > 0.01 (|w_f'|^2 + |w_b|^2) + 0.5``) and at motion
  boundaries (``|grad u|^2 + |grad v|^2 > 0.01 |w_b|^2 + 0.002``), the two tests of Ruder et al.

The flow itself is OpenCV's DIS (Kroeger et al., "Fast Optical Flow using Dense Inverse Search", ECCV
2016) on the frames' luminance: a well-kept, fast CPU implementation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

PRESETS = ("ultrafast", "fast", "medium")


@dataclass(frozen=True)
class FlowSettings:
    """``preset``: DIS's speed/quality preset; the thresholds of the occlusion tests."""

    preset: str = "medium"
    consistency: float = 0.5       # px^2 slack of the forward-backward test
    boundary: float = 0.002        # slack of the motion-boundary test
    photometric: float = 0.1       # mean absolute colour error of the warped source beyond which a pixel is untrusted

    def key(self) -> dict:
        return {"flow": "opencv-dis", "preset": self.preset, "consistency": self.consistency,
                "boundary": self.boundary, "photometric": self.photometric}


@dataclass(frozen=True)
class FramePairFlow:
    """Flows between frames n-1 and n and frame n's mask (see the module's conventions)."""

    forward: np.ndarray    # (h, w, 2): n-1 -> n
    backward: np.ndarray   # (h, w, 2): n -> n-1
    mask: np.ndarray       # (h, w): 1 where warping frame n-1 onto n is trusted


def _luminance(frame: np.ndarray) -> np.ndarray:
    """float RGB (h, w, 3) in 0..1 -> uint8 luminance (Rec. 601 weights), what DIS tracks."""
    grey = frame[..., 0] * 0.299 + frame[..., 1] * 0.587 + frame[..., 2] * 0.114
    return np.clip(np.round(grey * 255.0), 0, 255).astype(np.uint8)


def dense_flow(a: np.ndarray, b: np.ndarray, preset: str = "medium") -> np.ndarray:
    """Flow from frame ``a`` to frame ``b`` (float RGB ``(h, w, 3)``), ``(h, w, 2)`` float32 pixels."""
    import cv2
    if preset not in PRESETS:
        raise ValueError(f"unknown DIS preset {preset!r}: {', '.join(PRESETS)}")
    dis = cv2.DISOpticalFlow_create(getattr(cv2, f"DISOPTICAL_FLOW_PRESET_{preset.upper()}"))
    return dis.calc(_luminance(a), _luminance(b), None).astype(np.float32)


def sample(image: np.ndarray, flow: np.ndarray) -> np.ndarray:
    """``image[p + flow[p]]`` for every pixel ``p`` (bilinear; the nearest edge outside), for images
    ``(h, w)`` or ``(h, w, c)`` aligned with ``flow``'s grid."""
    import cv2
    h, w = flow.shape[:2]
    xs, ys = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    return cv2.remap(np.ascontiguousarray(image, np.float32), xs + flow[..., 0], ys + flow[..., 1],
                     interpolation=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def warp_previous(previous: np.ndarray, backward: np.ndarray) -> np.ndarray:
    """An image aligned with frame n-1 (the previous *output*) carried onto frame n along the source's
    backward flow ``backward`` (n -> n-1)."""
    return sample(previous, backward)


def occlusion_mask(forward: np.ndarray, backward: np.ndarray, settings: FlowSettings = FlowSettings()) -> np.ndarray:
    """Frame n's trust mask from the forward (n-1 -> n) and backward (n -> n-1) flows: 0 at
    disocclusions and motion boundaries, 1 elsewhere, float32 ``(h, w)``."""
    import cv2
    forward_there = sample(forward, backward)                 # w_f at p + w_b(p), seen from frame n
    total = forward_there + backward
    lengths = (forward_there ** 2).sum(-1) + (backward ** 2).sum(-1)
    disoccluded = (total ** 2).sum(-1) > 0.01 * lengths + settings.consistency
    # squared gradient of both flow components; Sobel with ksize 1 is f(x+1) - f(x-1), twice the slope
    gradient = sum(cv2.Sobel(backward[..., c], cv2.CV_32F, dx, 1 - dx, ksize=1) ** 2
                   for c in (0, 1) for dx in (0, 1)) / 4.0
    boundary = gradient > 0.01 * (backward ** 2).sum(-1) + settings.boundary
    h, w = backward.shape[:2]
    xs, ys = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    source_x, source_y = xs + backward[..., 0], ys + backward[..., 1]
    outside = (source_x < 0) | (source_x > w - 1) | (source_y < 0) | (source_y > h - 1)  # entered the frame
    return (~(disoccluded | boundary | outside)).astype(np.float32)


def pair_flow(previous: np.ndarray, current: np.ndarray, settings: FlowSettings = FlowSettings()) -> FramePairFlow:
    """Forward and backward flow between two consecutive source frames, and the current frame's mask."""
    forward = dense_flow(previous, current, settings.preset)
    backward = dense_flow(current, previous, settings.preset)
    mask = occlusion_mask(forward, backward, settings)
    # a flow both directions agree on can still be wrong (a small, fast object the coarse-to-fine
    # search misses): where the source itself does not warp onto the current frame, trust nothing
    error = np.abs(warp_previous(previous, backward) - current).mean(axis=-1)
    mask[error > settings.photometric] = 0.0
    return FramePairFlow(forward, backward, mask)
