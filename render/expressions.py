"""Expressions in schedules: ``zoom = "1.01 + 0.04 * kick"``, evaluated over every frame at once.

An expression is a small arithmetic formula over per-frame names.  It is checked when the recipe is
read (syntax, names, functions and their arguments: one :class:`ExpressionError` line each, with a
"did you mean" for a misspelt name) and evaluated later, once per schedule, on numpy arrays of shape
``(frames,)``: no loop over frames.

The language (Python's expression syntax, cut down):

- numbers; names (``t``, ``f``, ``b``, the recipe's audio features, ``pi``...); ``notes[3]`` picks
  one value of a vector name (a chroma feature has 12);
- ``+ - * / // % **``, unary ``-``; comparisons (``b % 4 < 1`` is 1 or 0), ``and``/``or``/``not``,
  ``a if cond else b`` (per frame);
- calls of the functions in :data:`FUNCTIONS` (sin, cos, clip, smoothstep, wave shapes ...).

Everything else is refused before anything is evaluated: attribute access (``t.real``), imports and
dunder names (``__import__('os')``), lambdas, comprehensions, strings, keyword arguments, slices,
assignments.  All arithmetic is float64, constants included, so no operation's work grows with its
operands: a power of any exponent costs one ``np.power`` (``0.97 ** f`` over 600 frames is an
ordinary decay), and a runaway one (``9**9**9``, ``10 ** 400``) overflows to inf, which the result
check refuses with the frame and the power that overflowed, as it refuses a nan from a negative
number to a fractional power (``(-8) ** (1/3)``).

Evaluation goes through simpleeval (a well-kept sandboxed evaluator) with numpy-aware operators, on
the tree checked here; Python's ``eval`` is never used.
"""

from __future__ import annotations

import ast
import difflib
import math
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Protocol

import numpy as np

MAX_LENGTH = 2000       # characters of one expression
MAX_DEPTH = 120         # levels of its syntax tree (a sum of 500 terms is 500 levels: split it)


class ExpressionError(ValueError):
    """An expression that cannot be used: a syntax error, an unknown name, a refused construct, a
    value that is not finite.  The message is one line, without the file (the loader adds it)."""


# --- functions -----------------------------------------------------------------------------------

def _f(x) -> np.ndarray:
    return np.asarray(x, dtype=np.float64)


def _fract(x):
    x = _f(x)
    return x - np.floor(x)


def _smoothstep(edge0, edge1, x):
    """GLSL's smoothstep: 0 below ``edge0``, 1 above ``edge1``, a cubic ease between."""
    e0, e1 = _f(edge0), _f(edge1)
    u = np.clip((_f(x) - e0) / np.where(e1 == e0, 1e-12, e1 - e0), 0.0, 1.0)
    return u * u * (3.0 - 2.0 * u)


def _noise(x):
    """Smooth value noise of period 1024, values 0..1: a fixed pseudo-random value at each whole
    ``x`` (a hash, so the same on every machine), eased in between."""
    x = _f(x)
    cell = np.floor(x)

    def value(k):
        k = np.mod(k, 1024.0)
        return _fract(np.sin(k * 12.9898 + 78.233) * 43758.5453)

    u = x - cell
    u = u * u * (3.0 - 2.0 * u)
    return value(cell) * (1.0 - u) + value(cell + 1.0) * u


def _nary(reduce):
    def fn(*args):
        out = _f(args[0])
        for arg in args[1:]:
            out = reduce(out, _f(arg))
        return out
    return fn


@dataclass(frozen=True)
class Function:
    """A function expressions may call: ``fn`` on float64 arrays, ``arity`` the accepted argument
    counts (``None``: two or more), ``help`` one line for the README and errors."""

    fn: Callable
    arity: tuple[int, ...] | None
    help: str


FUNCTIONS: dict[str, Function] = {
    "sin": Function(np.sin, (1,), "sine of radians"),
    "cos": Function(np.cos, (1,), "cosine of radians"),
    "tan": Function(np.tan, (1,), "tangent of radians"),
    "asin": Function(lambda x: np.arcsin(np.clip(_f(x), -1, 1)), (1,), "arc sine (clipped to -1..1)"),
    "acos": Function(lambda x: np.arccos(np.clip(_f(x), -1, 1)), (1,), "arc cosine (clipped to -1..1)"),
    "atan": Function(np.arctan, (1,), "arc tangent"),
    "atan2": Function(np.arctan2, (2,), "atan2(y, x)"),
    "abs": Function(np.abs, (1,), "absolute value"),
    "sign": Function(np.sign, (1,), "-1, 0 or 1"),
    "sqrt": Function(lambda x: np.sqrt(np.maximum(_f(x), 0.0)), (1,), "square root (of max(x, 0))"),
    "exp": Function(np.exp, (1,), "e ** x"),
    "log": Function(np.log, (1,), "natural logarithm"),
    "log2": Function(np.log2, (1,), "base-2 logarithm"),
    "log10": Function(np.log10, (1,), "base-10 logarithm"),
    "floor": Function(np.floor, (1,), "largest whole number <= x"),
    "ceil": Function(np.ceil, (1,), "smallest whole number >= x"),
    "round": Function(lambda x: np.floor(_f(x) + 0.5), (1,), "nearest whole number (halves up)"),
    "fract": Function(_fract, (1,), "x - floor(x)"),
    "mod": Function(lambda a, b: np.mod(_f(a), _f(b)), (2,), "mod(a, b): remainder with b's sign"),
    "min": Function(_nary(np.minimum), None, "smallest of the arguments, per frame"),
    "max": Function(_nary(np.maximum), None, "largest of the arguments, per frame"),
    "clip": Function(lambda x, lo, hi: np.minimum(np.maximum(_f(x), _f(lo)), _f(hi)), (3,),
                     "clip(x, low, high)"),
    "lerp": Function(lambda a, b, u: _f(a) + (_f(b) - _f(a)) * _f(u), (3,), "lerp(a, b, u) = a + (b - a) * u"),
    "smoothstep": Function(_smoothstep, (3,), "smoothstep(edge0, edge1, x): 0..1 with an eased ramp"),
    "step": Function(lambda edge, x: (_f(x) >= _f(edge)).astype(np.float64), (2,), "step(edge, x): 1 where x >= edge"),
    "where": Function(lambda c, a, b: np.where(_f(c) != 0, _f(a), _f(b)), (3,), "where(cond, a, b), per frame"),
    "saw": Function(_fract, (1,), "sawtooth wave of period 1: 0 rising to 1"),
    "tri": Function(lambda x: 1.0 - np.abs(2.0 * _fract(x) - 1.0), (1,), "triangle wave of period 1: 0, 1 at x=0.5, 0"),
    "square": Function(lambda x, duty=0.5: (_fract(x) < _f(duty)).astype(np.float64), (1, 2),
                       "square(x[, duty]): 1 for the first duty (0.5) of each period of 1, else 0"),
    "wave": Function(lambda x: 0.5 - 0.5 * np.cos(2.0 * np.pi * _f(x)), (1,),
                     "smooth wave of period 1: 0 at whole x, 1 at halves"),
    "noise": Function(_noise, (1,), "smooth value noise 0..1, a new value at each whole x"),
}

CONSTANTS = {"pi": math.pi, "tau": 2.0 * math.pi, "e": math.e}


# --- names ---------------------------------------------------------------------------------------

class NameSource(Protocol):
    """What names an expression may read and their per-frame values (see :class:`render.signals.Signals`)."""

    def names(self) -> Mapping[str, int]:
        """name -> width (1: a ``(frames,)`` array; 12: a ``(frames, 12)`` vector, indexed ``x[i]``)."""

    def arrays(self, frames: int) -> Mapping[str, np.ndarray]:
        """name -> values at frames ``0 .. frames-1``."""

    def missing(self, name: str) -> str | None:
        """Why ``name`` is not available here, when it would be elsewhere (``b`` without a track)."""


class _Vector:
    """A vector name during evaluation: ``notes[3]`` is column 3 of a ``(frames, width)`` array."""

    def __init__(self, values: np.ndarray):
        self.values = values

    def __getitem__(self, index):
        return self.values[:, int(index)]


@dataclass(frozen=True)
class BoundExpression:
    """An expression with the names it reads: a per-frame value a schedule can hold
    (``evaluate(frames)`` -> float64 ``(frames,)``); ``map`` applies ``fn`` (a Python function of one
    number, such as a preview's step cut) to every value."""

    expression: "Expression"
    source: Any = field(compare=False, repr=False)
    post: tuple[Callable, ...] = field(default=(), compare=False, repr=False)

    @property
    def text(self) -> str:
        return self.expression.text

    def evaluate(self, frames: int) -> np.ndarray:
        values = self.expression.evaluate(self.source, frames)
        for fn in self.post:
            values = np.array([float(fn(v)) for v in values], dtype=np.float64)
        return values

    def map(self, fn: Callable) -> "BoundExpression":
        return BoundExpression(self.expression, self.source, self.post + (fn,))


def bind(text: str, source: NameSource) -> BoundExpression:
    """:func:`compile_expression` and bind the result to ``source``."""
    return BoundExpression(compile_expression(text, source), source)


# names people write for the ones that exist (the closest spelling would often be the wrong one)
_ALIASES = {"frame": "f", "n": "f", "i": "f", "time": "t", "seconds": "t", "beat": "b", "beats": "b"}


def _did_you_mean(word: str, options) -> str:
    close = difflib.get_close_matches(word, list(options), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


# --- checking ------------------------------------------------------------------------------------

_OPERATORS = (ast.Add, ast.Sub, ast.Mult, ast.Div, ast.FloorDiv, ast.Mod, ast.Pow, ast.USub, ast.UAdd,
              ast.Not, ast.And, ast.Or, ast.Eq, ast.NotEq, ast.Lt, ast.LtE, ast.Gt, ast.GtE)
_REFUSED = {
    ast.Attribute: "attribute access ({text}) is not allowed",
    ast.Lambda: "lambdas are not allowed",
    ast.ListComp: "comprehensions are not allowed", ast.SetComp: "comprehensions are not allowed",
    ast.DictComp: "comprehensions are not allowed", ast.GeneratorExp: "comprehensions are not allowed",
    ast.NamedExpr: "assignments are not allowed",
    ast.JoinedStr: "strings are not allowed", ast.Starred: "starred arguments are not allowed",
    ast.List: "lists are not allowed", ast.Tuple: "tuples are not allowed", ast.Dict: "tables are not allowed",
    ast.Set: "sets are not allowed", ast.Slice: "slices are not allowed", ast.Await: "await is not allowed",
    ast.Yield: "yield is not allowed", ast.YieldFrom: "yield is not allowed",
}


@dataclass(frozen=True)
class Expression:
    """A checked expression: ``text`` as written, its syntax tree and the names it reads."""

    text: str
    tree: ast.Expression = field(compare=False, repr=False)
    names: frozenset[str] = frozenset()

    def evaluate(self, source: NameSource, frames: int) -> np.ndarray:
        """float64 ``(frames,)``: the value at every frame.  Raises :class:`ExpressionError` for a
        power that is too large, a vector used whole, or a value that is not finite (naming the
        first such frame, and for a power that made it, why)."""
        values = source.arrays(frames)
        names = {}
        for name in self.names:
            if name in CONSTANTS:
                names[name] = CONSTANTS[name]
            else:
                array = np.asarray(values[name], dtype=np.float64)
                names[name] = _Vector(array) if array.ndim == 2 else array
        evaluator = _Evaluator(names)
        with np.errstate(all="ignore"):
            try:
                result = evaluator.run(self.tree)
            except RecursionError:  # compile_expression bounds the depth; this is the last guard
                raise ExpressionError(f"expression nested too deeply (at most {MAX_DEPTH} levels)") from None
        if isinstance(result, _Vector):
            raise ExpressionError(f"{self.text!r} is {result.values.shape[1]} values per frame: pick one "
                                  "with [0]..[{}]".format(result.values.shape[1] - 1))
        result = np.broadcast_to(_f(result), (frames,)).astype(np.float64)
        bad = np.flatnonzero(~np.isfinite(result))
        if bad.size:
            frame = int(bad[0])
            why = evaluator.power_trouble(frame, frames)
            raise ExpressionError(f"{self.text!r} gives {result[frame]} at frame {frame}"
                                  + (f": {why}" if why else " (a division by zero, a log of 0 or an overflow?)"))
        return result


def compile_expression(text: str, source: NameSource) -> Expression:
    """Check ``text`` against the names ``source`` offers and the functions here.

    Raises :class:`ExpressionError` (one line) for a syntax error, an unknown name or function (with
    a suggestion), a wrong number of arguments, an index outside a vector, or a refused construct."""
    if len(text) > MAX_LENGTH:
        raise ExpressionError(f"expression is {len(text)} characters long; at most {MAX_LENGTH}")
    if not text.strip():
        raise ExpressionError("empty expression")
    flat = " ".join(text.split())   # a TOML multi-line string: its line breaks are spaces
    try:
        tree = ast.parse(flat, mode="eval")
    except SyntaxError as err:
        where = f" at column {err.offset}" if err.offset else ""
        raise ExpressionError(f"{flat!r} is not a valid expression ({err.msg}{where})") from None
    except (RecursionError, MemoryError):
        raise ExpressionError(f"expression nested too deeply (at most {MAX_DEPTH} levels)") from None
    if _depth(tree) > MAX_DEPTH:
        raise ExpressionError(f"expression nested too deeply (more than {MAX_DEPTH} levels of operators, calls "
                              "and parentheses): split it into several keys or features")
    known = dict(source.names())
    used: set[str] = set()
    for node in ast.walk(tree):
        _check_node(node, flat, known, source, used)
    return Expression(flat, tree, frozenset(used))


def _depth(tree: ast.AST) -> int:
    """Levels of the syntax tree, counted without recursion (evaluation recurses once per level)."""
    deepest, stack = 0, [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        stack.extend((child, depth + 1) for child in ast.iter_child_nodes(node))
    return deepest


def _check_node(node: ast.AST, text: str, known: dict[str, int], source: NameSource, used: set[str]) -> None:
    kind = type(node)
    if kind in _REFUSED:
        raise ExpressionError(_REFUSED[kind].format(text=ast.unparse(node)))
    if isinstance(node, (ast.Expression, ast.BinOp, ast.UnaryOp, ast.BoolOp, ast.Compare, ast.IfExp,
                         ast.Load)) or isinstance(node, _OPERATORS):
        if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.BitAnd, ast.BitOr, ast.BitXor,
                                                                ast.LShift, ast.RShift, ast.MatMult)):
            raise ExpressionError(f"operator {type(node.op).__name__} is not allowed (use and/or, *, /)")
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Invert):
            raise ExpressionError("operator ~ is not allowed (use not)")
        if isinstance(node, ast.Compare) and any(isinstance(op, (ast.Is, ast.IsNot, ast.In, ast.NotIn))
                                                 for op in node.ops):
            raise ExpressionError("is / in are not allowed: compare numbers with == < > <= >=")
        return
    if isinstance(node, ast.Constant):
        if isinstance(node.value, bool) or not isinstance(node.value, (int, float)):
            raise ExpressionError(f"only numbers are allowed as constants, not {node.value!r}")
        return
    if isinstance(node, ast.Name):
        if node.id in FUNCTIONS and not _is_called(node):
            raise ExpressionError(f"{node.id} is a function: call it, e.g. {node.id}(t)")
        if node.id not in known and node.id not in CONSTANTS and node.id not in FUNCTIONS:
            reason = source.missing(_ALIASES.get(node.id.lower(), node.id))
            if reason:
                raise ExpressionError(f"unknown name {node.id!r}: {reason}")
            lower = node.id.lower()
            hint = _ALIASES.get(lower, lower)
            suggestion = (f" (did you mean {hint!r}?)" if hint in known or hint in CONSTANTS else
                          _did_you_mean(node.id, list(known) + list(CONSTANTS)))
            raise ExpressionError(f"unknown name {node.id!r}" + suggestion
                                  + "; names here: " + ", ".join(sorted(known) + list(CONSTANTS)))
        if known.get(node.id, 1) > 1 and not getattr(node, "_indexed", False):
            raise ExpressionError(f"{node.id} is {known[node.id]} values per frame: pick one with "
                                  f"{node.id}[0] .. {node.id}[{known[node.id] - 1}]")
        if node.id not in FUNCTIONS:
            used.add(node.id)
        return
    if isinstance(node, ast.Call):
        _check_call(node)
        return
    if isinstance(node, ast.Subscript):
        _check_subscript(node, known)
        return
    raise ExpressionError(f"{type(node).__name__} is not allowed in an expression")


def _is_called(node: ast.Name) -> bool:
    return getattr(node, "_called", False)


def _check_call(node: ast.Call) -> None:
    if type(node.func) in _REFUSED:
        raise ExpressionError(_REFUSED[type(node.func)].format(text=ast.unparse(node.func)))
    if not isinstance(node.func, ast.Name):
        raise ExpressionError("only the listed functions can be called (sin(t), clip(x, 0, 1) ...)")
    name = node.func.id
    if name not in FUNCTIONS:
        raise ExpressionError(f"unknown function {name!r}" + _did_you_mean(name, FUNCTIONS)
                              + "; functions: " + ", ".join(sorted(FUNCTIONS)))
    node.func._called = True  # so the Name check below knows it is a call
    if node.keywords:
        raise ExpressionError(f"{name}(): keyword arguments are not allowed")
    arity = FUNCTIONS[name].arity
    count = len(node.args)
    if (arity is None and count < 2) or (arity is not None and count not in arity):
        wanted = "two or more" if arity is None else " or ".join(map(str, arity))
        raise ExpressionError(f"{name}() takes {wanted} argument{'s' if wanted != '1' else ''}, got {count}: "
                              + FUNCTIONS[name].help)


def _check_subscript(node: ast.Subscript, known: dict[str, int]) -> None:
    if not isinstance(node.value, ast.Name) or known.get(node.value.id, 1) == 1:
        what = node.value.id if isinstance(node.value, ast.Name) else "this"
        raise ExpressionError(f"{what} is one number per frame: it has no [index]")
    width = known[node.value.id]
    node.value._indexed = True  # so the Name check knows the vector is indexed
    index = node.slice
    if not (isinstance(index, ast.Constant) and isinstance(index.value, int) and not isinstance(index.value, bool)):
        raise ExpressionError(f"{node.value.id}[...] takes a whole number 0..{width - 1}")
    if not 0 <= index.value < width:
        raise ExpressionError(f"{node.value.id}[{index.value}] is out of range: {node.value.id} has {width} "
                              f"values (0..{width - 1})")


# --- evaluation ----------------------------------------------------------------------------------

def _power(a, b):
    """``a ** b`` per frame, in float64: one ``np.power`` whatever the exponent (an overflow is inf,
    a negative base to a fractional exponent nan; :meth:`_Evaluator.power` says which)."""
    return np.power(_f(a), _f(b))


def _power_trouble(base: float, exponent: float) -> str:
    """Why ``base ** exponent`` is not a finite number, in words."""
    if base < 0 and exponent != math.floor(exponent):
        return (f"({base:.10g}) ** {exponent:.10g} has no real value (a negative number to a fractional power): "
                "write -(abs(x) ** p) or sign(x) * abs(x) ** p")
    if base == 0:
        return f"0 ** {exponent:.10g} is a division by zero (0 to a negative power)"
    return (f"power too large: {base:.10g} ** {exponent:.10g} is beyond float64's largest number (about 1.8e308); "
            "bound it with clip() or a smaller exponent")


def _binary(op):
    return lambda a, b: op(_f(a), _f(b))


_NUMPY_OPERATORS = {
    ast.Add: _binary(np.add), ast.Sub: _binary(np.subtract), ast.Mult: _binary(np.multiply),
    ast.Div: _binary(np.true_divide), ast.FloorDiv: _binary(np.floor_divide), ast.Mod: _binary(np.mod),
    ast.Pow: _power, ast.USub: lambda a: -_f(a), ast.UAdd: lambda a: _f(a),
    ast.Not: lambda a: (_f(a) == 0).astype(np.float64),
    ast.Eq: _binary(np.equal), ast.NotEq: _binary(np.not_equal), ast.Lt: _binary(np.less),
    ast.LtE: _binary(np.less_equal), ast.Gt: _binary(np.greater), ast.GtE: _binary(np.greater_equal),
}


class _Evaluator:
    """simpleeval over numpy arrays: its dispatch, name and function lookup and call handling, with
    numpy operators, and comparisons, and/or and ``if else`` taken per frame."""

    def __init__(self, names: dict[str, Any]):
        from simpleeval import SimpleEval
        self.troubles: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []   # (new non-finite, base, exponent)
        operators = {**_NUMPY_OPERATORS, ast.Pow: self.power}
        self.inner = SimpleEval(operators=operators,
                                functions={name: f.fn for name, f in FUNCTIONS.items()}, names=names)
        self.inner.nodes[ast.Compare] = self._compare
        self.inner.nodes[ast.BoolOp] = self._boolop
        self.inner.nodes[ast.IfExp] = self._ifexp
        self.inner.nodes[ast.Constant] = lambda node: float(node.value)

    def run(self, tree: ast.Expression):
        return self.inner.eval("", previously_parsed=tree.body)

    def power(self, a, b):
        """:func:`_power`, remembering the frames where it turned finite numbers into inf or nan (a
        branch of ``where`` or ``if else`` that is not taken may do so harmlessly: only the result's
        frames are reported, with :meth:`power_trouble`)."""
        a, b = _f(a), _f(b)
        out = _power(a, b)
        new = ~np.isfinite(out) & np.isfinite(a) & np.isfinite(b)
        if new.any():
            self.troubles.append((new, a, b))
        return out

    def power_trouble(self, frame: int, frames: int) -> str | None:
        """Why a power gave inf or nan at ``frame`` (the first such power), or None."""
        for new, a, b in self.troubles:
            if np.broadcast_to(new, (frames,))[frame]:
                return _power_trouble(float(np.broadcast_to(a, (frames,))[frame]),
                                      float(np.broadcast_to(b, (frames,))[frame]))
        return None

    def _compare(self, node: ast.Compare):
        left = self.inner._eval(node.left)
        result = np.float64(1.0)
        for op, comparator in zip(node.ops, node.comparators):
            right = self.inner._eval(comparator)
            result = np.logical_and(result, _NUMPY_OPERATORS[type(op)](left, right))
            left = right
        return _f(result)

    def _boolop(self, node: ast.BoolOp):
        values = [_f(self.inner._eval(v)) != 0 for v in node.values]
        combine = np.logical_and if isinstance(node.op, ast.And) else np.logical_or
        out = values[0]
        for value in values[1:]:
            out = combine(out, value)
        return _f(out)

    def _ifexp(self, node: ast.IfExp):
        return np.where(_f(self.inner._eval(node.test)) != 0, _f(self.inner._eval(node.body)),
                        _f(self.inner._eval(node.orelse)))
