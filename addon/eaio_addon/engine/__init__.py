"""The engine: forecasting, thermal model, optimizers and savings verification.

Pure functions on numpy arrays and dataclasses. Imports nothing from the agents, the LLM,
Home Assistant or the network.
"""
