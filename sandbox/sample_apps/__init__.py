"""Sample SMART apps the sandbox serves itself, so every launch in the tour opens an app that answers."""
