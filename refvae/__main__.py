import sys

from refvae.cli import main

sys.exit(main())
