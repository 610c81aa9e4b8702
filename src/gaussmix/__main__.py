"""``python -m gaussmix``: the ``gaussmix`` command line."""

from gaussmix.cli import main

if __name__ == "__main__":
    main(prog_name="gaussmix")
