"""Mounts (spec §4): each instance sees its app folder read-only and its mounts as writable folders.

    layout = open_layout(state_root, plan)        # mode: mount / user namespace, or none (warning)
    mounts = layout.instance(group, index, app_dir)
    prepare(mounts)                               # folders, mount points (or the view) exist
    Popen(helper_argv(mounts.helper, mounts.namespace, argv), cwd=mounts.app_dir)
    Popen(argv, cwd=mounts.app_dir, preexec_fn=child_setup(mounts.namespace))   # without a helper
    enter(mounts.namespace)                       # `sunup ssh`: the same namespace, in-process

Modules: `volumes` (pure: where each mount's folder is, who shares it), `namespace` (the
syscalls of a mount or user namespace), `helper` (the same in a small C program, exec'd through
vfork: the fast path), `probe` (what this machine allows), `views` (the fallback without
namespaces: symlinks), `layout` (the chooser, per-instance mounts, wiping `tmp`).
docs/mounts.md tells users the rules.

Errors::

    RuntimeFailure (sunup.errors)
     └── MountError   a mount cannot be set up, or a forced SUNUP_NAMESPACES mode is refused here
"""

from sunup.mounts.helper import helper_argv
from sunup.mounts.layout import ENV_VARIABLE, InstanceMounts, MountError, MountLayout, open_layout, prepare
from sunup.mounts.namespace import Bind, Mode, NamespaceSetup, child_setup, enter
from sunup.mounts.probe import probe
from sunup.mounts.volumes import Volume, host_folder, instance_volumes, shared_by

__all__ = [
    "ENV_VARIABLE",
    "Bind",
    "InstanceMounts",
    "Mode",
    "MountError",
    "MountLayout",
    "NamespaceSetup",
    "Volume",
    "child_setup",
    "enter",
    "helper_argv",
    "host_folder",
    "instance_volumes",
    "open_layout",
    "prepare",
    "probe",
    "shared_by",
]
