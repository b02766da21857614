"""``fashion catalog demo|import|info|export``."""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from PIL import Image

from fashion_gui.catalog.demo.builder import DemoConfig, build_demo
from fashion_gui.catalog.demo.render import contact_sheet
from fashion_gui.catalog.export import export_adde
from fashion_gui.catalog.importers import CsvImportOptions, import_csv
from fashion_gui.catalog.store import Catalog
from fashion_gui.cli.progress import ProgressBar
from fashion_gui.workspace import Workspace


def add_workspace_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--workspace", "-w", default=None,
                        help="workspace folder (default: the demo workspace in your user data directory)")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("catalog", help="build, import, inspect and export catalogs")
    cmds = p.add_subparsers(dest="catalog_command", required=True, metavar="ACTION")

    d = cmds.add_parser("demo", help="render the procedural demo catalog")
    add_workspace_arg(d)
    defaults = DemoConfig()
    d.add_argument("--items", type=int, default=defaults.items, help=f"images (default {defaults.items})")
    d.add_argument("--views", type=int, default=defaults.views, help=f"photos per product (default {defaults.views})")
    d.add_argument("--size", type=int, default=defaults.size, help=f"image side in px (default {defaults.size})")
    d.add_argument("--seed", type=int, default=defaults.seed)
    d.add_argument("--difficulty", choices=("easy", "default", "hard"), default=defaults.difficulty)
    d.add_argument("--workers", type=int, default=0, help="render processes (default: one per core)")
    d.add_argument("--force", action="store_true", help="replace an existing catalog")
    d.add_argument("--quiet", action="store_true", help="no progress bar")
    d.set_defaults(func=cmd_demo)

    i = cmds.add_parser("import", help="import a dataset into a new catalog")
    add_workspace_arg(i)
    i.add_argument("--format", choices=("csv", "inshop", "asen"), default="csv",
                   help="csv: images + a CSV; inshop: a DeepFashion In-Shop folder (list_eval_partition.txt, "
                        "boxes, attributes); asen: an ASEN dataset folder (FashionAI, DARN, DeepFashion splits)")
    i.add_argument("source", type=Path, help="the CSV file (columns: path, category, one per attribute), the "
                                             "In-Shop folder, or the ASEN folder (meta.json, filenames_*, "
                                             "label_train, query_*, candidate_*)")
    i.add_argument("--no-crop", action="store_true", help="inshop: keep the photographs uncropped")
    i.add_argument("--val-fraction", type=float, default=0.1, help="inshop: training items made the val split")
    i.add_argument("--images", type=Path, default=None, help="folder the path column is relative to")
    i.add_argument("--schema", type=Path, default=None, help="JSON attribute schema to validate values against")
    i.add_argument("--no-image-check", action="store_true", help="skip opening every image")
    i.add_argument("--force", action="store_true", help="replace an existing catalog")
    i.set_defaults(func=cmd_import)

    n = cmds.add_parser("info", help="print counts")
    add_workspace_arg(n)
    n.add_argument("--json", action="store_true", help="machine-readable output")
    n.set_defaults(func=cmd_info)

    c = cmds.add_parser("sheet", help="write a contact sheet PNG of catalog images")
    add_workspace_arg(c)
    c.add_argument("--out", type=Path, required=True, help="PNG file to write")
    c.add_argument("--count", type=int, default=40, help="number of images (spread over categories)")
    c.add_argument("--columns", type=int, default=10)
    c.add_argument("--thumb", type=int, default=120, help="thumbnail side in pixels")
    c.set_defaults(func=cmd_sheet)

    e = cmds.add_parser("export", help="export the catalog for other implementations")
    add_workspace_arg(e)
    e.add_argument("--format", choices=("adde",), default="adde")
    e.add_argument("--out", type=Path, required=True, help="output folder")
    e.set_defaults(func=cmd_export)


def cmd_demo(args: argparse.Namespace) -> int:
    ws = Workspace.at(args.workspace)
    config = DemoConfig(items=args.items, views=args.views, size=args.size, seed=args.seed,
                        difficulty=args.difficulty, workers=args.workers)
    bar = ProgressBar(enabled=not args.quiet)
    start = time.perf_counter()
    try:
        counts = build_demo(ws, config, force=args.force, progress=bar)
    finally:
        bar.close()
    elapsed = time.perf_counter() - start
    print(f"demo catalog: {counts['items']} images of {counts['instances']} products, "
          f"{counts['outfits']} outfits, {counts['feedback_triplets']} feedback triplets, "
          f"{counts['manipulation_queries']} manipulation queries in {elapsed:.1f} s -> {ws.root}")
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    ws = Workspace.at(args.workspace)
    if args.format == "inshop":
        from fashion_gui.catalog.inshop import InShopOptions, import_inshop  # noqa: PLC0415

        counts = import_inshop(ws, args.source, InShopOptions(crop=not args.no_crop, val_fraction=args.val_fraction),
                               force=args.force)
        print(f"imported {counts['items']} In-Shop images of {counts['instances']} items in {counts['categories']} "
              f"categories -> {ws.catalog_path}")
        return 0
    if args.format == "asen":
        from fashion_gui.catalog.asen_import import import_asen  # noqa: PLC0415

        counts = import_asen(ws, args.source, force=args.force, check_images=not args.no_image_check)
        print(f"imported {counts['items']} items with {counts['attribute_types']} attribute types and the "
              f"dataset's query / candidate sets -> {ws.catalog_path}")
        return 0
    options = CsvImportOptions(images_root=args.images, schema_path=args.schema,
                               check_images=not args.no_image_check)
    counts = import_csv(ws, args.source, options, force=args.force)
    print(f"imported {counts['items']} items in {counts['categories']} categories with "
          f"{counts['attribute_types']} attribute types -> {ws.catalog_path}")
    return 0


def cmd_info(args: argparse.Namespace) -> int:
    ws = Workspace.at(args.workspace)
    with Catalog.open(ws.catalog_path) as catalog:
        counts = catalog.counts()
        schema = catalog.schema
    if args.json:
        print(json.dumps(counts, indent=2))
        return 0
    print(f"workspace: {ws.root}")
    for key in ("items", "instances", "categories", "attribute_types", "attribute_values", "outfits",
                "feedback_triplets", "manipulation_queries"):
        print(f"  {key:22s} {counts[key]}")
    print("  splits                 " + ", ".join(f"{k} {v}" for k, v in counts["splits"].items()))
    for t in schema.types:
        scope = ", ".join(t.categories) if t.categories else "all categories"
        print(f"  - {t.name} ({len(t.values)}: {', '.join(t.values)}) [{scope}]")
    return 0


def cmd_sheet(args: argparse.Namespace) -> int:
    ws = Workspace.at(args.workspace)
    with Catalog.open(ws.catalog_path) as catalog:
        per_category = [catalog.ids(category=c) for c in catalog.schema.categories]
        picked: list[int] = []
        for rank in range(args.count):  # round-robin over categories, first photograph of each product
            ids = per_category[rank % len(per_category)]
            views = catalog.instances_of(ids) if len(ids) else []
            firsts = [int(i) for n, i in enumerate(ids) if n == 0 or views[n] != views[n - 1]]
            k = rank // len(per_category)
            if k < len(firsts):
                picked.append(firsts[(k * 7) % len(firsts)])
        images = []
        for item_id in picked:
            with Image.open(ws.resolve_image(catalog.image_paths([item_id])[0])) as im:
                images.append(im.convert("RGB").resize((args.thumb, args.thumb), Image.LANCZOS))
        labels = [" ".join(v for k, v in catalog.item(i).attributes.items() if k in ("colour", "pattern", "category"))
                  for i in picked]
    sheet = contact_sheet(images, args.columns, labels)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    # 256-colour palette: a sheet for a README stays a few hundred kB
    sheet.quantize(256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).save(args.out, optimize=True)
    print(f"wrote {args.out} ({len(images)} images)")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    ws = Workspace.at(args.workspace)
    written = export_adde(ws, args.out)
    print(f"wrote ADDE split files to {args.out}: " + ", ".join(f"{k} ({v})" for k, v in written.items()))
    return 0
