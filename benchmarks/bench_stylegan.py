"""StyleGAN synthesis speed: frames per second of the Keras StyleGAN2 (config-f) and StyleGAN3-T/-R
networks (random weights of the real channel counts: speed does not depend on the values) at 256,
512 and 1024 px, batch 1 and 8, with the synthesis' conv GFLOP per frame and the fraction of this
machine's measured convolution peak (a 3x3, 512 -> 512 channel convolution on a 64x64 map).

    python benchmarks/bench_stylegan.py                              # everything (long on a CPU)
    python benchmarks/bench_stylegan.py --sizes 256 512 --batches 1 8
    python benchmarks/bench_stylegan.py --configs stylegan2 --sizes 1024 --batches 1

A batch whose activations the plan estimates above 70% of this machine's memory is skipped (said).
Each (config, size, batch) is compiled once (compile seconds reported apart), warmed up, then timed as
the best of ``--repeats`` calls ending in numpy arrays.  Mapping, truncation and PNG writing are not
counted (the mapping network is under a millisecond).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import best_of, machine_line  # noqa: E402
from stylegan_configs import CONFIGS, random_generator  # noqa: E402


def conv_peak(repeats: int = 5) -> float:
    """FLOP/s of a 3x3 convolution, 512 -> 512 channels on a 64x64 map, batch 4 (keras.ops)."""
    from render.backend import current
    from render.backend.kerasops import ops
    x = np.random.default_rng(0).standard_normal((4, 64, 64, 512)).astype(np.float32)
    k = np.random.default_rng(1).standard_normal((3, 3, 512, 512)).astype(np.float32)
    conv = current().compile(lambda a, b: ops.conv(a, b, padding="same"), name="conv peak")
    seconds = best_of(lambda: np.asarray(conv(x, k)), repeats)
    return 2 * 4 * 64 * 64 * 9 * 512 * 512 / seconds


def _memory_bytes() -> float:
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def bench(config_name: str, size: int, batches, repeats: int, peak: float, precision: str) -> list[dict]:
    from render.backend import current
    from render.backend.api import STATS
    from render.models.stylegan import StyleGAN
    from render.models.stylegan_memory import activation_bytes, synthesis_flops, weight_bytes
    config, arrays = random_generator(config_name, size)
    g = StyleGAN(config, arrays, precision)
    synth = current().compile(lambda ws: g.synthesis(ws), [g], name=f"{config_name} {size}")
    flops = synthesis_flops(config)
    results = []
    budget = 0.7 * _memory_bytes()
    for batch in batches:
        need = batch * activation_bytes(config) + weight_bytes(config)
        if need > budget:
            print(f"  {config_name:<12} {size:>5} px  batch {batch:>2}: not run, needs about {need / 2**30:.1f} GiB "
                  f"(the plan's estimate) of this machine's {budget / 0.7 / 2**30:.1f}", flush=True)
            continue
        ws = np.random.default_rng(batch).standard_normal((batch, g.num_ws, g.w_dim)).astype(np.float32) * 0.5
        before = STATS.seconds
        start = time.perf_counter()
        np.asarray(synth(ws))
        first = time.perf_counter() - start
        compile_s = STATS.seconds - before
        seconds = best_of(lambda: np.asarray(synth(ws)), repeats)
        rate = batch / seconds
        row = {"config": config_name, "size": size, "batch": batch, "fps": rate, "s_per_frame": seconds / batch,
               "gflop_per_frame": flops / 1e9, "gflops": flops * rate / 1e9, "peak_fraction": flops * rate / peak,
               "compile_s": compile_s, "first_call_s": first}
        print(f"  {config_name:<12} {size:>5} px  batch {batch:>2}: {rate:7.3f} frames/s  "
              f"({seconds / batch:6.2f} s/frame, {flops / 1e9:6.1f} GFLOP/frame, {flops * rate / 1e9:6.1f} GFLOP/s, "
              f"{flops * rate / peak:5.1%} of the conv peak; compiled in {compile_s:.1f} s)", flush=True)
        results.append(row)
    return results


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--configs", nargs="+", default=list(CONFIGS), choices=CONFIGS)
    parser.add_argument("--sizes", nargs="+", type=int, default=[256, 512, 1024])
    parser.add_argument("--batches", nargs="+", type=int, default=[1, 8])
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--precision", choices=("float32", "bfloat16"), default="float32")
    args = parser.parse_args(argv)
    print(machine_line())
    peak = conv_peak()
    print(f"conv peak (3x3, 512->512, 64x64, batch 4): {peak / 1e9:.1f} GFLOP/s; precision {args.precision}")
    for name in args.configs:
        for size in args.sizes:
            bench(name, size, args.batches, args.repeats, peak, args.precision)
    return 0


if __name__ == "__main__":
    sys.exit(main())
