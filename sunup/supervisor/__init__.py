"""The supervisor: runs every web and worker instance of a plan as supervised processes.

    lifecycle   states, inputs, actions, the transition table and the pure `step()`
    backoff     the restart policy (immediate, then exponential with jitter, capped, never gives up)
    runner      one instance's processes, driven by `step()` on event-loop callbacks
    supervisor  every runner, observers, waiting for states
    launch      what an instance runs (script, environment, folder) from the plan
    child       spawning a process (own session, PDEATHSIG, pidfd, one output pipe)
    logcapture  whole, timestamped lines into app.log; trimming at 100 MB
    console     foreground output prefixed with instance names
    daemon      one supervisor process: lock, isolation, services, control socket, signals
    services    the servers of the plan's services, supervised like instances
    statedir    the state folder and the one-supervisor lock

Errors are `sunup.errors.RuntimeFailure` (and `sunup.isolation.IsolationError` under it).
"""
