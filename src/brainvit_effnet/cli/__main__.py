"""``python -m brainvit_effnet.cli``: the command, as ``torchrun -m`` launches it."""

import sys

from . import main

sys.exit(main())
