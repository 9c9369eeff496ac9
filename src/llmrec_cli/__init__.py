"""llmrec: reproduce and run LLM-enhanced recommenders (RLMRec, CLLM4Rec) from the command line."""

__version__ = "0.1.0"
