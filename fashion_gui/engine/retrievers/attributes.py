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
from fashion_gui.engine.gallery import feature_key
from fashion_gui.engine.requests import Manipulate, QueryState, RequestError, SimilarIn
from fashion_gui.engine.retriever import EncoderRetriever, EngineContext, Ranking, drop_query
from fashion_gui.index import KnnGraph, SubspaceIndexSet, VectorIndex, chunk_slices, open_or_build_graph
from fashion_gui.inference.adde_model import ADDEModel
from fashion_gui.inference.checkpoint import Checkpoint
from fashion_gui.inference.preprocess import square_resize

FULL = "full"


class AttributeRetriever(EncoderRetriever):
    """One attribute-encoder checkpoint over the engine's gallery."""

    def __init__(self, ctx: EngineContext, checkpoint: Checkpoint, kinds: tuple[str, ...], model: ADDEModel) -> None:
        super().__init__(ctx, checkpoint, kinds)
        self.model = model
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
    def encode_images(self, images: torch.Tensor) -> dict[str, np.ndarray]:
        """uint8 (B, 3, S, S) -> raw embedding (B, A*d), predicted values (B, A), their probabilities (B, A)."""
        out = self.model.embed(images, self.ctx.prep)
        conf = np.stack([p.max(1) for p in out["probs"]], 1).astype(np.float32)  # (B, A)
        return {"embedding": out["embedding"].astype(np.float32), "pred": out["pred"], "conf": conf}

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
        query = request.query
        target = self.edited_labels(query, request.edits)
        with torch.inference_mode():
            moved = self.model.manipulate(query.embedding[None], query.labels[None], target[None])[0]  # (A*d,)
        result = self.full_index.search(moved, k + 1, category=self.ctx.category_filter(request.category))
        ids, scores = drop_query(result.ids, result.scores, query.item_id, k)
        return Ranking(ids, scores, dict(request.edits), FULL)

    def _similar_in(self, request: SimilarIn, k: int) -> Ranking:
        query = request.query
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

    def type_index(self, name: str) -> int:
        schema = self.ctx.schema
        try:
            return schema.type_index(name)
        except SchemaError:
            raise RequestError(f"unknown attribute {name!r}; this model knows {', '.join(schema.names)}") from None

    # --- the gallery space ---------------------------------------------------------------------------
    @property
    def spaces(self) -> list[str]:
        return [FULL, *self.ctx.schema.names]

    def space_vectors(self, space: str, ids: np.ndarray) -> np.ndarray:
        if space == FULL:
            return self.full_index.vectors(ids)
        return self.subspaces.vectors(ids, self.type_index(space))

    def graph(self, space: str, k: int, connect: bool) -> KnnGraph:
        folder = self.ctx.index_folder(self.checkpoint)
        manifests = self.ctx.indexes
        if space == FULL:
            manifest = manifests[f"{self.checkpoint.path.name}/{FULL}"][0]
            graph, _ = open_or_build_graph(folder / FULL, manifest, self.full_index, k, connect=connect)
        else:
            manifest = manifests[f"{self.checkpoint.path.name}/subspaces"][0]
            graph, _ = open_or_build_graph(folder / "subspaces", manifest, self.subspaces, k,
                                           subspace=self.type_index(space), connect=connect)
        return graph

    def nearest(self, embedding: np.ndarray, k: int) -> np.ndarray:
        return self.full_index.search(embedding, k).ids

    def describe(self) -> dict:
        return {**super().describe(), "dim": int(self.gallery["embedding"].shape[1])}
