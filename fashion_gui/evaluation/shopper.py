"""The shopper's metric for attribute edits ("this, but red"), beside the papers' protocol (issue 18).

The papers score a manipulation by whether the *one* target label vector appears in the top K. A shopper
asks something simpler: of the results I look at, how many are what I asked for, and did the rest of my
garment stay? Pinned here:

* **Queries**: catalog items sampled over the whole catalog (seeded). A *single* edit changes one attribute
  type (other than the category) to another value; a *double* edit changes two. An edit is kept only if some
  other catalog item has the asked value(s) *and* the query's category, so every query has an answer.
* **Relevant** result: an item of the query's category with every asked value.
* **Score** of a query: with R = the number of other catalog items that are relevant, the fraction of the
  first min(10, R) results that are relevant (precision@min(10, R)); 1.0 means the shopper sees only what
  they asked for, as far as the catalog allows.
* **Others kept**: over the top 10 results, the mean fraction of the query's other attribute types (those
  that apply to it, neither edited nor the category) on which the result has the query's value.

The queries and the scoring read the catalog's labels (they are the ground truth); what the searched
system may read is the benchmark's *mode* (fashion_gui/cli/bench_shopper.py).
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

MISSING = -1
TOP = 10  # results a shopper looks at


@dataclass(frozen=True)
class EditQuery:
    """One shopper query: catalog row of the garment and the asked values, type index -> value index."""

    row: int
    edits: dict[int, int]


def relevant_mask(labels: np.ndarray, categories: np.ndarray, category: int, edits: dict[int, int]) -> np.ndarray:
    """(N,) bool: items of ``category`` with every asked value."""
    mask = categories == category
    for a, v in edits.items():
        mask &= labels[:, a] == v
    return mask


def sample_edit_queries(labels: np.ndarray, categories: np.ndarray, n_edits: int, count: int,
                        rng: np.random.Generator, skip_types: Sequence[int] = ()) -> list[EditQuery]:
    """``count`` queries with ``n_edits`` changed types each, on items sampled over the whole catalog; each
    query's asked values exist on another item of its category (see the module docstring)."""
    n, a_count = labels.shape
    skip = set(int(a) for a in skip_types)
    out: list[EditQuery] = []
    for row in rng.permutation(n).tolist():
        if len(out) == count:
            break
        same = np.nonzero(categories == categories[row])[0]
        same = same[same != row]
        types = [a for a in range(a_count) if a not in skip and labels[row, a] != MISSING]
        if len(types) < n_edits or len(same) == 0:
            continue
        # candidate value combinations that exist on another item of the category
        options: list[dict[int, int]] = []
        for chosen in _type_sets(types, n_edits, rng):
            combos = {tuple(int(x) for x in labels[j, list(chosen)]) for j in same.tolist()}
            combos = [c for c in combos if all(v != labels[row, a] and v != MISSING for a, v in zip(chosen, c))]
            options += [dict(zip(chosen, c)) for c in combos]
            if options:
                break
        if options:
            out.append(EditQuery(row, options[int(rng.integers(len(options)))]))
    return out


def _type_sets(types: list[int], k: int, rng: np.random.Generator, tries: int = 12) -> list[tuple[int, ...]]:
    """Up to ``tries`` random sets of ``k`` distinct types (in random order)."""
    return [tuple(sorted(rng.choice(types, size=k, replace=False).tolist())) for _ in range(tries)]


@dataclass(frozen=True)
class EditScore:
    precision: float  # precision@min(10, R)
    others_kept: float  # mean fraction of the query's other attributes kept in the top 10
    available: int  # R


def score_edit(result_rows: Sequence[int], query: EditQuery, labels: np.ndarray, categories: np.ndarray,
               skip_types: Sequence[int] = ()) -> EditScore:
    """The shopper's figures of one query's ranked results (catalog rows, the query itself not among them)."""
    row = query.row
    relevant = relevant_mask(labels, categories, int(categories[row]), query.edits)
    relevant[row] = False
    r = int(relevant.sum())
    rows = np.asarray(result_rows, dtype=np.int64)
    n = min(TOP, r)
    precision = float(relevant[rows[:n]].sum()) / n if n else float("nan")  # missing results count as misses
    skip = set(int(a) for a in skip_types) | set(query.edits)
    others = [a for a in range(labels.shape[1]) if a not in skip and labels[row, a] != MISSING]
    top = rows[:TOP]
    kept = (float(np.mean([np.mean(labels[j, others] == labels[row, others]) for j in top]))
            if others and len(top) else float("nan"))
    return EditScore(precision, kept, r)


def best_others_kept(query: EditQuery, labels: np.ndarray, categories: np.ndarray,
                     skip_types: Sequence[int] = ()) -> float:
    """The most "others kept" a perfect score allows: the top 10 made of the relevant items that keep the most
    of the query's other attributes (then, if fewer than 10 are relevant, the best other items)."""
    row = query.row
    relevant = relevant_mask(labels, categories, int(categories[row]), query.edits)
    relevant[row] = False
    skip = set(int(a) for a in skip_types) | set(query.edits)
    others = [a for a in range(labels.shape[1]) if a not in skip and labels[row, a] != MISSING]
    if not others:
        return float("nan")
    kept = np.mean(labels[:, others] == labels[row, others], axis=1)  # (N,)
    rest = ~relevant
    rest[row] = False
    best = np.sort(kept[relevant])[::-1][:TOP]
    if len(best) < TOP:
        best = np.concatenate([best, np.sort(kept[rest])[::-1][:TOP - len(best)]])
    return float(best.mean())


def summarise(scores: Sequence[EditScore]) -> dict[str, float]:
    """Mean score and others-kept over queries, and the number of queries."""
    return {"score": float(np.nanmean([s.precision for s in scores])) if scores else float("nan"),
            "others_kept": float(np.nanmean([s.others_kept for s in scores])) if scores else float("nan"),
            "queries": len(scores)}
