"""Training pix2pix: adversarial loss plus L1 (lambda = 100), Adam (2e-4, beta1 = 0.5), as in the
paper, on (sketch, picture) pairs in 0..1 (scaled to -1..1 inside).

Training is deterministic and resumable: batch ``k`` is drawn from ``(seed, k)``, the networks have
no dropout, and a checkpoint (both networks, both optimisers, the step) is written every
``checkpoint_every`` steps into ``OUT/checkpoints``, so a killed run continues from its last checkpoint
with the same losses an unbroken run has.  The finished model is ``OUT/generator.weights.h5`` plus
``OUT/model.json`` (what the renderer needs to load it), a ``samples.png`` sheet and ``losses.csv``.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import keras
import numpy as np

from ..models.pix2pix import patch_discriminator, unet_generator
from ..tfsetup import tf


@dataclass(frozen=True)
class TrainConfig:
    size: int = 64
    steps: int = 2000
    batch: int = 16
    seed: int = 0
    ngf: int = 32
    l1_weight: float = 100.0
    learning_rate: float = 2e-4
    beta1: float = 0.5
    checkpoint_every: int = 200


@dataclass(frozen=True)
class StepLosses:
    step: int
    generator_gan: float
    generator_l1: float   # mean absolute error in 0..1 pixel units
    discriminator: float


class Pix2PixTrainer:
    """Holds the networks, optimisers and data; ``train(until)`` runs steps until ``until``."""

    def __init__(self, sketches: np.ndarray, pictures: np.ndarray, out: Path, config: TrainConfig):
        self.sketches = sketches.astype(np.float32) * 2.0 - 1.0
        self.pictures = pictures.astype(np.float32) * 2.0 - 1.0
        self.out, self.config = Path(out), config
        self.out.mkdir(parents=True, exist_ok=True)
        self.generator = unet_generator(config.size, sketches.shape[-1], pictures.shape[-1], config.ngf, config.seed)
        self.discriminator = patch_discriminator(sketches.shape[-1], pictures.shape[-1], config.ngf, config.seed)
        self.g_opt = keras.optimizers.Adam(config.learning_rate, beta_1=config.beta1)
        self.d_opt = keras.optimizers.Adam(config.learning_rate, beta_1=config.beta1)
        self.g_opt.build(self.generator.trainable_variables)
        self.d_opt.build(self.discriminator.trainable_variables)
        self.step = tf.Variable(0, dtype=tf.int64, trainable=False)
        checkpoint = tf.train.Checkpoint(generator=self.generator, discriminator=self.discriminator,
                                         g_opt=self.g_opt, d_opt=self.d_opt, step=self.step)
        self.manager = tf.train.CheckpointManager(checkpoint, self.out / "checkpoints", max_to_keep=2)
        if self.manager.latest_checkpoint:
            checkpoint.restore(self.manager.latest_checkpoint).assert_existing_objects_matched()
        self._trim_log(int(self.step))
        self._train_step = tf.function(self._step)

    def batch(self, step: int) -> tuple[np.ndarray, np.ndarray]:
        rng = np.random.default_rng([self.config.seed, step])
        index = rng.choice(len(self.sketches), size=min(self.config.batch, len(self.sketches)), replace=False)
        return self.sketches[index], self.pictures[index]

    def _step(self, sketch, picture):
        bce = keras.losses.BinaryCrossentropy(from_logits=True)
        with tf.GradientTape() as g_tape, tf.GradientTape() as d_tape:
            fake = self.generator(sketch, training=True)
            real_logits = self.discriminator([sketch, picture], training=True)
            fake_logits = self.discriminator([sketch, fake], training=True)
            g_gan = bce(tf.ones_like(fake_logits), fake_logits)
            g_l1 = tf.reduce_mean(tf.abs(picture - fake))
            g_total = g_gan + self.config.l1_weight * g_l1
            d_loss = 0.5 * (bce(tf.ones_like(real_logits), real_logits) + bce(tf.zeros_like(fake_logits), fake_logits))
        self.g_opt.apply_gradients(zip(g_tape.gradient(g_total, self.generator.trainable_variables),
                                       self.generator.trainable_variables))
        self.d_opt.apply_gradients(zip(d_tape.gradient(d_loss, self.discriminator.trainable_variables),
                                       self.discriminator.trainable_variables))
        self.step.assign_add(1)
        return g_gan, g_l1 / 2.0, d_loss  # L1 in 0..1 units

    def train(self, until: int, progress: Callable[[StepLosses], None] | None = None) -> list[StepLosses]:
        history = []
        while int(self.step) < until:
            step = int(self.step)
            sketch, picture = self.batch(step)
            g_gan, g_l1, d_loss = self._train_step(tf.constant(sketch), tf.constant(picture))
            losses = StepLosses(step + 1, float(g_gan), float(g_l1), float(d_loss))
            history.append(losses)
            self._log(losses)
            if (step + 1) % self.config.checkpoint_every == 0 or step + 1 == until:
                self.manager.save(checkpoint_number=step + 1)
            if progress:
                progress(losses)
        return history

    def _trim_log(self, step: int) -> None:
        """Drop logged steps after ``step`` (a killed run logged steps its checkpoint does not hold)."""
        path = self.out / "losses.csv"
        if path.exists() and step == 0:
            path.unlink()
        elif path.exists():
            lines = path.read_text().splitlines()
            kept = lines[:1] + [line for line in lines[1:] if int(line.split(",", 1)[0]) <= step]
            path.write_text("\n".join(kept) + "\n")

    def _log(self, losses: StepLosses) -> None:
        path = self.out / "losses.csv"
        new = not path.exists()
        with open(path, "a") as handle:
            if new:
                handle.write("step,generator_gan,generator_l1,discriminator\n")
            handle.write(f"{losses.step},{losses.generator_gan:.6f},{losses.generator_l1:.6f},{losses.discriminator:.6f}\n")

    def translate(self, sketches: np.ndarray) -> np.ndarray:
        """Sketches ``(n, size, size, c)`` in 0..1 -> pictures in 0..1."""
        out = self.generator(sketches * 2.0 - 1.0, training=False).numpy()
        return np.clip((out + 1.0) / 2.0, 0.0, 1.0)

    def save_model(self, description: dict) -> Path:
        self.out.mkdir(parents=True, exist_ok=True)
        self.generator.save_weights(str(self.out / "generator.weights.h5"))
        meta = dict(description, role="image-to-image", architecture="pix2pix-unet", config=asdict(self.config),
                    in_channels=int(self.sketches.shape[-1]), out_channels=int(self.pictures.shape[-1]))
        (self.out / "model.json").write_text(json.dumps(meta, indent=2))
        return self.out / "generator.weights.h5"


def held_out_l1(trainer: Pix2PixTrainer, sketches: np.ndarray, pictures: np.ndarray,
                training_pictures: np.ndarray) -> tuple[float, float]:
    """Mean absolute error (0..1 units) of the model on pairs it never saw, and of a trivial baseline
    that always answers the mean training picture."""
    predicted = np.concatenate([trainer.translate(sketches[i:i + 64]) for i in range(0, len(sketches), 64)])
    baseline = training_pictures.mean(axis=0, keepdims=True)
    return float(np.abs(predicted - pictures).mean()), float(np.abs(baseline - pictures).mean())


def sample_sheet(trainer: Pix2PixTrainer, sketches: np.ndarray, pictures: np.ndarray, path: Path) -> None:
    """Rows of (sketch, model output, true picture), as a PNG."""
    from PIL import Image
    made = trainer.translate(sketches)
    rows = [np.concatenate([np.repeat(s, 3, axis=-1) if s.shape[-1] == 1 else s, m, p], axis=1)
            for s, m, p in zip(sketches, made, pictures)]
    sheet = np.concatenate(rows, axis=0)
    Image.fromarray(np.round(sheet * 255).astype(np.uint8)).save(path)


def write_card(out: Path, name: str, data: str, config: TrainConfig, history_tail: list[StepLosses],
               seconds: float, machine: str, command: str, l1: float, baseline: float) -> None:
    last = history_tail[-1] if history_tail else None
    lines = [f"# {name}: a pix2pix model trained by this renderer", "",
             "| | |", "| --- | --- |",
             f"| what | pix2pix (Isola et al., 2017): U-Net generator (ngf {config.ngf}, no dropout) and "
             f"PatchGAN discriminator, {config.size}x{config.size} |",
             f"| data | {data} |",
             f"| training | {config.steps} steps, batch {config.batch}, Adam {config.learning_rate} "
             f"(beta1 {config.beta1}), L1 weight {config.l1_weight}, seed {config.seed} |",
             f"| time | {seconds / 60:.1f} minutes on {machine} |"]
    if last:
        lines.append(f"| final losses | generator adversarial {last.generator_gan:.3f}, L1 {last.generator_l1:.4f}, "
                     f"discriminator {last.discriminator:.3f} (losses.csv has every step) |")
    lines += [f"| held-out L1 | {l1:.4f} on pairs never trained on, against {baseline:.4f} for the mean "
              f"training picture (0..1 pixel units, lower is better) |", "",
              "Reproduce it with:", "", "```sh", command, "```", "",
              "`samples.png`: held-out pairs, each row the sketch, the model's picture and the true picture."]
    (out / "README.md").write_text("\n".join(lines) + "\n")


def train_pix2pix(out: Path, config: TrainConfig, sketches: np.ndarray, pictures: np.ndarray,
                  held_out: tuple[np.ndarray, np.ndarray], data: str, command: str, machine: str,
                  progress: Callable[[StepLosses], None] | None = None) -> Pix2PixTrainer:
    """Train (resuming from ``out/checkpoints`` if present) and write the model, card and samples."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    trainer = Pix2PixTrainer(sketches, pictures, out, config)
    start = time.perf_counter()
    history = trainer.train(config.steps, progress)
    seconds = time.perf_counter() - start
    trainer.save_model({"name": out.name, "data": data})
    l1, baseline = held_out_l1(trainer, *held_out, pictures)
    sample_sheet(trainer, held_out[0][:8], held_out[1][:8], out / "samples.png")
    write_card(out, out.name, data, config, history[-1:], seconds, machine, command, l1, baseline)
    return trainer
