"""Kodi starts this file when the profile loads and stops it on abort (see addon.xml)."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "resources", "lib"))

from kodibridge.service import run  # importable thanks to the path above

run()
