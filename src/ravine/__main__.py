"""``python -m ravine`` is the ``ravine`` command."""

from .cli import main

raise SystemExit(main())
