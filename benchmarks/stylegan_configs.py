"""Random-weight StyleGAN generators of the published configurations, in the converted form
(:mod:`render.models.stylegan_weights`), for the benchmarks: speed does not depend on the values.

* ``stylegan2``: config-f (channel_base 32768, channel_max 512, 8 mapping layers, skip generator,
  conv clamp 256; Karras et al. 2020, table 1);
* ``stylegan3-t``: 14 layers + ToRGB, 2 critically sampled, channel_base 32768, channel_max 512, 3x3
  kernels, 2 mapping layers; ``stylegan3-r``: channel_base and channel_max doubled, 1x1 kernels,
  radially symmetric (jinc) downsampling filters (Karras et al. 2021, appendix F and the configs
  NVIDIA publishes).

The layer arithmetic (cutoffs, stopbands, sampling rates, sizes, Kaiser filters) follows the paper's
appendix; the tests check the reader against NVIDIA's own networks, this module only sizes the work.
"""

from __future__ import annotations

import numpy as np
import scipy.signal
import scipy.special

CONFIGS = ("stylegan2", "stylegan3-t", "stylegan3-r")


class _Arrays(dict):
    def __init__(self, seed: int):
        super().__init__()
        self.rng = np.random.default_rng(seed)

    def add(self, name, shape, scale=1.0):
        self[name] = (self.rng.standard_normal(shape) * scale).astype(np.float32)
        return name


def _dense(arrays, name, n_in, n_out, activation="linear", bias_init=0.0):
    arrays.add(f"{name}/weight", (n_in, n_out), 1 / np.sqrt(n_in))
    arrays[f"{name}/bias"] = np.full([n_out], bias_init, np.float32)
    return {"weight": f"{name}/weight", "bias": f"{name}/bias", "activation": activation}


def _mapping(arrays, z_dim, w_dim, num_ws, layers):
    arrays["mapping/w_avg"] = np.zeros([w_dim], np.float32)
    specs = [_dense(arrays, f"mapping/fc{i}", z_dim if i == 0 else w_dim, w_dim, "lrelu") for i in range(layers)]
    return {"z_dim": z_dim, "c_dim": 0, "w_dim": w_dim, "num_ws": num_ws, "layers": specs, "embed": None}


def stylegan2(resolution: int, seed: int = 0) -> tuple[dict, dict]:
    arrays = _Arrays(seed)
    w_dim = 512
    channels = lambda res: min(32768 // res, 512)
    f = np.outer([1, 3, 3, 1], [1, 3, 3, 1]).astype(np.float32)
    arrays["synthesis/filter"] = f / f.sum()
    blocks, num_ws = [], 0
    resolutions = [2 ** i for i in range(2, int(np.log2(resolution)) + 1)]
    for res in resolutions:
        name = f"synthesis/b{res}"
        out_ch = channels(res)
        in_ch = channels(res // 2) if res > 4 else 0

        def layer(tag, cin, up):
            lname = f"{name}/{tag}"
            arrays.add(f"{lname}/noise_const", (res, res))
            arrays[f"{lname}/noise_strength"] = np.float32(0.1).reshape(())
            return {"affine": _dense(arrays, f"{lname}/affine", w_dim, cin, bias_init=1.0),
                    "in_channels": cin, "out_channels": out_ch, "kernel_size": 3, "resolution": res,
                    "kernel": arrays.add(f"{lname}/kernel", (3, 3, cin, out_ch)),
                    "bias": arrays.add(f"{lname}/bias", (out_ch,), 0.1), "up": up, "padding": 1,
                    "act_gain": float(np.sqrt(2)), "clamp": 256, "activation": "lrelu",
                    "noise": f"{lname}/noise_const", "noise_strength": f"{lname}/noise_strength", "filter": "synthesis/filter" if up > 1 else None}

        rgb = _dense(arrays, f"{name}/torgb/affine", w_dim, out_ch, bias_init=1.0)
        block = {"resolution": res, "architecture": "skip", "num_conv": 1 if res == 4 else 2, "num_torgb": 1,
                 "const": arrays.add(f"{name}/const", (4, 4, out_ch)) if res == 4 else None,
                 "conv0": None if res == 4 else layer("conv0", in_ch, 2), "conv1": layer("conv1", out_ch, 1),
                 "torgb": {"affine": rgb, "kernel": arrays.add(f"{name}/torgb/kernel", (1, 1, out_ch, 3)),
                           "bias": arrays.add(f"{name}/torgb/bias", (3,), 0.1), "clamp": 256},
                 "skip": None, "filter": "synthesis/filter"}
        num_ws += block["num_conv"]
        blocks.append(block)
    num_ws += 1
    config = {"format": 1, "generation": 2, "config": "stylegan2", "img_resolution": resolution, "img_channels": 3,
              "z_dim": 512, "c_dim": 0, "w_dim": w_dim, "num_ws": num_ws,
              "mapping": _mapping(arrays, 512, w_dim, num_ws, 8), "synthesis": {"blocks": blocks}}
    arrays.pop("mapping/w_avg", None)
    arrays["mapping/w_avg"] = np.zeros([w_dim], np.float32)
    config["parameters"] = int(sum(np.size(a) for a in arrays.values()))
    return config, dict(arrays)


def _lowpass(numtaps, cutoff, width, fs, radial):
    if numtaps == 1:
        return None
    if not radial:
        return scipy.signal.firwin(numtaps=numtaps, cutoff=cutoff, width=width, fs=fs).astype(np.float32)
    x = (np.arange(numtaps) - (numtaps - 1) / 2) / fs
    r = np.hypot(*np.meshgrid(x, x))
    f = scipy.special.j1(2 * cutoff * (np.pi * r)) / (np.pi * r)
    beta = scipy.signal.kaiser_beta(scipy.signal.kaiser_atten(numtaps, width / (fs / 2)))
    w = np.kaiser(numtaps, beta)
    f *= np.outer(w, w)
    return (f / np.sum(f)).astype(np.float32)


def stylegan3(resolution: int, radial: bool, seed: int = 0) -> tuple[dict, dict]:
    arrays = _Arrays(seed)
    w_dim, layers, critical = 512, 14, 2
    base, top, kernel = (65536, 1024, 1) if radial else (32768, 512, 3)
    last_cutoff = resolution / 2
    last_stopband = last_cutoff * 2 ** 0.3
    exponents = np.minimum(np.arange(layers + 1) / (layers - critical), 1)
    cutoffs = 2 * (last_cutoff / 2) ** exponents
    stopbands = 2 ** 2.1 * (last_stopband / 2 ** 2.1) ** exponents
    rates = np.exp2(np.ceil(np.log2(np.minimum(stopbands * 2, resolution))))
    half_widths = np.maximum(stopbands, rates / 2) - cutoffs
    sizes = rates + 20
    sizes[-2:] = resolution
    channels = np.rint(np.minimum((base / 2) / cutoffs, top))
    channels[-1] = 3
    ch0 = int(channels[0])
    freqs = arrays.rng.standard_normal((ch0, 2))
    radii = np.sqrt(np.sum(freqs ** 2, axis=1, keepdims=True))
    freqs = freqs / (radii * np.exp(radii ** 2) ** 0.25) * cutoffs[0]
    arrays["synthesis/input/freqs"] = freqs.astype(np.float32)
    arrays["synthesis/input/phases"] = (arrays.rng.random(ch0) - 0.5).astype(np.float32)
    arrays.add("synthesis/input/weight", (ch0, ch0), 1 / np.sqrt(ch0))
    arrays["synthesis/input/transform"] = np.eye(3, dtype=np.float32)
    affine = _dense(arrays, "synthesis/input/affine", w_dim, 4)
    arrays[affine["weight"]] *= 0
    arrays[affine["bias"]] = np.array([1, 0, 0, 0], np.float32)
    specs = []
    for idx in range(layers + 1):
        prev = max(idx - 1, 0)
        torgb = idx == layers
        k = 1 if torgb else kernel
        tmp = max(rates[prev], rates[idx]) * (1 if torgb else 2)
        up, down = int(np.rint(tmp / rates[prev])), int(np.rint(tmp / rates[idx]))
        up_taps = 6 * up if up > 1 and not torgb else 1
        down_taps = 6 * down if down > 1 and not torgb else 1
        down_radial = radial and idx < layers - critical
        pad_total = (sizes[idx] - 1) * down + 1 - (sizes[prev] + k - 1) * up + up_taps + down_taps - 2
        pad_lo = (pad_total + up) // 2
        pad_hi = pad_total - pad_lo
        name = f"synthesis/L{idx}"
        cin, cout = int(channels[prev]), int(channels[idx])
        spec = {"affine": _dense(arrays, f"{name}/affine", w_dim, cin, bias_init=1.0),
                "kernel": arrays.add(f"{name}/kernel", (k, k, cin, cout)), "bias": arrays.add(f"{name}/bias", (cout,), 0.1),
                "input_gain": 1.0, "demodulate": not torgb, "up": up, "down": down,
                "padding": [int(pad_lo), int(pad_hi), int(pad_lo), int(pad_hi)],
                "up_filter": None, "down_filter": None, "gain": 1.0 if torgb else float(np.sqrt(2)),
                "slope": 1.0 if torgb else 0.2, "clamp": 256, "in_channels": cin,
                "in_size": [int(sizes[prev])] * 2, "out_size": [int(sizes[idx])] * 2, "out_channels": cout,
                "kernel_size": k, "radial": down_radial}
        fu = _lowpass(up_taps, cutoffs[prev], half_widths[prev] * 2, tmp, False)
        fd = _lowpass(down_taps, cutoffs[idx], half_widths[idx] * 2, tmp, down_radial)
        if fu is not None:
            arrays[f"{name}/up_filter"] = fu
            spec["up_filter"] = f"{name}/up_filter"
        if fd is not None:
            arrays[f"{name}/down_filter"] = fd
            spec["down_filter"] = f"{name}/down_filter"
        specs.append(spec)
    num_ws = layers + 2
    config = {"format": 1, "generation": 3, "config": "stylegan3-r" if radial else "stylegan3-t",
              "img_resolution": resolution, "img_channels": 3, "z_dim": 512, "c_dim": 0, "w_dim": w_dim,
              "num_ws": num_ws, "mapping": _mapping(arrays, 512, w_dim, num_ws, 2),
              "synthesis": {"input": {"affine": affine, "size": [int(sizes[0])] * 2, "channels": ch0,
                                      "sampling_rate": float(rates[0]), "bandwidth": float(cutoffs[0])},
                            "layers": specs, "output_scale": 0.25}}
    config["parameters"] = int(sum(np.size(a) for a in arrays.values()))
    return config, dict(arrays)


def random_generator(config: str, resolution: int, seed: int = 0) -> tuple[dict, dict]:
    """``(config, arrays)`` of a random network of ``config`` (see :data:`CONFIGS`) at ``resolution``."""
    if config == "stylegan2":
        return stylegan2(resolution, seed)
    if config in ("stylegan3-t", "stylegan3-r"):
        return stylegan3(resolution, config == "stylegan3-r", seed)
    raise ValueError(f"unknown config {config}; one of {', '.join(CONFIGS)}")
