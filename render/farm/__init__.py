"""The render farm: Ray actors that keep a model resident and render frames; the driver stores them.

Optional (``pip install -e ".[ray]"``); nothing else in the package imports Ray.  ``cluster.Farm``
connects (a local instance, or an existing cluster by address) and starts the workers;
``engine.FarmEngine`` is an :class:`render.kinds.base.Engine` whose frames come from the workers, so
the runner, run folders, keys and atomic writes are the same as in a local run.
"""
