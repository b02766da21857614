"""ADDE-O's retriever: compatible items ranked by the outfit head's category-weighted subspace distance
D = sum_a kappa_a(c_q, c_t) ||psi_a(r_q,a) - psi_a(r_g,a)||^2 (ADDE supp. Sec. 1-2), on the chunks of the
very ADDE model it was trained on, which must be the engine's encoder.
"""
from __future__ import annotations

import numpy as np

from fashion_gui.engine.requests import Compatible, EngineError, RequestError
from fashion_gui.engine.retriever import EngineContext, Ranking, Retriever
from fashion_gui.inference.checkpoint import Checkpoint
from fashion_gui.inference.outfit_model import OutfitRetrieval


class OutfitRetriever(Retriever):
    """One ADDE-O checkpoint on the engine's encoder (an ADDE-family model with the same weights)."""

    def __init__(self, ctx: EngineContext, checkpoint: Checkpoint, kinds: tuple[str, ...],
                 outfit: OutfitRetrieval) -> None:
        super().__init__(ctx, checkpoint, kinds)
        self.outfit = outfit

    @classmethod
    def open(cls, ctx: EngineContext, checkpoint: Checkpoint, kinds: tuple[str, ...]) -> OutfitRetriever:
        outfit = OutfitRetrieval.from_checkpoint(checkpoint, ctx.device)
        encoder = ctx.encoder
        if encoder is None or encoder.checkpoint.hash != outfit.adde_hash:
            name = encoder.checkpoint.path.name if encoder is not None else "none"
            raise EngineError(f"{checkpoint.path} was trained on another attribute model than the engine's encoder "
                              f"({name}); pick that encoder or retrain it with `fashion train adde-o`")
        return cls(ctx, checkpoint, kinds, outfit)

    def search(self, request, k: int) -> Ranking:
        if not isinstance(request, Compatible):
            raise RequestError(f"{self.checkpoint.method} only answers compatible-item requests")
        ids, scores = self._rank(request, k)
        return Ranking(ids, scores, {"category": request.target_category}, "outfit",
                       "ADDE-O: category-weighted attribute subspaces")

    def _rank(self, request: Compatible, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Exact ranking of the target category's items (a few thousand at most in a catalog served
        interactively; the weights depend on the query's category, so no single index can hold D)."""
        ctx, query = self.ctx, request.query
        target = ctx.category_index(request.target_category)
        if query.category is None:
            raise RequestError("the query's category is unknown, so compatible items cannot be weighted")
        ref = ctx.category_index(query.category)
        gallery = ctx.encoder.gallery
        ids = gallery.ids[ctx.catalog.categories_of(gallery.ids) == target]
        if query.item_id is not None:
            ids = ids[ids != query.item_id]
        if len(ids) == 0:
            raise RequestError(f"the gallery has no {request.target_category!r} items")
        a = len(ctx.schema.sizes)
        chunks = gallery["embedding"][gallery.rows_of(ids)].reshape(len(ids), a, -1)
        q = self.outfit.project_chunks(query.embedding.reshape(1, a, -1))  # (1, A, d')
        g = self.outfit.project_chunks(chunks)  # (N, A, d')
        dist = self.outfit.distances(q[0], g, self.outfit.attention(ref, target))  # (N,)
        order = np.argsort(dist, kind="stable")[:k]
        return ids[order], -dist[order]
