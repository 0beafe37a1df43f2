"""``python -m auditor`` is ``audit``."""

import sys

from auditor.cli.main import main

sys.exit(main())
