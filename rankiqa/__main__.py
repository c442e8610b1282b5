"""``python -m rankiqa``: same as the ``rankiqa`` command."""

import sys

from rankiqa.cli import main

sys.exit(main())
