"""memberwise: member-marketing ML for omni-channel retail brands."""

__version__ = "0.1.0"
