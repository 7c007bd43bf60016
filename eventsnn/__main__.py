import sys

from eventsnn.cli import main

sys.exit(main())
