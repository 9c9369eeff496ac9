"""The one exception type a user should ever see: a clear, one-line, actionable message."""


class LLMRecError(Exception):
    """Bad input or a failed precondition. The CLI prints the message on one line and exits with code 2.

    Messages name the file, column, row or option at fault and say how to fix it.
    """

    exit_code = 2

    def __init__(self, message: str):
        super().__init__(" ".join(str(message).split()))
