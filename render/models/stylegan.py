"""StyleGAN2-ADA and StyleGAN3 generators in keras.ops (both backends, channels last), built from
the description and arrays of :mod:`.stylegan_weights`.

* :meth:`StyleGAN.mapping`: ``z (N, z_dim)`` and labels ``c (N, c_dim)`` -> ``w (N, w_dim)`` (the
  mapping network: 2nd-moment normalisation, fully connected leaky-ReLU layers).  Broadcasting to
  ``num_ws``, truncation toward ``w_avg`` and style mixing are plain numpy on ``w`` (:func:`truncate`).
* :meth:`StyleGAN.synthesis`: ``ws (N, num_ws, w_dim)`` -> images ``(N, R, R, C)`` in about -1..1.
  StyleGAN2 (Karras et al. 2020): a learned constant, per block a x2 modulated convolution (weights
  scaled by the style, demodulated, transposed-convolved and FIR-filtered), noise, bias, leaky ReLU,
  conv clamp; skip, orig or resnet architectures.  StyleGAN3 (Karras et al. 2021): Fourier features
  under a per-sample transform (the learned rotation/translation and the camera ``transform``),
  modulated convolutions with input gains from the magnitude EMA, filtered leaky ReLUs.
  StyleGAN2's ``noise`` is ``"const"`` (the network's stored noise), ``"none"``, or fields the
  caller draws (:meth:`StyleGAN.noise_inputs` names them).

The modulated convolutions run unfused (scale the activations, convolve with the shared kernel,
scale by the demodulation coefficients), which equals NVIDIA's grouped form exactly in real
arithmetic and batches on every backend.  ``dtype = "bfloat16"`` runs the convolutions in bfloat16
with float32 styles, demodulation and accumulation of the skip image.

Weights are Keras variables of a layer (``self.variables``), so compiled callers read them as inputs.
"""

from __future__ import annotations

from typing import Mapping

import numpy as np

from ..backend.kerasops import keras, ops
from .upfirdn import bias_act, filtered_lrelu, upfirdn2d


def truncate(ws: np.ndarray, w_avg: np.ndarray, psi, cutoff: int | None) -> np.ndarray:
    """``w_avg + psi * (ws - w_avg)`` on the first ``cutoff`` of ``num_ws`` (all when None), as
    NVIDIA's mapping network truncates.  ``ws (N, num_ws, w_dim)``; ``psi`` a number or ``(N,)``."""
    ws = np.array(ws, np.float32)
    psi = np.broadcast_to(np.asarray(psi, np.float32), (ws.shape[0],))[:, None, None]
    end = ws.shape[1] if cutoff is None else int(cutoff)
    ws[:, :end] = w_avg + psi * (ws[:, :end] - w_avg)
    return ws


def _normalize_2nd_moment(x):
    return x * ops.rsqrt(ops.mean(ops.square(x), axis=1, keepdims=True) + 1e-8)


class StyleGAN(keras.layers.Layer):
    """The generator of one converted pickle (``config`` and ``arrays`` from
    :func:`render.models.stylegan_weights.convert`)."""

    def __init__(self, config: dict, arrays: Mapping[str, np.ndarray], dtype_policy: str = "float32", **kwargs):
        super().__init__(name="stylegan", **kwargs)
        self.config = config
        self.compute = "bfloat16" if dtype_policy == "bfloat16" else "float32"
        self.tensors, self.constants = {}, {}
        for name, value in arrays.items():
            if name.endswith("filter") or name == "synthesis/input/transform":
                self.constants[name] = np.asarray(value, np.float64)   # read as numbers when the graph is built
                continue
            self.tensors[name] = self.add_weight(shape=np.shape(value), initializer="zeros", trainable=False,
                                                 name=name.replace("/", "_"), dtype="float32")
            self.tensors[name].assign(np.asarray(value, np.float32))
        self.w_avg = np.asarray(arrays["mapping/w_avg"], np.float32)
        self.built = True

    # --- shapes ---------------------------------------------------------------------------------
    @property
    def z_dim(self) -> int:
        return self.config["z_dim"]

    @property
    def c_dim(self) -> int:
        return self.config["c_dim"]

    @property
    def w_dim(self) -> int:
        return self.config["w_dim"]

    @property
    def num_ws(self) -> int:
        return self.config["num_ws"]

    @property
    def resolution(self) -> int:
        return self.config["img_resolution"]

    # --- pieces ---------------------------------------------------------------------------------
    def _dense(self, spec, x):
        y = ops.matmul(x, self.tensors[spec["weight"]])
        bias = self.tensors[spec["bias"]] if spec["bias"] else None
        return bias_act(y, bias, spec["activation"])

    def _constant(self, name: str | None):
        """A filter (numpy), or None where the layer has none."""
        return self.constants[name] if name else None

    def _conv(self, x, kernel):
        kernel = ops.cast(kernel, self.compute)
        return ops.cast(ops.conv(ops.cast(x, self.compute), kernel, padding="valid"), "float32")

    def mapping(self, z, c=None):
        """``z (N, z_dim)``, ``c (N, c_dim)`` or None -> ``w (N, w_dim)`` float32."""
        spec = self.config["mapping"]
        x = _normalize_2nd_moment(ops.cast(z, "float32"))
        if spec["embed"] is not None:
            y = _normalize_2nd_moment(self._dense(spec["embed"], ops.cast(c, "float32")))
            x = ops.concatenate([x, y], axis=1)
        for layer in spec["layers"]:
            x = self._dense(layer, x)
        return x

    def synthesis(self, ws, noise="const", transform=None):
        """``ws (N, num_ws, w_dim)`` -> float32 ``(N, R, R, channels)``.  ``noise``: "const", "none"
        or a dict of fields ``(N, res, res, 1)`` by the names :meth:`noise_inputs` gives (StyleGAN2;
        StyleGAN3 has no noise); ``transform`` ``(N, 3, 3)``: StyleGAN3's camera, the inverse of the
        picture's rotation/translation (default: the network's own)."""
        ws = ops.cast(ws, "float32")
        if self.config["generation"] == 3:
            return self._synthesis3(ws, transform)
        return self._synthesis2(ws, noise)

    def noise_inputs(self) -> list[tuple[str, int]]:
        """``(name, resolution)`` of each noise input (StyleGAN2's layers; none for StyleGAN3)."""
        if self.config["generation"] == 3:
            return []
        found = []
        for block in self.config["synthesis"]["blocks"]:
            for layer in (block["conv0"], block["conv1"]):
                if layer is not None and layer["noise"] is not None:
                    found.append((layer["noise"], int(self.tensors[layer["noise"]].shape[0])))
        return found

    # --- StyleGAN2 ------------------------------------------------------------------------------
    def _modulated(self, x, styles, kernel_name, demodulate: bool, up: int = 1, padding: int = 0, flt=None,
                   input_gain: float = 1.0):
        """The modulated convolution, unfused; ``input_gain`` scales the input after the
        demodulation coefficients are taken (StyleGAN3's magnitude EMA)."""
        kernel = self.tensors[kernel_name]                              # (kh, kw, in, out)
        kh = kernel.shape[0]
        x = x * (styles * input_gain)[:, None, None, :]
        if up == 1:
            x = ops.pad(x, [[0, 0], [padding, padding], [padding, padding], [0, 0]]) if padding else x
            y = self._conv(x, kernel)
        else:
            # transposed convolution (no kernel flip, as NVIDIA's), then the FIR filter
            fw = flt.shape[-1]
            p0 = padding + (fw + up - 1) // 2 - (kh - 1)
            p1 = padding + (fw - up) // 2 - (kh - up)
            transposed = ops.cast(ops.transpose(kernel, (0, 1, 3, 2)), self.compute)
            y = ops.conv_transpose(ops.cast(x, self.compute), transposed, strides=up, padding="valid")
            y = upfirdn2d(ops.cast(y, "float32"), flt, padding=[p0, p1, p0, p1], gain=up ** 2)
        if demodulate:
            energy = ops.matmul(ops.square(styles), ops.sum(ops.square(kernel), axis=(0, 1)))   # (N, out)
            y = y * ops.rsqrt(energy + 1e-8)[:, None, None, :]
        return y

    def _sg2_layer(self, spec, x, w, noise, gain: float = 1.0):
        styles = self._dense(spec["affine"], w)
        x = self._modulated(x, styles, spec["kernel"], True, spec["up"], spec["padding"], self._constant(spec["filter"]))
        if spec["noise"] is not None and noise != "none":
            strength = self.tensors[spec["noise_strength"]]
            if noise == "const":
                field = self.tensors[spec["noise"]][None, :, :, None]
            else:
                field = noise[spec["noise"]]
            x = x + field * strength
        clamp = spec["clamp"] * gain if spec["clamp"] is not None else None
        return bias_act(x, self.tensors[spec["bias"]], spec["activation"], gain=spec["act_gain"] * gain, clamp=clamp)

    def _sg2_torgb(self, spec, x, w):
        styles = self._dense(spec["affine"], w)
        y = self._modulated(x, styles, spec["kernel"], False)
        return bias_act(y, self.tensors[spec["bias"]], clamp=spec["clamp"])

    def _synthesis2(self, ws, noise):
        x = img = None
        index = 0
        for block in self.config["synthesis"]["blocks"]:
            used = block["num_conv"] + block["num_torgb"]
            block_ws = [ws[:, index + i] for i in range(used)]
            index += block["num_conv"]
            flt = self._constant(block["filter"])
            if block["const"] is not None:
                const = self.tensors[block["const"]][None]
                x = ops.repeat(const, ops.shape(ws)[0], axis=0)
                x = self._sg2_layer(block["conv1"], x, block_ws[0], noise)
                next_w = 1
            elif block["architecture"] == "resnet":
                skip = block["skip"]
                y = self._conv(x, self.tensors[skip["kernel"]])
                y = upfirdn2d(y, self.constants[skip["filter"]], up=2, gain=4,
                              padding=_up_padding(self.constants[skip["filter"]].shape[-1], 2))
                y = y * (skip["act_gain"] * np.sqrt(0.5))
                x = self._sg2_layer(block["conv0"], x, block_ws[0], noise)
                x = self._sg2_layer(block["conv1"], x, block_ws[1], noise, gain=np.sqrt(0.5))
                x = y + x
                next_w = 2
            else:
                x = self._sg2_layer(block["conv0"], x, block_ws[0], noise)
                x = self._sg2_layer(block["conv1"], x, block_ws[1], noise)
                next_w = 2
            if img is not None:
                img = upfirdn2d(img, flt, up=2, padding=_up_padding(flt.shape[-1], 2), gain=4)
            if block["torgb"] is not None:
                y = self._sg2_torgb(block["torgb"], x, block_ws[next_w])
                img = y if img is None else img + y
        return img

    # --- StyleGAN3 ------------------------------------------------------------------------------
    def _fourier_input(self, w, transform):
        spec = self.config["synthesis"]["input"]
        t = self._dense(spec["affine"], w)                                      # (N, 4)
        t = t / ops.sqrt(ops.sum(ops.square(t[:, :2]), axis=1, keepdims=True))
        cos, sin, tx, ty = t[:, 0], t[:, 1], t[:, 2], t[:, 3]
        zeros, ones = ops.zeros_like(cos), ops.ones_like(cos)
        # m_r @ m_t: the inverse rotation and translation of the picture
        learned = ops.stack([ops.stack([cos, -sin, -cos * tx + sin * ty], axis=1),
                             ops.stack([sin, cos, -sin * tx - cos * ty], axis=1),
                             ops.stack([zeros, zeros, ones], axis=1)], axis=1)         # (N, 3, 3)
        if transform is None:
            transform = self.constants["synthesis/input/transform"][None]
        transforms = ops.matmul(learned, ops.cast(transform, "float32"))
        freqs = self.tensors["synthesis/input/freqs"]                          # (C, 2)
        phases = self.tensors["synthesis/input/phases"][None] + ops.einsum("cj,nj->nc", freqs, transforms[:, :2, 2])
        freqs = ops.einsum("cj,njk->nck", freqs, transforms[:, :2, :2])          # (N, C, 2)
        bandwidth, rate = spec["bandwidth"], spec["sampling_rate"]
        amplitudes = ops.clip(1 - (ops.sqrt(ops.sum(ops.square(freqs), axis=2)) - bandwidth)
                              / (rate / 2 - bandwidth), 0.0, 1.0)
        width, height = spec["size"]
        gx = ((2 * np.arange(width) + 1) / width - 1) * (0.5 * width / rate)
        gy = ((2 * np.arange(height) + 1) / height - 1) * (0.5 * height / rate)
        gx = ops.convert_to_tensor(gx.astype(np.float32))
        gy = ops.convert_to_tensor(gy.astype(np.float32))
        x = (gx[None, None, :, None] * freqs[:, None, None, :, 0] + gy[None, :, None, None] * freqs[:, None, None, :, 1]
             + phases[:, None, None, :])
        x = ops.sin(x * (2 * np.pi)) * amplitudes[:, None, None, :]
        return ops.matmul(x, self.tensors["synthesis/input/weight"])

    def _sg3_layer(self, spec, x, w):
        styles = self._dense(spec["affine"], w)
        if spec["demodulate"]:
            styles = styles * ops.rsqrt(ops.mean(ops.square(styles), axis=1, keepdims=True))
        y = self._modulated(x, styles, spec["kernel"], spec["demodulate"], padding=spec["kernel_size"] - 1,
                            input_gain=spec["input_gain"])
        return filtered_lrelu(y, self._constant(spec["up_filter"]), self._constant(spec["down_filter"]),
                              self.tensors[spec["bias"]], spec["up"], spec["down"], spec["padding"], spec["gain"],
                              spec["slope"], spec["clamp"])

    def _synthesis3(self, ws, transform):
        spec = self.config["synthesis"]
        x = self._fourier_input(ws[:, 0], transform)
        for index, layer in enumerate(spec["layers"]):
            x = self._sg3_layer(layer, x, ws[:, index + 1])
        return x * spec["output_scale"]


def _up_padding(taps: int, up: int) -> list[int]:
    """upsample2d's padding for a ``taps``-long filter: the picture stays aligned."""
    low, high = (taps + up - 1) // 2, (taps - up) // 2
    return [low, high, low, high]
