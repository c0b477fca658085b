"""micon: Cell Painting image representations learned with compound structures as treatments (MICON)."""

__version__ = "0.1.0"
