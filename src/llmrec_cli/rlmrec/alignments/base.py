"""The contract of an alignment: what the trainer asks of Con, Gen, KAR and the base (no alignment) alike.

An alignment is a module trained with the backbone (the trainer's L2 term covers its parameters,
docs/methods/rlmrec.md §3.2). Per step the trainer calls ``ego`` (the table every pass propagates: KAR widens it),
then ``training_ego`` (Gen masks rows of it), runs the backbone's loss, and adds ``alignment_loss`` when it is not
None. Evaluation propagates ``ego`` alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any, ClassVar

import torch
from torch import nn

from llmrec_cli.errors import LLMRecError

PRECISIONS = ("fp32", "bf16")


@dataclass(frozen=True)
class Semantic:
    """The profile vectors on the training device: users (I, d_s) and items (J, d_s)."""

    users: torch.Tensor
    items: torch.Tensor

    @cached_property
    def unit_pool(self) -> torch.Tensor:
        """Users then items in one (I+J, d_s) table, rows L2-normalised (Gen's pool, indexed like the ego table);
        made once per training, as the vectors never change."""
        return torch.nn.functional.normalize(torch.cat([self.users, self.items]), dim=1)


class Alignment(nn.Module):
    """Subclasses set the class attributes and override what they change; the defaults are the base variant's."""

    name: ClassVar[str] = "none"
    # the setting that weights the alignment term: at 0 the run keeps the variant's other settings without the
    # term (the weight-0 control, run id suffix -w0)
    weight_key: ClassVar[str | None] = None
    needs_embeddings: ClassVar[bool] = False
    # settings the alignment reads that a backbone's config section need not set, with their defaults
    defaults: ClassVar[dict[str, Any]] = {}

    @classmethod
    def build(cls, hp: dict, *, ego_dim: int, out_dim: int, sem_dim: int) -> "Alignment":
        """The module for these hyperparameters: ``ego_dim`` is the ID table's width, ``out_dim`` the backbone's final
        representation's, ``sem_dim`` the profile vectors'."""
        return cls()

    def ego(self, ego: torch.Tensor, sem: Semantic | None) -> torch.Tensor:
        """The (I+J, ...) table the backbone propagates, in training and evaluation."""
        return ego

    def training_ego(self, ego: torch.Tensor, generator: torch.Generator) -> tuple[torch.Tensor, Any]:
        """The table of one training step and what ``alignment_loss`` needs to know about it."""
        return ego, None

    def alignment_loss(self, final: torch.Tensor, batch, context: Any, sem: Semantic | None) -> torch.Tensor | None:
        """The weighted alignment term of one step (None: no term)."""
        return None

    def switched_off(self) -> bool:
        """Whether the term's weight (``weight_key``, kept as an attribute of that name) is 0: the weight-0 control,
        whose term is exactly 0 and whose gradient is exactly 0, so the trainer need not compute it."""
        return self.weight_key is not None and float(getattr(self, self.weight_key)) == 0.0


def precision_of(hp: dict) -> str:
    """hp["align_precision"]: fp32 (default, as the paper) or bf16 (the wide matrix products in bfloat16 autocast)."""
    precision = str(hp.get("align_precision", "fp32"))
    if precision not in PRECISIONS:
        raise LLMRecError(f"align_precision {precision!r}: choose fp32 or bf16")
    return precision


def wide_products(precision: str, device: torch.device):
    """Autocast for the products with the semantic width (the MLP layers, Gen's similarity matrix): bf16 halves
    their memory traffic and uses the bf16 units of recent CPUs and GPUs; losses and softmaxes stay in fp32."""
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=precision == "bf16")


def mlp(d_in: int, d_out: int, hidden: int) -> nn.Sequential:
    """Linear -> LeakyReLU(0.01) -> Linear, xavier_uniform weights, PyTorch-default biases
    (docs/methods/rlmrec.md §3.2)."""
    net = nn.Sequential(nn.Linear(d_in, hidden), nn.LeakyReLU(0.01), nn.Linear(hidden, d_out))
    for layer in (net[0], net[2]):
        nn.init.xavier_uniform_(layer.weight)
    return net
