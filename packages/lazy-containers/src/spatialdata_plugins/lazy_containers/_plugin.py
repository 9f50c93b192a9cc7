"""Hook implementations of the lazy-containers plugin (entry point ``lazy-containers`` of group ``spatialdata_plugins``)."""
