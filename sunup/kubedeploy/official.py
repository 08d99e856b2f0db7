"""`Cluster` with the official `kubernetes` client (an optional dependency: `sunup[kubernetes]`).

The typed API classes are called with `_preload_content=False`, so objects stay plain JSON (no
model classes, no unknown-field losses) and the calls are the same across client versions.
Connection settings come from the kubeconfig (`$KUBECONFIG`, else ~/.kube/config; `--context`
picks a context), or from the pod's service account inside a cluster.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from sunup.errors import RuntimeFailure
from sunup.kubedeploy.cluster import ClusterError, Ref, kind_info

#: API group/version -> the client's class for it.
API_CLASSES = {
    "v1": "CoreV1Api",
    "apps/v1": "AppsV1Api",
    "batch/v1": "BatchV1Api",
    "networking.k8s.io/v1": "NetworkingV1Api",
}
FIELD_MANAGER = "sunup"


def _snake(kind: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", kind).lower()


def connect(context: str | None = None) -> OfficialCluster:
    """A cluster from the kubeconfig (its `context`, else the current one), or from the pod's
    service account when there is no kubeconfig and this runs in a pod."""
    try:
        import kubernetes
    except ImportError:
        raise RuntimeFailure(
            "sunup deploy --to kubernetes needs the official Kubernetes client",
            hint="pip install 'sunup[kubernetes]' (or pip install kubernetes)",
        ) from None
    from kubernetes.config.config_exception import ConfigException

    try:
        client = kubernetes.config.new_client_from_config(context=context)  # type: ignore[no-untyped-call]
    except ConfigException as exc:
        if context is None:
            try:
                kubernetes.config.load_incluster_config()  # type: ignore[no-untyped-call]
                return OfficialCluster(kubernetes.client.ApiClient())
            except ConfigException:
                pass
        raise RuntimeFailure(
            f"cannot read the cluster's settings: {exc}",
            hint="set KUBECONFIG (or write ~/.kube/config); `kubectl config get-contexts` lists the contexts",
        ) from None
    return OfficialCluster(client)


class OfficialCluster:
    def __init__(self, api_client: Any) -> None:
        import kubernetes

        self._client = api_client
        self._kubernetes = kubernetes
        self._apis: dict[str, Any] = {}

    @property
    def host(self) -> str:
        return str(self._client.configuration.host)

    def _method(self, ref: Ref, verb: str) -> tuple[Callable[..., Any], list[Any]]:
        """The client's method for `verb` on `ref`'s kind, and its leading arguments."""
        api_version, _plural, namespaced = kind_info(ref)
        name = API_CLASSES[api_version]
        if name not in self._apis:
            self._apis[name] = getattr(self._kubernetes.client, name)(self._client)
        api = self._apis[name]
        kind = _snake(ref.kind)
        if namespaced:
            method = getattr(api, f"{verb}_namespaced_{kind}")
            leading: list[Any] = [ref.namespace] if verb in ("create", "list") else [ref.name, ref.namespace]
        else:
            method = getattr(api, f"{verb}_{kind}")
            leading = [] if verb in ("create", "list") else [ref.name]
        return method, leading

    def _call(self, ref: Ref, action: str, verb: str, *args: Any, **kwargs: Any) -> Any:
        from kubernetes.client.exceptions import ApiException
        from urllib3.exceptions import HTTPError

        method, leading = self._method(ref, verb)
        try:
            response = method(*leading, *args, _preload_content=False, **kwargs)
        except ApiException as exc:
            raise ClusterError(ref, action, exc.status, _api_reason(exc)) from None
        except HTTPError as exc:
            raise ClusterError(ref, action, None, f"cannot reach the API server at {self.host}: {exc}") from None
        data = response.data
        return json.loads(data) if data else {}

    def read(self, ref: Ref) -> dict[str, Any] | None:
        try:
            found: dict[str, Any] = self._call(ref, "reading", "read")
        except ClusterError as exc:
            if exc.status == 404:
                return None
            raise
        return found

    def list(self, kind: str, namespace: str, selector: str) -> list[dict[str, Any]]:
        ref = Ref(kind, namespace, "")
        found = self._call(ref, "listing", "list", label_selector=selector)
        return list(found.get("items") or [])

    def create(self, obj: dict[str, Any]) -> dict[str, Any]:
        made: dict[str, Any] = self._call(Ref.of(obj), "creating", "create", obj)
        return made

    def apply(self, obj: dict[str, Any]) -> dict[str, Any]:
        applied: dict[str, Any] = self._call(
            Ref.of(obj),
            "applying",
            "patch",
            obj,
            field_manager=FIELD_MANAGER,
            force=True,
            _content_type="application/apply-patch+yaml",
        )
        return applied

    def patch(self, ref: Ref, patch: dict[str, Any]) -> dict[str, Any]:
        patched: dict[str, Any] = self._call(
            ref, "patching", "patch", patch, _content_type="application/merge-patch+json"
        )
        return patched

    def delete(self, ref: Ref) -> None:
        try:
            self._call(ref, "deleting", "delete", propagation_policy="Background")
        except ClusterError as exc:
            if exc.status != 404:
                raise


def _api_reason(exc: Any) -> str:
    """The API's own message (its Status object), else the HTTP reason."""
    try:
        status = json.loads(exc.body)
        return str(status.get("message") or exc.reason)
    except (TypeError, ValueError, AttributeError):
        return str(exc.reason)
