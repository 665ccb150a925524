"""``python -m zypp_plugin_klp.cli.klp``: the klp command."""

import sys

from . import main

sys.exit(main())
