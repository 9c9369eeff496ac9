"""RLMRec-Con (docs/methods/rlmrec.md §5.2): InfoNCE between each CF vector and the MLP-projected (down to the CF
width) semantic vector of the same node."""

from __future__ import annotations

import torch

from llmrec_cli.rlmrec.alignments.base import Alignment, Semantic, mlp, precision_of, wide_products
from llmrec_cli.rlmrec.backbones.base import Batch, infonce_indexed


class ConAlignment(Alignment):
    """RLMRec-Con (docs/methods/rlmrec.md §5.2). sigma_down: d_s -> (d_s + d_out)//2 -> d_out.

    L_con = [InfoNCE(e_u, p_u, all I projected users) + InfoNCE(e_pos, p_pos, the B projected positives)
             + InfoNCE(e_neg, p_neg, the B projected negatives)] / B, candidates keeping duplicates; returned times
    kd_weight. ``use_negatives`` false (AutoCF_plus) drops the third term; it defaults to hp["use_negatives"] or true.
    """

    name = "con"
    weight_key = "kd_weight"
    needs_embeddings = True
    defaults = {"align_precision": "fp32", "use_negatives": True}

    def __init__(self, sem_dim: int, out_dim: int, hp: dict, use_negatives: bool | None = None):
        super().__init__()
        self.kd_weight = float(hp["kd_weight"])
        self.kd_temperature = float(hp["kd_temperature"])
        self.use_negatives = bool(hp.get("use_negatives", True) if use_negatives is None else use_negatives)
        self.precision = precision_of(hp)
        self.down = mlp(sem_dim, out_dim, (sem_dim + out_dim) // 2)

    def loss(self, final: torch.Tensor, batch: Batch, sem_users: torch.Tensor, sem_items: torch.Tensor) -> torch.Tensor:
        n_users, b, t = sem_users.shape[0], batch.users.numel(), self.kd_temperature
        # Project only the rows the loss reads: every user (the anchor candidates) and the batch's distinct items;
        # the MLP is row-wise, so this equals projecting everything and indexing.
        items = torch.cat([batch.pos, batch.neg]) if self.use_negatives else batch.pos
        uniq, where = torch.unique(items, return_inverse=True)
        with wide_products(self.precision, final.device):
            p_users, p_items = self.down(sem_users).float(), self.down(sem_items[uniq]).float()[where]
        e_users, e_items = final[batch.users], final[n_users + items]
        rows = torch.arange(b, device=final.device)  # positive k of the pos/neg terms is candidate k
        loss = infonce_indexed(e_users, p_users, batch.users, t)
        loss = loss + infonce_indexed(e_items[:b], p_items[:b], rows, t)
        if self.use_negatives:
            loss = loss + infonce_indexed(e_items[b:], p_items[b:], rows, t)
        return self.kd_weight * loss / b

    @classmethod
    def build(cls, hp: dict, *, ego_dim: int, out_dim: int, sem_dim: int) -> "ConAlignment":
        return cls(sem_dim, out_dim, hp)

    def alignment_loss(self, final: torch.Tensor, batch: Batch, context, sem: Semantic) -> torch.Tensor:
        return self.loss(final, batch, sem.users, sem.items)


ALIGNMENT = ConAlignment
