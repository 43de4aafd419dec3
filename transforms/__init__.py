"""Per-record logic of textshards: readers, decoding, cleaning, writers.

Text logic lives in plain functions (testable without Beam); the Beam DoFns and
PTransforms around them are thin.
"""
