"""Vector indexes (exact and HNSW, full embedding and attribute subspaces), manifests, atomic saving,
and the kNN graph behind style paths and typicality. Qt-free: numpy + hnswlib + the standard library."""
from fashion_gui.index.base import IndexLoadError, SearchResult, VectorIndex
from fashion_gui.index.config import IndexConfig
from fashion_gui.index.exact import ExactIndex
from fashion_gui.index.hnsw import HnswIndex
from fashion_gui.index.knn_graph import KnnGraph, open_or_build_graph
from fashion_gui.index.manifest import FORMAT_VERSION, IndexManifest, chunk_slices, hash_checkpoint
from fashion_gui.index.paths import StylePath, Typicality, UnreachableError, path_to_category, shortest_path, typicality
from fashion_gui.index.persist import IndexData, build_index, load_index, open_or_build, open_or_update, read_manifest, save_index
from fashion_gui.index.subspaces import SubspaceIndexSet

__all__ = [
    "FORMAT_VERSION", "ExactIndex", "HnswIndex", "IndexConfig", "IndexData", "IndexLoadError", "IndexManifest",
    "KnnGraph", "SearchResult", "StylePath", "SubspaceIndexSet", "Typicality", "UnreachableError", "VectorIndex",
    "build_index", "chunk_slices", "hash_checkpoint", "load_index", "open_or_build", "open_or_build_graph", "open_or_update",
    "path_to_category", "read_manifest", "save_index", "shortest_path", "typicality",
]
