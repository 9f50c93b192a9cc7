"""Option names shared by the API and the command line (a light module: the CLI imports it at start-up)."""

TRANSFORMS = ("translation", "rigid", "similarity", "affine")
REGISTRATION_METHODS = ("phase_correlation", "antspy", "elastix")
FUSION_METHODS = ("weighted_average", "average", "max")
