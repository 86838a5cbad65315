"""Data sets: the paper's synthetic simulation data (loaders for case studies go here)."""

from awd_jax.data.simulation import detail_lengths, simulate, simulation_target

__all__ = ["detail_lengths", "simulate", "simulation_target"]
