"""The control interface of a running supervisor: a Unix socket speaking line-delimited JSON.

Split like gunicorn's ctl: `protocol` (messages and their encoding), `handlers` (what each
command does to the supervisor), `server` (the asyncio socket server) and `client` (what the CLI
and the `sv` / `systemctl` shims use). The protocol is documented in docs/control-protocol.md.
"""
