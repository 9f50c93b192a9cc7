"""Hook implementations of the icechunk plugin (entry point ``icechunk`` of group ``spatialdata_plugins``)."""
