"""probes: the small library job code imports to emit side-effect confirmation spans."""
