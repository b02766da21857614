"""The attribute encoders' retriever (ADDE-M, GRL, no-GRL): the engine's encoder model.

* :class:`Manipulate` -- r' = r + M i with i = onehot(target) - onehot(reference) (ADDE Eq. 5), searched in
  the full embedding (ADDE-M);
* :class:`SimilarIn` -- nearest items in one attribute's subspace (ADDE-C, conditional similarity);
* the gallery space for style paths and typicality: the full embedding and the per-attribute subspaces.
Gallery features are encoded once per checkpoint (cached), with one index over the full embedding and one
per attribute subspace.
"""
from __future__ import annotations

import numpy as np
import torch
from PIL import Image

from fashion_gui.catalog.schema import SchemaError
from fashion_gui.engine.edits import (
    EPS,
    balanced_similarity,
    keep_log_probability,
    label_agreement,
    label_match,
    match_probability,
)
from fashion_gui.engine.gallery import feature_key
from fashion_gui.engine.requests import Manipulate, QueryState, RequestError, SimilarIn
from fashion_gui.engine.retriever import FULL, EncoderRetriever, EngineContext, Ranking, drop_query
from fashion_gui.index import SubspaceIndexSet, VectorIndex, chunk_slices
from fashion_gui.inference.adde_model import ADDEModel
from fashion_gui.inference.checkpoint import Checkpoint
from fashion_gui.inference.preprocess import square_resize



class AttributeRetriever(EncoderRetriever):
    """One attribute-encoder checkpoint over the engine's gallery."""

    def __init__(self, ctx: EngineContext, checkpoint: Checkpoint, kinds: tuple[str, ...], model: ADDEModel) -> None:
        super().__init__(ctx, checkpoint, kinds)
        self.model = model
        self._labels: tuple[np.ndarray, np.ndarray] | None = None  # the gallery's catalog labels, read on demand
        self.full_index: VectorIndex
        self.subspaces: SubspaceIndexSet

    @classmethod
    def open(cls, ctx: EngineContext, checkpoint: Checkpoint, kinds: tuple[str, ...]) -> AttributeRetriever:
        model, _ = ADDEModel.from_checkpoint(checkpoint, ctx.device)
        retriever = cls(ctx, checkpoint, kinds, model)
        retriever._open_gallery()
        return retriever

    def _open_gallery(self) -> None:
        ctx = self.ctx
        self.gallery = ctx.features(self.checkpoint, feature_key("adde", self.checkpoint.hash, self.model.image_size),
                                    self.model.image_size, self.encode_images, "encode")
        ctx.report("index", 0, 2)
        self.full_index = ctx.open_index(self.checkpoint, FULL, self.gallery, "embedding")
        ctx.report("index", 1, 2)
        self.subspaces = ctx.open_index(self.checkpoint, "subspaces", self.gallery, "embedding",
                                        chunks=chunk_slices(len(ctx.schema.sizes), self.model.encoder.d))
        ctx.report("index", 2, 2)

    # --- encoding ------------------------------------------------------------------------------------
    @property
    def image_size(self) -> int:
        return self.model.image_size

    def encode_images(self, images: torch.Tensor) -> dict[str, np.ndarray]:
        """uint8 (B, 3, S, S) -> raw embedding (B, A*d), predicted values (B, A), their probabilities (B, A)."""
        out = self.model.embed(images, self.ctx.prep)
        conf = np.stack([p.max(1) for p in out["probs"]], 1).astype(np.float32)  # (B, A)
        probs = np.concatenate(out["probs"], 1).astype(np.float16)  # (B, J): every value's probability
        return {"embedding": out["embedding"].astype(np.float32), "pred": out["pred"], "conf": conf, "probs": probs}

    def encode_image(self, rgb: Image.Image) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        tensor = torch.from_numpy(np.ascontiguousarray(square_resize(rgb, self.model.image_size)))[None]  # (1, 3, S, S)
        out = self.encode_images(tensor)
        return out["embedding"][0], out["pred"][0], out["conf"][0]

    # --- requests ------------------------------------------------------------------------------------
    def search(self, request, k: int) -> Ranking:
        if isinstance(request, Manipulate):
            return self._manipulate(request, k)
        if isinstance(request, SimilarIn):
            return self._similar_in(request, k)
        raise RequestError(f"{self.checkpoint.method} does not answer {type(request).__name__} requests")

    def _manipulate(self, request: Manipulate, k: int) -> Ranking:
        """r' = r + M i (ADDE Eq. 5), ranked as a shopper means the edit (engine/edits.py)."""
        ctx, schema, policy = self.ctx, self.ctx.schema, self.ctx.edit_policy
        query = request.query
        target = self.edited_labels(query, request.edits)
        with torch.inference_mode():
            moved = self.model.manipulate(query.embedding[None], query.labels[None], target[None])[0]  # (A*d,)
        if policy.ranking == "paper":  # ADDE's protocol: the nearest neighbours of r' in the full space
            result = self.full_index.search(moved, k + 1, category=ctx.category_filter(request.category))
            ids, scores = drop_query(result.ids, result.scores, query.item_id, k)
            return Ranking(ids, scores, dict(request.edits), FULL)
        asked = {self.type_index(name): int(target[self.type_index(name)]) for name in request.edits}
        keep = self._kept_category(query, target, asked) if policy.keep_category else None
        explicit = ctx.category_filter(request.category)
        category = explicit if explicit is not None else keep
        types = np.array([t.applies_to(schema.categories[category]) if category is not None else True
                          for t in schema.types])  # the subspaces that mean something for the target garment
        chunks = moved.reshape(len(schema.types), -1)  # (A, d)
        cat_type = self._category_type()
        kept = {a: int(v) for a, v in enumerate(query.labels)
                if v >= 0 and a not in asked and a != cat_type and types[a]}  # the query's other values
        if policy.ranking == "labels":
            rows, scores, matched = self._rank_by_labels(chunks, types, asked, kept, category, query.item_id, k)
        else:
            rows, scores, matched = self._rank_by_predictions(moved, chunks, types, asked, kept, category, explicit,
                                                              query.item_id, k)
        ids = self.gallery.ids[rows]
        requested = dict(request.edits)
        if category is not None and request.category is None and "category" not in requested:
            requested["category"] = schema.categories[category]  # kept: the chips show it
        note, alternatives = "", None
        if matched < len(ids):
            alternatives = matched
            what = ", ".join(f"{n} {v}" for n, v in requested.items())
            note = (f"no item has {what}: the nearest alternatives" if matched == 0 else
                    f"only {matched} item{'s' if matched != 1 else ''} with {what}; then the nearest alternatives")
        return Ranking(ids, scores, requested, FULL, note, alternatives)

    def _kept_category(self, query: QueryState, target: np.ndarray, asked: dict[int, int]) -> int | None:
        """The category an edit keeps: the edited one when the category attribute itself is edited, else the
        query's (its catalog category, or the predicted one for an uploaded image)."""
        schema = self.ctx.schema
        a = self._category_type()
        if a is not None and a in asked:
            return schema.category_index(schema.types[a].values[int(target[a])])
        return schema.category_index(query.category) if query.category is not None else None

    def _category_type(self) -> int | None:
        """The attribute type that predicts the item category, when the schema has one."""
        schema = self.ctx.schema
        if "category" in schema.names and tuple(schema.type("category").values) == tuple(schema.categories):
            return schema.type_index("category")
        return None

    def _rank_by_predictions(self, moved, chunks, types, asked, kept, category, explicit, exclude, k):
        """Visual only: the gallery's labels are never read (an explicit category filter is the user's)."""
        policy, gallery = self.ctx.edit_policy, self.gallery
        offsets = self.ctx.schema.offsets
        p_asked = match_probability(gallery["probs"], offsets, asked)  # (N,) P(every asked value)
        cat_type = self._category_type()
        p_cat = (match_probability(gallery["probs"], offsets, {cat_type: category})
                 if category is not None and cat_type is not None else np.ones(len(p_asked)))  # (N,) P(category)
        # with edits, the kept category weighs like an asked value; without ("more like this") it is a guard:
        # every item the classifier gives it at least match_threshold counts as the same garment type, so
        # similarity decides (a photo of a catalog item finds that item first)
        p_kept = p_cat if asked else np.minimum(p_cat / policy.match_threshold, 1.0)
        p = p_asked * p_cat  # (N,) P(what the shopper asked, in the garment type kept)
        near = self.full_index.search(moved, policy.candidates, category=explicit).ids
        likely = np.argpartition(-p, min(policy.candidates, len(p) - 1))[:policy.candidates]
        rows = np.union1d(gallery.rows_of(near), likely)
        if explicit is not None:
            rows = rows[self.ctx.catalog.categories_of(gallery.ids[rows]) == explicit]
        if exclude is not None:
            rows = rows[gallery.ids[rows] != exclude]
        score = (balanced_similarity(chunks, self._chunks(rows), types)
                 + policy.weight * np.log(np.maximum(p_asked[rows] * p_kept[rows], EPS))
                 + policy.keep_weight * keep_log_probability(gallery["probs"][rows], self.ctx.schema.offsets, kept))
        order = np.argsort(-score, kind="stable")[:k]
        top = rows[order]
        likely = p >= policy.match_threshold  # items the classifiers think have everything asked
        if exclude is not None and exclude in gallery.row:
            likely[gallery.row[exclude]] = False
        # a notice only when the gallery has fewer likely matches than were asked for
        matched = len(top) if likely.sum() >= len(top) else int(np.cumprod(likely[top]).sum())
        return top, score[order].astype(np.float32), matched

    def _rank_by_labels(self, chunks, types, asked, kept, category, exclude, k):
        """With catalog labels: the items that have the asked values (and the category) first, ranked by how many
        of the query's other values their labels share and the balanced similarity; then, if fewer than k, the nearest other items of the category as alternatives."""
        gallery, catalog = self.gallery, self.ctx.catalog
        labels, categories = self._catalog_labels()
        match = label_match(labels, categories, asked, category)
        if exclude is not None and exclude in gallery.row:
            match[gallery.row[exclude]] = False
        rows = np.nonzero(match)[0]
        agree = self.ctx.edit_policy.label_keep_weight
        sim = self._keep_score(chunks, types, kept, rows) + agree * label_agreement(labels[rows], kept)
        order = np.argsort(-sim, kind="stable")[:k]
        top, scores = rows[order], sim[order]
        if len(top) < k:  # alternatives: the nearest items of the category without every asked value
            others = np.nonzero(~match & ((categories == category) if category is not None else True))[0]
            if exclude is not None and exclude in gallery.row:
                others = others[others != gallery.row[exclude]]
            alt = self._keep_score(chunks, types, kept, others) + agree * label_agreement(labels[others], kept)
            alt_order = np.argsort(-alt, kind="stable")[:k - len(top)]
            top, scores = np.concatenate([top, others[alt_order]]), np.concatenate([scores, alt[alt_order]])
        return top, scores.astype(np.float32), len(order)

    def _keep_score(self, chunks, types, kept, rows: np.ndarray) -> np.ndarray:
        """Balanced similarity + keep_weight x the predicted log-probability of the query's other values."""
        return (balanced_similarity(chunks, self._chunks(rows), types) + self.ctx.edit_policy.keep_weight
                * keep_log_probability(self.gallery["probs"][rows], self.ctx.schema.offsets, kept))

    def _chunks(self, rows: np.ndarray) -> np.ndarray:
        """Raw gallery embeddings of rows as chunks (n, A, d)."""
        return self.gallery["embedding"][rows].reshape(len(rows), len(self.ctx.schema.types), self.model.encoder.d)

    def _catalog_labels(self) -> tuple[np.ndarray, np.ndarray]:
        if self._labels is None:
            ids = self.gallery.ids
            self._labels = (self.ctx.catalog.labels(ids), self.ctx.catalog.categories_of(ids))
        return self._labels

    def _similar_in(self, request: SimilarIn, k: int) -> Ranking:
        query = request.query
        if request.prioritize:
            raise RequestError(f"{self.checkpoint.method} has no pseudo labels for prioritized retrieval; choose a "
                               "MODC model for \u201csimilar in\u201d in the settings")
        a = self.type_index(request.attribute)
        result = self.subspaces.search(query.embedding, k + 1, a, category=self.ctx.category_filter(request.category))
        ids, scores = drop_query(result.ids, result.scores, query.item_id, k)
        value = query.attributes.get(request.attribute) or query.predicted[request.attribute][0]
        return Ranking(ids, scores, {request.attribute: value}, f"subspace:{request.attribute}")

    def edited_labels(self, query: QueryState, edits: dict[str, str]) -> np.ndarray:
        """The query's labels with ``edits`` applied; clear errors for unknown types or values."""
        schema = self.ctx.schema
        target = query.labels.copy()
        for name, value in edits.items():
            a = self.type_index(name)
            try:
                target[a] = schema.types[a].index(value)
            except SchemaError as exc:
                raise RequestError(str(exc)) from None
        return target

    def describe(self) -> dict:
        return {**super().describe(), "dim": int(self.gallery["embedding"].shape[1])}
