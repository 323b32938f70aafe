"""Version of the mlmtools package."""

__version__ = "0.1.0"
