"""codif: coding free-text business activity descriptions into the 732 NAF rév. 2 subclasses.

The reference machine-learning project of Sardonyx, after Insee's "codification APE".
"""

__version__ = "0.1.0"
