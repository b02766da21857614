"""The composed models' retriever (UIGR unified, TGR-only, VCR-only; Han et al.).

* ``TextFeedback(query, text)``: the model composes the query image with the text; a unified model's branch
  classifier picks TGR (modify this garment) or VCR (find a compatible one), hard choice at inference (UIGR
  Sec. 3.3), and the composed vector is searched in that task's gallery space.
* ``Compatible(query, target_category)``: the VCR feedback is written from the catalog's own template
  ("search a {target} that matches this {reference} best") and composed on the VCR branch, restricted to
  the target category.
Gallery features are cached per checkpoint and indexed once per task space.
"""
from __future__ import annotations

import numpy as np
import torch

from fashion_gui.engine.gallery import feature_key
from fashion_gui.engine.requests import Compatible, QueryState, RequestError, TextFeedback
from fashion_gui.engine.retriever import EngineContext, Ranking, Retriever, drop_query
from fashion_gui.engine.text import mentioned_values
from fashion_gui.index import VectorIndex
from fashion_gui.inference.checkpoint import Checkpoint
from fashion_gui.inference.preprocess import square_resize
from fashion_gui.inference.uigr_model import ComposedRetrieval

TASK_NAMES = {"tgr": "a change to this garment (TGR)", "vcr": "a request for a compatible item (VCR)"}


class ComposedRetriever(Retriever):
    """One composed-retrieval checkpoint over the engine's gallery (one index per task it was trained on)."""

    def __init__(self, ctx: EngineContext, checkpoint: Checkpoint, kinds: tuple[str, ...],
                 model: ComposedRetrieval) -> None:
        super().__init__(ctx, checkpoint, kinds)
        self.model = model
        self.indexes: dict[str, VectorIndex] = {}

    @classmethod
    def open(cls, ctx: EngineContext, checkpoint: Checkpoint, kinds: tuple[str, ...]) -> ComposedRetriever:
        retriever = cls(ctx, checkpoint, kinds, ComposedRetrieval.from_checkpoint(checkpoint, ctx.device))
        retriever._open_gallery()
        return retriever

    def _open_gallery(self) -> None:
        model, ctx = self.model, self.ctx

        def encode(images: torch.Tensor) -> dict[str, np.ndarray]:
            with torch.inference_mode():
                return {task: np.asarray(v, np.float32) for task, v in model.embed_gallery(images, ctx.prep).items()}

        gallery = ctx.features(self.checkpoint, feature_key("uigr", self.checkpoint.hash, model.image_size),
                               model.image_size, encode, "encode text model")
        for task in model.tasks:
            self.indexes[task] = ctx.open_index(self.checkpoint, task, gallery, task)

    def describe(self) -> dict:
        return {**super().describe(), "tasks": list(self.model.tasks)}

    # --- requests ------------------------------------------------------------------------------------
    def search(self, request, k: int) -> Ranking:
        if isinstance(request, TextFeedback):
            return self._text(request, k)
        if isinstance(request, Compatible):
            return self._compatible(request, k)
        raise RequestError(f"{self.checkpoint.method} does not answer {type(request).__name__} requests")

    def _compose_and_search(self, query: QueryState, text: str, task: str | None, k: int, category: int | None):
        image = self.ctx.query_image(query)
        tensor = torch.from_numpy(np.ascontiguousarray(square_resize(image, self.model.image_size)))[None]  # (1, 3, S, S)
        with torch.inference_mode():
            vectors, tasks, probs = self.model.compose(tensor, [text], self.ctx.prep, task=task)
        chosen = tasks[0]
        result = self.indexes[chosen].search(vectors[0], k + 1, category=category)
        ids, scores = drop_query(result.ids, result.scores, query.item_id, k)
        return ids, scores, chosen, probs[0]

    def _text(self, request: TextFeedback, k: int) -> Ranking:
        text = request.text.strip()
        if not text:
            raise RequestError("the feedback text is empty; type what to change, e.g. \"change colour to red\"")
        category = self.ctx.category_filter(request.category)
        forced = self.model.tasks[0] if len(self.model.tasks) == 1 else None
        ids, scores, chosen, probs = self._compose_and_search(request.query, text, forced, k, category)
        requested = mentioned_values(self.ctx.schema, text, request.query.attributes)
        if chosen == "vcr":  # a compatible item: the mentioned category is the target, not a change
            requested = {n: v for n, v in requested.items() if n != "category" or v != request.query.category}
        p = float(np.max(probs)) if probs is not None else 1.0
        note = (f"read as {TASK_NAMES[chosen]} (p = {p:.2f})" if forced is None
                else f"this model only does {TASK_NAMES[chosen]}")
        return Ranking(ids, scores, requested, chosen, note)

    def _compatible(self, request: Compatible, k: int) -> Ranking:
        if "vcr" not in self.model.tasks:
            raise RequestError(f"{self.checkpoint.path.name} has no compatible-item (VCR) branch")
        target = self.ctx.category_index(request.target_category)
        text = self.model.vcr_text(request.target_category, request.query.category)
        ids, scores, _, _ = self._compose_and_search(request.query, text, "vcr", k, target)
        return Ranking(ids, scores, {"category": request.target_category}, "vcr", f"UIGR, VCR branch: \u201c{text}\u201d")
