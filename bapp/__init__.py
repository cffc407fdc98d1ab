"""bapp: a self-hosted backend that speaks the Parse Server protocol."""

__version__ = "0.1.0"
