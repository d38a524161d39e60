"""A StyleGAN2-ADA / StyleGAN3 generator read from its pickle (:mod:`.stylegan_pickle`) -> a plain
description (``config``, JSON-ready) and its arrays (name -> float32), the form the Keras networks
(:mod:`.stylegan`) load and the model cache stores.

The description is taken from the objects' own attributes (the layers' gains, paddings, sampling
factors, clamps, filters), not recomputed from constructor arguments, so variants of NVIDIA's code
that set them differently still load.  Gains are folded into the arrays here:

* a fully connected layer's weight is stored ``(in, out)`` times its ``weight_gain``, its bias times
  its ``bias_gain``;
* convolution kernels are stored ``(kh, kw, in, out)`` (channels last), a plain convolution's with
  its ``weight_gain``; a StyleGAN3 layer's kernel is pre-normalised (``w / rms(w)`` over in, kh, kw,
  as its modulated convolution does first when it demodulates);
* a StyleGAN3 layer's ``magnitude_ema`` becomes ``input_gain = magnitude_ema ** -0.5``.

Raises :class:`~render.errors.ModelError` naming the file and the missing or unexpected piece.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ModelError
from .stylegan_pickle import Network, generator_of, read_pickle

FORMAT = 1


class _Converter:
    def __init__(self, path: Path):
        self.path = path
        self.arrays: dict[str, np.ndarray] = {}

    def fail(self, what: str):
        raise ModelError(f"{self.path}: {what}: not a StyleGAN2-ADA or StyleGAN3 generator this reader knows")

    def attr(self, net: Network, name: str, default: Any = KeyError):
        value = net.get(name, default)
        if value is KeyError:
            self.fail(f"{net.class_name} has no {name}")
        return value

    def tensor(self, net: Network, name: str) -> np.ndarray:
        try:
            return np.asarray(net.tensor(name), np.float32)
        except KeyError:
            self.fail(f"{net.class_name} has no tensor {name}")

    def child(self, net: Network, name: str) -> Network:
        try:
            return net.child(name)
        except KeyError:
            self.fail(f"{net.class_name} has no {name}")

    def store(self, name: str, value: np.ndarray) -> str:
        self.arrays[name] = np.ascontiguousarray(value, np.float32)
        return name

    # --- pieces ---------------------------------------------------------------------------------
    def dense(self, net: Network, name: str) -> dict:
        weight = self.tensor(net, "weight")                       # (out, in)
        spec = {"weight": self.store(f"{name}/weight", weight.T * float(self.attr(net, "weight_gain"))),
                "activation": str(self.attr(net, "activation", "linear")), "bias": None}
        if net.parameters.get("bias") is not None:
            spec["bias"] = self.store(f"{name}/bias", self.tensor(net, "bias") * float(self.attr(net, "bias_gain", 1)))
        if spec["activation"] not in ("linear", "lrelu"):
            self.fail(f"{name} uses activation {spec['activation']}")
        return spec

    def kernel(self, weight: np.ndarray) -> np.ndarray:
        return weight.transpose(2, 3, 1, 0)                       # (out, in, kh, kw) -> (kh, kw, in, out)

    def filter(self, net: Network, name: str, key: str) -> str | None:
        value = net.buffers.get(name)
        if value is None:
            return None
        return self.store(key, value)

    def mapping(self, mapping: Network) -> dict:
        layers = int(self.attr(mapping, "num_layers"))
        spec = {"z_dim": int(self.attr(mapping, "z_dim")), "c_dim": int(self.attr(mapping, "c_dim")),
                "w_dim": int(self.attr(mapping, "w_dim")), "num_ws": int(self.attr(mapping, "num_ws")),
                "layers": [self.dense(self.child(mapping, f"fc{i}"), f"mapping/fc{i}") for i in range(layers)],
                "embed": None}
        if spec["c_dim"] > 0:
            spec["embed"] = self.dense(self.child(mapping, "embed"), "mapping/embed")
        if mapping.buffers.get("w_avg") is None:
            self.fail("the mapping network tracks no w_avg (truncation needs it)")
        self.store("mapping/w_avg", self.tensor(mapping, "w_avg"))
        return spec

    # --- StyleGAN2 ------------------------------------------------------------------------------
    def sg2_layer(self, layer: Network, name: str) -> dict:
        out_channels, in_channels, kernel_size = self.tensor(layer, "weight").shape[:3]
        spec = {"affine": self.dense(self.child(layer, "affine"), f"{name}/affine"),
                "in_channels": int(in_channels), "out_channels": int(out_channels), "kernel_size": int(kernel_size),
                "resolution": int(self.attr(layer, "resolution")),
                "kernel": self.store(f"{name}/kernel", self.kernel(self.tensor(layer, "weight"))),
                "bias": self.store(f"{name}/bias", self.tensor(layer, "bias")),
                "up": int(self.attr(layer, "up", 1)), "padding": int(self.attr(layer, "padding", 1)),
                "act_gain": float(self.attr(layer, "act_gain")), "clamp": self.attr(layer, "conv_clamp", None),
                "activation": str(self.attr(layer, "activation", "lrelu")), "noise": None, "filter": None}
        if spec["up"] > 1:
            spec["filter"] = self.filter(layer, "resample_filter", f"{name}/filter")
        if self.attr(layer, "use_noise", False):
            spec["noise"] = self.store(f"{name}/noise_const", self.tensor(layer, "noise_const"))
            self.store(f"{name}/noise_strength", self.tensor(layer, "noise_strength").reshape(()))
        return spec

    def sg2_torgb(self, layer: Network, name: str) -> dict:
        affine = self.dense(self.child(layer, "affine"), f"{name}/affine")
        gain = float(self.attr(layer, "weight_gain"))
        self.arrays[affine["weight"]] *= gain
        if affine["bias"]:
            self.arrays[affine["bias"]] *= gain
        return {"affine": affine, "kernel": self.store(f"{name}/kernel", self.kernel(self.tensor(layer, "weight"))),
                "bias": self.store(f"{name}/bias", self.tensor(layer, "bias")),
                "clamp": self.attr(layer, "conv_clamp", None)}

    def sg2_skip(self, layer: Network, name: str) -> dict:
        weight = self.tensor(layer, "weight") * float(self.attr(layer, "weight_gain"))
        if int(self.attr(layer, "up", 1)) != 2 or weight.shape[2:] != (1, 1):
            self.fail(f"{name} is not a 1x1 x2 skip convolution")
        return {"kernel": self.store(f"{name}/kernel", self.kernel(weight)),
                "filter": self.filter(layer, "resample_filter", f"{name}/filter"),
                "act_gain": float(self.attr(layer, "act_gain", 1.0))}

    def synthesis2(self, synthesis: Network) -> dict:
        blocks = []
        for res in self.attr(synthesis, "block_resolutions"):
            block = self.child(synthesis, f"b{res}")
            name = f"synthesis/b{res}"
            spec = {"resolution": int(res), "architecture": str(self.attr(block, "architecture", "skip")),
                    "num_conv": int(self.attr(block, "num_conv")), "num_torgb": int(self.attr(block, "num_torgb")),
                    "const": None, "conv0": None, "conv1": None, "torgb": None, "skip": None,
                    "filter": self.filter(block, "resample_filter", f"{name}/filter")}
            if spec["architecture"] not in ("orig", "skip", "resnet"):
                self.fail(f"{name} has architecture {spec['architecture']}")
            if int(self.attr(block, "in_channels")) == 0:
                spec["const"] = self.store(f"{name}/const", self.tensor(block, "const").transpose(1, 2, 0))
            else:
                spec["conv0"] = self.sg2_layer(self.child(block, "conv0"), f"{name}/conv0")
            spec["conv1"] = self.sg2_layer(self.child(block, "conv1"), f"{name}/conv1")
            if block.children.get("torgb") is not None:
                spec["torgb"] = self.sg2_torgb(self.child(block, "torgb"), f"{name}/torgb")
            if block.children.get("skip") is not None:
                spec["skip"] = self.sg2_skip(self.child(block, "skip"), f"{name}/skip")
            blocks.append(spec)
        return {"blocks": blocks}

    # --- StyleGAN3 ------------------------------------------------------------------------------
    def sg3_input(self, layer: Network) -> dict:
        size = np.broadcast_to(np.asarray(self.attr(layer, "size")), [2])
        channels = int(self.attr(layer, "channels"))
        self.store("synthesis/input/freqs", self.tensor(layer, "freqs"))
        self.store("synthesis/input/phases", self.tensor(layer, "phases"))
        self.store("synthesis/input/weight", self.tensor(layer, "weight").T / np.sqrt(channels))
        self.store("synthesis/input/transform", self.tensor(layer, "transform"))
        return {"affine": self.dense(self.child(layer, "affine"), "synthesis/input/affine"),
                "size": [int(size[0]), int(size[1])], "channels": channels,
                "sampling_rate": float(self.attr(layer, "sampling_rate")),
                "bandwidth": float(self.attr(layer, "bandwidth"))}

    def sg3_layer(self, layer: Network, name: str) -> dict:
        torgb = bool(self.attr(layer, "is_torgb"))
        weight = self.tensor(layer, "weight")
        if not torgb:
            weight = weight / np.sqrt(np.mean(np.square(weight, dtype=np.float64), axis=(1, 2, 3), keepdims=True))
        affine = self.dense(self.child(layer, "affine"), f"{name}/affine")
        if torgb:
            gain = 1 / np.sqrt(int(self.attr(layer, "in_channels")) * weight.shape[2] * weight.shape[3])
            self.arrays[affine["weight"]] *= gain
            self.arrays[affine["bias"]] *= gain
        padding = [int(p) for p in self.attr(layer, "padding")]
        return {"affine": affine, "kernel": self.store(f"{name}/kernel", self.kernel(weight)),
                "bias": self.store(f"{name}/bias", self.tensor(layer, "bias")),
                "input_gain": float(1 / np.sqrt(float(self.tensor(layer, "magnitude_ema")))),
                "demodulate": not torgb, "up": int(self.attr(layer, "up_factor")),
                "down": int(self.attr(layer, "down_factor")), "padding": padding,
                "up_filter": self.filter(layer, "up_filter", f"{name}/up_filter"),
                "down_filter": self.filter(layer, "down_filter", f"{name}/down_filter"),
                "gain": 1.0 if torgb else float(np.sqrt(2)), "slope": 1.0 if torgb else 0.2,
                "clamp": self.attr(layer, "conv_clamp", None),
                "in_channels": int(self.attr(layer, "in_channels")),
                "in_size": [int(v) for v in np.broadcast_to(np.asarray(self.attr(layer, "in_size")), [2])],
                "out_size": [int(v) for v in np.broadcast_to(np.asarray(self.attr(layer, "out_size")), [2])],
                "out_channels": int(self.attr(layer, "out_channels")), "kernel_size": int(weight.shape[2]),
                "radial": bool(self.attr(layer, "down_radial", False))}

    def synthesis3(self, synthesis: Network) -> dict:
        names = self.attr(synthesis, "layer_names")
        return {"input": self.sg3_input(self.child(synthesis, "input")),
                "layers": [self.sg3_layer(self.child(synthesis, n), f"synthesis/{n}") for n in names],
                "output_scale": float(self.attr(synthesis, "output_scale", 1.0))}


def convert(path: Path) -> tuple[dict, dict[str, np.ndarray]]:
    """``(config, arrays)`` of the generator in the StyleGAN pickle at ``path`` (``G_ema``, else
    ``G``).  ``config["generation"]`` is 2 or 3, ``config["config"]`` names the configuration
    (``"stylegan2"``, ``"stylegan3-t"`` or ``"stylegan3-r"``)."""
    path = Path(path)
    generator = generator_of(read_pickle(path), path)
    converter = _Converter(path)
    synthesis = converter.child(generator, "synthesis")
    mapping = converter.mapping(converter.child(generator, "mapping"))
    config = {"format": FORMAT, "img_resolution": int(converter.attr(generator, "img_resolution")),
              "img_channels": int(converter.attr(generator, "img_channels")),
              **{k: mapping[k] for k in ("z_dim", "c_dim", "w_dim", "num_ws")}, "mapping": mapping}
    if synthesis.children.get("input") is not None:
        config["generation"] = 3
        config["synthesis"] = converter.synthesis3(synthesis)
        radial = any(layer["radial"] for layer in config["synthesis"]["layers"])
        config["config"] = "stylegan3-r" if radial else "stylegan3-t"
    else:
        config["generation"] = 2
        config["synthesis"] = converter.synthesis2(synthesis)
        config["config"] = "stylegan2"
    if int(converter.attr(synthesis, "num_ws")) != config["num_ws"]:
        converter.fail("the mapping and synthesis networks disagree on num_ws")
    config["parameters"] = int(sum(array.size for array in converter.arrays.values()))
    return config, converter.arrays


def describe(config: dict) -> list[str]:
    """Lines for ``render models``: configuration, resolution, latent sizes, conditioning."""
    mapping = config["mapping"]
    label = f"conditional ({config['c_dim']} classes)" if config["c_dim"] else "unconditional"
    lines = [f"config      {config['config']} ({'StyleGAN3' if config['generation'] == 3 else 'StyleGAN2-ADA'})",
             f"resolution  {config['img_resolution']}x{config['img_resolution']}, {config['img_channels']} channels",
             f"latents     z_dim {config['z_dim']}, w_dim {config['w_dim']}, num_ws {config['num_ws']}, "
             f"{len(mapping['layers'])} mapping layers",
             f"labels      {label}"]
    if config["generation"] == 2:
        lines.append(f"synthesis   {config['synthesis']['blocks'][-1]['architecture']} architecture, "
                     f"{len(config['synthesis']['blocks'])} blocks")
    else:
        lines.append(f"synthesis   {len(config['synthesis']['layers'])} layers, "
                     f"input {config['synthesis']['input']['size'][0]} px, camera translate/rotate")
    return lines
