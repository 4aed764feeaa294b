"""``python -m eaio_addon``: run the add-on (see ``eaio_addon.cli``)."""

from .cli import main

main()
