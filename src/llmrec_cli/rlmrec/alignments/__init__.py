"""RLMRec's alignments, one module each: none (base), con (RLMRec-Con), gen (RLMRec-Gen), kar (the KAR baseline).

Each module defines ALIGNMENT, an :class:`~llmrec_cli.rlmrec.alignments.base.Alignment` subclass; the registry
(rlmrec/registry.py) finds them by module name, so adding an alignment is one new module here plus a section of the
same name in each backbone's config (configs/rlmrec/<backbone>.toml) that supports it.
"""
