"""The ``render`` command: a thin click layer over render.runner, render.plan and render.recipe.

Recipe mistakes exit with status 2 and one line naming the file, key and line; other failures exit 1.
TensorFlow is imported only by commands that render.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from .errors import RecipeError, RenderError
from .outputs.formats import VIDEO_FORMATS

SET_HELP = "Override a recipe value, TOML syntax: --set output.size=[64,48] (repeatable)."


class _Group(click.Group):
    """Turns RenderError into one line on stderr and its exit status; Ctrl-C keeps stored frames."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except RenderError as err:
            click.echo(f"error: {err}", err=True)
            ctx.exit(err.exit_code)
        except KeyboardInterrupt:
            click.echo("\ninterrupted: finished frames are kept; run the same command again to resume",
                       err=True)
            ctx.exit(130)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="neural-render")
def main():
    """Render neural generative art from TOML recipes.

    \b
    Examples:
      render run recipes/zoom.toml
      render run recipes/zoom.toml --preview
      render run recipes/zoom.toml --set output.size=[64,48] --set output.frames=6 --out /tmp/t
      render plan recipes/zoom.toml
      render validate recipes/*.toml
      render encode recipes/zoom.toml --video webm
      render models
      render schema dream > schemas/dream.json
    """


def _load(recipe: Path, sets: tuple[str, ...]):
    from .recipe import load_recipe
    return load_recipe(recipe, sets)


recipe_argument = click.argument("recipe", type=click.Path(path_type=Path), metavar="RECIPE")
set_option = click.option("--set", "sets", multiple=True, metavar="KEY=VALUE", help=SET_HELP)
out_option = click.option("--out", "out_dir", type=click.Path(path_type=Path, file_okay=False), metavar="DIR",
                          help="Run folder (default: renders/<recipe name>).")


@main.command()
@recipe_argument
@out_option
@set_option
@click.option("--frames", "frame_range", metavar="RANGE", help="Only these frames, e.g. 0-9,20 (missing "
              "earlier frames of a feedback video are rendered too).")
@click.option("--force", is_flag=True, help="Render the chosen frames again even if stored.")
@click.option("--preview", is_flag=True, help="Quick small draft (<=256 px, a third of the steps) into "
              "<run folder>-preview.")
@click.option("--no-encode", is_flag=True, help="Store frames only; encode later with `render encode`.")
@click.option("--quiet", "-q", is_flag=True, help="No progress output (for scripts and CI).")
def run(recipe, out_dir, sets, frame_range, force, preview, no_encode, quiet):
    """Render RECIPE: only frames not already stored, then the video."""
    from .plan import preview_recipe
    from .progress import ProgressBar
    from .runner import default_out_dir, parse_frame_range, render

    loaded = _load(recipe, sets)
    if preview:
        loaded = preview_recipe(loaded)
    if out_dir is None:
        out_dir = default_out_dir(loaded, preview)
    elif preview:
        out_dir = out_dir.with_name(out_dir.name + "-preview")
    frames = None
    if frame_range:
        try:
            frames = parse_frame_range(frame_range, loaded.output.frames)
        except ValueError as err:
            raise click.BadParameter(str(err), param_hint="--frames") from None
    result = render(loaded, out_dir, frames, force, encode=not no_encode,
                    progress=None if quiet else ProgressBar())
    if not quiet:
        click.echo(f"{len(result.rendered)} frames rendered, {result.reused} reused, in {result.folder}")
        if result.video:
            click.echo(f"video: {result.video}")
        elif result.still:
            click.echo(f"still: {result.still}")
        elif result.missing:
            click.echo(f"video not encoded: {result.missing} frames are still to render")


@main.command()
@recipe_argument
@set_option
@click.option("--all", "show_all", is_flag=True, help="Print every frame (default: the first 24).")
def plan(recipe, sets, show_all):
    """Print the per-frame parameter table of RECIPE without rendering."""
    from .plan import format_plan, make_plan
    click.echo(format_plan(make_plan(_load(recipe, sets)), None if show_all else 24))


@main.command()
@click.argument("recipes", nargs=-1, required=True, type=click.Path(path_type=Path), metavar="RECIPE...")
@set_option
def validate(recipes, sets):
    """Check recipes without rendering (TensorFlow is not loaded)."""
    failed = 0
    for path in recipes:
        try:
            _load(path, sets)
            click.echo(f"ok: {path}")
        except RecipeError as err:
            failed += 1
            click.echo(f"error: {err}", err=True)
    if failed:
        sys.exit(2)


@main.command()
@recipe_argument
@out_option
@set_option
@click.option("--video", type=click.Choice(VIDEO_FORMATS),
              help="Format instead of the recipe's output.video.")
def encode(recipe, out_dir, sets, video):
    """Encode the stored frames of RECIPE's run again, without rendering."""
    from .runner import default_out_dir, encode_stored
    loaded = _load(recipe, sets)
    path = encode_stored(loaded, out_dir or default_out_dir(loaded), video)
    click.echo(f"video: {path}")


@main.command()
def models():
    """List the models, whether they need a download, and their layers."""
    from .models.catalog import ALIASES, BUILTIN, TRAINED
    for info in BUILTIN.values():
        aliases = [a for a, target in ALIASES.items() if target == info.name]
        status = "needs a download on first use" if info.needs_download else "embedded, works offline"
        click.echo(f"{info.name}{' (' + ', '.join(aliases) + ')' if aliases else ''}: {info.description}; {status}")
        if info.layers:
            click.echo(f"  role: {info.role}; layers: "
                       + ", ".join(f"{name}[{layer.channels}]" for name, layer in info.layers.items()))
        else:
            click.echo(f"  role: {info.role}; latent size {info.latent_size}")
    for name, description in TRAINED.items():
        click.echo(f"{name}: {description}; trained here, in models/{name}/")
    click.echo("A .keras file path also works as model.name; it is loaded with safe mode on. So does a model folder "
               "made by `render train pix2pix`.")
    click.echo('Target one filter with "layer:channel", e.g. "block4_conv3:12" (channel count in brackets).')


@main.group()
def train():
    """Train the networks the renderer uses."""


@train.command("pix2pix")
@click.option("--pairs", "pairs_dir", type=click.Path(path_type=Path, file_okay=False), metavar="DIR",
              help="Your own pairs: DIR/A/ drawings and DIR/B/ pictures with matching names.")
@click.option("--synthetic-faces", "faces", type=click.IntRange(16, 1_000_000), metavar="N",
              help="Make N pairs: faces from the embedded generator and their HED edges.")
@click.option("--size", type=click.Choice(["64", "128", "256"]), default="64", show_default=True,
              help="Square image size the model works at.")
@click.option("--steps", type=click.IntRange(1, 10_000_000), default=2000, show_default=True)
@click.option("--batch", type=click.IntRange(1, 1024), default=16, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--out", "out_dir", type=click.Path(path_type=Path, file_okay=False), required=True, metavar="DIR",
              help="Model folder, e.g. models/edges2faces (an interrupted training here resumes).")
def train_pix2pix_command(pairs_dir, faces, size, steps, batch, seed, out_dir):
    """Train a pix2pix model (line drawing -> picture) with a progress bar; resumable.

    \b
    Examples:
      render train pix2pix --synthetic-faces 2000 --steps 3000 --out models/edges2faces
      render train pix2pix --pairs my-drawings/ --size 128 --out models/my-pix2pix
    """
    if (pairs_dir is None) == (faces is None):
        raise click.UsageError("give either --pairs DIR or --synthetic-faces N")
    from .training.cli_support import run_training
    source = f"--pairs {pairs_dir}" if pairs_dir else f"--synthetic-faces {faces}"
    command = (f"render train pix2pix {source} --size {size} --steps {steps} --batch {batch} --seed {seed} "
               f"--out {out_dir}")
    path = run_training(out_dir, int(size), steps, batch, seed, pairs_dir, faces, command)
    click.echo(f"model: {path}")


@main.command()
@click.argument("kind", metavar="KIND")
def schema(kind):
    """Print the JSON Schema of KIND's recipes (for editors: put `#:schema PATH` atop a recipe)."""
    import json
    from .kinds import default_registry
    from .recipe.json_schema import recipe_json_schema
    registry = default_registry()
    if kind not in registry.names():
        raise click.BadParameter(f"unknown kind {kind!r}; available: {', '.join(registry.names())}",
                                 param_hint="KIND")
    click.echo(json.dumps(recipe_json_schema(registry.get(kind)), indent=2))


@main.command()
@click.argument("recipes", nargs=-1, type=click.Path(path_type=Path), metavar="[RECIPE...]")
@click.option("--dir", "gallery_dir", default=Path("gallery"), show_default=True,
              type=click.Path(path_type=Path, file_okay=False), help="Where the results go.")
@click.option("--quiet", "-q", is_flag=True, help="No progress output.")
def gallery(recipes, gallery_dir, quiet):
    """Render RECIPEs (default: every recipes/*.toml) and copy each video and poster into the gallery.

    A failing recipe does not stop the others; the summary lists each one, and the exit status is 1
    when any failed."""
    from .gallery import build_gallery, format_summary
    from .progress import ProgressBar
    paths = list(recipes) or sorted(Path("recipes").glob("*.toml"))
    entries = build_gallery(paths, gallery_dir, None if quiet else ProgressBar)
    click.echo(format_summary(entries))
    if any(e.status == "failed" for e in entries):
        sys.exit(1)


if __name__ == "__main__":
    main()
