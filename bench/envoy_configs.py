"""Envoy configurations for `make bench`, built as dicts (dumped to YAML).

Every front listener forwards to the same upstream: a `direct_response`
listener in the same Envoy process, so each configuration pays exactly the
same upstream hop and differs only in how `authorization` is attached.
"""

from __future__ import annotations

import json
from pathlib import Path

HCM = "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager"
ROUTER = {
    "name": "envoy.filters.http.router",
    "typed_config": {"@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"},
}
# A placeholder credential of the same length as a fake-claude access token
# (so header writes are comparable), deliberately not token-shaped.
STATIC_BEARER = "Bearer bench-placeholder-static-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"

# The four hot-path configurations, in round order.
CONFIGS = ["baseline", "native", "floor", "claude_wif"]
# Measured in the same rounds to split claude-wif's cost over the floor: the
# floor filter making only the host calls the contract requires on every
# request (the same calls as claude-wif's cache hit), without any logic.
PROFILES = ["floor_required"]
LABELS = {
    "baseline": "baseline (request_headers_to_add)",
    "native": "native (credential_injector)",
    "floor": "proxy-wasm floor",
    "claude_wif": "claude-wif (warm cache)",
    "floor_required": "floor + the contract's host calls",
    "claude_wif_compare": "claude-wif, the --compare-wasm build (warm cache)",
}


def _address(port: int) -> dict:
    return {"socket_address": {"address": "127.0.0.1", "port_value": port}}


def _cluster(name: str, port: int) -> dict:
    return {
        "name": name,
        "type": "STATIC",
        "connect_timeout": "1s",
        "load_assignment": {
            "cluster_name": name,
            "endpoints": [{"lb_endpoints": [{"endpoint": {"address": _address(port)}}]}],
        },
    }


def _listener(name: str, port: int, http_filters: list, route: dict, route_extra: dict | None = None) -> dict:
    vhost_route = {"match": {"prefix": "/"}, **route}
    vhost_route.update(route_extra or {})
    return {
        "name": name,
        "address": _address(port),
        "filter_chains": [
            {
                "filters": [
                    {
                        "name": "envoy.filters.network.http_connection_manager",
                        "typed_config": {
                            "@type": HCM,
                            "stat_prefix": name,
                            "route_config": {
                                "name": name,
                                "virtual_hosts": [{"name": name, "domains": ["*"], "routes": [vhost_route]}],
                            },
                            "http_filters": [*http_filters, ROUTER],
                        },
                    }
                ]
            }
        ],
    }


def _wasm_filter(name: str, wasm: Path, configuration: dict | None) -> dict:
    config = {
        "name": name,
        "root_id": name,
        "failure_policy": "FAIL_CLOSED",
        "vm_config": {
            "vm_id": name,
            "runtime": "envoy.wasm.runtime.v8",
            "code": {"local": {"filename": str(wasm)}},
        },
    }
    if configuration is not None:
        config["configuration"] = {
            "@type": "type.googleapis.com/google.protobuf.StringValue",
            "value": configuration if isinstance(configuration, str) else json.dumps(configuration),
        }
    return {
        "name": name,
        "typed_config": {"@type": "type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm", "config": config},
    }


def claude_wif_plugin(**overrides) -> dict:
    plugin = {
        "issuer_cluster": "issuer_svc",
        "issuer_authority": "issuer-svc",
        "token_path": "/v1/token",
        "timeout_ms": 5000,
        "server_workload": "api.anthropic.com",
        "identity": {"source": "static", "value": "spiffe://cluster.local/ns/demo/sa/app"},
        "advisory_refresh_s": 120,
        "mandatory_refresh_s": 30,
    }
    plugin.update(overrides)
    return plugin


def front_listener(
    kind: str,
    port: int,
    *,
    filter_wasm: Path,
    floor_wasm: Path,
    plugin: dict | None = None,
    compare_wasm: Path | None = None,
) -> dict:
    """One front listener of configuration `kind`, forwarding to `upstream`."""
    route = {"route": {"cluster": "upstream", "timeout": "30s"}}
    if kind == "baseline":
        extra = {
            "request_headers_to_add": [
                {
                    "header": {"key": "authorization", "value": STATIC_BEARER},
                    "append_action": "OVERWRITE_IF_EXISTS_OR_ADD",
                }
            ]
        }
        return _listener(kind, port, [], route, extra)
    if kind == "native":
        injector = {
            "name": "envoy.filters.http.credential_injector",
            "typed_config": {
                "@type": "type.googleapis.com/envoy.extensions.filters.http.credential_injector.v3.CredentialInjector",
                "overwrite": True,
                "credential": {
                    "name": "envoy.http.injected_credentials.generic",
                    "typed_config": {
                        "@type": "type.googleapis.com/envoy.extensions.http.injected_credentials.generic.v3.Generic",
                        "credential": {"name": "bench_credential"},
                        "header": "authorization",
                    },
                },
            },
        }
        return _listener(kind, port, [injector], route)
    if kind == "floor":
        return _listener(kind, port, [_wasm_filter("bench_floor", floor_wasm, None)], route)
    if kind == "floor_required":
        return _listener(kind, port, [_wasm_filter("bench_floor_required", floor_wasm, "required")], route)
    if kind == "claude_wif":
        return _listener(kind, port, [_wasm_filter("claude_wif", filter_wasm, plugin or claude_wif_plugin())], route)
    if kind == "claude_wif_compare" and compare_wasm is not None:
        # Its own VM (vm_id), so its own shared data: warmed by its own first request.
        filt = _wasm_filter("claude_wif_compare", compare_wasm, plugin or claude_wif_plugin())
        return _listener(kind, port, [filt], route)
    raise ValueError(kind)


def envoy_config(
    *,
    admin_port: int,
    upstream_port: int,
    front: dict[str, int],
    issuer_port: int | None,
    filter_wasm: Path,
    floor_wasm: Path,
    plugin: dict | None = None,
    compare_wasm: Path | None = None,
) -> dict:
    """A whole Envoy: admin, the direct_response upstream listener, and one
    front listener per entry of `front` (kind → port)."""
    upstream = _listener("upstream", upstream_port, [], {"direct_response": {"status": 200, "body": {"inline_string": "ok"}}})
    listeners = [upstream] + [
        front_listener(
            kind, port, filter_wasm=filter_wasm, floor_wasm=floor_wasm, plugin=plugin, compare_wasm=compare_wasm
        )
        for kind, port in front.items()
    ]
    clusters = [_cluster("upstream", upstream_port)]
    if issuer_port is not None:
        clusters.append(_cluster("issuer_svc", issuer_port))
    return {
        "admin": {"address": _address(admin_port)},
        "static_resources": {
            "secrets": [{"name": "bench_credential", "generic_secret": {"secret": {"inline_string": STATIC_BEARER}}}],
            "listeners": listeners,
            "clusters": clusters,
        },
    }
