"""Cooperative embeddings' retriever (and its Table 3 baselines').

* :class:`AttributeValues` -- no picture: the query is the mean of the asked values' prototypes (each the
  mean training vector of the value, in its attribute's subspace; Sec. 4.2; scaled to unit length so each
  asked value weighs the same), scored by cosine over those subspaces;
* :class:`CategoryQuery` -- no picture: the category's prototype (mean training vector in the superspace);
  the ranking is the category's items from typical to atypical, then the nearest others;
* as the engine's encoder (cooperative only): :class:`SimilarIn` in one attribute subspace, and the spaces
  of style paths and typicality: the superspace and every attribute subspace.
Gallery vectors (every subspace L2-normalised) are encoded once per checkpoint and cached; indexes over the
superspace and the subspaces are built only when the model is the engine's encoder.
"""
from __future__ import annotations

import numpy as np
import torch
from PIL import Image

from fashion_gui.catalog.schema import SchemaError
from fashion_gui.engine.gallery import feature_key
from fashion_gui.engine.requests import AttributeValues, CategoryQuery, RequestError, SimilarIn
from fashion_gui.engine.retriever import FULL, EncoderRetriever, EngineContext, Ranking, drop_query
from fashion_gui.index import SubspaceIndexSet, VectorIndex, chunk_slices
from fashion_gui.inference.checkpoint import Checkpoint
from fashion_gui.inference.cooperative_model import CooperativeModel
from fashion_gui.inference.preprocess import square_resize



class CooperativeRetriever(EncoderRetriever):
    """One cooperative-embeddings (or baseline) checkpoint over the engine's gallery."""

    def __init__(self, ctx: EngineContext, checkpoint: Checkpoint, kinds: tuple[str, ...],
                 model: CooperativeModel) -> None:
        super().__init__(ctx, checkpoint, kinds)
        self.model = model
        self.full_index: VectorIndex | None = None
        self.subspaces: SubspaceIndexSet | None = None

    @classmethod
    def open(cls, ctx: EngineContext, checkpoint: Checkpoint, kinds: tuple[str, ...]) -> CooperativeRetriever:
        retriever = cls(ctx, checkpoint, kinds, CooperativeModel.from_checkpoint(checkpoint, ctx.device))
        retriever._open_gallery(as_encoder=ctx.encoder is None)
        return retriever

    def _open_gallery(self, as_encoder: bool) -> None:
        ctx, model = self.ctx, self.model
        self.gallery = ctx.features(self.checkpoint, feature_key("cooperative", self.checkpoint.hash, model.image_size),
                                    model.image_size, self.encode_images, "encode")
        if not as_encoder:  # beside another encoder: only text-free queries, answered by exact scans
            return
        ctx.report("index", 0, 2)
        self.full_index = ctx.open_index(self.checkpoint, FULL, self.gallery, "embedding")
        ctx.report("index", 1, 2)
        if model.has_subspaces:
            self.subspaces = ctx.open_index(self.checkpoint, "subspaces", self.gallery, "embedding",
                                            chunks=chunk_slices(len(ctx.schema.sizes), model.n))
        ctx.report("index", 2, 2)

    # --- encoding ------------------------------------------------------------------------------------
    @property
    def image_size(self) -> int:
        return self.model.image_size

    def encode_images(self, images: torch.Tensor) -> dict[str, np.ndarray]:
        """uint8 (B, 3, S, S) -> retrieval vectors (B, D), the nearest value per attribute (B, A), its
        probability (B, A) and every value's (B, J)."""
        vectors = self.model.embed(images, self.ctx.prep)
        pred, conf, probs = self.model.predict(vectors)
        return {"embedding": vectors.astype(np.float32), "pred": pred, "conf": conf, "probs": probs.astype(np.float16)}

    def encode_image(self, rgb: Image.Image) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        tensor = torch.from_numpy(np.ascontiguousarray(square_resize(rgb, self.model.image_size)))[None]
        out = self.encode_images(tensor)
        return out["embedding"][0], out["pred"][0], out["conf"][0]

    # --- requests ------------------------------------------------------------------------------------
    def search(self, request, k: int) -> Ranking:
        if isinstance(request, AttributeValues):
            return self._attribute_values(request, k)
        if isinstance(request, CategoryQuery):
            return self._category(request, k)
        if isinstance(request, SimilarIn) and self.subspaces is not None:
            return self._similar_in(request, k)
        raise RequestError(f"{self.checkpoint.method} does not answer {type(request).__name__} requests here")

    def value_query(self, values: dict[str, str]) -> np.ndarray:
        """The mean of the asked values' prototypes (each masked to its attribute's space). (D,)"""
        if not values:
            raise RequestError("ask for at least one attribute value")
        schema = self.ctx.schema
        queries, seen = self.model.value_queries()
        rows = []
        for name, value in values.items():
            a = self.type_index(name)
            try:
                v = schema.types[a].index(value)
            except SchemaError as exc:
                raise RequestError(str(exc)) from None
            if not seen[schema.offsets[a] + v]:
                raise RequestError(f"{name} {value!r} had no training image, so this model has no query for it")
            rows.append(schema.offsets[a] + v)
        # each prototype at unit length first, so every asked value weighs the same (a tight colour cluster
        # would otherwise outweigh a looser one); a single value ranks as its prototype does
        picked = queries[rows]
        return (picked / np.maximum(np.linalg.norm(picked, axis=1, keepdims=True), 1e-12)).mean(0)

    def _attribute_values(self, request: AttributeValues, k: int) -> Ranking:
        ids, scores = self._scan(self.value_query(request.values), k, self.ctx.category_filter(request.category))
        return Ranking(ids, scores, dict(request.values), "attribute values")

    def _category(self, request: CategoryQuery, k: int) -> Ranking:
        c = self.ctx.category_index(request.category)
        queries, seen = self.model.category_queries()
        if not seen[c]:
            raise RequestError(f"{request.category!r} had no training image, so this model has no query for it")
        ids, scores = self._scan(queries[c], k, None)
        return Ranking(ids, scores, {"category": request.category}, "category")

    def _scan(self, query: np.ndarray, k: int, category: int | None) -> tuple[np.ndarray, np.ndarray]:
        """Exact cosine scores (the query's dims only; zero elsewhere) over the gallery, best first."""
        vectors, ids = self.gallery["embedding"], self.gallery.ids
        if category is not None:
            keep = self.ctx.catalog.categories_of(ids) == category
            vectors, ids = vectors[keep], ids[keep]
        support = query != 0  # the query's dims: cosine there (every subspace of a gallery vector is unit length)
        norms = np.linalg.norm(vectors[:, support], axis=1) * max(float(np.linalg.norm(query)), 1e-12)
        scores = (vectors @ query.astype(np.float32)) / np.maximum(norms, 1e-12)
        order = np.argsort(-scores, kind="stable")[:k]
        return ids[order], scores[order].astype(np.float32)

    def _similar_in(self, request: SimilarIn, k: int) -> Ranking:
        query = request.query
        a = self.type_index(request.attribute)
        result = self.subspaces.search(query.embedding, k + 1, a, category=self.ctx.category_filter(request.category))
        ids, scores = drop_query(result.ids, result.scores, query.item_id, k)
        value = query.attributes.get(request.attribute) or query.predicted[request.attribute][0]
        return Ranking(ids, scores, {request.attribute: value}, f"subspace:{request.attribute}")

    def describe(self) -> dict:
        return {**super().describe(), "dim": int(self.gallery["embedding"].shape[1]), "layout": self.model.layout}
