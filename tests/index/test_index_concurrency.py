"""Queries from one thread while another adds: no crash, and answers stay consistent."""
import threading

import numpy as np
import pytest

from fashion_gui.index import ExactIndex, HnswIndex, IndexConfig
from fashion_gui.index.synthetic import synthetic_embeddings


@pytest.mark.parametrize("kind", ["hnsw", "exact"])
def test_queries_while_another_thread_adds(kind):
    data = synthetic_embeddings(1500, n_attributes=4, chunk_dim=32, seed=11)
    config = IndexConfig(M=16, ef_construction=80, ef_search=80, search_dim=32, min_candidates=40, num_threads=1)
    index = HnswIndex(128, config) if kind == "hnsw" else ExactIndex(128, config)
    index.build(data.ids[:500], data.vectors[:500], data.categories[:500])
    query = data.vectors[0]
    expected = index.search(query, 10)
    # New items lie on the far side of the sphere: they never enter the query's top 10.
    far = -data.vectors[500:]
    errors, answers = [], []
    stop = threading.Event()

    def reader():
        try:
            while not stop.is_set():
                res = index.search(query, 10)
                answers.append(res.ids.tolist())
                cat = index.search(query, 5, category=int(data.categories[0]))
                assert np.all(data.categories[cat.ids] == data.categories[0])
        except BaseException as exc:  # surfaced by the assertion below
            errors.append(exc)

    def writer():
        try:
            for start in range(500, 1500, 50):  # 20 small adds, several of them resize the graph
                index.add(data.ids[start:start + 50], far[start - 500:start - 450], data.categories[start:start + 50])
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=reader) for _ in range(2)]
    for t in threads:
        t.start()
    w = threading.Thread(target=writer)
    w.start()
    w.join(timeout=60)
    stop.set()
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors
    assert not w.is_alive() and not any(t.is_alive() for t in threads)
    assert len(index) == 1500 and len(answers) > 0
    assert all(a == expected.ids.tolist() for a in answers)
    assert index.search(far[700], 1).ids[0] == 1200  # everything added is searchable afterwards
