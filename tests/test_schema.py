"""The schema speaks: committed JSON Schemas equal `render schema KIND`, and every example recipe
(which names its schema in a `#:schema` comment) validates against it."""

import json
import tomllib

import jsonschema
import pytest
from click.testing import CliRunner

from render.cli import main
from render.kinds import default_registry
from tests.helpers import REPO, TINY_RECIPE

RECIPES = sorted((REPO / "recipes").glob("*.toml"))


@pytest.mark.parametrize("kind", default_registry().names())
def test_committed_schema_equals_the_command_output(kind):
    result = CliRunner().invoke(main, ["schema", kind])
    assert result.exit_code == 0, result.output
    committed = REPO / "schemas" / f"{kind}.json"
    assert committed.is_file(), f"commit `render schema {kind} > schemas/{kind}.json`"
    assert json.loads(committed.read_text()) == json.loads(result.output)


@pytest.mark.parametrize("recipe", RECIPES, ids=[p.name for p in RECIPES])
def test_example_recipes_name_and_satisfy_their_schema(recipe):
    first = recipe.read_text().splitlines()[0]
    assert first.startswith("#:schema "), "editors find the schema through this first line"
    schema_path = (recipe.parent / first.split(None, 1)[1]).resolve()
    data = tomllib.loads(recipe.read_text())
    assert schema_path.name == f"{data['kind']}.json"
    schema = json.loads(schema_path.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.validate(data, schema)


def test_schema_rejects_what_the_loader_rejects():
    schema = json.loads((REPO / "schemas" / "dream.json").read_text())
    good = tomllib.loads(TINY_RECIPE)
    jsonschema.validate(good, schema)
    bad = [("dream", "stepz", 3), ("dream", "steps", -1), ("output", "video", "avi"),
           ("motion", "zoom", {"0": 1.0, "soon": 2.0}), ("motion", "pan", [1.0])]
    for section, key, value in bad:
        broken = json.loads(json.dumps(good))
        broken[section][key] = value
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(broken, schema)
    described = schema["properties"]["dream"]["properties"]["steps"]
    assert described["description"] == "gradient steps per octave" and described["default"] == 8


def test_every_example_recipe_loads():
    from render.graph import load_graph
    kinds = {load_graph(path).recipe.kind.name for path in RECIPES}
    assert kinds == {"dream", "style", "walk", "translate", "visualize"}
