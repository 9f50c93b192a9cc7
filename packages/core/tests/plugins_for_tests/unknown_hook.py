"""A plugin implementing a hook the core does not define."""

from spatialdata_plugins.core import hookimpl


@hookimpl
def sdp_no_such_hook(x):
    return x
