"""Build small random StyleGAN2/3 networks with NVIDIA's own code (stylegan3 repo, CPU torch), pickle
them as the training loop does, and save the official outputs for fixed seeds."""
import copy, io, pickle, sys, json
import numpy as np
import torch
sys.path.insert(0, "/tmp/sg3")
import dnnlib
from training import networks_stylegan2 as sg2, networks_stylegan3 as sg3
from training.augment import AugmentPipe
from torch_utils.ops import upfirdn2d, filtered_lrelu

out = sys.argv[1]
torch.manual_seed(0)

def randomise(module, gen):
    for name, p in module.named_parameters():
        with torch.no_grad():
            if name.endswith("bias"):
                p.copy_(torch.randn(p.shape, generator=gen) * 0.2)
            elif name.endswith("noise_strength"):
                p.copy_(torch.randn(p.shape, generator=gen) * 0.3 + 0.3)
            elif name.endswith("input.affine.weight"):
                p.copy_(torch.randn(p.shape, generator=gen) * 2.0)
    for name, b in module.named_buffers():
        with torch.no_grad():
            if name.endswith("w_avg"):
                b.copy_(torch.randn(b.shape, generator=gen) * 0.5)
            elif name.endswith("magnitude_ema"):
                b.copy_(torch.rand(b.shape, generator=gen) * 1.5 + 0.5)

def make_transform(translate, angle):  # as gen_images.py defines it
    m = np.eye(3); s = np.sin(angle / 360.0 * np.pi * 2); c = np.cos(angle / 360.0 * np.pi * 2)
    m[0][0] = c; m[0][1] = s; m[0][2] = translate[0]; m[1][0] = -s; m[1][1] = c; m[1][2] = translate[1]
    return m

def to_uint8(img):
    return (img.permute(0, 2, 3, 1) * 127.5 + 128).clamp(0, 255).to(torch.uint8).numpy()

def reference(G, name, seeds=(0, 1, 42)):
    G = G.eval()
    res = {}
    c_dim = G.c_dim
    label = torch.zeros([1, c_dim])
    if c_dim:
        label[:, 1] = 1
    has_input = hasattr(G.synthesis, "input")
    for seed in seeds:
        z = torch.from_numpy(np.random.RandomState(seed).randn(1, G.z_dim))
        for psi in (1.0, 0.7):
            with torch.no_grad():
                img = G(z, label, truncation_psi=psi, noise_mode="const")
            res[f"seed{seed}_psi{psi}"] = img.numpy()
            res[f"seed{seed}_psi{psi}_uint8"] = to_uint8(img)
        with torch.no_grad():
            ws = G.mapping(z, label, truncation_psi=0.5, truncation_cutoff=3)
        res[f"seed{seed}_ws_psi0.5_cut3"] = ws.numpy()
    with torch.no_grad():
        za = torch.from_numpy(np.random.RandomState(0).randn(1, G.z_dim))
        zb = torch.from_numpy(np.random.RandomState(1).randn(1, G.z_dim))
        wa = G.mapping(za, label, truncation_psi=0.7)
        wb = G.mapping(zb, label, truncation_psi=0.7)
        cut = 4
        wm = wa.clone(); wm[:, cut:] = wb[:, cut:]
        res["mix_0_1_from4"] = G.synthesis(wm, noise_mode="const").numpy()
        res["noise_none_seed0"] = G(za, label, truncation_psi=0.7, noise_mode="none").numpy()
        wavg = G.mapping.w_avg.unsqueeze(0).unsqueeze(1).repeat([1, G.num_ws, 1])
        res["w_avg_image"] = G.synthesis(wavg, noise_mode="const").numpy()
        res["w_avg"] = G.mapping.w_avg.numpy()
        if has_input:
            m = np.linalg.inv(make_transform((0.2, -0.1), 30.0))
            G.synthesis.input.transform.copy_(torch.from_numpy(m))
            res["seed42_psi0.7_translate0.2,-0.1_rotate30"] = G(
                torch.from_numpy(np.random.RandomState(42).randn(1, G.z_dim)), label, truncation_psi=0.7,
                noise_mode="const").numpy()
            G.synthesis.input.transform.copy_(torch.eye(3))
    np.savez_compressed(f"{out}/{name}.npz", **res)

def snapshot(G, D, name, augment=None, extra_src=None):
    G_ema = copy.deepcopy(G).eval().requires_grad_(False)
    data = dict(training_set_kwargs=dict(class_name="training.dataset.ImageFolderDataset", path="~/datasets/x.zip",
                                         use_labels=bool(G.c_dim), max_size=100, xflip=False, resolution=G.img_resolution))
    for key, module in (("G", G), ("D", D), ("G_ema", G_ema), ("augment_pipe", augment)):
        data[key] = None if module is None else copy.deepcopy(module).eval().requires_grad_(False)
    with open(f"{out}/{name}.pkl", "wb") as f:
        pickle.dump(data, f)
    return G_ema

gen = torch.Generator().manual_seed(1234)

# StyleGAN2 (config-f layout at small widths): skip generator, 3 mapping layers, unconditional, with D and augment
G = sg2.Generator(z_dim=32, c_dim=0, w_dim=32, img_resolution=32, img_channels=3,
                  mapping_kwargs=dnnlib.EasyDict(num_layers=3), channel_base=256, channel_max=32,
                  num_fp16_res=2, conv_clamp=256, architecture="skip")
randomise(G, gen)
D = sg2.Discriminator(c_dim=0, img_resolution=32, img_channels=3, channel_base=256, channel_max=32,
                      num_fp16_res=2, conv_clamp=256)
A = AugmentPipe(xflip=1, rotate90=1, xint=1, scale=1, rotate=1, aniso=1, xfrac=1, brightness=1, contrast=1, lumaflip=1, hue=1, saturation=1)
G_ema = snapshot(G, D, "stylegan2-32", augment=A)
reference(G_ema, "stylegan2-32")

# StyleGAN2, conditional, resnet synthesis, no clamp, 16 px, G_ema only
G = sg2.Generator(z_dim=16, c_dim=3, w_dim=24, img_resolution=16, img_channels=3,
                  mapping_kwargs=dnnlib.EasyDict(num_layers=2), channel_base=128, channel_max=16,
                  num_fp16_res=0, conv_clamp=None, architecture="resnet")
randomise(G, gen)
G_ema = copy.deepcopy(G).eval().requires_grad_(False)
with open(f"{out}/stylegan2-cond-resnet-16.pkl", "wb") as f:
    pickle.dump(dict(G_ema=G_ema), f)
reference(G_ema, "stylegan2-cond-resnet-16")

# StyleGAN3-T and -R (channel counts scaled down; -R doubles them, 1x1 kernels, radial filters)
for cfg in ("t", "r"):
    kw = dict(channel_base=512, channel_max=16, magnitude_ema_beta=0.999)
    if cfg == "r":
        kw.update(channel_base=1024, channel_max=32, conv_kernel=1, use_radial_filters=True)
    G = sg3.Generator(z_dim=32, c_dim=0, w_dim=32, img_resolution=32, img_channels=3,
                      mapping_kwargs=dnnlib.EasyDict(num_layers=2), num_layers=6, num_critical=2, **kw)
    randomise(G, gen)
    G_ema = copy.deepcopy(G).eval().requires_grad_(False)
    with open(f"{out}/stylegan3-{cfg}-32.pkl", "wb") as f:
        pickle.dump(dict(G=None, D=None, G_ema=G_ema, augment_pipe=None, training_set_kwargs={}), f)
    reference(G_ema, f"stylegan3-{cfg}-32")

# the ops themselves with asymmetric filters
ops = {}
x = torch.randn([2, 3, 9, 11], generator=gen)
f1 = torch.tensor([0.1, 0.5, 0.3, -0.2, 0.05])
f2 = torch.randn([4, 3], generator=gen)
ops["x"] = x.numpy(); ops["f1"] = f1.numpy(); ops["f2"] = f2.numpy()
cases = []
for i, (f, up, down, pad, gain, flip) in enumerate([(f1, 1, 1, [2, 2, 2, 2], 1, False), (f1, 2, 1, [3, 1, 2, 2], 4, False),
        (f1, 1, 2, [1, 2, 0, 3], 1, False), (f2, 2, 2, [1, 1, 2, 0], 2, False), (f1, 3, 1, [-1, 2, 1, -1], 9, True),
        (f2, 1, 1, [0, 0, 0, 0], 1, True)]):
    y = upfirdn2d._upfirdn2d_ref(x, f, up=up, down=down, padding=pad, gain=gain, flip_filter=flip)
    ops[f"up{i}"] = y.numpy(); cases.append(dict(f="f1" if f is f1 else "f2", up=up, down=down, pad=pad, gain=gain, flip=flip))
b = torch.randn([3], generator=gen)
ops["b"] = b.numpy()
y = filtered_lrelu._filtered_lrelu_ref(x, fu=f1, fd=f2, b=b, up=2, down=2, padding=[3, 2, 1, 4], gain=1.3, slope=0.2, clamp=0.8)
ops["flrelu"] = y.numpy()
np.savez_compressed(f"{out}/ops.npz", **ops)
json.dump(cases, open(f"{out}/ops_cases.json", "w"))
print("ok")
