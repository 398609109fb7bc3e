import sys

from generator.cli import main

# Guarded: a Dask LocalCluster starts its workers by spawning Python, which imports this
# module again under another name; only the command itself runs the command line.
if __name__ == "__main__":
    sys.exit(main())
