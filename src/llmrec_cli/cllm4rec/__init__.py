"""CLLM4Rec (Zhu et al., WWW'24) on any local causal LM, plus the Multi-VAE and most-popular baselines it is
compared with.

Heavy dependencies (transformers, gguf) are imported lazily, inside the functions that load a backbone.
"""
