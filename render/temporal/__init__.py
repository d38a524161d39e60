"""Temporal coherence for footage: optical flow of the source (:mod:`.flow`), a content-addressed
flow cache (:mod:`.cache`) and the warping error that measures flicker (:mod:`.consistency`).
Framework-free (numpy and OpenCV): the engines take warped frames and masks as plain arrays."""

from .cache import FlowCache, default_flow_folder, frame_digest
from .consistency import pair_warping_error, warping_error
from .flow import FlowSettings, FramePairFlow, dense_flow, occlusion_mask, pair_flow, sample, warp_previous

__all__ = ["FlowCache", "default_flow_folder", "FlowSettings", "FramePairFlow", "dense_flow", "frame_digest", "occlusion_mask",
           "pair_flow", "pair_warping_error", "sample", "warp_previous", "warping_error"]
