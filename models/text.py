"""Text side of composed retrieval: a word vocabulary and the Bi-GRU feedback encoder.

UIGR (Han et al., 2022), supplementary Sec. C "Implementation details": the interaction signal (user
feedback) is encoded by a Bi-GRU over word embeddings; REFERENCE.md (UIGR): word embeddings -> Bi-GRU
(hidden 1024 per direction) -> max over time -> Linear -> 512, captions at most 60 words.

* ``Vocabulary``: lowercase regex tokenizer (words and single punctuation marks), ``<pad>`` = 0,
  ``<unk>`` = 1, ``min_freq``; ``encode`` / ``encode_batch``; ``to_dict`` / ``from_dict`` for
  checkpoints; ``load_word_vectors`` reads a GloVe-style text file.
* ``TextEncoder``: embeddings -> packed Bi-GRU -> max over the valid time steps -> Linear.
"""

from __future__ import annotations

import math
import os
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, NamedTuple

import torch
from torch import nn

PAD_TOKEN = "<pad>"
UNK_TOKEN = "<unk>"
PAD_ID = 0
UNK_ID = 1
MAX_CAPTION_TOKENS = 60  # UIGR: captions are at most 60 words (REFERENCE.md)

# a run of letters/digits/underscore, or any single character that is neither a word character nor space
_TOKEN_RE = re.compile(r"\w+|[^\w\s]", re.UNICODE)


def tokenize(text: str) -> list[str]:
    """Lowercase and split into words and single punctuation marks.

    ``"Change colour to RED, please!"`` -> ``["change", "colour", "to", "red", ",", "please", "!"]``;
    ``"t-shirt"`` -> ``["t", "-", "shirt"]``.
    """
    return _TOKEN_RE.findall(text.lower())


class LoadedWordVectors(NamedTuple):
    weights: torch.Tensor  # (V, D) embedding matrix in vocabulary order; row <pad> = 0
    found: int  # vocabulary words (specials excluded) that the file provided
    dim: int  # D, the vector size of the file


class Vocabulary:
    """Word <-> id table with ``<pad>`` = 0 and ``<unk>`` = 1.

    Build it from training captions with ``Vocabulary.build(sentences, min_freq=...)``; words are ordered
    by decreasing frequency, ties alphabetically, so the same sentences always give the same ids.
    """

    def __init__(self, words: Iterable[str] = ()) -> None:
        self._itos: list[str] = [PAD_TOKEN, UNK_TOKEN]
        self._stoi: dict[str, int] = {PAD_TOKEN: PAD_ID, UNK_TOKEN: UNK_ID}
        for word in words:
            if word in self._stoi:
                continue
            self._stoi[word] = len(self._itos)
            self._itos.append(word)

    @classmethod
    def build(cls, sentences: Iterable[str], min_freq: int = 1, max_size: int | None = None) -> Vocabulary:
        """Vocabulary of the tokens occurring at least ``min_freq`` times in ``sentences``.

        ``max_size`` (optional) caps the number of words, special tokens excluded, keeping the most frequent.
        """
        if min_freq < 1:
            raise ValueError(f"min_freq must be >= 1, got {min_freq}")
        if max_size is not None and max_size < 0:
            raise ValueError(f"max_size must be >= 0 or None, got {max_size}")
        counts: Counter[str] = Counter()
        for sentence in sentences:
            counts.update(tokenize(sentence))
        for special in (PAD_TOKEN, UNK_TOKEN):
            counts.pop(special, None)
        kept = sorted((w for w, c in counts.items() if c >= min_freq), key=lambda w: (-counts[w], w))
        if max_size is not None:
            kept = kept[:max_size]
        return cls(kept)

    def __len__(self) -> int:
        return len(self._itos)

    def __contains__(self, word: object) -> bool:
        return word in self._stoi

    @property
    def words(self) -> list[str]:
        """All tokens in id order, specials first."""
        return list(self._itos)

    def token_id(self, word: str) -> int:
        return self._stoi.get(word, UNK_ID)

    def encode(self, text: str, max_len: int = MAX_CAPTION_TOKENS) -> list[int]:
        """Token ids of ``text``: unknown words -> ``<unk>``, truncated to ``max_len`` tokens.

        Text without any token (empty or whitespace only) encodes as a single ``<unk>``, so every caption
        has length >= 1 and the encoder never sees an empty sequence.
        """
        if max_len < 1:
            raise ValueError(f"max_len must be >= 1, got {max_len}")
        ids = [self.token_id(tok) for tok in tokenize(text)[:max_len]]
        return ids or [UNK_ID]

    def encode_batch(
        self,
        texts: Sequence[str],
        max_len: int = MAX_CAPTION_TOKENS,
        device: torch.device | str | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``(ids (B, L), lengths (B,))`` int64, right-padded with ``<pad>``; L = longest caption."""
        if len(texts) == 0:
            raise ValueError("encode_batch needs at least one text")
        encoded = [self.encode(t, max_len=max_len) for t in texts]
        lengths = torch.tensor([len(e) for e in encoded], dtype=torch.long)  # (B,)
        ids = torch.full((len(encoded), int(lengths.max())), PAD_ID, dtype=torch.long)  # (B, L)
        for row, e in enumerate(encoded):
            ids[row, : len(e)] = torch.tensor(e, dtype=torch.long)
        return ids.to(device), lengths.to(device)

    def decode(self, ids: Iterable[int]) -> list[str]:
        """Tokens of ``ids``, ``<pad>`` dropped."""
        out = []
        for i in ids:
            i = int(i)
            if not 0 <= i < len(self._itos):
                raise ValueError(f"token id {i} is outside the vocabulary (size {len(self._itos)})")
            if i != PAD_ID:
                out.append(self._itos[i])
        return out

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form saved beside checkpoints (``from_dict`` restores the same ids)."""
        return {"format": "fashion-vocabulary", "version": 1, "tokens": list(self._itos)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Vocabulary:
        tokens = data.get("tokens") if isinstance(data, Mapping) else None
        if not isinstance(tokens, list) or not all(isinstance(t, str) for t in tokens):
            raise ValueError("vocabulary data must be a mapping with a 'tokens' list of strings (from Vocabulary.to_dict)")
        if tokens[:2] != [PAD_TOKEN, UNK_TOKEN]:
            raise ValueError(f"vocabulary data must start with {PAD_TOKEN!r}, {UNK_TOKEN!r}; got {tokens[:2]}")
        if len(set(tokens)) != len(tokens):
            raise ValueError("vocabulary data lists a token twice; ids would be ambiguous")
        return cls(tokens[2:])

    def load_word_vectors(
        self,
        path: str | os.PathLike,
        dim: int | None = None,
        base: torch.Tensor | None = None,
        seed: int = 0,
    ) -> LoadedWordVectors:
        """Embedding matrix for this vocabulary from a GloVe-style text file ("word v1 v2 ... vD" per line).

        Rows of words found in the file take its vector (an exact match wins over a case-insensitive one);
        the other rows keep ``base`` (e.g. the encoder's current weights) or, without ``base``, are drawn
        from N(0, s^2) with s the standard deviation of the file's vectors. The ``<pad>`` row is zero.
        A word2vec-style header line "count dim" is skipped. ``dim`` (if given) is the size the caller
        needs; any line with another number of values raises a ValueError naming the file and line.
        """
        path = os.fspath(path)
        if not os.path.isfile(path):
            raise FileNotFoundError(f"word-vector file not found: {path}")
        if base is not None and (base.dim() != 2 or base.shape[0] != len(self)):
            raise ValueError(f"base must be ({len(self)}, D) for this vocabulary, got {tuple(base.shape)}")
        if dim is not None and base is not None and int(base.shape[1]) != dim:
            raise ValueError(f"dim={dim} disagrees with base's width {base.shape[1]}")
        expected = dim if dim is not None else (int(base.shape[1]) if base is not None else None)
        exact: dict[int, list[float]] = {}
        folded: dict[int, list[float]] = {}
        with open(path, encoding="utf-8", errors="replace") as handle:
            for line_no, line in enumerate(handle, 1):
                parts = line.rstrip("\n").rstrip().split(" ")
                if not parts or parts == [""]:
                    continue
                if line_no == 1 and len(parts) == 2 and all(p.isdigit() for p in parts):
                    continue  # word2vec text header "count dim"
                word, values = parts[0], parts[1:]
                if expected is None:
                    expected = len(values)
                    if expected == 0:
                        raise ValueError(f"{path}, line {line_no}: no vector values after the word {word!r}")
                if len(values) != expected:
                    raise ValueError(
                        f"{path}, line {line_no}: word {word!r} has {len(values)} values but {expected} are expected "
                        f"(the embedding size). Use a word-vector file of dimension {expected} or set the "
                        "encoder's word dimension to the file's."
                    )
                idx = self._stoi.get(word)
                target = exact
                if idx is None:
                    idx, target = self._stoi.get(word.lower()), folded
                if idx is None or idx == PAD_ID or idx in target:
                    continue
                try:
                    target[idx] = [float(v) for v in values]
                except ValueError as exc:
                    raise ValueError(f"{path}, line {line_no}: non-numeric vector value for {word!r} ({exc})") from exc
        if expected is None:
            raise ValueError(f"{path} holds no word vectors")
        rows = {**folded, **exact}
        if base is not None:
            weights = base.detach().to(dtype=torch.float32, device="cpu").clone()  # (V, D)
        else:
            found_vectors = torch.tensor(list(rows.values()), dtype=torch.float32) if rows else None
            std = float(found_vectors.std()) if found_vectors is not None and found_vectors.numel() > 1 else 1.0
            if not math.isfinite(std) or std <= 0.0:
                std = 1.0
            generator = torch.Generator().manual_seed(seed)
            weights = torch.randn(len(self), expected, generator=generator) * std  # (V, D)
        for idx, vec in rows.items():
            weights[idx] = torch.tensor(vec, dtype=torch.float32)
        weights[PAD_ID] = 0.0
        found = sum(1 for idx in rows if idx != UNK_ID)
        return LoadedWordVectors(weights=weights, found=found, dim=expected)


class TextEncoder(nn.Module):
    """Feedback encoder: embeddings -> Bi-GRU -> max over time (padding masked) -> Linear (UIGR supp. Sec. C).

    Sequences are packed (``pack_padded_sequence``), so the GRU never reads padding, and the max runs only
    over each caption's valid steps: the output does not depend on how much padding follows a caption.

    Args:
        vocab_size: number of token ids (``len(vocabulary)``).
        word_dim: word-embedding size (300 for GloVe; 512 for CLIP token embeddings as in UIGR).
        hidden_dim: GRU hidden size per direction (1024 in UIGR; small for the CPU demo).
        out_dim: output feature size (512 in UIGR).
        num_layers / dropout: GRU depth and inter-layer dropout.
    """

    def __init__(
        self,
        vocab_size: int,
        word_dim: int = 300,
        hidden_dim: int = 1024,
        out_dim: int = 512,
        num_layers: int = 1,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        if vocab_size < 2:
            raise ValueError(f"vocab_size must be >= 2 (<pad> and <unk>), got {vocab_size}")
        self.vocab_size = int(vocab_size)
        self.word_dim = int(word_dim)
        self.hidden_dim = int(hidden_dim)
        self.out_dim = int(out_dim)
        self.embedding = nn.Embedding(self.vocab_size, self.word_dim, padding_idx=PAD_ID)
        self.gru = nn.GRU(
            self.word_dim,
            self.hidden_dim,
            num_layers=num_layers,
            batch_first=True,
            bidirectional=True,
            dropout=dropout if num_layers > 1 else 0.0,
        )
        self.fc = nn.Linear(2 * self.hidden_dim, self.out_dim)

    def init_word_embeddings(self, weights: torch.Tensor, freeze: bool = False) -> None:
        """Copy a ``(vocab_size, word_dim)`` matrix (e.g. ``Vocabulary.load_word_vectors(...).weights``)."""
        expected = (self.vocab_size, self.word_dim)
        if tuple(weights.shape) != expected:
            raise ValueError(
                f"word-embedding matrix must be {expected} (vocab_size, word_dim), got {tuple(weights.shape)}; "
                "build the encoder with the vocabulary's size and the word-vector file's dimension"
            )
        with torch.no_grad():
            self.embedding.weight.copy_(weights.to(self.embedding.weight))
        self.embedding.weight.requires_grad_(not freeze)

    def run_gru(self, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Bi-GRU states ``(B, L, 2H)`` over the packed captions; steps past each length are zero."""
        if ids.dim() != 2:
            raise ValueError(f"ids must be (B, L), got {tuple(ids.shape)}")
        lengths_cpu = lengths.detach().to("cpu", torch.long)  # pack_padded_sequence wants CPU lengths
        if lengths_cpu.shape != (ids.shape[0],):
            raise ValueError(f"lengths must be ({ids.shape[0]},), got {tuple(lengths.shape)}")
        if bool((lengths_cpu < 1).any()) or bool((lengths_cpu > ids.shape[1]).any()):
            raise ValueError(
                f"every length must be in [1, {ids.shape[1]}] (got {lengths_cpu.tolist()}); "
                "encode empty captions as a single <unk> (Vocabulary.encode does)"
            )
        embedded = self.embedding(ids)  # (B, L, E)
        packed = nn.utils.rnn.pack_padded_sequence(embedded, lengths_cpu, batch_first=True, enforce_sorted=False)
        states, _ = self.gru(packed)
        states, _ = nn.utils.rnn.pad_packed_sequence(states, batch_first=True, total_length=ids.shape[1])
        return states  # (B, L, 2H)

    def forward(self, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """``ids (B, L)`` int64, ``lengths (B,)`` -> text feature ``(B, out_dim)``."""
        states = self.run_gru(ids, lengths)  # (B, L, 2H)
        steps = torch.arange(ids.shape[1], device=states.device)  # (L,)
        valid = steps.unsqueeze(0) < lengths.to(states.device).unsqueeze(1)  # (B, L)
        states = states.masked_fill(~valid.unsqueeze(-1), float("-inf"))  # (B, L, 2H)
        pooled = states.max(dim=1).values  # (B, 2H)
        return self.fc(pooled)  # (B, out_dim)
