"""DeepDream objectives: a weighted sum of mean activations of layers or single channels."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from ..backend.kerasops import ops


@dataclass(frozen=True)
class Term:
    """Mean of ``output`` (index into the extractor's outputs), or of one ``channel`` of it."""

    output: int
    channel: int | None
    label: str


def build_terms(targets, extractor_layers: Sequence[str]) -> tuple[Term, ...]:
    """Recipe layer targets -> terms pointing at the extractor's outputs."""
    return tuple(Term(extractor_layers.index(t.layer), t.channel, t.key) for t in targets)


def objective(activations: Sequence, terms: Sequence[Term], weights):
    """Scalar: ``sum_k weights[k] * mean(activation of term k)``.

    ``activations`` are ``(batch, h, w, c)`` tensors; ``weights`` is float32 ``(len(terms),)``.
    """
    total = 0.0
    for k, term in enumerate(terms):
        act = activations[term.output]
        if term.channel is not None:
            act = act[..., term.channel]
        total = total + weights[k] * ops.mean(act)
    return total
