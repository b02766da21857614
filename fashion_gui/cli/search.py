"""``fashion index build``, ``fashion search`` and ``fashion path``: the retrieval engine from the shell."""
from __future__ import annotations

import argparse
import json
import sys
from dataclasses import fields, replace
from pathlib import Path

from fashion_gui.cli.catalog import add_workspace_arg
from fashion_gui.engine import (
    AttributeValues,
    CategoryQuery,
    Compatible,
    EngineConfig,
    Manipulate,
    PathResult,
    RequestError,
    Results,
    RetrievalEngine,
    SimilarIn,
    TextFeedback,
)
from fashion_gui.engine.edits import EDIT_RANKINGS, EditPolicy
from fashion_gui.engine.config import load_index_config, save_index_config
from fashion_gui.index import IndexConfig
from fashion_gui.methods import REQUEST_KINDS
from fashion_gui.workspace import Workspace


def _engine_args(p: argparse.ArgumentParser) -> None:
    add_workspace_arg(p)
    p.add_argument("--model", default=None,
                   help="encoder checkpoint folder: the gallery space, edits, similar-in, paths (default: automatic)")
    p.add_argument("--use", action="append", default=[], metavar="KIND=CKPT",
                   help=f"the checkpoint serving one request kind ({', '.join(REQUEST_KINDS)}), e.g. "
                        "--use compatible=adde-o (default: automatic); may be repeated")
    p.add_argument("--edit-ranking", default=EditPolicy.ranking, choices=list(EDIT_RANKINGS),
                   help="how --set edits are ranked: " + "; ".join(f"{k}: {v}" for k, v in EDIT_RANKINGS.items()))
    p.add_argument("--device", default="auto", help="auto | cpu | cuda")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")


def register(sub: argparse._SubParsersAction) -> None:
    idx = sub.add_parser("index", help="build or update the search indexes of a workspace")
    icmd = idx.add_subparsers(dest="index_command", required=True, metavar="ACTION")
    b = icmd.add_parser("build", help="encode the gallery and build (or update) every index")
    _engine_args(b)
    for f in fields(IndexConfig):
        b.add_argument(f"--{f.name.replace('_', '-')}", type=type(f.default), default=None,
                       help=f"index parameter (default {f.default!r})")
    b.add_argument("--graph", action="store_true", help="also build the style-path kNN graph (full space)")
    b.set_defaults(func=cmd_index_build)

    s = sub.add_parser("search", help="search the catalog with an image and edits, a text or a target category")
    _engine_args(s)
    source = s.add_mutually_exclusive_group(required=True)
    source.add_argument("--image", type=Path, help="query image file")
    source.add_argument("--item", type=int, help="catalog item id as the query")
    source.add_argument("--values", nargs="+", metavar="ATTR=VALUE",
                        help="no picture: items with these attribute values (cooperative embeddings)")
    source.add_argument("--typical", metavar="CATEGORY", help="no picture: typical items of a category")
    s.add_argument("--set", action="append", default=[], metavar="ATTR=VALUE",
                   help="attribute edit (repeatable): 'this, but ...' (ADDE memory manipulation)")
    s.add_argument("--similar-in", default=None, metavar="ATTR", help="similar in this attribute only")
    s.add_argument("--text", default=None, help="text feedback (needs a composed model)")
    s.add_argument("--category", default=None,
                   help="target category: alone, compatible items; with --set/--text/--similar-in, a filter")
    s.add_argument("--k", type=int, default=10, help="results to show")
    s.set_defaults(func=cmd_search)

    p = sub.add_parser("path", help="style-transition path between two items or to a category")
    _engine_args(p)
    p.add_argument("--from", dest="source", type=int, required=True, help="source item id")
    to = p.add_mutually_exclusive_group(required=True)
    to.add_argument("--to", dest="target", type=int, help="target item id")
    to.add_argument("--to-category", default=None, help="walk to the most typical item of this category")
    p.add_argument("--attribute", default=None, help="walk in this attribute's subspace (default: full space)")
    p.add_argument("--graph-k", type=int, default=EngineConfig.graph_k, help="neighbours per item in the graph")
    p.set_defaults(func=cmd_path)


def _open(args: argparse.Namespace, index: IndexConfig | None = None, **extra) -> RetrievalEngine:
    """The engine; index parameters are the workspace's saved ones unless ``index`` is given."""
    config = EngineConfig(encoder_model=args.model, models=_parse_uses(args.use), index=index,
                          edits=EditPolicy(ranking=args.edit_ranking), **extra)
    return RetrievalEngine.open(Workspace.at(args.workspace), device=args.device, config=config,
                                progress=None if args.json else _progress)


def _parse_uses(pairs: list[str]) -> dict[str, str]:
    uses = {}
    for pair in pairs:
        kind, sep, name = pair.partition("=")
        if not sep or kind not in REQUEST_KINDS or not name.strip():
            raise ValueError(f"--use {pair!r}: expected KIND=CHECKPOINT with KIND one of {', '.join(REQUEST_KINDS)}")
        uses[kind] = name.strip()
    return uses


def _progress(stage: str, done: int, total: int) -> None:
    if stage.startswith("encode") and total and (done == total or done % 1024 == 0):
        print(f"  {stage}: {done}/{total}", file=sys.stderr, flush=True)


def cmd_index_build(args: argparse.Namespace) -> int:
    overrides = {f.name: getattr(args, f.name) for f in fields(IndexConfig) if getattr(args, f.name) is not None}
    ws = Workspace.at(args.workspace)
    index = replace(load_index_config(ws), **overrides)
    if overrides:  # remembered: later searches (and the app) use the same parameters
        save_index_config(ws, index)
    with _open(args, index) as engine:
        if args.graph:
            engine.graph()
        info = engine.describe()
    if args.json:
        print(json.dumps(info, indent=2))
    else:
        print(f"{info['gallery_items']} items ({info['skipped_images']} images skipped) with model "
              f"{info['encoder_model']} on {info['device']}")
        for name, ix in info["indexes"].items():
            print(f"  {name:<24} {ix['kind']:<10} {ix['items']:>7} items x {ix['dim']:>5} dims  {ix['status']}")
    return 0


def _parse_edits(pairs: list[str]) -> dict[str, str]:
    edits = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip() or not value.strip():
            raise RequestError(f"--set takes ATTR=VALUE (e.g. --set colour=red), got {pair!r}")
        edits[name.strip()] = value.strip()
    return edits


def cmd_search(args: argparse.Namespace) -> int:
    edits = _parse_edits(args.set)
    chosen = sum(bool(x) for x in (edits, args.similar_in, args.text))
    if chosen > 1:
        raise RequestError("use one of --set, --similar-in and --text per search")
    if (args.values or args.typical) and chosen:
        raise RequestError("--values and --typical take no --set, --similar-in or --text")
    with _open(args) as engine:
        if args.values or args.typical:
            request = (AttributeValues(_parse_edits(args.values), category=args.category) if args.values
                       else CategoryQuery(args.typical))
            results = engine.search(request, k=args.k)
            print(json.dumps(_results_dict(results), indent=2) if args.json else _format_described(results))
            return 0
        query = engine.query_from_item(args.item) if args.item is not None else engine.encode(args.image)
        if args.text:
            request = TextFeedback(query, args.text, category=args.category)
        elif args.similar_in:
            request = SimilarIn(query, args.similar_in, category=args.category)
        elif args.category and not edits:
            request = Compatible(query, args.category)
        else:
            request = Manipulate(query, edits, category=args.category)
        results = engine.search(request, k=args.k)
    if args.json:
        print(json.dumps(_results_dict(results), indent=2))
    else:
        _print_results(results)
    return 0


def _format_described(results: Results) -> str:
    """A search without a picture, as ``_print_results`` prints the others."""
    asked = ", ".join(f"{k}={v}" for k, v in results.requested.items())
    lines = [f"{type(results.request).__name__} (no picture) in {results.space}: asked {asked}  "
             f"({results.seconds * 1e3:.1f} ms)"]
    for rank, h in enumerate(results.hits, 1):
        chips = " ".join(("+" if ok else "-") + name for name, ok in h.matches.items())
        lines.append(f"{rank:>3}. item {h.item_id:<6} {h.score:+.3f}  {h.category:<10} {chips:<24} {h.image_path}")
    return "\n".join(lines)


def _query_dict(results: Results) -> dict | None:
    q = results.request.query
    if q is None:
        return None
    return {"item_id": q.item_id, "source": q.source, "category": q.category, "attributes": q.attributes,
            "predicted": {k: {"value": v, "confidence": round(c, 4)} for k, (v, c) in q.predicted.items()}}


def _hit_dict(hit) -> dict:
    return {"item_id": hit.item_id, "score": round(hit.score, 5), "image": str(hit.image_path),
            "category": hit.category, "attributes": hit.attributes, "matches": hit.matches}


def _results_dict(results: Results) -> dict:
    return {"request": type(results.request).__name__, "query": _query_dict(results), "space": results.space,
            "requested": results.requested, "note": results.note, "alternatives_from": results.alternatives_from,
            "milliseconds": round(results.seconds * 1e3, 2),
            "hits": [_hit_dict(h) for h in results.hits]}


def _print_results(results: Results) -> None:
    q = results.request.query
    print(f"query: {q.source} ({q.category}); " + ", ".join(f"{k}={v}" for k, v in q.attributes.items()))
    asked = ", ".join(f"{k}={v}" for k, v in results.requested.items()) or "-"
    print(f"{type(results.request).__name__} in {results.space}: asked {asked}"
          + (f"; {results.note}" if results.note else "") + f"  ({results.seconds * 1e3:.1f} ms)")
    for rank, h in enumerate(results.hits, 1):
        if results.alternatives_from is not None and rank == results.alternatives_from + 1:
            print("  -- the nearest alternatives (without everything asked) --")
        chips = " ".join(("+" if ok else "-") + name for name, ok in h.matches.items())
        print(f"{rank:>3}. item {h.item_id:<6} {h.score:+.3f}  {h.category:<10} {chips:<24} {h.image_path}")


def cmd_path(args: argparse.Namespace) -> int:
    with _open(args, graph_k=args.graph_k) as engine:
        space = args.attribute or "full"
        result = engine.path(args.source, args.target, target_category=args.to_category, space=space)
    if args.json:
        print(json.dumps(_path_dict(result), indent=2))
    else:
        goal = f"category {result.target_category}" if result.target_category else f"item {result.hits[-1].item_id}"
        print(f"style path in {result.space} space to {goal}: {len(result.hits)} items, "
              f"length {sum(result.steps):.3f}")
        for i, h in enumerate(result.hits):
            step = f"{result.steps[i - 1]:.3f}" if i else "     "
            mark = "  <- largest step" if result.largest_step is not None and i == result.largest_step + 1 else ""
            print(f"  {step}  item {h.item_id:<6} {h.category:<10} {h.image_path}{mark}")
    return 0


def _path_dict(result: PathResult) -> dict:
    return {"space": result.space, "target_category": result.target_category, "ids": result.ids,
            "steps": [round(s, 5) for s in result.steps], "largest_step": result.largest_step,
            "hits": [_hit_dict(h) for h in result.hits]}
