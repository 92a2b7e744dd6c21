import sys

from impl.ingest.command import main

sys.exit(main())
