"""``python -m eventsnn.cli ...`` (e.g. ``torchrun --nproc_per_node 2 -m eventsnn.cli train``)."""

import sys

from eventsnn.cli import main

sys.exit(main())
