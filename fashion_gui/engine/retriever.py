"""The retriever contract (google/tirg's small base class is the model; DESIGN.md, "Engine contract").

A method's registry entry names its retriever class; the engine opens one retriever per chosen checkpoint
and dispatches each request to the retriever chosen for the request's kind. A retriever says what it
serves, searches a request and describes itself; it reaches the rest of the engine only through the
:class:`EngineContext` it is opened with (catalog, device, shared preprocessing, cached gallery
features, index building), never through the engine's attributes.

An *encoder* retriever (``MethodSpec.encoder``) also gives the engine its gallery space: it encodes query
images (embedding, predicted attributes), and offers the spaces that style paths and typicality run in.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from fashion_gui.catalog.schema import AttributeSchema, SchemaError
from fashion_gui.catalog.store import Catalog
from fashion_gui.engine.edits import EditPolicy
from fashion_gui.engine.gallery import EncodeFn, GalleryFeatures, open_features
from fashion_gui.engine.requests import QueryState, Request, RequestError
from fashion_gui.index import (
    IndexConfig,
    IndexData,
    IndexManifest,
    KnnGraph,
    SubspaceIndexSet,
    VectorIndex,
    open_or_build_graph,
    open_or_update,
)
from fashion_gui.inference.checkpoint import Checkpoint
from fashion_gui.inference.preprocess import BatchPreprocessor
from fashion_gui.workspace import Workspace

Progress = Callable[[str, int, int], None]  # (stage, done, total)
FULL = "full"  # the name of the full embedding space (style paths, rankings)


@dataclass(frozen=True)
class Ranking:
    """What a retriever answers: item ids best first (the query item already left out), their scores, the
    attribute values the request asked for (``Hit.matches`` checks them), where it ranked, and a note."""

    ids: np.ndarray
    scores: np.ndarray
    requested: dict[str, str]
    space: str
    note: str = ""
    alternatives_from: int | None = None  # the rank from which results lack something asked (None: none do)
    notes: tuple[str, ...] | None = None  # one per id: what the model thinks of the item (MODC: its pseudo label)


@dataclass
class EngineContext:
    """What the engine lends its retrievers. ``gallery_ids`` is set once the encoder has opened its gallery;
    ``encoder`` is that encoder retriever (add-ons built on its embedding, like ADDE-O, read it)."""

    workspace: Workspace
    catalog: Catalog
    device: torch.device
    index_config: IndexConfig
    encode_batch: int = 256
    progress: Progress | None = None
    edit_policy: EditPolicy = field(default_factory=EditPolicy)
    encode_workers: int = 0  # DataLoader processes decoding gallery images while the model encodes
    prep: BatchPreprocessor = field(init=False)
    gallery_ids: np.ndarray | None = None
    encoder: EncoderRetriever | None = None
    indexes: dict[str, tuple[IndexManifest, str]] = field(default_factory=dict)  # name -> (manifest, how)

    def __post_init__(self) -> None:
        self.prep = BatchPreprocessor(self.device)

    @property
    def schema(self) -> AttributeSchema:
        return self.catalog.schema

    def report(self, stage: str, done: int, total: int) -> None:
        if self.progress is not None:
            self.progress(stage, done, total)

    def features(self, checkpoint: Checkpoint, key: dict, image_size: int, encode: EncodeFn,
                 label: str) -> GalleryFeatures:
        """The gallery's features under this checkpoint (cached in ``indexes/<checkpoint>/features.npz``)."""
        assert self.gallery_ids is not None, "the gallery ids are set before features are encoded"
        return open_features(self.index_folder(checkpoint) / "features.npz", key, self.workspace, self.catalog,
                             self.gallery_ids, image_size, encode, self.encode_batch,
                             (lambda d, n: self.report(label, d, n)) if self.progress else None,
                             workers=self.encode_workers, pin_memory=self.device.type == "cuda")

    def index_folder(self, checkpoint: Checkpoint) -> Path:
        return self.workspace.indexes / checkpoint.path.name

    def open_index(self, checkpoint: Checkpoint, name: str, features: GalleryFeatures, vectors: str, chunks=None):
        """Open, update or build ``indexes/<checkpoint>/<name>`` over ``features[vectors]`` (one index, or
        per-chunk subspaces when ``chunks`` are given); records its manifest for ``describe``."""
        ids, vectors = features.ids, features[vectors]
        expected = IndexManifest(name=f"{checkpoint.path.name}/{name}", checkpoint_hash=checkpoint.hash,
                                 catalog_version=self.catalog.version, dim=vectors.shape[1],
                                 config=self.index_config, **({"chunks": chunks} if chunks is not None else {}))
        data = IndexData(ids, vectors, self.catalog.categories_of(ids))
        index, manifest, how = open_or_update(self.index_folder(checkpoint) / name, expected, lambda: data)
        self.indexes[expected.name] = (manifest, how)
        return index

    def category_index(self, category: str) -> int:
        try:
            return self.schema.category_index(category)
        except SchemaError as exc:
            raise RequestError(str(exc)) from None

    def category_filter(self, category: str | None) -> int | None:
        return None if category is None else self.category_index(category)

    def query_image(self, query: QueryState) -> Image.Image:
        """The query's RGB image (loaded from the catalog for catalog items), at most 256 px a side."""
        from fashion_gui.catalog.images import open_image  # noqa: PLC0415  (only composed models need it)
        if query.image is not None:
            return query.image
        if query.image_path is None:
            raise RequestError("this query has no image to give to this model")
        return small_image(open_image(query.image_path, max_side=QUERY_IMAGE_SIDE))


QUERY_IMAGE_SIDE = 256  # the query image kept for other encoders is at most this many pixels a side


def small_image(image: Image.Image) -> Image.Image:
    if max(image.size) <= QUERY_IMAGE_SIDE:
        return image
    out = image.copy()
    out.thumbnail((QUERY_IMAGE_SIDE, QUERY_IMAGE_SIDE), Image.BILINEAR)
    return out


def drop_query(ids: np.ndarray, scores: np.ndarray, item_id: int | None, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The first k results without the query item itself (searches ask for k + 1)."""
    if item_id is not None:
        keep = ids != item_id
        ids, scores = ids[keep], scores[keep]
    return ids[:k], scores[:k]


class Retriever(ABC):
    """One opened checkpoint of a registered method, serving the request kinds its entry declares."""

    def __init__(self, ctx: EngineContext, checkpoint: Checkpoint, kinds: tuple[str, ...]) -> None:
        self.ctx, self.checkpoint, self.kinds = ctx, checkpoint, tuple(kinds)

    @classmethod
    @abstractmethod
    def open(cls, ctx: EngineContext, checkpoint: Checkpoint, kinds: tuple[str, ...]) -> Retriever:
        """Load the model and its gallery side (features, indexes) for ``ctx``'s gallery."""

    def serves(self, kind: str) -> bool:
        return kind in self.kinds

    @abstractmethod
    def search(self, request: Request, k: int) -> Ranking:
        """The top ``k`` for a request of a kind this retriever serves."""

    def describe(self) -> dict[str, Any]:
        return {"checkpoint": self.checkpoint.path.name, "method": self.checkpoint.method, "serves": list(self.kinds)}


class EncoderRetriever(Retriever):
    """A retriever that also owns the engine's gallery space (see the module docstring)."""

    gallery: GalleryFeatures  # "embedding" (N, D), "pred" (N, A), "conf" (N, A), "probs" (N, J)

    @property
    @abstractmethod
    def image_size(self) -> int:
        """The side in pixels the encoder reads images at (uploaded images are decoded at least this big)."""

    @abstractmethod
    def encode_image(self, rgb: Image.Image) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """One RGB image -> (embedding (D,), predicted value per attribute type (A,), its probability (A,))."""

    # --- the gallery space: the full embedding and, where the encoder has them, its attribute subspaces ---
    full_index: VectorIndex  # set by the subclass when it opens its gallery as the engine's encoder
    subspaces: SubspaceIndexSet | None = None

    def type_index(self, name: str) -> int:
        """The schema's index of attribute type ``name``; a clear error for an unknown one."""
        schema = self.ctx.schema
        try:
            return schema.type_index(name)
        except SchemaError:
            raise RequestError(f"unknown attribute {name!r}; this model knows {', '.join(schema.names)}") from None

    @property
    def spaces(self) -> list[str]:
        """The spaces style paths and typicality can run in: "full" and per-attribute subspaces."""
        return [FULL, *self.ctx.schema.names] if self.subspaces is not None else [FULL]

    def space_vectors(self, space: str, ids: np.ndarray) -> np.ndarray:
        """Unit vectors of gallery items in ``space`` (rows in the order of ``ids``)."""
        if space == FULL:
            return self.full_index.vectors(ids)
        return self.subspaces.vectors(ids, self.type_index(space))

    def graph(self, space: str, k: int, connect: bool) -> KnnGraph:
        """The k-NN graph of the gallery in ``space`` (cooperative embeddings Sec. 5.3; cached on disk)."""
        folder, manifests = self.ctx.index_folder(self.checkpoint), self.ctx.indexes
        if space == FULL:
            manifest = manifests[f"{self.checkpoint.path.name}/{FULL}"][0]
            graph, _ = open_or_build_graph(folder / FULL, manifest, self.full_index, k, connect=connect)
        else:
            manifest = manifests[f"{self.checkpoint.path.name}/subspaces"][0]
            graph, _ = open_or_build_graph(folder / "subspaces", manifest, self.subspaces, k,
                                           subspace=self.type_index(space), connect=connect)
        return graph

    def nearest(self, embedding: np.ndarray, k: int) -> np.ndarray:
        """Ids of the ``k`` gallery items nearest an embedding in the full space (category vote)."""
        return self.full_index.search(embedding, k).ids
