"""Batch renderer for neural generative art driven by TOML recipes.

Data flows one way: recipe -> plan -> engine -> run folder -> outputs.  Importing ``render`` does not
import TensorFlow; only the engines and model builders do.
"""

__version__ = "0.1.0"
