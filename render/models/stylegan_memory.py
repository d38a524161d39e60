"""What a StyleGAN generator costs, from its description alone (no weights, no Keras): the bytes of
its weights, the activation bytes one picture needs at its peak, and the FLOPs of one synthesis
(for `render plan` and the benchmarks' fraction of peak)."""

from __future__ import annotations

FLOAT = 4
# peak resident memory above the interpreter's, measured (TensorFlow, CPU, batch 1) against the count
# below with weights once: StyleGAN2 config-f 1024 px 1.49 GB for 0.94 counted, StyleGAN3-T 512 px
# 2.96 for 2.25, StyleGAN3-R 512 px 5.8 for 4.35; the margin and the weights' second copy cover them
MARGIN = 1.6


def weight_bytes(config: dict) -> float:
    """float32 weights as held while rendering: the converted arrays and the network's variables."""
    return 2 * config["parameters"] * FLOAT


def _sg2_layers(config: dict):
    for block in config["synthesis"]["blocks"]:
        for name in ("conv0", "conv1"):
            if block[name] is not None:
                yield block, block[name]


def activation_bytes(config: dict) -> float:
    """Peak bytes of the live activations of one picture: at the layer where the input, the
    upsampled (zero-stuffed, padded, filtered) intermediates and the output are largest."""
    peak = 0.0
    if config["generation"] == 2:
        for block, layer in _sg2_layers(config):
            res = layer["resolution"]
            up = layer["up"]
            values = ((res // up) ** 2 * layer["in_channels"] * 2
                      + (res + 3) ** 2 * layer["out_channels"] * 4 + res * res * 3 * 3)
            peak = max(peak, values)
    else:
        for layer in config["synthesis"]["layers"]:
            conv = layer["in_size"][0] + layer["kernel_size"] - 1
            wide = (conv * layer["up"] + sum(layer["padding"][:2])) ** 2 * layer["out_channels"]
            values = layer["in_size"][0] ** 2 * layer["in_channels"] * 2 + conv ** 2 * layer["out_channels"] + 3 * wide
            peak = max(peak, values)
    return peak * FLOAT * MARGIN


def synthesis_flops(config: dict) -> float:
    """Multiply-adds x 2 of the synthesis convolutions for one picture (the modulation, FIR filters
    and activations add a few per cent and are not counted)."""
    flops = 0.0
    if config["generation"] == 2:
        for block, layer in _sg2_layers(config):
            flops += 2.0 * layer["resolution"] ** 2 * layer["kernel_size"] ** 2 * layer["in_channels"] \
                * layer["out_channels"] / (4 if layer["up"] > 1 else 1)
        return flops
    for layer in config["synthesis"]["layers"]:
        conv = layer["in_size"][0] + layer["kernel_size"] - 1
        flops += 2.0 * conv ** 2 * layer["kernel_size"] ** 2 * layer["in_channels"] * layer["out_channels"]
    return flops
