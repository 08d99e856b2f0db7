"""sunup: run an Upsun application on one machine, exactly as the platform would."""

__version__ = "0.1.0"
