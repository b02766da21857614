"""The retrieval engine: typed requests in, ranked catalog items out (DESIGN.md, "Engine contract").

``RetrievalEngine.open(workspace)`` loads the workspace's attribute model (ADDE encoder + memory block),
encodes the gallery once (cached, gallery.py), and opens or builds its indexes (fashion_gui/index): one
over the full embedding and one per attribute subspace, rebuilt when the model or parameters change and
extended when catalog items were added. Requests:

* :class:`Manipulate` -- r' = r + M i with i = onehot(target) - onehot(reference) (ADDE Eq. 5), searched
  in the full space (ADDE-M);
* :class:`SimilarIn` -- nearest items in one attribute's subspace (ADDE-C, conditional similarity);
* :class:`TextFeedback` / :class:`Compatible` -- through the workspace's composed model (composed.py).

The engine is Qt-free, owns its models and indexes, and must be used from one thread at a time (the
app's worker thread). Every search runs under ``torch.inference_mode()``.
"""
from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from fashion_gui.atomic import atomic_write_json
from fashion_gui.catalog.images import ImageSource, open_image
from fashion_gui.catalog.schema import MISSING, SchemaError
from fashion_gui.catalog.store import Catalog
from fashion_gui.engine.gallery import GalleryFeatures, feature_key, open_features
from fashion_gui.engine.requests import (
    Compatible,
    EngineError,
    Hit,
    Manipulate,
    NotAvailableError,
    PathResult,
    QueryState,
    Request,
    RequestError,
    Results,
    SimilarIn,
    TextFeedback,
    TypicalityResult,
)
from fashion_gui.index import (
    IndexConfig,
    IndexData,
    IndexManifest,
    KnnGraph,
    SubspaceIndexSet,
    Typicality,
    VectorIndex,
    chunk_slices,
    open_or_build_graph,
    open_or_update,
    path_to_category,
    shortest_path,
    typicality,
)
from fashion_gui.training.adde import ADDE_METHODS
from fashion_gui.inference.adde_model import ADDEModel
from fashion_gui.inference.checkpoint import (
    Checkpoint,
    CheckpointError,
    list_checkpoints,
    load_checkpoint,
)
from fashion_gui.inference.preprocess import BatchPreprocessor, square_resize
from fashion_gui.inference.device import resolve_device
from fashion_gui.workspace import Workspace

log = logging.getLogger(__name__)

FULL = "full"
QUERY_IMAGE_SIDE = 256  # the query image kept for other encoders is at most this many pixels a side
Progress = Callable[[str, int, int], None]  # (stage, done, total)


@dataclass(frozen=True)
class EngineConfig:
    """What the engine loads and how it searches; the settings pane edits these."""

    attribute_model: str | None = None  # checkpoint folder under <workspace>/checkpoints; None: "adde",
    #                                     else the newest attribute model
    composed_model: str | None = None  # UIGR checkpoint for text feedback; None: the newest, if any
    compatible_model: str = "auto"  # "uigr" (VCR template), "adde-o", or "auto" (UIGR when present)
    gallery_split: str | None = None  # search one split only; None: the whole catalog
    index: IndexConfig | None = None  # None: the workspace's saved parameters (index_config.json), else defaults
    graph_k: int = 5  # neighbours per item in the style-path graph (cooperative embeddings: 5)
    connect_graph: bool = True  # join the graph's islands by their shortest edges (knn_graph.bridge_components)
    encode_batch: int = 256  # images per batch when encoding the gallery
    category_vote: int = 10  # neighbours voting on an uploaded image's category (no category classifier)


class RetrievalEngine:
    """Use :meth:`open`. Not thread-safe: one worker thread owns it (DESIGN.md, threads)."""

    def __init__(self, workspace: Workspace, catalog: Catalog, device: torch.device, config: EngineConfig,
                 checkpoint: Checkpoint, model: ADDEModel) -> None:
        self.workspace, self.catalog, self.device, self.config = workspace, catalog, device, config
        self.schema = catalog.schema
        self.checkpoint, self.model = checkpoint, model
        self.prep = BatchPreprocessor(device)
        self.index_config = config.index or load_index_config(workspace)
        self.model_dir = workspace.indexes / checkpoint.path.name
        self.gallery: GalleryFeatures
        self.full_index: VectorIndex
        self.subspaces: SubspaceIndexSet
        self.manifests: dict[str, IndexManifest] = {}
        self.index_status: dict[str, str] = {}  # index name -> "loaded" | "updated" | "built"
        self._graphs: dict[tuple[str, int], KnnGraph] = {}
        self._typical: dict[tuple[str, str], Typicality] = {}
        self._path_to_id: dict[str, int] | None = None
        self.composed = None  # composed.ComposedSearch when the workspace has a UIGR / ADDE-O model

    # --- opening ---------------------------------------------------------------------------------
    @classmethod
    def open(cls, workspace: Workspace | str | Path, device: str = "auto", config: EngineConfig | None = None,
             progress: Progress | None = None) -> RetrievalEngine:
        """Open a workspace: model, gallery features and indexes (built or updated as needed)."""
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
            ckpt = _attribute_checkpoint(ws, catalog, config.attribute_model)
            model, _ = ADDEModel.from_checkpoint(ckpt, torch_device)
            engine = cls(ws, catalog, torch_device, config, ckpt, model)
            engine._open_gallery(progress)
            from fashion_gui.engine.composed import (
                open_composed,  # after the gallery: it reuses the ids
            )

            engine.composed = open_composed(engine, progress)
        except BaseException:
            catalog.close()
            raise
        return engine

    def _open_gallery(self, progress: Progress | None) -> None:
        ids = self.catalog.ids(split=self.config.gallery_split)
        if len(ids) == 0:
            raise EngineError(f"the {self.config.gallery_split!r} split of the catalog is empty; "
                              "pick another gallery split in the settings")
        key = feature_key("adde", self.checkpoint.hash, self.model.image_size)

        self.gallery = open_features(
            self.model_dir / "features.npz", key, self.workspace, self.catalog, ids, self.model.image_size,
            self._encode_images, self.config.encode_batch, (lambda d, n: progress("encode", d, n)) if progress else None,
        )
        data = IndexData(self.gallery.ids, self.gallery["embedding"], self.catalog.categories_of(self.gallery.ids))
        sizes, d = self.schema.sizes, self.model.encoder.d
        base = dict(checkpoint_hash=self.checkpoint.hash, catalog_version=self.catalog.version,
                    dim=len(sizes) * d, config=self.index_config)
        if progress:
            progress("index", 0, 2)
        self.full_index = self._open_index(FULL, IndexManifest(name=f"{self.model_dir.name}/{FULL}", **base), data)
        if progress:
            progress("index", 1, 2)
        self.subspaces = self._open_index("subspaces", IndexManifest(
            name=f"{self.model_dir.name}/subspaces", chunks=chunk_slices(len(sizes), d), **base), data)
        if progress:
            progress("index", 2, 2)

    def _open_index(self, name: str, expected: IndexManifest, data: IndexData):
        index, manifest, how = open_or_update(self.model_dir / name, expected, lambda: data)
        self.manifests[name], self.index_status[name] = manifest, how
        return index

    def close(self) -> None:
        self.catalog.close()

    def __enter__(self) -> RetrievalEngine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- what the engine can do ------------------------------------------------------------------
    @property
    def attribute_names(self) -> list[str]:
        return self.schema.names

    @property
    def categories(self) -> tuple[str, ...]:
        return self.schema.categories

    def can(self, request_kind: type) -> bool:
        """Whether this workspace's models serve ``request_kind`` (Manipulate, SimilarIn, ...)."""
        if request_kind in (Manipulate, SimilarIn):
            return True
        return self.composed is not None and self.composed.can(request_kind)

    def describe(self) -> dict:
        """Figures for the status bar, ``fashion index build`` and logs."""
        return {
            "workspace": str(self.workspace.root), "device": str(self.device),
            "attribute_model": self.checkpoint.path.name, "method": self.checkpoint.method,
            "categories": list(self.schema.categories), "attributes": list(self.schema.names),
            "values": {t.name: list(t.values) for t in self.schema.types},
            "gallery_items": len(self.gallery.ids), "skipped_images": len(self.gallery.skipped),
            "indexes": {name: {"kind": m.kind, "items": m.item_count, "dim": m.dim, "status": self.index_status[name]}
                        for name, m in self.manifests.items()},
            "composed": self.composed.describe() if self.composed is not None else None,
        }

    # --- queries ---------------------------------------------------------------------------------
    def _encode_images(self, images: torch.Tensor) -> dict[str, np.ndarray]:
        """uint8 (B, 3, S, S) -> raw embedding (B, A*d), predicted values (B, A), their probabilities (B, A)."""
        out = self.model.embed(images, self.prep)
        conf = np.stack([p.max(1) for p in out["probs"]], 1).astype(np.float32)  # (B, A)
        return {"embedding": out["embedding"].astype(np.float32), "pred": out["pred"], "conf": conf}

    @property
    def _decode_side(self) -> int:
        """Pixels a side an image needs for the model and for the query copy kept for other encoders."""
        return max(QUERY_IMAGE_SIDE, self.model.image_size)

    def _encode_one(self, rgb: Image.Image) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """One RGB image -> (embedding (A*d,), predicted values (A,), probabilities (A,))."""
        tensor = torch.from_numpy(np.ascontiguousarray(square_resize(rgb, self.model.image_size)))[None]  # (1, 3, S, S)
        out = self._encode_images(tensor)
        return out["embedding"][0], out["pred"][0], out["conf"][0]

    @torch.inference_mode()
    def encode(self, image: ImageSource) -> QueryState:
        """A query from a path, bytes or PIL image (EXIF rotation, RGBA/greyscale/CMYK/16-bit handled;
        :class:`ImageError` for unreadable, truncated or oversized images). A path of a catalog image gives
        that catalog item (so it is excluded from its own results)."""
        if isinstance(image, (str, Path)):
            item_id = self._catalog_item_at(Path(image))
            if item_id is not None:
                return self.query_from_item(item_id)
        rgb = open_image(image, max_side=self._decode_side)
        embedding, pred, conf = self._encode_one(rgb)
        category = self._predicted_category(embedding, pred)
        labels = np.array([int(v) if t.applies_to(category) else MISSING for t, v in zip(self.schema.types, pred)],
                          dtype=np.int64)
        source = str(image) if isinstance(image, (str, Path)) else (
            f"image data ({len(image)} bytes)" if isinstance(image, (bytes, bytearray)) else "image")
        return QueryState(
            embedding=embedding, labels=labels, attributes=self.schema.decode(labels),
            predicted=self._predicted(pred, conf), category=category, item_id=None,
            image_path=Path(image) if isinstance(image, (str, Path)) else None,
            image=_small(rgb), source=source,
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
            rgb = open_image(path, max_side=self._decode_side)
            with torch.inference_mode():
                embedding, pred, conf = self._encode_one(rgb)
            image = _small(rgb)
        return QueryState(
            embedding=np.asarray(embedding, np.float32), labels=labels, attributes=self.schema.decode(labels),
            predicted=self._predicted(pred, conf), category=category, item_id=item_id, image_path=path,
            image=image, source=f"catalog item {item_id}",
        )

    def query_image(self, query: QueryState) -> Image.Image:
        """The query's RGB image (loaded from the catalog for catalog items)."""
        if query.image is not None:
            return query.image
        if query.image_path is None:
            raise RequestError("this query has no image to give to the composed model")
        return _small(open_image(query.image_path, max_side=QUERY_IMAGE_SIDE))

    # --- search ----------------------------------------------------------------------------------
    def search(self, request: Request, k: int = 50) -> Results:
        """Ranked items for one request, best first, the query item itself left out."""
        if k < 1:
            raise RequestError(f"k must be at least 1, got {k}")
        start = time.perf_counter()
        if isinstance(request, Manipulate):
            ids, scores, requested, space, note = self._manipulate(request, k)
        elif isinstance(request, SimilarIn):
            ids, scores, requested, space, note = self._similar_in(request, k)
        elif isinstance(request, (TextFeedback, Compatible)):
            for category in (getattr(request, "target_category", None), getattr(request, "category", None)):
                self.category_filter(category)  # an unknown category is named before any model is needed
            if self.composed is None or not self.composed.can(type(request)):
                raise NotAvailableError(_not_available(request))
            ids, scores, requested, space, note = self.composed.search(request, k)
        else:
            raise RequestError(f"unknown request {type(request).__name__}")
        hits = self.hits(ids, scores, requested)
        return Results(request, tuple(hits), requested, space, time.perf_counter() - start, note)

    def _manipulate(self, request: Manipulate, k: int):
        query = request.query
        target = self._edited_labels(query, request.edits)
        with torch.inference_mode():
            moved = self.model.manipulate(query.embedding[None], query.labels[None], target[None])[0]  # (A*d,)
        category = self.category_filter(request.category)
        result = self.full_index.search(moved, k + 1, category=category)
        ids, scores = drop_query(result.ids, result.scores, query.item_id, k)
        return ids, scores, dict(request.edits), FULL, ""

    def _similar_in(self, request: SimilarIn, k: int):
        query = request.query
        a = self._type_index(request.attribute)
        result = self.subspaces.search(query.embedding, k + 1, a, category=self.category_filter(request.category))
        ids, scores = drop_query(result.ids, result.scores, query.item_id, k)
        value = query.attributes.get(request.attribute) or query.predicted[request.attribute][0]
        return ids, scores, {request.attribute: value}, f"subspace:{request.attribute}", ""

    def _edited_labels(self, query: QueryState, edits: dict[str, str]) -> np.ndarray:
        """The query's labels with ``edits`` applied; clear errors for unknown types or values."""
        target = query.labels.copy()
        for name, value in edits.items():
            a = self._type_index(name)
            try:
                target[a] = self.schema.types[a].index(value)
            except SchemaError as exc:
                raise RequestError(str(exc)) from None
        return target

    def _type_index(self, name: str) -> int:
        try:
            return self.schema.type_index(name)
        except SchemaError:
            raise RequestError(f"unknown attribute {name!r}; this model knows {', '.join(self.schema.names)}") from None

    def category_index(self, category: str) -> int:
        try:
            return self.schema.category_index(category)
        except SchemaError as exc:
            raise RequestError(str(exc)) from None

    def category_filter(self, category: str | None) -> int | None:
        return None if category is None else self.category_index(category)

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

    # --- style paths and typicality (cooperative embeddings, Sec. 5.3) ---------------------------
    def graph(self, space: str = FULL) -> KnnGraph:
        """The k-NN graph of the gallery in the full space or one attribute subspace (cached on disk)."""
        key = (space, self.config.graph_k)
        if key not in self._graphs:
            if space == FULL:
                graph, _ = open_or_build_graph(self.model_dir / FULL, self.manifests[FULL], self.full_index,
                                               self.config.graph_k, connect=self.config.connect_graph)
            else:
                graph, _ = open_or_build_graph(self.model_dir / "subspaces", self.manifests["subspaces"],
                                               self.subspaces, self.config.graph_k, subspace=self._type_index(space),
                                               connect=self.config.connect_graph)
            self._graphs[key] = graph
        return self._graphs[key]

    def _space_vectors(self, space: str, ids: np.ndarray) -> np.ndarray:
        if space == FULL:
            return self.full_index.vectors(ids)
        return self.subspaces.vectors(ids, self._type_index(space))

    def typicality(self, category: str, space: str = FULL) -> TypicalityResult:
        """The category's gallery items from most typical (nearest its centre) to most atypical."""
        ranked = self._typicality(category, space)
        hits = self.hits(ranked.ids, -ranked.distances)
        return TypicalityResult(tuple(hits), tuple(float(d) for d in ranked.distances), category, space)

    def _typicality(self, category: str, space: str) -> Typicality:
        key = (category, space)
        if key not in self._typical:
            c = self.category_index(category)
            members = self.gallery.ids[self.catalog.categories_of(self.gallery.ids) == c]
            if len(members) == 0:
                raise RequestError(f"the gallery has no {category!r} items; pick another category")
            self._typical[key] = typicality(self._space_vectors(space, members), members)
        return self._typical[key]

    def path(self, source: int, target: int | None = None, *, target_category: str | None = None,
             space: str = FULL) -> PathResult:
        """Shortest path in the k-NN graph from item ``source`` to item ``target`` or to the most typical
        reachable item of ``target_category``; the largest step is marked. ``space``: "full" or an
        attribute type name. :class:`UnreachableError` when no path exists."""
        if (target is None) == (target_category is None):
            raise RequestError("give either a target item or a target category, not both")
        if space != FULL:
            self._type_index(space)
        graph = self.graph(space)
        for item in (source, target):
            if item is not None and int(item) not in graph:
                raise RequestError(f"item {item} is not in the searchable gallery; pick a catalog item "
                                   f"from the {self.config.gallery_split or 'whole'} gallery")
        if target is not None:
            found = shortest_path(graph, int(source), int(target))
        else:
            found = path_to_category(graph, None, int(source), [], ranked=self._typicality(target_category, space))
        vectors = self._space_vectors(space, np.asarray(found.ids))  # unit vectors of the space
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
        near = self.full_index.search(embedding, self.config.category_vote)
        cats = self.catalog.categories_of(near.ids)
        return self.schema.categories[int(np.bincount(cats).argmax())]


INDEX_CONFIG_FILE = "index_config.json"


def load_index_config(ws: Workspace) -> IndexConfig:
    """The workspace's index parameters (``<workspace>/indexes/index_config.json``), or the defaults."""
    path = ws.indexes / INDEX_CONFIG_FILE
    if not path.is_file():
        return IndexConfig()
    try:
        return IndexConfig.from_dict(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError) as exc:
        raise EngineError(f"{path} is not a valid index configuration ({exc}); fix or delete it") from exc


def save_index_config(ws: Workspace, config: IndexConfig) -> None:
    """Remember index parameters for this workspace (atomic write); the next open rebuilds to match."""
    atomic_write_json(ws.indexes / INDEX_CONFIG_FILE, config.to_dict())


def drop_query(ids: np.ndarray, scores: np.ndarray, item_id: int | None, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The first k results without the query item itself (searches ask for k + 1)."""
    if item_id is not None:
        keep = ids != item_id
        ids, scores = ids[keep], scores[keep]
    return ids[:k], scores[:k]


def _small(image: Image.Image) -> Image.Image:
    if max(image.size) <= QUERY_IMAGE_SIDE:
        return image
    out = image.copy()
    out.thumbnail((QUERY_IMAGE_SIDE, QUERY_IMAGE_SIDE), Image.BILINEAR)
    return out


def _not_available(request: Request) -> str:
    if isinstance(request, TextFeedback):
        return ("text feedback is not available with this model: the workspace has no composed-retrieval "
                "model; train one with `fashion train uigr-tirg --workspace ...` (or from the settings pane)")
    return ("compatible-item search is not available with this model: train a composed model "
            "(`fashion train uigr-tirg`) or an outfit model (`fashion train adde-o`) on this workspace")


def _attribute_checkpoint(ws: Workspace, catalog: Catalog, name: str | None) -> Checkpoint:
    """The attribute model to use: ``name``, else ``adde``, else the newest attribute checkpoint."""
    schema = catalog.schema.to_dict()
    if name is not None:
        folder = ws.checkpoints / name
        ckpt = load_checkpoint(folder, expected_schema=schema)
        if ckpt.method not in ADDE_METHODS:
            raise CheckpointError(f"{folder} holds a {ckpt.method!r} model, not an attribute model "
                                  f"({', '.join(ADDE_METHODS)}); pick another checkpoint")
        return ckpt
    candidates = [ws.checkpoints / "adde"] + [p for p in list_checkpoints(ws.checkpoints) if p.name != "adde"]
    problems = []
    for folder in candidates:
        if not folder.exists():
            continue
        try:
            ckpt = load_checkpoint(folder, expected_schema=schema)
        except CheckpointError as exc:
            problems.append(str(exc))
            continue
        if ckpt.method in ADDE_METHODS:
            return ckpt
    detail = f" ({'; '.join(problems)})" if problems else ""
    raise EngineError(f"no usable attribute model in {ws.checkpoints}{detail}; train one with "
                      f"`fashion train adde --workspace {ws.root}`")
