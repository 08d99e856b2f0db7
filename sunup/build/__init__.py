"""Building an app once, as the platform does (spec §3, step 1).

    tree      which files make the build, and the PLATFORM_TREE_ID that names it
    toolchain the language of `type:` (a virtual environment for python:*, node for nodejs:*)
    builder   copy the source, install `dependencies`, run `hooks.build`, keep the output

A build is reused when its tree id (source files + build-visible configuration) is unchanged.
"""
