import sys

from logwharf.cli import main

sys.exit(main())
