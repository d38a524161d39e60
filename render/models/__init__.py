"""Model registry: what each model is called, its layers and channel counts (``catalog``, no
TensorFlow), and how to build it as a feature extractor (``build``, imports TensorFlow)."""
