"""Hook implementations of the density plugin (entry point ``density`` of group ``spatialdata_plugins``)."""
