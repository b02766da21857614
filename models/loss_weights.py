"""The weights of ADDE's training losses (ADDE supp. Eq. 1), torch-free so that method configs can hold them
without importing torch."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass
class ADDELossWeights:
    """Weights of supp. Eq. 1 (ADDE supp. Sec. 2)."""

    cls: float = 0.2  # w_cls, attribute classification
    lt: float = 1.0  # w_lt, label triplet
    ct: float = 1.0  # w_ct, compositional triplet
    c: float = 1.0  # w_c, consistency with the memory
    mem: float = 0.4  # w_mem, off-block L1 of the memory

    def combine(self, terms: Mapping[str, Any]) -> Any:
        """Weighted sum of the named terms present in ``terms`` (keys: cls, lt, ct, c, mem)."""
        unknown = sorted(set(terms) - {"cls", "lt", "ct", "c", "mem"})
        if unknown:
            raise ValueError(f"unknown loss term(s) {unknown}; expected cls, lt, ct, c, mem")
        return sum(getattr(self, name) * value for name, value in terms.items())
