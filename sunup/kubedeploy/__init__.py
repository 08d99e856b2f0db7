"""`sunup deploy --to kubernetes`: the platform's deploy sequence, played against a cluster.

Kubernetes applies objects; it never waits for a running cron, runs a hook once per build, or
holds traffic back until the hook has run. This client-side choreography does (spec
`kubernetes.md`, docs/kubernetes.md):

    cluster       the API as a Protocol: read, list, create, apply, patch, delete plain dicts
    official      that Protocol with the official `kubernetes` client (kubeconfig, --context)
    fake          a fake API server: a real HTTP server on loopback that records the calls and
                  plays the controllers (rollouts, Jobs, cron Jobs) enough for the choreography
    secrets       Secrets renamed by a hash of their content, and the pod templates pointing at
                  them (pure): a changed credential rolls the pods that use it
    choreography  the steps, in order, with progress lines and failures naming object and step
"""
