"""RLMRec-Gen's loss computed directly: the M x d_s lift of the masked nodes, normalised, times the profile vectors
(GenAlignment.loss before it went through the last layer's associativity). The reference of
tests/rlmrec/test_alignments.py and benchmarks/gen_loss.py; outputs in the inputs' dtype (the old code's .float(), so
that float64 runs stay float64)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from llmrec_cli.rlmrec.alignments.base import wide_products
from llmrec_cli.rlmrec.alignments.gen import GenAlignment


def direct_gen_loss(
    gen: GenAlignment, final: torch.Tensor, idx: torch.Tensor, sem_users: torch.Tensor, sem_items: torch.Tensor
) -> torch.Tensor:
    n_users = sem_users.shape[0]
    users, items = idx[idx < n_users], idx[idx >= n_users]
    sem = torch.cat([sem_users[users], sem_items[items - n_users]])
    s = F.normalize(sem, dim=1)
    with wide_products(gen.precision, final.device):
        z = F.normalize(gen.up(final[torch.cat([users, items])]).to(final.dtype), dim=1)
        logits = (z @ s.T).to(final.dtype) / gen.re_temperature
    mole = torch.exp((z * s).sum(1) / gen.re_temperature)
    deno = torch.exp(logits).sum(1)
    return gen.recon_weight * -torch.log(mole / (deno + 1e-8) + 1e-8).mean()
