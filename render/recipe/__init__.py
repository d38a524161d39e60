"""Recipes: TOML text -> validated, frozen :class:`Recipe` (no TensorFlow imported)."""

from .loader import load_recipe, parse_override
from .model import OutputSettings, Recipe

__all__ = ["load_recipe", "parse_override", "Recipe", "OutputSettings"]
