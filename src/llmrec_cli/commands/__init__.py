"""The command-line commands, one module per stage (see llmrec_cli/cli.py for how they are assembled)."""
