import sys

from albert_fast.cli import main

sys.exit(main())
