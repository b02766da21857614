"""The trained ADDE-O head as the engine and the evaluator use it (ADDE supp. Sec. 1-2).

Ranking: for a query with ADDE chunks ``r_q`` and category ``c_q`` and target category ``c_t``:
``w = kappa(c_q, c_t)``, ``P = psi(n(chunks))`` for the query and the gallery, and
``D(q, g) = sum_a w[a] * ||P_q[a] - P_g[a]||^2``; smaller is more compatible. Training is in
``fashion_gui/training/outfit.py``.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from fashion_gui.inference.adde_model import ADDEModel
from fashion_gui.inference.checkpoint import Checkpoint, CheckpointError, load_checkpoint
from fashion_gui.workspace import Workspace
from models.outfit import OutfitCompatibilityHead

OUTFIT_METHOD = "adde-o"


def resolve_adde(workspace: Workspace, name: str) -> Path:
    p = Path(name)
    return p if p.is_dir() else workspace.checkpoints / name


class OutfitRetrieval:
    """A trained ADDE-O head for ranking a target category's items by compatibility with a query garment.

    ``adde_hash`` is the sha256 of the ADDE checkpoint's weights it was trained on; the engine must embed
    with that very ADDE model (``ADDEModel.from_checkpoint``) and refuse another.

    Ranking: for a query with ADDE chunks ``r_q`` (A_enc, d) and category ``c_q`` and target category
    ``c_t``: ``w = attention(c_q, c_t)``, ``P = project_chunks(chunks)`` for the query and the gallery, and
    ``D(q, g) = sum_a w[a] * ||P_q[a] - P_g[a]||^2`` (``distances``); smaller is more compatible.
    Equivalently the squared L2 distance between ``weighted(P, w)`` vectors (for an L2 index).
    """

    def __init__(self, head: OutfitCompatibilityHead, adde_hash: str, categories: list[str],
                 normalize_chunks: bool = True) -> None:
        self.head = head.eval()
        self.adde_hash = adde_hash
        self.categories = list(categories)
        self.normalize_chunks = bool(normalize_chunks)

    @classmethod
    def from_checkpoint(cls, checkpoint: Checkpoint, device: torch.device | str) -> OutfitRetrieval:
        cfg = checkpoint.config
        arch = cfg.get("architecture")
        if not isinstance(arch, dict) or "adde_checkpoint_hash" not in cfg:
            raise CheckpointError(f"{checkpoint.path} is not an ADDE-O checkpoint (method {checkpoint.method!r}); "
                                  "train one with `fashion train adde-o`")
        try:
            head = build_outfit_head(arch)
            categories, normalize = checkpoint.schema["categories"], arch["normalize_chunks"]
        except (KeyError, TypeError, ValueError) as exc:
            raise CheckpointError(f"{checkpoint.path / 'config.json'} does not describe an ADDE-O head "
                                  f"({type(exc).__name__}: {exc}); retrain with {checkpoint.retrain_hint}") from exc
        checkpoint.load_into(head, "head", checkpoint.weights(map_location=device))
        return cls(head.to(device), cfg["adde_checkpoint_hash"], categories, normalize)

    @property
    def device(self) -> torch.device:
        return next(self.head.parameters()).device

    @property
    def num_attributes(self) -> int:
        return self.head.num_attributes

    @torch.inference_mode()
    def project_chunks(self, chunks: np.ndarray, batch_size: int = 4096) -> np.ndarray:
        """ADDE chunks ``(N, A_enc, d)`` -> outfit representations ``P = psi(n(chunks))`` ``(N, A, d)`` float32."""
        chunks = np.asarray(chunks, dtype=np.float32)
        out = []
        for s in range(0, len(chunks), batch_size):
            x = torch.from_numpy(chunks[s:s + batch_size]).to(self.device)
            out.append(self.head.outfit_chunks(self._norm(x)).float().cpu())  # (b, A, d)
        return torch.cat(out).numpy() if out else np.zeros((0, self.num_attributes, self.head.d), np.float32)

    def _norm(self, chunks: torch.Tensor) -> torch.Tensor:
        return F.normalize(chunks, dim=2) if self.normalize_chunks else chunks

    @torch.inference_mode()
    def attention(self, ref_category: int, target_category: int) -> np.ndarray:
        """kappa's weights ``(A,)`` over attribute types for a (reference, target) category pair; sum 1."""
        ref = torch.tensor([int(ref_category)], device=self.device)
        tgt = torch.tensor([int(target_category)], device=self.device)
        return self.head.attention(ref, tgt)[0].float().cpu().numpy()

    def distances(self, query: np.ndarray, gallery: np.ndarray, weights: np.ndarray) -> np.ndarray:
        """``D`` between projected queries ``(Q, A, d)`` (or one ``(A, d)``) and a projected gallery ``(N, A, d)``
        with attention weights ``(A,)`` (or ``(Q, A)``) -> ``(Q, N)`` (or ``(N,)``)."""
        single = query.ndim == 2
        q = query[None] if single else query  # (Q, A, d)
        w = np.broadcast_to(np.asarray(weights, np.float32), (len(q), q.shape[1]))  # (Q, A)
        q_sq = np.einsum("qad,qad->qa", q, q)  # (Q, A)
        g_sq = np.einsum("nad,nad->na", gallery, gallery)  # (N, A)
        cross = np.einsum("qad,nad->qna", q, gallery)  # (Q, N, A)
        per_type = np.maximum(q_sq[:, None, :] + g_sq[None, :, :] - 2.0 * cross, 0.0)  # (Q, N, A)
        if not self.head.squared:
            per_type = np.sqrt(per_type)
        d = np.einsum("qna,qa->qn", per_type, w)  # (Q, N)
        return d[0] if single else d

    @staticmethod
    def weighted(projected: np.ndarray, weights: np.ndarray) -> np.ndarray:
        """``concat_a sqrt(w_a) P_a`` ``(N, A*d)``: squared L2 between these equals ``D`` (squared form, the
        default) for one category pair, so an exact L2 index over the target category's items ranks by ``D``."""
        return (np.sqrt(np.asarray(weights, np.float32))[None, :, None] * projected).reshape(len(projected), -1)


def build_outfit_head(arch: dict[str, Any]) -> OutfitCompatibilityHead:
    return OutfitCompatibilityHead(arch["num_categories"], len(arch["attribute_indices"]), d=arch["d"],
                                   attention_hidden=arch["attention_hidden"],
                                   attribute_indices=arch["attribute_indices"], squared=arch["squared"])


def load_outfit_pair(workspace: Workspace, checkpoint: Checkpoint, device: torch.device) -> tuple[OutfitRetrieval, ADDEModel]:
    """The ADDE-O head and the very ADDE model it was trained on; refuses a changed ADDE checkpoint."""
    outfit = OutfitRetrieval.from_checkpoint(checkpoint, device)
    path = Path(checkpoint.config["adde_checkpoint_path"])
    if not path.is_dir():
        path = resolve_adde(workspace, checkpoint.config["adde_checkpoint"])
    adde_ckpt = load_checkpoint(path, expected_schema=checkpoint.schema)
    if adde_ckpt.hash != outfit.adde_hash:
        raise CheckpointError(f"{checkpoint.path} was trained on another ADDE model than the one now in {path} "
                              "(weights hash differs); retrain it with `fashion train adde-o`")
    adde, _ = ADDEModel.from_checkpoint(adde_ckpt, device)
    return outfit, adde
