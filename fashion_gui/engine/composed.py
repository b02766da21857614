"""Text feedback and compatible items in the engine: the workspace's UIGR model and/or ADDE-O head.

* ``TextFeedback(query, text)``: the UIGR model composes the query image with the text; its branch
  classifier picks TGR (modify this garment) or VCR (find a compatible one), hard choice at inference
  (UIGR Sec. 3.3), and the composed vector is searched in that task's gallery space.
* ``Compatible(query, target_category)``: with UIGR, the VCR feedback is written from the catalog's own
  template ("search a {target} that matches this {reference} best") and composed on the VCR branch;
  with ADDE-O (``EngineConfig.compatible_model = "adde-o"``, or when no UIGR model exists), the target
  category's items are ranked by the outfit head's category-weighted subspace distance (ADDE-O).

Both are restricted to the target category when one is named. Gallery features are cached per model
(gallery.py) and indexed like the attribute model's (one index per task space).
"""
from __future__ import annotations

import logging

import numpy as np
import torch

from fashion_gui.engine.engine import Progress, RetrievalEngine, drop_query
from fashion_gui.engine.gallery import GalleryFeatures, feature_key, open_features
from fashion_gui.engine.requests import (
    Compatible,
    NotAvailableError,
    RequestError,
    TextFeedback,
)
from fashion_gui.engine.text import mentioned_values
from fashion_gui.index import IndexData, IndexManifest, VectorIndex, open_or_update
from fashion_gui.inference.checkpoint import (
    Checkpoint,
    CheckpointError,
    list_checkpoints,
    load_checkpoint,
)
from fashion_gui.inference.preprocess import square_resize

log = logging.getLogger(__name__)

COMPOSED_METHODS = ("uigr-tirg", "uigr-rtic", "tgr-only", "vcr-only")
OUTFIT_METHOD = "adde-o"
TASK_NAMES = {"tgr": "a change to this garment (TGR)", "vcr": "a request for a compatible item (VCR)"}


def _find(engine: RetrievalEngine, name: str | None, methods: tuple[str, ...]) -> Checkpoint | None:
    """The named checkpoint, or the newest one whose method is in ``methods``; None when there is none."""
    ws, schema = engine.workspace, engine.schema.to_dict()
    if name is not None:
        ckpt = load_checkpoint(ws.checkpoints / name, expected_schema=schema)
        if ckpt.method not in methods:
            raise CheckpointError(f"{ckpt.path} holds a {ckpt.method!r} model, expected one of {', '.join(methods)}")
        return ckpt
    for folder in list_checkpoints(ws.checkpoints):
        try:
            ckpt = load_checkpoint(folder, expected_schema=schema)
        except CheckpointError as exc:
            log.warning("ignoring checkpoint %s: %s", folder, exc)
            continue
        if ckpt.method in methods:
            return ckpt
    return None


def open_composed(engine: RetrievalEngine, progress: Progress | None = None) -> ComposedSearch | None:
    """The composed-retrieval side of ``engine``, or None when the workspace has no such model."""
    uigr_ckpt = _find(engine, engine.config.composed_model, COMPOSED_METHODS)
    outfit_ckpt = _find(engine, None, (OUTFIT_METHOD,)) if engine.config.compatible_model != "uigr" else None
    if uigr_ckpt is None and outfit_ckpt is None:
        return None
    return ComposedSearch(engine, uigr_ckpt, outfit_ckpt, progress)


class ComposedSearch:
    """Serves TextFeedback and Compatible for one engine (see the module docstring)."""

    def __init__(self, engine: RetrievalEngine, uigr_ckpt: Checkpoint | None, outfit_ckpt: Checkpoint | None,
                 progress: Progress | None = None) -> None:
        from fashion_gui.inference.outfit_model import OutfitRetrieval
        from fashion_gui.inference.uigr_model import ComposedRetrieval

        self.engine = engine
        self.uigr = None
        self.uigr_ckpt = uigr_ckpt
        self.indexes: dict[str, VectorIndex] = {}
        self.gallery: GalleryFeatures | None = None
        if uigr_ckpt is not None:
            self.uigr = ComposedRetrieval.from_checkpoint(uigr_ckpt, engine.device)
            self._open_uigr_gallery(progress)
        self.outfit = None
        self.outfit_ckpt = outfit_ckpt
        if outfit_ckpt is not None:
            outfit = OutfitRetrieval.from_checkpoint(outfit_ckpt, engine.device)
            if outfit.adde_hash != engine.checkpoint.hash:  # its subspaces are another model's
                log.warning("not using %s: it was trained on another attribute model than %s",
                            outfit_ckpt.path, engine.checkpoint.path)
                self.outfit_ckpt = None
            else:
                self.outfit = outfit

    # --- gallery ---------------------------------------------------------------------------------
    def _open_uigr_gallery(self, progress: Progress | None) -> None:
        engine, model, ckpt = self.engine, self.uigr, self.uigr_ckpt
        folder = engine.workspace.indexes / ckpt.path.name
        key = feature_key("uigr", ckpt.hash, model.image_size)

        def encode(images: torch.Tensor) -> dict[str, np.ndarray]:
            with torch.inference_mode():
                return {task: np.asarray(v, np.float32) for task, v in model.embed_gallery(images, engine.prep).items()}

        self.gallery = open_features(
            folder / "features.npz", key, engine.workspace, engine.catalog, engine.gallery.ids, model.image_size,
            encode, engine.config.encode_batch, (lambda d, n: progress("encode text model", d, n)) if progress else None,
        )
        cats = engine.catalog.categories_of(self.gallery.ids)
        for task in model.tasks:
            vectors = self.gallery[task]
            expected = IndexManifest(name=f"{ckpt.path.name}/{task}", checkpoint_hash=ckpt.hash,
                                     catalog_version=engine.catalog.version, dim=vectors.shape[1],
                                     config=engine.index_config)
            index, manifest, how = open_or_update(folder / task, expected,
                                                  lambda v=vectors: IndexData(self.gallery.ids, v, cats))
            self.indexes[task] = index
            engine.manifests[f"{ckpt.path.name}/{task}"] = manifest
            engine.index_status[f"{ckpt.path.name}/{task}"] = how

    # --- capabilities ------------------------------------------------------------------------------
    def can(self, kind: type) -> bool:
        if kind is TextFeedback:
            return self.uigr is not None
        if kind is Compatible:
            return self.outfit is not None or (self.uigr is not None and "vcr" in self.uigr.tasks)
        return False

    def describe(self) -> dict:
        return {
            "text_model": self.uigr_ckpt.path.name if self.uigr_ckpt else None,
            "text_tasks": list(self.uigr.tasks) if self.uigr else [],
            "outfit_model": self.outfit_ckpt.path.name if self.outfit_ckpt else None,
            "compatible_via": self._compatible_via(),
        }

    def _compatible_via(self) -> str | None:
        choice = self.engine.config.compatible_model
        uigr_ok = self.uigr is not None and "vcr" in self.uigr.tasks
        if choice == "adde-o" or (choice == "auto" and not uigr_ok):
            return OUTFIT_METHOD if self.outfit is not None else None
        return "uigr" if uigr_ok else None

    # --- search ----------------------------------------------------------------------------------
    def search(self, request: TextFeedback | Compatible, k: int):
        if isinstance(request, TextFeedback):
            return self._text(request, k)
        return self._compatible(request, k)

    def _compose_and_search(self, query, text: str, task: str | None, k: int, category: int | None):
        image = self.engine.query_image(query)
        tensor = torch.from_numpy(np.ascontiguousarray(square_resize(image, self.uigr.image_size)))[None]  # (1, 3, S, S)
        with torch.inference_mode():
            vectors, tasks, probs = self.uigr.compose(tensor, [text], self.engine.prep, task=task)
        chosen = tasks[0]
        result = self.indexes[chosen].search(vectors[0], k + 1, category=category)
        ids, scores = drop_query(result.ids, result.scores, query.item_id, k)
        return ids, scores, chosen, probs[0]

    def _text(self, request: TextFeedback, k: int):
        text = request.text.strip()
        if not text:
            raise RequestError("the feedback text is empty; type what to change, e.g. \"change colour to red\"")
        category = self.engine.category_filter(request.category)
        forced = self.uigr.tasks[0] if len(self.uigr.tasks) == 1 else None
        ids, scores, chosen, probs = self._compose_and_search(request.query, text, forced, k, category)
        requested = mentioned_values(self.engine.schema, text, request.query.attributes)
        if chosen == "vcr":  # a compatible item: the mentioned category is the target, not a change
            requested = {n: v for n, v in requested.items() if n != "category" or v != request.query.category}
        p = float(np.max(probs)) if probs is not None else 1.0
        note = (f"read as {TASK_NAMES[chosen]} (p = {p:.2f})" if forced is None
                else f"this model only does {TASK_NAMES[chosen]}")
        return ids, scores, requested, chosen, note

    def _compatible(self, request: Compatible, k: int):
        engine, query = self.engine, request.query
        target = engine.category_index(request.target_category)
        requested = {"category": request.target_category}
        via = self._compatible_via()
        if via == "uigr":
            text = self.uigr.vcr_text(request.target_category, query.category)
            ids, scores, _, _ = self._compose_and_search(query, text, "vcr", k, target)
            return ids, scores, requested, "vcr", f"UIGR, VCR branch: \u201c{text}\u201d"
        if via == OUTFIT_METHOD:
            ids, scores = self._outfit_rank(query, target, k)
            return ids, scores, requested, "outfit", "ADDE-O: category-weighted attribute subspaces"
        raise NotAvailableError("compatible-item search needs a UIGR model with a VCR branch or an ADDE-O model")

    def _outfit_rank(self, query, target: int, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Exact ranking of the target category's items by the ADDE-O distance (few thousand items at most
        per category in a catalog this app serves interactively; a category-weighted distance cannot be
        precomputed into one index because the weights depend on the query's category)."""
        engine = self.engine
        if query.category is None:
            raise RequestError("the query's category is unknown, so compatible items cannot be weighted")
        ref = engine.category_index(query.category)
        ids = engine.gallery.ids[engine.catalog.categories_of(engine.gallery.ids) == target]
        if query.item_id is not None:
            ids = ids[ids != query.item_id]
        if len(ids) == 0:
            raise RequestError(f"the gallery has no {engine.schema.categories[target]!r} items")
        a, d = len(engine.schema.sizes), engine.model.encoder.d
        rows = engine.gallery.rows_of(ids)
        gallery = engine.gallery["embedding"][rows].reshape(len(ids), a, d)
        q = self.outfit.project_chunks(query.embedding.reshape(1, a, d))  # (1, A, d')
        g = self.outfit.project_chunks(gallery)  # (N, A, d')
        weights = self.outfit.attention(ref, target)  # (A,)
        dist = self.outfit.distances(q[0], g, weights)  # (N,)  D = sum_a w_a ||P_q,a - P_g,a||^2 (ADDE-O)
        order = np.argsort(dist, kind="stable")[:k]
        return ids[order], -dist[order]
