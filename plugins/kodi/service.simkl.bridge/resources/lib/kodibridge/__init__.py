"""The logic of the Simkl Bridge service addon. Only `player` and `service` import Kodi's modules."""
