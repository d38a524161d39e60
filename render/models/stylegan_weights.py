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
        self.arrays[name] = np.array(value, np.float32, order="C")   # (ascontiguousarray makes 0-d 1-d)
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
                "activation": str(self.attr(layer, "activation", "lrelu")), "noise": None, "noise_strength": None,
                "filter": None}
        if spec["up"] > 1:
            spec["filter"] = self.filter(layer, "resample_filter", f"{name}/filter")
        if self.attr(layer, "use_noise", False):
            spec["noise"] = self.store(f"{name}/noise_const", self.tensor(layer, "noise_const"))
            spec["noise_strength"] = self.store(f"{name}/noise_strength",
                                                self.tensor(layer, "noise_strength").reshape(()))
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
    check(config, converter.arrays, path)
    return config, converter.arrays


MAX_SIDE = 4096        # largest picture or feature map side accepted
MAX_FACTOR = 4         # largest up/down-sampling factor of one layer
MAX_TAPS = 64          # longest resampling filter


class _Checker:
    """Shapes, factors and sizes checked against each other, so that a damaged or foreign file fails
    here with one line instead of deep inside a compiled graph (or by exhausting memory)."""

    def __init__(self, config: dict, arrays: dict, path: Path):
        self.config, self.arrays, self.path = config, arrays, path

    def fail(self, what: str):
        raise ModelError(f"{self.path}: {what}: the network is damaged or not one this reader knows")

    def shape(self, name: str | None, expected: tuple, what: str) -> None:
        if name is None or name not in self.arrays:
            self.fail(f"{what} is missing")
        actual = tuple(self.arrays[name].shape)
        if len(actual) != len(expected) or any(e is not None and a != e for a, e in zip(actual, expected)):
            self.fail(f"{what} has shape {actual}, expected {tuple('?' if e is None else e for e in expected)}")

    def number(self, value, low, high, what: str) -> None:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
            self.fail(f"{what} is {value!r}, expected {low}..{high}")

    def dense(self, spec: dict, n_in: int, n_out: int, what: str) -> None:
        self.shape(spec["weight"], (n_in, n_out), f"{what} weight")
        if spec["bias"] is not None:
            self.shape(spec["bias"], (n_out,), f"{what} bias")

    def filter(self, name: str | None, what: str) -> int:
        """Taps of a resampling filter (1 for none)."""
        if name is None:
            return 1
        values = self.arrays.get(name)
        if values is None or values.ndim not in (1, 2) or not 1 <= values.shape[-1] <= MAX_TAPS \
                or (values.ndim == 2 and values.shape[0] != values.shape[1]):
            self.fail(f"{what} is not a resampling filter")
        return int(values.shape[-1])

    def kernel(self, spec: dict, n_in: int, what: str) -> tuple[int, int]:
        """``(kernel size, out channels)`` of a convolution taking ``n_in`` channels."""
        values = self.arrays.get(spec["kernel"])
        if values is None or values.ndim != 4 or values.shape[0] != values.shape[1] or values.shape[0] > 7:
            self.fail(f"{what} kernel is not a square convolution kernel")
        if values.shape[2] != n_in:
            self.fail(f"{what} takes {values.shape[2]} channels, but {n_in} arrive")
        return int(values.shape[0]), int(values.shape[3])

    def run(self) -> None:
        c = self.config
        for name, values in self.arrays.items():
            if not np.all(np.isfinite(values)):
                self.fail(f"{name} holds NaN or infinite values")
        self.number(c["img_resolution"], 4, MAX_SIDE, "img_resolution")
        self.number(c["img_channels"], 1, 4, "img_channels")
        self.number(c["num_ws"], 1, 64, "num_ws")
        self.number(c["z_dim"], 1, 65536, "z_dim")
        self.number(c["w_dim"], 1, 65536, "w_dim")
        self.number(c["c_dim"], 0, 100_000, "c_dim")
        mapping = c["mapping"]
        width = c["z_dim"]
        if mapping["embed"] is not None:
            embed = self.arrays.get(mapping["embed"]["weight"])
            if embed is None or embed.ndim != 2:
                self.fail("the label embedding is missing")
            self.dense(mapping["embed"], c["c_dim"], embed.shape[1], "the label embedding")
            width += embed.shape[1]
        if not mapping["layers"]:
            self.fail("the mapping network has no layers")
        for index, layer in enumerate(mapping["layers"]):
            weight = self.arrays.get(layer["weight"])
            if weight is None or weight.ndim != 2:
                self.fail(f"mapping layer {index} is missing")
            self.dense(layer, width, weight.shape[1], f"mapping layer {index}")
            width = weight.shape[1]
        if width != c["w_dim"]:
            self.fail(f"the mapping network ends in {width} values, not w_dim {c['w_dim']}")
        self.shape("mapping/w_avg", (c["w_dim"],), "w_avg")
        (self.synthesis2 if c["generation"] == 2 else self.synthesis3)()

    def synthesis2(self) -> None:
        c = self.config
        channels, resolution, ws = 0, 2, 0
        for block in c["synthesis"]["blocks"]:
            res = block["resolution"]
            name = f"block b{res}"
            if res != resolution * 2:
                self.fail(f"{name} follows a {resolution} px block")
            resolution = res
            if block["const"] is not None:
                values = self.arrays.get(block["const"])
                if values is None or values.ndim != 3 or values.shape[:2] != (res, res) or channels:
                    self.fail(f"{name}'s constant input is malformed")
                channels = values.shape[2]
            layers = [("conv0", 2), ("conv1", 1)] if block["conv0"] is not None else [("conv1", 1)]
            skip_in = channels
            for tag, up in layers:
                spec = block[tag]
                if spec is None or spec["up"] != up:
                    self.fail(f"{name}'s {tag} is missing or does not resample by {up}")
                k, out = self.kernel(spec, channels, f"{name}'s {tag}")
                if spec["padding"] != k // 2 or spec["resolution"] != res:
                    self.fail(f"{name}'s {tag} has padding {spec['padding']} or resolution {spec['resolution']}")
                if up > 1:
                    self.filter(spec["filter"], f"{name}'s {tag} filter")
                self.dense(spec["affine"], c["w_dim"], channels, f"{name}'s {tag} styles")
                self.shape(spec["bias"], (out,), f"{name}'s {tag} bias")
                if spec["noise"] is not None:
                    self.shape(spec["noise"], (res, res), f"{name}'s {tag} noise")
                    self.shape(spec["noise_strength"], (), f"{name}'s {tag} noise strength")
                channels = out
            self.filter(block["filter"], f"{name}'s filter")
            if block["skip"] is not None:
                k, out = self.kernel(block["skip"], skip_in, f"{name}'s skip")
                if (k, out) != (1, channels):
                    self.fail(f"{name}'s skip convolution does not match its block")
                self.filter(block["skip"]["filter"], f"{name}'s skip filter")
            if block["torgb"] is not None:
                k, out = self.kernel(block["torgb"], channels, f"{name}'s torgb")
                if out != c["img_channels"]:
                    self.fail(f"{name}'s torgb makes {out} channels")
                self.dense(block["torgb"]["affine"], c["w_dim"], channels, f"{name}'s torgb styles")
            ws += block["num_conv"]
            if block["num_conv"] != len(layers) or block["num_torgb"] != (block["torgb"] is not None):
                self.fail(f"{name} counts its layers wrongly")
        if resolution != c["img_resolution"] or c["synthesis"]["blocks"][-1]["torgb"] is None:
            self.fail(f"the blocks end at {resolution} px, not the image's {c['img_resolution']}")
        if ws + 1 != c["num_ws"]:
            self.fail(f"the blocks take {ws + 1} ws, not num_ws {c['num_ws']}")

    def synthesis3(self) -> None:
        c = self.config
        spec = c["synthesis"]["input"]
        channels, size = spec["channels"], spec["size"]
        for value in size:
            self.number(value, 1, MAX_SIDE, "the input size")
        self.shape("synthesis/input/freqs", (channels, 2), "the input frequencies")
        self.shape("synthesis/input/phases", (channels,), "the input phases")
        self.shape("synthesis/input/weight", (channels, channels), "the input mapping")
        self.shape("synthesis/input/transform", (3, 3), "the input transform")
        self.dense(spec["affine"], c["w_dim"], 4, "the input's transform styles")
        if not 0 < spec["bandwidth"] < spec["sampling_rate"] / 2 or not 0 < spec["sampling_rate"] <= MAX_SIDE:
            self.fail("the input's bandwidth or sampling rate is out of range")
        layers = c["synthesis"]["layers"]
        if len(layers) + 1 != c["num_ws"]:
            self.fail(f"{len(layers)} layers take {len(layers) + 1} ws, not num_ws {c['num_ws']}")
        for index, layer in enumerate(layers):
            name = f"layer {index}"
            self.number(layer["up"], 1, MAX_FACTOR, f"{name}'s upsampling")
            self.number(layer["down"], 1, MAX_FACTOR, f"{name}'s downsampling")
            if list(layer["in_size"]) != list(size) or layer["in_channels"] != channels:
                self.fail(f"{name} expects {layer['in_size']} px and {layer['in_channels']} channels, "
                          f"gets {size} and {channels}")
            k, out = self.kernel(layer, channels, name)
            if out != layer["out_channels"] or layer["kernel_size"] != k:
                self.fail(f"{name}'s kernel does not match its channels")
            self.dense(layer["affine"], c["w_dim"], channels, f"{name}'s styles")
            self.shape(layer["bias"], (out,), f"{name}'s bias")
            taps_up = self.filter(layer["up_filter"], f"{name}'s upsampling filter")
            taps_down = self.filter(layer["down_filter"], f"{name}'s downsampling filter")
            if len(layer["padding"]) != 4 or any(abs(p) > MAX_SIDE for p in layer["padding"]):
                self.fail(f"{name}'s padding {layer['padding']} is out of range")
            p0, p1, q0, q1 = layer["padding"]
            conv = [side + k - 1 for side in size]
            made = [(conv[0] * layer["up"] + p0 + p1 - (taps_up - 1) - (taps_down - 1) + layer["down"] - 1)
                    // layer["down"],
                    (conv[1] * layer["up"] + q0 + q1 - (taps_up - 1) - (taps_down - 1) + layer["down"] - 1)
                    // layer["down"]]
            if made != list(layer["out_size"]) or max(conv) * layer["up"] > 2 * MAX_SIDE + 64:
                self.fail(f"{name} would make {made} px, not its {layer['out_size']}")
            channels, size = out, layer["out_size"]
        if list(size) != [c["img_resolution"]] * 2 or channels != c["img_channels"]:
            self.fail(f"the last layer makes {size} px and {channels} channels, not the image's")


def check(config: dict, arrays: dict, path: Path) -> None:
    """Raise :class:`ModelError` (one line naming ``path`` and the layer) unless the description and
    the arrays fit together: every shape, channel count, resampling factor, padding and size."""
    try:
        _Checker(config, arrays, Path(path)).run()
    except (KeyError, TypeError, IndexError) as err:
        raise ModelError(f"{path}: the network description is incomplete ({type(err).__name__}: {err})") from None


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
