"""Hook implementations of the lazy-containers plugin (entry point of group ``spatialdata_plugins``)."""
