"""The attribute-specific retriever (ASEN, ASEN_v2, ASEN++ and MODC over them): serves ``SimilarIn``.

The embedding is attribute-conditioned, so the gallery keeps one unit vector per (item, attribute), encoded
once per checkpoint (cached in ``indexes/<checkpoint>/features.npz``) and searched exactly (cosine).
A MODC model also keeps each item's pseudo labels (two most likely values per attribute, with confidences):

* ``SimilarIn(query, a)``: candidates by cosine in attribute a's space;
* ``SimilarIn(query, a, prioritize=1|2, value=None|v)``: MODC's prioritized retrieval ("same <value>
  first"): items whose pseudo label is the query's predicted value (or the value ``v`` the shopper picked)
  come first, ranked in that class's space; with 2, then those of the next most likely value; then the rest.
  The gallery's catalog labels are never read for the ranking; every hit carries its pseudo label.
Scores are best first: the similarity used, plus 2 per priority level above the rest.
"""
from __future__ import annotations

import numpy as np
import torch

from fashion_gui.catalog.schema import SchemaError
from fashion_gui.engine.gallery import feature_key
from fashion_gui.engine.requests import QueryState, RequestError, SimilarIn
from fashion_gui.engine.retriever import EngineContext, Ranking, Retriever
from fashion_gui.inference.asen_model import AttributeSpecificModel
from fashion_gui.inference.checkpoint import Checkpoint
from fashion_gui.inference.preprocess import square_resize
from models.modc import prioritized_order

LEVEL = 2.0  # score added per priority level (cosines lie in [-1, 1])


class AttributeSpecificRetriever(Retriever):
    """One ASEN-family or MODC checkpoint over the engine's gallery."""

    def __init__(self, ctx: EngineContext, checkpoint: Checkpoint, kinds: tuple[str, ...],
                 model: AttributeSpecificModel) -> None:
        super().__init__(ctx, checkpoint, kinds)
        self.model = model
        self.n_attr = len(model.schema.types)

    @classmethod
    def open(cls, ctx: EngineContext, checkpoint: Checkpoint, kinds: tuple[str, ...]) -> AttributeSpecificRetriever:
        model = AttributeSpecificModel.from_checkpoint(checkpoint, ctx.device)
        if model.schema.to_dict() != ctx.schema.to_dict():
            raise RequestError(f"{checkpoint.path} was trained on another attribute schema; retrain it")
        retriever = cls(ctx, checkpoint, kinds, model)
        retriever.gallery = ctx.features(checkpoint, feature_key("asen", checkpoint.hash, model.image_size),
                                         model.image_size, retriever.encode_images, "encode attribute spaces")
        return retriever

    def encode_images(self, images: torch.Tensor) -> dict[str, np.ndarray]:
        """uint8 (B, 3, S, S) -> "embedding" (B, A*D); MODC: "pseudo" (B, A*2), "confidence" (B, A*2)."""
        out = self.model.embed(images, self.ctx.prep)
        return {name: arr.reshape(len(arr), -1) for name, arr in out.items()}

    def _query(self, query: QueryState) -> dict[str, np.ndarray]:
        """The query's per-attribute arrays: from the gallery for a gallery item, else encoded now."""
        row = self.gallery.row.get(query.item_id) if query.item_id is not None else None
        if row is not None:
            arrays = {name: arr[row] for name, arr in self.gallery.arrays.items()}
        else:
            image = self.ctx.query_image(query)
            tensor = torch.from_numpy(np.ascontiguousarray(square_resize(image, self.model.image_size)))[None]
            arrays = {name: arr[0] for name, arr in self.encode_images(tensor).items()}
        return {name: arr.reshape(self.n_attr, -1) for name, arr in arrays.items()}

    def search(self, request, k: int) -> Ranking:
        if not isinstance(request, SimilarIn):
            raise RequestError(f"{self.checkpoint.method} does not answer {type(request).__name__} requests")
        schema = self.ctx.schema
        try:
            a = schema.type_index(request.attribute)
        except SchemaError:
            raise RequestError(f"unknown attribute {request.attribute!r}; this model knows "
                               f"{', '.join(schema.names)}") from None
        if request.prioritize not in (0, 1, 2):
            raise RequestError(f"prioritize must be 0, 1 or 2, got {request.prioritize}")
        if request.prioritize and not self.model.modc:
            raise RequestError(f"{self.checkpoint.method} has no pseudo labels for prioritized retrieval; train a "
                               f"MODC model (fashion train modc-{self.checkpoint.method})")
        q = self._query(request.query)
        dim = self.model.dim
        gallery = self.gallery["embedding"].reshape(len(self.gallery.ids), self.n_attr, dim)[:, a]  # (N, D)
        rows = np.arange(len(self.gallery.ids))
        category = self.ctx.category_filter(request.category)
        if category is not None:
            rows = rows[self.ctx.catalog.categories_of(self.gallery.ids) == category]
        if request.query.item_id is not None:
            rows = rows[self.gallery.ids[rows] != request.query.item_id]
        sim = gallery[rows] @ q["embedding"][a]  # (n,)
        values = schema.types[a].values
        note = ""
        if request.prioritize:
            classes = self._classes(request, q, a)
            class_sims = [self.model.class_space(gallery[rows], a, v) @ self.model.class_space(q["embedding"][a:a + 1], a, v)[0]
                          for v in classes]
            pseudo = self.gallery["pseudo"].reshape(len(self.gallery.ids), self.n_attr, 2)[rows, a, 0]
            order = prioritized_order(sim, class_sims, pseudo, classes)[:k]
            level = np.full(len(rows), 0.0)
            score = sim.copy()
            for i, (v, cs) in enumerate(zip(classes, class_sims)):
                mine = (pseudo == v) & (level == 0)
                level[mine] = LEVEL * (len(classes) - i)
                score[mine] = cs[mine]
            scores = (score + level)[order]
            value = values[classes[0]]
            how = "you picked" if request.value is not None else \
                f"predicted, p = {q['confidence'][a, 0]:.2f}"
            note = f"same {request.attribute} {value} first ({how})" + (
                f", then {values[classes[1]]}" if len(classes) > 1 else "")
        else:
            order = np.argsort(-sim, kind="stable")[:k]
            scores = sim[order]
            value = self._query_value(request, q, a)
        top = rows[order]
        notes = None
        if self.model.modc:
            pseudo_all = self.gallery["pseudo"].reshape(len(self.gallery.ids), self.n_attr, 2)[:, a, 0]
            conf_all = self.gallery["confidence"].reshape(len(self.gallery.ids), self.n_attr, 2)[:, a, 0]
            notes = tuple(f"\u2248{values[int(pseudo_all[r])]} {conf_all[r]:.2f}" for r in top)  # "≈red 0.93"
        return Ranking(self.gallery.ids[top], scores.astype(np.float32), {request.attribute: value},
                       f"attribute:{request.attribute}", note, None, notes)

    def _classes(self, request: SimilarIn, q: dict[str, np.ndarray], a: int) -> list[int]:
        """The prioritized value indices: the picked value or the query's pseudo label, then (top 2) the query's
        most likely other value."""
        values = self.ctx.schema.types[a].values
        if request.value is not None:
            if request.value not in values:
                raise RequestError(f"{request.attribute} has no value {request.value!r}; values: {', '.join(values)}")
            first = values.index(request.value)
        else:
            first = int(q["pseudo"][a, 0])
        classes = [first]
        if request.prioritize == 2:
            second = next((int(v) for v in q["pseudo"][a] if int(v) != first), None)
            if second is not None:
                classes.append(second)
        return classes

    def _query_value(self, request: SimilarIn, q: dict[str, np.ndarray], a: int) -> str:
        """The value the chips compare against: the query's catalog value, else the predicted one."""
        name = request.attribute
        if name in request.query.attributes:
            return request.query.attributes[name]
        if self.model.modc:
            return self.ctx.schema.types[a].values[int(q["pseudo"][a, 0])]
        return request.query.predicted[name][0]

    def predicted_value(self, query: QueryState, attribute: str) -> tuple[str, float] | None:
        """MODC: the query's pseudo label for ``attribute`` and its confidence (None for other models)."""
        if not self.model.modc:
            return None
        a = self.ctx.schema.type_index(attribute)
        q = self._query(query)
        return self.ctx.schema.types[a].values[int(q["pseudo"][a, 0])], float(q["confidence"][a, 0])

    def describe(self) -> dict:
        return {**super().describe(), "dim": self.model.dim, "modc": self.model.modc,
                "network": self.model.architecture.get("network")}
