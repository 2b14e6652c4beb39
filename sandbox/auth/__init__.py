"""SMART App Launch 2.2 authorization server."""
