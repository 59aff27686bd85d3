"""`issuer-svc register` and fake-claude's federation Admin API.

- The official `anthropic` SDK's organization federation client (issuers,
  rules and their workspaces, service accounts) works against fake-claude.
- From an empty organization, `register --write` creates everything and
  verifies; a request through Envoy then succeeds with the registered
  objects; a second run changes nothing; a rule edited by hand shows up as a
  difference in `--dry-run`.
- A provider without `workspace_id`: register finds the default workspace's
  tagged id (never sends `default` to the Admin API), grants the service
  account `workspace_developer` there explicitly, and a request through
  Envoy succeeds.
"""

from __future__ import annotations

import anthropic
import pytest

from harness import Envoy
from register_support import ADMIN_TOKEN, EmptyOrgClaude, UnregisteredIssuer


@pytest.fixture
def org(tmp_path):
    claude = EmptyOrgClaude(tmp_path, issuer_url="unused").start()
    yield claude
    claude.stop()


def admin_client(claude) -> anthropic.Anthropic:
    return anthropic.Anthropic(auth_token=ADMIN_TOKEN, base_url=claude.url, max_retries=0)


def default_workspace_id(client: anthropic.Anthropic) -> str:
    """The workspace listed only with include_default=true (the SDK's way)."""
    workspaces = client.organization.workspaces
    others = {w.id for w in workspaces.list()}
    (only,) = [w.id for w in workspaces.list(include_default=True) if w.id not in others]
    return only


def test_official_sdk_manages_issuers_rules_and_service_accounts(org):
    client = admin_client(org)
    federation = client.organization.federation

    issuer = federation.issuers.create(
        name="sdk-issuer", issuer_url="http://127.0.0.1:1/providers/sdk", jwks={"type": "discovery"}
    )
    assert issuer.id.startswith("fdis_") and issuer.type == "federation_issuer"
    assert (issuer.check_jti, issuer.max_jwt_lifetime_seconds, issuer.jwks.type) == (True, 3600, "discovery")
    for n in range(3):
        federation.issuers.create(name=f"extra-{n}", issuer_url=f"http://127.0.0.1:1/providers/{n}")
    first = federation.issuers.list(limit=2)
    assert len(first.data) == 2 and first.next_page
    names = [i.name for i in federation.issuers.list(limit=2)]  # auto-paginates
    assert names == ["sdk-issuer", "extra-0", "extra-1", "extra-2"]
    updated = federation.issuers.update(issuer.id, max_jwt_lifetime_seconds=7200)
    assert federation.issuers.retrieve(issuer.id).max_jwt_lifetime_seconds == 7200 == updated.max_jwt_lifetime_seconds

    with pytest.raises(anthropic.ConflictError):
        federation.issuers.create(name="sdk-issuer", issuer_url="http://127.0.0.1:1/other")
    with pytest.raises(anthropic.BadRequestError, match="issuer_url"):
        federation.issuers.create(name="plain-http", issuer_url="http://issuer.example.com")

    account = client.organization.service_accounts.create(name="sdk-account", description="e2e")
    assert account.id.startswith("svac_") and account.organization_role == "developer"
    member = client.organization.service_accounts.workspaces.add(
        account.id, workspace_id="wrkspc_demo", workspace_role="workspace_developer"
    )
    assert member.workspace_id == "wrkspc_demo"
    default_id = default_workspace_id(client)
    assert default_id.startswith("wrkspc_")
    members = [m.workspace_id for m in client.organization.service_accounts.workspaces.list(account.id)]
    assert members == [default_id, "wrkspc_demo"]
    assert [a.id for a in client.organization.service_accounts.list()] == [account.id]

    target = {"type": "service_account", "service_account_id": account.id}
    with pytest.raises(anthropic.BadRequestError, match="match.subject_prefix"):
        federation.rules.create(
            name="wild", issuer_id=issuer.id, match={"subject_prefix": "*"},
            oauth_scope="workspace:developer", target=target, workspace_id="wrkspc_demo",
        )
    rule = federation.rules.create(
        name="sdk-rule", issuer_id=issuer.id, match={"subject_prefix": "spiffe://cluster.local/ns/demo/*"},
        oauth_scope="workspace:developer", target=target, workspace_id="wrkspc_demo",
        token_lifetime_seconds=900,
    )
    assert rule.id.startswith("fdrl_") and rule.workspace_ids == ["wrkspc_demo"]
    assert rule.match.subject_prefix == "spiffe://cluster.local/ns/demo/*"
    assert rule.target.service_account_name == "sdk-account" and rule.issuer_name == "sdk-issuer"
    with pytest.raises(anthropic.BadRequestError, match="workspace_id"):
        federation.rules.workspaces.add(rule.id, workspace_id="default")
    federation.rules.workspaces.add(rule.id, workspace_id=default_id)
    assert [w.workspace_id for w in federation.rules.workspaces.list(rule.id)] == ["wrkspc_demo", default_id]
    federation.rules.workspaces.remove(default_id, federation_rule_id=rule.id)
    assert [r.id for r in federation.rules.list(issuer_id=issuer.id)] == [rule.id]

    with pytest.raises(anthropic.BadRequestError, match="archive them first"):
        federation.issuers.archive(issuer.id)
    archived = federation.rules.archive(rule.id)
    assert archived.archived_at is not None and archived.workspace_ids == []
    assert federation.rules.list().data == []
    assert [r.id for r in federation.rules.list(include_archived=True)] == [rule.id]
    assert federation.issuers.archive(issuer.id).archived_at is not None

    with pytest.raises(anthropic.AuthenticationError):
        anthropic.Anthropic(auth_token="sk-ant-oat01-not-admin", base_url=org.url, max_retries=0) \
            .organization.federation.issuers.list()


def test_register_from_an_empty_organization_then_a_request_through_envoy(tmp_path, org):
    issuer = UnregisteredIssuer(tmp_path, claude_url=org.url)
    issuer.write_config()

    first = issuer.register("--write")
    (tmp_path / "register-first-run.txt").write_text(first.stdout)
    assert first.returncode == 0, first.stdout + first.stderr
    assert first.stdout.count("  create     ") == 4, first.stdout
    assert first.stdout.endswith("Verified successfully: scope workspace:developer, token lifetime 3600s\n")
    written = issuer.config_path.read_text()
    assert "workspace_id    = \"wrkspc_demo\"   # the rule covers this workspace" in written
    assert "federation_rule_id = \"fdrl_" in written and "service_account_id = \"svac_" in written

    issuer.start()
    envoy = None
    try:
        envoy = Envoy(tmp_path, claude_port=org.port, issuer_port=issuer.internal_port).start()
        reply = envoy.messages()
        assert reply.status == 200, reply.body
        assert org.counters()["requests_with_valid_token"] == 1

        second = issuer.register()
        assert second.returncode == 0, second.stdout
        assert second.stdout.count("  unchanged  ") == 4, second.stdout
        assert "everything is already registered: nothing changed." in second.stdout

        federation = admin_client(org).organization.federation
        rule = next(iter(federation.rules.list()))
        federation.rules.update(rule.id, match={"subject_prefix": "spiffe://cluster.local/ns/demo/*"})
        dry = issuer.register("--dry-run")
        assert dry.returncode == 0, dry.stdout
        assert f"  differs    federation rule `claude-demo` ({rule.id})" in dry.stdout
        assert ('match.subject_prefix: Claude has "spiffe://cluster.local/ns/demo/*", '
                'the configuration wants "spiffe://cluster.local/ns/demo/sa/app"') in dry.stdout
        assert federation.rules.retrieve(rule.id).match.subject_prefix == "spiffe://cluster.local/ns/demo/*"

        refused = issuer.register("--dry-run", token="sk-ant-oat01-wrong")
        assert refused.returncode == 1
        assert "register failed: Claude rejected the admin credential" in refused.stdout
    finally:
        if envoy:
            envoy.stop()
        issuer.stop()


def test_register_without_workspace_id_uses_the_default_workspaces_tagged_id(tmp_path, org):
    issuer = UnregisteredIssuer(tmp_path, claude_url=org.url, workspace_line="")
    issuer.write_config()
    assert "workspace_id" not in issuer.config_path.read_text()

    first = issuer.register("--write")
    (tmp_path / "register-default-workspace.txt").write_text(first.stdout)
    assert first.returncode == 0, first.stdout + first.stderr
    client = admin_client(org)
    default_id = default_workspace_id(client)
    assert f"  create     workspace membership `{default_id}`  [the default workspace]" in first.stdout
    assert first.stdout.endswith("Verified successfully: scope workspace:developer, token lifetime 3600s\n")
    assert set(org.counters()["admin_api_versions"]) == {"2026-10-21"}

    rule = next(iter(client.organization.federation.rules.list()))
    assert rule.workspace_ids == [default_id]
    members = list(client.organization.service_accounts.workspaces.list(rule.target.service_account_id))
    explicit = [(m.workspace_id, m.workspace_role) for m in members if not m.implicit]
    assert explicit == [(default_id, "workspace_developer")]

    issuer.start()
    envoy = None
    try:
        envoy = Envoy(tmp_path, claude_port=org.port, issuer_port=issuer.internal_port).start()
        reply = envoy.messages()
        assert reply.status == 200, reply.body
        assert org.counters()["requests_with_valid_token"] == 1
        again = issuer.register()
        assert again.returncode == 0, again.stdout
        assert again.stdout.count("  unchanged  ") == 4, again.stdout
    finally:
        if envoy:
            envoy.stop()
        issuer.stop()
