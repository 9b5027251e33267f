"""Entry point of ``make bench``; the benchmark modules are listed in ``bench.runner``."""

from bench.runner import main

raise SystemExit(main())
