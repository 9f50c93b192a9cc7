"""Hook implementations of the points-index plugin (entry point ``points-index`` of group ``spatialdata_plugins``)."""
