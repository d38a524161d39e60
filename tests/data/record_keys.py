"""Record every example recipe's frame keys, whole and --preview, into tests/data/recipe-keys.json.

usage: python tests/data/record_keys.py > tests/data/recipe-keys.json
`precision = "auto"` is resolved as on a CPU without bfloat16 (keys name the precision, and the
machines here differ), so the recording is the same on every machine.  Each entry holds the frame
count, the first and last key and the sha256 of all keys joined by newlines.
"""
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from tests.test_house import recipe_keys  # noqa: E402

json.dump(recipe_keys(), sys.stdout, indent=1, sort_keys=True)
print()
