"""``python -m helpers.checks`` (``bash course.sh check``): every local check, one line each."""
import sys

from . import main

sys.exit(main())
