"""``python -m brainvit_effnet.cli``: the command, as ``torchrun -m`` launches it."""

import sys

from . import main

if __name__ == "__main__":  # importing this module (docs tools, test collectors) runs nothing
    sys.exit(main())
