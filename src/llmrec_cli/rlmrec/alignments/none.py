"""The base variant: the backbone alone (BPR and its own losses), no profile vectors."""

from llmrec_cli.rlmrec.alignments.base import Alignment

ALIGNMENT = Alignment
