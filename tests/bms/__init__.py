"""Tests of the protocol layer, without Home Assistant."""
