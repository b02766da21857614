"""The retrieval engine: typed requests in, ranked catalog items out (DESIGN.md, "Engine contract").

``RetrievalEngine.open(workspace)`` opens the workspace's models through their registry entries
(fashion_gui/methods): the *encoder* model first (it gives the gallery space: encodes query images,
predicts attributes, carries style paths and typicality; ADDE-M, GRL, ...), then, for every request kind
the encoder does not serve (text feedback, compatible items, ...), the model chosen for it (by
``EngineConfig.models`` or automatically). Each opened checkpoint is a retriever (engine/retriever.py) with
its cached gallery features and indexes; a request goes to the retriever chosen for its kind, and a kind
no model serves is refused with the methods that would serve it.

The engine is Qt-free, owns its models and indexes, and must be used from one thread at a time (the
app's worker thread). Every search runs under ``torch.inference_mode()``.
"""
from __future__ import annotations

import logging
import os
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from fashion_gui.catalog.images import ImageSource, open_image
from fashion_gui.catalog.schema import MISSING, SchemaError
from fashion_gui.catalog.store import Catalog
from fashion_gui.engine.config import EngineConfig, load_index_config
from fashion_gui.engine.models import ModelInfo, scan_models
from fashion_gui.engine.requests import (
    EngineError,
    Hit,
    NotAvailableError,
    PathResult,
    QueryState,
    Request,
    RequestError,
    Results,
    TypicalityResult,
)
from fashion_gui.engine.retriever import (
    FULL,
    QUERY_IMAGE_SIDE,
    EncoderRetriever,
    EngineContext,
    Progress,
    Retriever,
    small_image,
)
from fashion_gui.index import IndexConfig, KnnGraph, Typicality, path_to_category, shortest_path, typicality
from fashion_gui.inference.checkpoint import CheckpointError
from fashion_gui.inference.device import describe_devices, resolve_device
from fashion_gui.methods import QUERYLESS_KINDS, REQUEST_KINDS, get_method, list_methods, methods_serving
from fashion_gui.workspace import Workspace

log = logging.getLogger(__name__)

PATHS = "paths"  # the request kind of style paths and typicality (served by the encoder)


class RetrievalEngine:
    """Use :meth:`open`. Not thread-safe: one worker thread owns it (DESIGN.md, threads)."""

    def __init__(self, workspace: Workspace, catalog: Catalog, device: torch.device, config: EngineConfig,
                 ctx: EngineContext) -> None:
        self.workspace, self.catalog, self.device, self.config = workspace, catalog, device, config
        self.schema = catalog.schema
        self.ctx = ctx
        self.encoder: EncoderRetriever
        self.retrievers: dict[str, Retriever] = {}  # request kind -> the retriever that serves it
        self.problems: list[str] = []  # models skipped by the automatic choice, and why
        self._graphs: dict[tuple[str, int], KnnGraph] = {}
        self._typical: dict[tuple[str, str], Typicality] = {}
        self._path_to_id: dict[str, int] | None = None

    # --- opening ---------------------------------------------------------------------------------
    @classmethod
    def open(cls, workspace: Workspace | str | Path, device: str = "auto", config: EngineConfig | None = None,
             progress: Progress | None = None) -> RetrievalEngine:
        """Open a workspace: its models, gallery features and indexes (built or updated as needed)."""
        ws = workspace if isinstance(workspace, Workspace) else Workspace.at(workspace)
        config = config or EngineConfig()
        if not ws.exists():
            raise EngineError(f"{ws.root} has no catalog.sqlite; create the demo with `fashion catalog demo "
                              f"--workspace {ws.root}` or import a dataset")
        torch_device = resolve_device(device)
        catalog = Catalog.open(ws.catalog_path)
        try:
            if len(catalog) == 0:
                raise EngineError(f"the catalog in {ws.root} is empty; import items before searching")
            ids = catalog.ids(split=config.gallery_split)
            if len(ids) == 0:
                raise EngineError(f"the {config.gallery_split!r} split of the catalog is empty; "
                                  "pick another gallery split in the settings")
            ctx = EngineContext(ws, catalog, torch_device, config.index or load_index_config(ws),
                                config.encode_batch, progress, config.edits, config.encode_workers, gallery_ids=ids)
            engine = cls(ws, catalog, torch_device, config, ctx)
            engine._open_models(scan_models(ws, catalog.schema.to_dict()))
        except BaseException:
            catalog.close()
            raise
        return engine

    def _open_models(self, models: list[ModelInfo]) -> None:
        by_name = {m.name: m for m in models}
        opened: dict[str, Retriever] = {}

        def open_model(info: ModelInfo) -> Retriever:
            if info.name not in opened:
                spec = get_method(info.method)
                opened[info.name] = spec.retriever_cls.open(self.ctx, info.checkpoint, tuple(spec.serves))
            return opened[info.name]

        def named(name: str, role: str) -> ModelInfo:
            info = by_name.get(name)
            if info is None:
                raise CheckpointError(f"{self.workspace.checkpoints / name} is not a checkpoint of this workspace; "
                                      f"pick another {role} in the settings")
            if info.problem:
                raise CheckpointError(info.problem)
            return info

        # the encoder: the gallery space
        if self.config.encoder_model is not None:
            info = named(self.config.encoder_model, "encoder model")
            if not info.encoder:
                raise CheckpointError(f"{info.checkpoint.path} holds a {info.method!r} model, which does not encode "
                                      f"the gallery; encoders: {', '.join(m for m in _encoders())}")
            encoders = [info]
        else:
            encoders = [m for m in models if m.usable and m.encoder]
        if not encoders:
            problems = [m.problem for m in models if m.problem]
            detail = f" ({'; '.join(problems)})" if problems else ""
            raise EngineError(f"no usable attribute model in {self.workspace.checkpoints}{detail}; train one with "
                              f"`fashion train {_encoders()[0]} --workspace {self.workspace.root}`")
        self.encoder = open_model(encoders[0])
        self.ctx.encoder = self.encoder
        self.ctx.gallery_ids = self.encoder.gallery.ids  # the items whose images could be read
        # every other request kind: the chosen model, or the first usable one that serves it
        for kind in REQUEST_KINDS:
            chosen = self.config.models.get(kind)
            if chosen is None and self.encoder.serves(kind):
                self.retrievers[kind] = self.encoder
                continue
            if chosen is not None:
                info = named(chosen, f"model for {REQUEST_KINDS[kind]}")
                if kind not in info.serves:
                    raise CheckpointError(f"{info.checkpoint.path} ({info.method}) does not serve "
                                          f"{REQUEST_KINDS[kind]}; methods that do: {', '.join(methods_serving(kind))}")
                self.retrievers[kind] = open_model(info)
                continue
            # an encoder model answers beside the engine's encoder only requests without a query garment
            # (their query is not an embedding of the engine's encoder)
            for info in (m for m in models if m.usable and kind in m.serves
                         and (not m.encoder or kind in QUERYLESS_KINDS)):
                try:
                    self.retrievers[kind] = open_model(info)
                    break
                except (EngineError, CheckpointError) as exc:
                    self.problems.append(f"{info.name}: {exc}")
                    log.warning("not using %s for %s: %s", info.name, kind, exc)

    def close(self) -> None:
        self.catalog.close()

    def __enter__(self) -> RetrievalEngine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- what the engine can do ------------------------------------------------------------------
    @property
    def gallery(self):
        """The encoder's gallery features (ids, embeddings, predictions)."""
        return self.encoder.gallery

    @property
    def attribute_names(self) -> list[str]:
        return self.schema.names

    @property
    def categories(self) -> tuple[str, ...]:
        return self.schema.categories

    def can(self, request_kind: type | str) -> bool:
        """Whether this workspace's models serve a request class (Manipulate, ...) or kind ("text", ...)."""
        kind = request_kind if isinstance(request_kind, str) else request_kind.kind
        return kind in self.retrievers

    def describe(self) -> dict:
        """Figures for the status bar, ``fashion index build`` and logs."""
        return {
            "workspace": str(self.workspace.root), "device": str(self.device), "devices": describe_devices(),
            "encoder_model": self.encoder.checkpoint.path.name, "method": self.encoder.checkpoint.method,
            "models": {kind: r.checkpoint.path.name for kind, r in self.retrievers.items()},
            "retrievers": {r.checkpoint.path.name: r.describe() for r in {id(r): r for r in self.retrievers.values()}.values()},
            "categories": list(self.schema.categories), "attributes": list(self.schema.names),
            "spaces": self.encoder.spaces,
            "values": {t.name: list(t.values) for t in self.schema.types},
            "gallery_items": len(self.gallery.ids), "skipped_images": len(self.gallery.skipped),
            "indexes": {name: {"kind": m.kind, "items": m.item_count, "dim": m.dim, "status": how}
                        for name, (m, how) in self.ctx.indexes.items()},
            "problems": list(self.problems),
        }

    # --- queries ---------------------------------------------------------------------------------
    @torch.inference_mode()
    def encode(self, image: ImageSource) -> QueryState:
        """A query from a path, bytes or PIL image (EXIF rotation, RGBA/greyscale/CMYK/16-bit handled;
        :class:`ImageError` for unreadable, truncated or oversized images). A path of a catalog image gives
        that catalog item (so it is excluded from its own results)."""
        if isinstance(image, (str, Path)):
            item_id = self._catalog_item_at(Path(image))
            if item_id is not None:
                return self.query_from_item(item_id)
        rgb = open_image(image, max_side=max(QUERY_IMAGE_SIDE, self.encoder.image_size))
        embedding, pred, conf = self.encoder.encode_image(rgb)
        category = self._predicted_category(embedding, pred)
        labels = np.array([int(v) if t.applies_to(category) else MISSING for t, v in zip(self.schema.types, pred)],
                          dtype=np.int64)
        source = str(image) if isinstance(image, (str, Path)) else (
            f"image data ({len(image)} bytes)" if isinstance(image, (bytes, bytearray)) else "image")
        return QueryState(
            embedding=embedding, labels=labels, attributes=self.schema.decode(labels),
            predicted=self._predicted(pred, conf), category=category, item_id=None,
            image_path=Path(image) if isinstance(image, (str, Path)) else None,
            image=small_image(rgb), source=source,
        )

    def query_from_item(self, item_id: int) -> QueryState:
        """A catalog item as the query (any hit can seed the next turn); uses the cached gallery features."""
        item_id = int(item_id)
        if item_id not in self.catalog:
            raise RequestError(f"no item {item_id} in this catalog")
        labels = self.catalog.labels([item_id])[0]
        path = self.workspace.resolve_image(self.catalog.image_paths([item_id])[0])
        category = self.schema.categories[int(self.catalog.categories_of([item_id])[0])]
        row = self.gallery.row.get(item_id)
        if row is not None:
            embedding, pred, conf = (self.gallery["embedding"][row], self.gallery["pred"][row],
                                     self.gallery["conf"][row])
            image = None
        else:  # outside the gallery split (or its image was skipped): encode it now
            rgb = open_image(path, max_side=max(QUERY_IMAGE_SIDE, self.encoder.image_size))
            with torch.inference_mode():
                embedding, pred, conf = self.encoder.encode_image(rgb)
            image = small_image(rgb)
        return QueryState(
            embedding=np.asarray(embedding, np.float32), labels=labels, attributes=self.schema.decode(labels),
            predicted=self._predicted(pred, conf), category=category, item_id=item_id, image_path=path,
            image=image, source=f"catalog item {item_id}",
        )

    def query_image(self, query: QueryState):
        """The query's RGB image (loaded from the catalog for catalog items)."""
        return self.ctx.query_image(query)

    # --- search ----------------------------------------------------------------------------------
    def search(self, request: Request, k: int = 50) -> Results:
        """Ranked items for one request, best first, the query item itself left out."""
        if k < 1:
            raise RequestError(f"k must be at least 1, got {k}")
        kind = getattr(request, "kind", None)
        for category in (getattr(request, "target_category", None), getattr(request, "category", None)):
            self.category_filter(category)  # an unknown category is named before any model is needed
        if kind not in REQUEST_KINDS:
            raise RequestError(f"unknown request {type(request).__name__}")
        retriever = self.retrievers.get(kind)
        if retriever is None:
            raise NotAvailableError(self._not_available(kind))
        start = time.perf_counter()
        with torch.inference_mode():
            ranking = retriever.search(request, k)
        hits = self.hits(ranking.ids, ranking.scores, ranking.requested)
        if ranking.notes is not None:
            hits = [replace(h, note=n) for h, n in zip(hits, ranking.notes)]
        return Results(request, tuple(hits), ranking.requested, ranking.space, time.perf_counter() - start,
                       ranking.note, ranking.alternatives_from)

    def _not_available(self, kind: str) -> str:
        methods = methods_serving(kind)
        return (f"{REQUEST_KINDS[kind]} is not available with this model: no model in this workspace serves it; "
                f"train one with `fashion train {methods[0]} --workspace {self.workspace.root}` (or from the "
                f"settings pane; methods that serve it: {', '.join(methods)})")

    def category_index(self, category: str) -> int:
        return self.ctx.category_index(category)

    def category_filter(self, category: str | None) -> int | None:
        return self.ctx.category_filter(category)

    def hits(self, ids: np.ndarray | list[int], scores: np.ndarray | list[float],
             requested: dict[str, str] | None = None) -> list[Hit]:
        """Hits for item ids with their scores; ``matches`` checks each requested type -> value."""
        ids = np.asarray(ids, dtype=np.int64)
        if len(ids) == 0:
            return []
        labels = self.catalog.labels(ids)
        cats = self.catalog.categories_of(ids)
        paths = self.catalog.image_paths(ids)
        wanted = []  # (name, type index or None for the item category, value index or category name)
        for name, value in (requested or {}).items():
            if name == "category" and name not in self.schema.names:
                wanted.append((name, None, value))
            else:
                a = self._type_index(name)
                wanted.append((name, a, self.schema.types[a].index(value)))
        out = []
        for i, item_id in enumerate(ids.tolist()):
            category = self.schema.categories[int(cats[i])]
            matches = {name: (category == v if a is None else int(labels[i, a]) == v) for name, a, v in wanted}
            out.append(Hit(item_id=int(item_id), score=float(scores[i]),
                           image_path=self.workspace.resolve_image(paths[i]), category=category,
                           attributes=self.schema.decode(labels[i]), matches=matches))
        return out

    def _type_index(self, name: str) -> int:
        try:
            return self.schema.type_index(name)
        except SchemaError:
            raise RequestError(f"unknown attribute {name!r}; this model knows {', '.join(self.schema.names)}") from None

    # --- style paths and typicality (cooperative embeddings, Sec. 5.3) ---------------------------
    def _check_space(self, space: str) -> None:
        if PATHS not in self.retrievers:
            raise NotAvailableError(self._not_available(PATHS))
        if space not in self.encoder.spaces:
            if space in self.schema.names or space == FULL:
                raise RequestError(f"the space {space!r} is not offered by {self.encoder.checkpoint.path.name}")
            raise RequestError(f"unknown attribute {space!r}; this model knows {', '.join(self.schema.names)}")

    def graph(self, space: str = FULL) -> KnnGraph:
        """The k-NN graph of the gallery in the full space or one attribute subspace (cached on disk)."""
        self._check_space(space)
        key = (space, self.config.graph_k)
        if key not in self._graphs:
            self._graphs[key] = self.encoder.graph(space, self.config.graph_k, self.config.connect_graph)
        return self._graphs[key]

    def typicality(self, category: str, space: str = FULL) -> TypicalityResult:
        """The category's gallery items from most typical (nearest its centre) to most atypical."""
        ranked = self._typicality(category, space)
        hits = self.hits(ranked.ids, -ranked.distances)
        return TypicalityResult(tuple(hits), tuple(float(d) for d in ranked.distances), category, space)

    def _typicality(self, category: str, space: str) -> Typicality:
        self._check_space(space)
        key = (category, space)
        if key not in self._typical:
            c = self.category_index(category)
            members = self.gallery.ids[self.catalog.categories_of(self.gallery.ids) == c]
            if len(members) == 0:
                raise RequestError(f"the gallery has no {category!r} items; pick another category")
            self._typical[key] = typicality(self.encoder.space_vectors(space, members), members)
        return self._typical[key]

    def path(self, source: int, target: int | None = None, *, target_category: str | None = None,
             space: str = FULL) -> PathResult:
        """Shortest path in the k-NN graph from item ``source`` to item ``target`` or to the most typical
        reachable item of ``target_category``; the largest step is marked. ``space``: "full" or an
        attribute type name. :class:`UnreachableError` when no path exists."""
        if (target is None) == (target_category is None):
            raise RequestError("give either a target item or a target category, not both")
        graph = self.graph(space)
        for item in (source, target):
            if item is not None and int(item) not in graph:
                raise RequestError(f"item {item} is not in the searchable gallery; pick a catalog item "
                                   f"from the {self.config.gallery_split or 'whole'} gallery")
        if target is not None:
            found = shortest_path(graph, int(source), int(target))
        else:
            found = path_to_category(graph, None, int(source), [], ranked=self._typicality(target_category, space))
        vectors = self.encoder.space_vectors(space, np.asarray(found.ids))  # unit vectors of the space
        hits = self.hits(found.ids, vectors @ vectors[-1])  # score: cosine similarity to the target
        return PathResult(tuple(hits), found.steps, found.largest_step, space, target_category)

    # --- helpers ---------------------------------------------------------------------------------
    def _catalog_item_at(self, path: Path) -> int | None:
        if self._path_to_id is None:
            ids = self.catalog.ids()
            self._path_to_id = {os.path.realpath(self.workspace.resolve_image(p)): int(i)
                                for i, p in zip(ids.tolist(), self.catalog.image_paths(ids))}
        # realpath, not Path.resolve: a symbolic-link loop must reach open_image, which names it
        return self._path_to_id.get(os.path.realpath(path.expanduser()))

    def _predicted(self, pred: np.ndarray, conf: np.ndarray) -> dict[str, tuple[str, float]]:
        return {t.name: (t.values[int(p)], float(c)) for t, p, c in zip(self.schema.types, pred, conf)}

    def _predicted_category(self, embedding: np.ndarray, pred: np.ndarray) -> str:
        """The category classifier's answer when the schema has one; else a vote of the nearest items."""
        if "category" in self.schema.names:
            t = self.schema.type("category")
            if tuple(t.values) == tuple(self.schema.categories):
                return t.values[int(pred[self.schema.type_index("category")])]
        cats = self.catalog.categories_of(self.encoder.nearest(embedding, self.config.category_vote))
        return self.schema.categories[int(np.bincount(cats).argmax())]


def _encoders() -> list[str]:
    return list_methods(encoder=True)




