"""``python -m iflearn.grading [grade] SUBMISSIONS --key KEY --out gradebook.csv``."""

import sys

from iflearn.grading.cli import main

sys.exit(main())
