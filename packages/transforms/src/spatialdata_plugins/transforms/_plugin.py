"""Hook implementations of the transforms plugin (entry point ``transforms`` of group ``spatialdata_plugins``)."""
