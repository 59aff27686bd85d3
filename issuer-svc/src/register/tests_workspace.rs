//! The rule's workspace as a tagged id, explicit memberships, list cursors
//! and names held by archived objects (pure, canned JSON).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use serde_json::{Value, json};

use super::client::{ANTHROPIC_VERSION, next_page_cursor, parse_error, sync_page_cursor};
use super::desired::{Desired, WorkspaceChoice};
use super::discover::split_by_name;
use super::explain::create_conflict;
use super::plan::{Action, Kind, RuleObject, member_action, rule_create_body, rule_diffs};
use super::tests::{config, desired_from, rule_json};
use super::workspace::{
    MemberObject, ResolvedWorkspace, default_workspace_id, membership_in, role_rank, unresolved,
};
use super::{Found, make_plan};

const DEFAULT_ID: &str = "wrkspc_01DefaultWorkspace";

/// The test configuration without `workspace_id`.
fn without_workspace() -> Desired {
    let text = config().replace("  workspace_id    = \"wrkspc_demo\"\n", "");
    assert!(!text.contains("workspace_id"));
    desired_from(&text)
}

fn workspace(id: &str) -> Value {
    json!({"id": id, "type": "workspace", "name": id, "created_at": "2026-01-01T00:00:00Z",
           "archived_at": null})
}

fn default_found() -> Found {
    Found {
        workspace: ResolvedWorkspace {
            id: DEFAULT_ID.to_owned(),
            default: true,
        },
        ..Found::default()
    }
}

fn member(workspace_id: &str, role: &str, implicit: bool) -> MemberObject {
    MemberObject {
        workspace_id: workspace_id.to_owned(),
        workspace_role: role.to_owned(),
        implicit: Some(implicit),
    }
}

#[test]
fn the_admin_api_version_is_the_sdks() {
    assert_eq!(ANTHROPIC_VERSION, "2026-10-21");
}

#[test]
fn a_provider_without_workspace_id_or_with_default_wants_the_default_workspace() {
    assert_eq!(without_workspace().workspace, WorkspaceChoice::Default);
    let literal = config().replace("\"wrkspc_demo\"", "\"default\"");
    assert_eq!(desired_from(&literal).workspace, WorkspaceChoice::Default);
}

#[test]
fn the_field_path_names_the_providers_index_in_the_file() {
    let text = config().replace(
        "[[credential_provider]]\nid = \"claude-demo\"",
        "[[credential_provider]]\nid = \"other\"\n  [credential_provider.claude_wif]\n  \
         organization_id = \"00000000-0000-4000-8000-000000000001\"\n\n\
         [[credential_provider]]\nid = \"claude-demo\"",
    );
    let desired = desired_from(&text);
    assert_eq!(desired.provider_index, 1);
    assert_eq!(
        desired.workspace_field(),
        "credential_provider[1].claude_wif.workspace_id"
    );
}

#[test]
fn sync_pages_follow_last_id_while_has_more() {
    let page = |has_more: Value, last: Value, data: Value| json!({"data": data, "has_more": has_more, "first_id": null, "last_id": last});
    let two = json!([workspace("wrkspc_a"), workspace("wrkspc_b")]);
    assert_eq!(
        sync_page_cursor(&page(json!(true), json!("wrkspc_b"), two.clone())).as_deref(),
        Some("wrkspc_b")
    );
    assert_eq!(
        sync_page_cursor(&page(json!(false), json!("wrkspc_b"), two.clone())),
        None
    );
    assert_eq!(
        sync_page_cursor(&page(json!(true), json!(null), two.clone())),
        None
    );
    assert_eq!(
        sync_page_cursor(&page(json!(true), json!("x"), json!([]))),
        None,
        "an empty page ends the list"
    );
    assert_eq!(
        sync_page_cursor(&json!({"data": two, "last_id": "wrkspc_b"})).as_deref(),
        Some("wrkspc_b"),
        "without has_more, as the SDK: go on while there is a last_id"
    );
    // Cursor pages are a different shape.
    assert_eq!(
        next_page_cursor(&json!({"data": [], "next_page": "c2"})).as_deref(),
        Some("c2")
    );
    assert_eq!(
        next_page_cursor(&json!({"data": [], "next_page": null})),
        None
    );
    assert_eq!(
        next_page_cursor(&json!({"data": [], "has_more": true, "last_id": "x"})),
        None
    );
}

#[test]
fn the_default_workspace_is_the_one_listed_only_with_include_default() {
    let without = [workspace("wrkspc_demo"), workspace("wrkspc_other")];
    let mut with = vec![workspace(DEFAULT_ID)];
    with.extend(without.iter().cloned());
    assert_eq!(default_workspace_id(&with, &without).unwrap(), DEFAULT_ID);

    let none = default_workspace_id(&without, &without).unwrap_err();
    assert!(none.contains("include_default=true"), "{none}");
    let mut two = with.clone();
    two.push(workspace("wrkspc_stray"));
    let several = default_workspace_id(&two, &without).unwrap_err();
    assert!(
        several.contains(DEFAULT_ID) && several.contains("wrkspc_stray"),
        "{several}"
    );
    let mut archived = workspace(DEFAULT_ID);
    archived["archived_at"] = json!("2026-02-01T00:00:00Z");
    assert!(default_workspace_id(&[archived], &[]).is_err());
}

#[test]
fn an_unresolved_default_workspace_names_the_field_and_the_way_out() {
    let text = unresolved(
        &without_workspace(),
        "GET /v1/organizations/workspaces: 403 permission_error: not allowed",
    );
    for part in [
        "credential_provider[0].claude_wif.workspace_id",
        "`wrkspc_…` id",
        "403 permission_error: not allowed",
        "never `default`",
        "Nothing was created.",
    ] {
        assert!(text.contains(part), "missing {part:?} in {text}");
    }
}

#[test]
fn the_rule_is_created_in_the_tagged_default_workspace_never_default() {
    let desired = without_workspace();
    let plan = make_plan(&default_found(), &desired).unwrap();
    assert_eq!(plan.workspace_id, DEFAULT_ID);
    let body = rule_create_body(&desired, &plan.workspace_id, "fdis_1", "svac_1");
    assert_eq!(body["workspace_id"], DEFAULT_ID);
    assert!(!body.to_string().contains("\"default\""), "{body}");
}

#[test]
fn the_default_workspace_gets_an_explicit_membership_too() {
    let desired = without_workspace();
    let plan = make_plan(&default_found(), &desired).unwrap();
    assert_eq!(plan.changes(), 4);
    assert_eq!(plan.member.action, Action::Create);
    assert_eq!(
        plan.member.to_string(),
        format!("  create     workspace membership `{DEFAULT_ID}`  [the default workspace]")
    );
    let implicit = Found {
        member: Some(member(DEFAULT_ID, "workspace_user", true)),
        ..default_found()
    };
    let plan = make_plan(&implicit, &desired).unwrap();
    assert_eq!(
        plan.member.action,
        Action::Create,
        "the implicit membership does not count"
    );
}

#[test]
fn a_weaker_explicit_role_differs_and_a_stronger_one_is_kept() {
    assert_eq!(member_action(None), Action::Create);
    let weak = member_action(Some(&member(
        "wrkspc_demo",
        "workspace_restricted_developer",
        false,
    )));
    let Action::Differs(diffs) = weak else {
        panic!("{weak:?}")
    };
    assert_eq!(diffs[0].field, "workspace_role");
    assert_eq!(diffs[0].claude, "\"workspace_restricted_developer\"");
    assert_eq!(diffs[0].wanted, "at least \"workspace_developer\"");
    for role in ["workspace_developer", "workspace_admin"] {
        assert_eq!(
            member_action(Some(&member("wrkspc_demo", role, false))),
            Action::Unchanged,
            "{role}"
        );
    }
    assert!(matches!(
        member_action(Some(&member("wrkspc_demo", "workspace_user", false))),
        Action::Differs(_)
    ));
    assert!(role_rank("workspace_user") < role_rank("workspace_restricted_developer"));
    assert!(role_rank("workspace_developer") < role_rank("workspace_admin"));
    assert_eq!(role_rank("workspace_billing"), None);
}

#[test]
fn the_membership_listed_for_the_workspace_prefers_the_explicit_one() {
    let list = [
        json!({"type": "service_account_workspace_member", "service_account_id": "svac_1",
               "workspace_id": DEFAULT_ID, "workspace_role": "workspace_user", "implicit": true}),
        json!({"type": "service_account_workspace_member", "service_account_id": "svac_1",
               "workspace_id": "wrkspc_demo", "workspace_role": "workspace_developer"}),
        json!({"type": "service_account_workspace_member", "service_account_id": "svac_1",
               "workspace_id": DEFAULT_ID, "workspace_role": "workspace_developer",
               "implicit": false}),
    ];
    let found = membership_in(&list, DEFAULT_ID).unwrap();
    assert!(!found.is_implicit() && found.suffices());
    let only_implicit = membership_in(&list[..2], DEFAULT_ID).unwrap();
    assert!(only_implicit.is_implicit() && !only_implicit.suffices());
    assert!(membership_in(&list, "wrkspc_elsewhere").is_none());
}

#[test]
fn rule_workspaces_compare_against_the_tagged_id() {
    let desired = without_workspace();
    let mut rule: RuleObject = serde_json::from_value(rule_json()).unwrap();
    rule.workspace_ids = vec![DEFAULT_ID.to_owned()];
    assert!(rule_diffs(&rule, &desired, DEFAULT_ID, None, None).is_empty());
    rule.workspace_ids = vec!["wrkspc_demo".to_owned()];
    let diffs = rule_diffs(&rule, &desired, DEFAULT_ID, None, None);
    assert_eq!(diffs.len(), 1);
    assert_eq!(diffs[0].field, "workspaces");
    assert_eq!(diffs[0].wanted, format!("[{DEFAULT_ID:?}]"));
}

#[test]
fn live_objects_win_and_archived_ones_hold_their_names() {
    let items = [
        json!({"id": "svac_old", "name": "claude-demo", "archived_at": "2026-01-02T00:00:00Z"}),
        json!({"id": "svac_other", "name": "other", "archived_at": null}),
    ];
    let (live, held) = split_by_name(&items, "claude-demo");
    assert!(live.is_none());
    assert_eq!(held.as_deref(), Some("svac_old"));
    let mut both = items.to_vec();
    both.push(json!({"id": "svac_new", "name": "claude-demo", "archived_at": null}));
    let (live, _) = split_by_name(&both, "claude-demo");
    assert_eq!(live.unwrap()["id"], "svac_new");
}

#[test]
fn a_name_held_by_an_archived_object_refuses_the_plan_before_any_write() {
    let desired = without_workspace();
    let found = Found {
        archived: vec![(Kind::ServiceAccount, "svac_old".to_owned())],
        ..default_found()
    };
    let refusal = make_plan(&found, &desired).unwrap_err();
    for part in [
        "the name `claude-demo` is held by an archived service account (id svac_old, found with \
         `include_archived=true`)",
        "cannot be renamed, restored or updated",
        "another id",
        "credential_provider[0].claude_wif.service_account_id",
        "Nothing was created.",
    ] {
        assert!(refusal.contains(part), "missing {part:?} in {refusal}");
    }
}

#[test]
fn a_409_on_create_names_the_archived_holder() {
    let desired = without_workspace();
    let body =
        json!({"type": "error", "error": {"type": "conflict_error", "message": "name: taken"}});
    let error = parse_error(
        "POST /v1/organizations/federation_rules",
        409,
        None,
        body.to_string().as_bytes(),
    );
    let held = create_conflict(&error, Kind::Rule, Some("fdrl_old"), &desired);
    assert!(
        held.starts_with("Cannot create the federation rule (409 name: taken): the name `claude-demo` is held by an archived federation rule (id fdrl_old, found with `include_archived=true`)"),
        "{held}"
    );
    assert!(
        held.contains("credential_provider[0].claude_wif.federation_rule_id"),
        "{held}"
    );
    let live = create_conflict(&error, Kind::Rule, None, &desired);
    assert!(live.contains("run register again"), "{live}");
}

#[test]
fn a_scope_the_admin_api_cannot_grant_is_refused_before_any_write() {
    for scope in ["org:admin", "workspace:manage_tunnels"] {
        let desired = Desired {
            oauth_scope: scope.to_owned(),
            ..without_workspace()
        };
        let refused = make_plan(&default_found(), &desired).unwrap_err();
        assert!(
            refused.contains("credential_provider[0].claude_wif.scope")
                && refused.contains("Console")
                && refused.contains("Nothing was created"),
            "{refused}"
        );
    }
    let inference = Desired {
        oauth_scope: "workspace:inference".to_owned(),
        ..without_workspace()
    };
    assert!(make_plan(&default_found(), &inference).is_ok());
}
