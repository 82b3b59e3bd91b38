"""`python -m evals` (`./run eval`): score the AI agent's decisions, print accuracy per category."""

import os
import sys

from evals.run import main

if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    os._exit(code)  # no temporalio here, but the same exit as the other CLI scripts
