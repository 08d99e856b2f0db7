"""sunup inside a container: the entrypoint that runs one instance of the plan (docs/kubernetes.md).

sunup run-instance --app APP --group GROUP [--index N]

entrypoint  loads the plan from the image, makes the instance's spec as `sunup up` does
            (`sunup.supervisor.launch.SpecMaker`) and supervises it with the same
            `Supervisor`: `.environment`, restarts with backoff, SIGTERM then SIGKILL of the
            whole tree after 15 s, output on stdout in app.log's layout
init        PID 1's duties: reaps orphaned zombies, forwards SIGTERM / SIGINT / SIGHUP
forwarder   the pod's port (0.0.0.0:8080) to the app's PORT on 127.0.0.1 (or its SOCKET)
record      what the image's build left for run time: the app folder and its toolchain
"""
