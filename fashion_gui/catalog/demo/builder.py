"""Build the demo workspace: render the products, then write the catalog with outfits, feedback and queries.

Everything is deterministic for a seed. Images are rendered into a temporary folder, which becomes
``images/demo-<build>/`` (a name no catalog uses yet); the catalog, written into a temporary file that
references those images, then replaces ``catalog.sqlite`` in one rename: the commit point. The previous
build's images are removed only after it, so a crash at any moment leaves the old workspace or the new one,
whole (catalog/writer.py). One build at a time per workspace.
"""
from __future__ import annotations

import itertools
import math
import os
import shutil
import uuid
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np

from fashion_gui.atomic import crash_point, fsync_dir, fsync_tree, make_temp_dir, naming
from fashion_gui.catalog.attribute_protocol import write_drawn_protocol
from fashion_gui.catalog.demo.outfits import sample_outfits
from fashion_gui.catalog.demo.products import Product, sample_products
from fashion_gui.catalog.demo.render import render_garment
from fashion_gui.catalog.demo.schema import DEMO_SCHEMA
from fashion_gui.catalog.demo.spec import Difficulty, GarmentSpec, ViewSpec
from fashion_gui.catalog.feedback import tgr_text, vcr_text
from fashion_gui.catalog.queries import manipulation_queries
from fashion_gui.catalog.store import Catalog, CatalogError, ItemRecord
from fashion_gui.catalog.writer import DEMO_IMAGE_PREFIX, catalog_writer, drop_derived, remove_old_images
from fashion_gui.workspace import Workspace

Progress = Callable[[str, int, int], None]  # (stage, done, total)

# Attribute types a VCR sentence may mention about the target (UIGR: the style-bearing ones).
VCR_MENTION_TYPES = ("colour", "pattern", "texture", "fit", "length", "sleeve")


@dataclass(frozen=True)
class DemoConfig:
    """Size and look of the demo catalog; the defaults render in well under 30 s on 2 cores."""

    items: int = 1800                      # images in the catalog (products x views)
    views: int = 3                         # photographs per product (instance retrieval needs >= 2)
    size: int = 128                        # image side in pixels
    seed: int = 0
    difficulty: str = "default"            # easy | default | hard (see Difficulty)
    split_fractions: tuple[float, float, float] = (0.6, 0.1, 0.3)  # train / val / test, by product family
    outfits_per_product: float = 0.6       # outfits drawn per product of a split
    tgr_pairs_per_product: int = 4         # cap on TGR targets per reference product
    workers: int = field(default=0, compare=False)  # render processes; 0 = one per core

    def __post_init__(self) -> None:
        if self.items < 50:
            raise ValueError(f"the demo catalog needs at least 50 items, got {self.items}")
        if self.views < 1:
            raise ValueError("views must be at least 1")
        if self.size < 32:
            raise ValueError(f"image size must be at least 32 px, got {self.size}")
        Difficulty.named(self.difficulty)


def _render_chunk(jobs: list[tuple[GarmentSpec, ViewSpec, int, str]]) -> int:
    for spec, view, size, path in jobs:
        render_garment(spec, view, size).save(path, quality=92)
    return len(jobs)


def render_products(products: list[Product], out_dir: Path, size: int, workers: int,
                    progress: Progress | None = None) -> dict[tuple[str, int], str]:
    """Render every view of every product into ``out_dir``; returns (instance, view) -> file name."""
    names = {(p.instance_id, v): f"{p.instance_id}_v{v}.jpg" for p in products for v in range(len(p.views))}
    jobs = [(p.spec, view, size, str(out_dir / names[(p.instance_id, v)]))
            for p in products for v, view in enumerate(p.views)]
    chunks = [jobs[i:i + 32] for i in range(0, len(jobs), 32)]
    done = 0
    workers = workers or os.cpu_count() or 1
    if workers == 1:
        for chunk in chunks:
            done += _render_chunk(chunk)
            if progress:
                progress("render", done, len(jobs))
    else:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            for n in pool.map(_render_chunk, chunks):
                done += n
                if progress:
                    progress("render", done, len(jobs))
    return names


def assign_splits(products: list[Product], fractions: tuple[float, float, float],
                  rng: np.random.Generator) -> dict[int, str]:
    """Family id -> split; a family (and so every view of every product) lives in one split."""
    families = sorted({p.family_id for p in products})
    order = rng.permutation(len(families))
    n_train = int(round(fractions[0] * len(families)))
    n_val = int(round(fractions[1] * len(families)))
    out = {}
    for rank, idx in enumerate(order):
        out[families[idx]] = "train" if rank < n_train else "val" if rank < n_train + n_val else "test"
    return out


def _changes(ref: dict[str, str], tgt: dict[str, str]) -> list[tuple[str, str]]:
    return [(t.name, tgt[t.name]) for t in DEMO_SCHEMA.types if t.name in tgt and ref.get(t.name) != tgt[t.name]]


def tgr_triplets(products: list[Product], split_of: dict[str, str], item_of: dict[tuple[str, int], int],
                 cap: int, rng: np.random.Generator) -> list[tuple[int, int, str, str, str]]:
    """Same-category pairs differing in 0-2 attributes, within a split, with UIGR TGR sentences."""
    by_group: dict[tuple[str, str], list[Product]] = defaultdict(list)
    for p in products:
        by_group[(split_of[p.instance_id], p.spec.category)].append(p)
    rows = []
    for (split, _), group in sorted(by_group.items()):
        for ref in group:
            candidates = [(len(c), tgt) for tgt in group if tgt is not ref
                          for c in [_changes(ref.spec.attributes, tgt.spec.attributes)] if 1 <= len(c) <= 2]
            # family members first (one change), then the closest other products
            candidates.sort(key=lambda ct: (ct[1].family_id != ref.family_id, ct[0], ct[1].instance_id))
            chosen = [tgt for _, tgt in candidates[:cap]]
            if len(ref.views) > 1 and rng.random() < 0.1:
                chosen.append(ref)  # "there are no changes between two images": another photo of it
            for tgt in chosen:
                changes = _changes(ref.spec.attributes, tgt.spec.attributes)
                if len(changes) == 2 and rng.random() < 0.5:
                    changes.reverse()
                rv = int(rng.integers(len(ref.views)))
                tv = int(rng.integers(len(tgt.views)))
                if tgt is ref:
                    tv = (rv + 1 + int(rng.integers(len(ref.views) - 1))) % len(ref.views)
                text = tgr_text(changes, DEMO_SCHEMA, rng)
                rows.append((item_of[(ref.instance_id, rv)], item_of[(tgt.instance_id, tv)], text, "TGR", split))
    return rows


def vcr_triplets(outfits: list[tuple[str, list[tuple[Product, int]]]], split: str,
                 item_of: dict[tuple[str, int], int], rng: np.random.Generator) -> list[tuple[int, int, str, str, str]]:
    """Every ordered pair of an outfit's pieces, with a UIGR VCR sentence (half mention a target attribute)."""
    rows = []
    for _style, pieces in outfits:
        for (ref, rv), (tgt, tv) in itertools.permutations(pieces, 2):
            mention = None
            if rng.random() < 0.5:
                names = [n for n in VCR_MENTION_TYPES if n in tgt.spec.attributes]
                name = names[int(rng.integers(len(names)))]
                mention = (name, tgt.spec.attributes[name])
            text = vcr_text(ref.spec.category, tgt.spec.category, rng, mention, DEMO_SCHEMA)
            rows.append((item_of[(ref.instance_id, rv)], item_of[(tgt.instance_id, tv)], text, "VCR", split))
    return rows


def build_demo(workspace: Workspace, config: DemoConfig = DemoConfig(), *, force: bool = False,
               progress: Progress | None = None) -> dict:
    """Render and write the demo catalog into ``workspace``; returns the catalog counts."""
    if workspace.exists() and not force:
        raise CatalogError(f"{workspace.catalog_path} already exists; use --force to rebuild the demo catalog")
    difficulty = Difficulty.named(config.difficulty)
    rng = np.random.default_rng(config.seed)
    n_products = math.ceil(config.items / config.views)
    products = sample_products(n_products, config.views, difficulty, config.seed)
    surplus = n_products * config.views - config.items  # the last product gets fewer photographs
    if surplus:
        products[-1] = replace(products[-1], views=products[-1].views[: config.views - surplus])
    family_split = assign_splits(products, config.split_fractions, rng)
    split_of = {p.instance_id: family_split[p.family_id] for p in products}

    with catalog_writer(workspace):
        return _build(workspace, config, products, split_of, rng, progress)


def _build(workspace: Workspace, config: DemoConfig, products: list[Product], split_of: dict[str, str],
           rng: np.random.Generator, progress: Progress | None) -> dict:
    """Render into a staged folder, move it to ``images/demo-<build>/``, then commit the catalog that
    references it (the rename of catalog.sqlite); the old images go only after that (module docstring)."""
    build = f"{DEMO_IMAGE_PREFIX}{uuid.uuid4().hex[:10]}"
    final_images = workspace.images / build
    staged = make_temp_dir(workspace.images, "images")
    committed = False
    try:
        with naming(staged):
            names = render_products(products, staged, config.size, config.workers, progress)
            fsync_tree(staged)
        crash_point("demo:rendered")
        with naming(final_images):
            os.rename(staged, final_images)
        fsync_dir(workspace.images)
        crash_point("demo:images_in_place")
        records, keys = [], []
        for p in products:
            for v in range(len(p.views)):
                records.append(ItemRecord(
                    image_path=f"images/{build}/{names[(p.instance_id, v)]}", category=p.spec.category,
                    instance_id=p.instance_id, split=split_of[p.instance_id],
                    attributes=p.spec.attributes, source="demo",
                ))
                keys.append((p.instance_id, v))
        if progress:
            progress("catalog", 0, 1)
        # the old catalog's gallery features and indexes must not serve the new one: dropped just before it lands
        with Catalog.build(workspace.catalog_path, DEMO_SCHEMA, name="demo", overwrite=True,
                           before_commit=lambda: drop_derived(workspace)) as catalog:
            ids = catalog.add_items(records)
            item_of = dict(zip(keys, ids))
            feedback = tgr_triplets(products, split_of, item_of, config.tgr_pairs_per_product, rng)
            for split in ("train", "val", "test"):
                in_split = [p for p in products if split_of[p.instance_id] == split]
                n_outfits = int(round(config.outfits_per_product * len(in_split)))
                drawn = sample_outfits(in_split, n_outfits, rng)
                with_views = [(style, [(p, int(rng.integers(len(p.views)))) for p in pieces]) for style, pieces in drawn]
                catalog.add_outfits([([item_of[(p.instance_id, v)] for p, v in pieces], split, style)
                                     for style, pieces in with_views])
                feedback += vcr_triplets(with_views, split, item_of, rng)
            catalog.add_feedback(feedback)
            for split in ("val", "test"):
                catalog.add_manipulation_queries(manipulation_queries(catalog, split))
            write_drawn_protocol(catalog, config.seed)  # ASEN / MODC's per-attribute query / candidate sets
            _write_meta(catalog, config)
            counts = catalog.counts()
        committed = True  # the rename of catalog.sqlite above is the commit point
        remove_old_images(workspace, keep=build)
        if progress:
            progress("catalog", 1, 1)
        return counts
    finally:
        if not committed:  # an exception (not a crash): the old workspace stays exactly as it was
            shutil.rmtree(staged, ignore_errors=True)
            shutil.rmtree(final_images, ignore_errors=True)


def _write_meta(catalog: Catalog, config: DemoConfig) -> None:
    catalog.set_meta("demo_config", {k: v for k, v in asdict(config).items() if k != "workers"})
