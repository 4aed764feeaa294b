"""EAIO's protocol layer: points, device profiles, decoding, request planning and clients.

Nothing in this package imports Home Assistant; the integration wraps it.
"""
