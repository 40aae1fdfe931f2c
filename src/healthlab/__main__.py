"""Run the command line with ``python -m healthlab``."""

from healthlab.cli import main

if __name__ == "__main__":
    main()
