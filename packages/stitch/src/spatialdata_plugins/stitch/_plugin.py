"""Hook implementations of the stitch plugin (entry point ``stitch`` of group ``spatialdata_plugins``)."""
