"""Reading pickles without running code from them.

``pickle.load`` calls whatever callable a file names, so a crafted ``trn_mat.pkl`` or ``usr_prf.pkl`` could run
any code. :func:`load` resolves only the classes it is allowed (none by default: dicts, lists, strings and numbers
need no class at all) and refuses a file that names anything else, before anything is built.
"""

from __future__ import annotations

import io
import pickle
from pathlib import Path

from llmrec_cli.errors import LLMRecError

# What a pickled numpy array or scalar needs (numpy 1.x and 2.x module names).
NUMPY = frozenset(
    {
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy.core.multiarray", "scalar"),
        ("numpy._core.multiarray", "scalar"),
        ("numpy.core.numeric", "_frombuffer"),
        ("numpy._core.numeric", "_frombuffer"),
        ("_codecs", "encode"),  # protocol 2 stores bytes as codecs.encode(text, "latin1")
    }
)

# What a pickled scipy sparse matrix needs (RLMRec/SSLRec's trn_mat.pkl ...), old and new scipy module names.
SCIPY_SPARSE = (
    NUMPY
    | frozenset(
        (f"scipy.sparse{sub}", f"{fmt}_{kind}")
        for fmt in ("csr", "csc", "coo")
        for sub in (f"._{fmt}", f".{fmt}", "")
        for kind in ("matrix", "array")
    )
    | frozenset({("copyreg", "_reconstructor"), ("builtins", "object")})
)


class _Restricted(pickle.Unpickler):
    def __init__(self, fh, allowed: frozenset, path: Path):
        super().__init__(fh)
        self.allowed, self.path = allowed, path

    def find_class(self, module: str, name: str):
        if (module, name) not in self.allowed:
            raise LLMRecError(
                f"{self.path}: refused: this pickle would build {module}.{name}, which a data file never needs "
                "(nothing from it was run); convert the data to Parquet, CSV or JSON lines"
            )
        return super().find_class(module, name)


def load(path: Path | str, allowed: frozenset = frozenset()) -> object:
    """Unpickle ``path`` allowing only the ``(module, name)`` pairs in ``allowed``; every failure is one clear error."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise LLMRecError(f"{path}: cannot read ({exc.strerror})") from None
    try:
        return _Restricted(io.BytesIO(data), allowed, path).load()
    except LLMRecError:
        raise
    except RecursionError:
        raise LLMRecError(f"{path}: nested too deeply to read as data") from None
    except Exception as exc:  # truncated or not a pickle: UnpicklingError, EOFError, ValueError ...
        raise LLMRecError(
            f"{path}: not a readable pickle ({type(exc).__name__}: {str(exc)[:120]}); is the file complete?"
        ) from None
