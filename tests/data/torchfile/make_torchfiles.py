"""Writes the reference .pth files of tests/test_torchfile.py with real PyTorch (run it in a throwaway
virtual environment that has torch; the renderer itself never installs torch):

    python -m venv /tmp/torchvenv && /tmp/torchvenv/bin/pip install torch==2.13.0
    /tmp/torchvenv/bin/python tests/data/torchfile/make_torchfiles.py

Each file holds the same state dict, once in the zip format (torch >= 1.6's default) and once in the
legacy stream format (``_use_new_zipfile_serialization=False``); expected.npz holds every tensor as
numpy sees it (bfloat16 as float32), made from the same seed.
"""

from collections import OrderedDict
from pathlib import Path

import numpy as np
import torch

HERE = Path(__file__).resolve().parent


def state_dict() -> OrderedDict:
    torch.manual_seed(20240607)
    module = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3, bias=False), torch.nn.BatchNorm2d(4),
                                 torch.nn.Linear(4, 2))
    module[1].running_var.uniform_(0.5, 1.5)
    module[1].num_batches_tracked.fill_(7)
    state = module.state_dict()             # an OrderedDict with _metadata, as module files hold it
    base = torch.arange(60, dtype=torch.float32).reshape(6, 10) / 8
    state["extra.transposed"] = torch.randn(5, 7).t()              # strides (1, 7)
    state["extra.window"] = base[2:5, 3:9:2]                       # offset 23, strides (10, 2)
    state["extra.base"] = base                                     # the window's storage, shared
    state["extra.permuted"] = torch.randn(2, 3, 4, 5).permute(3, 1, 0, 2)   # like the real file's HWIO
    state["extra.half"] = torch.randn(3, 4).half()
    state["extra.bfloat16"] = torch.randn(6).bfloat16()
    state["extra.double"] = torch.randn(2, 2, dtype=torch.float64)
    state["extra.int32"] = torch.arange(-3, 5, dtype=torch.int32)
    state["extra.uint8"] = torch.arange(250, 256, dtype=torch.uint8)
    state["extra.bool"] = torch.tensor([True, False, True])
    state["extra.scalar"] = torch.tensor(2.5)
    state["extra.empty"] = torch.zeros(0, 3)
    state["extra.parameter"] = torch.nn.Parameter(torch.randn(3))   # saved through _rebuild_parameter
    return state


def main():
    state = state_dict()
    torch.save(state, HERE / "zip.pth")
    torch.save(state, HERE / "legacy.pth", _use_new_zipfile_serialization=False)
    expected = {name: (tensor.detach().float() if tensor.dtype == torch.bfloat16 else tensor.detach()).numpy()
                for name, tensor in state.items()}
    np.savez(HERE / "expected.npz", **expected)
    print(f"torch {torch.__version__}: wrote zip.pth, legacy.pth and expected.npz ({len(expected)} tensors)")


if __name__ == "__main__":
    main()
