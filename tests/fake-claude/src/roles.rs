//! Workspace roles, a service account's memberships, and the role a token's
//! scope needs in its workspace.
//!
//! Every service account is implicitly a `workspace_user` member of the
//! default workspace; explicit memberships override that. Claude does not
//! document which role a `workspace:developer` token needs: fake-claude
//! assumes `workspace_developer` (configurable, `developer_scope_role`), and
//! `workspace_user` (any membership) for `workspace:inference`.

use std::collections::BTreeMap;

use crate::scope::OAuthScope;

/// The roles a service account can hold in a workspace, weakest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum WorkspaceRole {
    User,
    RestrictedDeveloper,
    Developer,
    Admin,
}

impl WorkspaceRole {
    pub const ALL: [WorkspaceRole; 4] = [
        Self::User,
        Self::RestrictedDeveloper,
        Self::Developer,
        Self::Admin,
    ];

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == text)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::User => "workspace_user",
            Self::RestrictedDeveloper => "workspace_restricted_developer",
            Self::Developer => "workspace_developer",
            Self::Admin => "workspace_admin",
        }
    }

    /// Every role name, for error messages.
    pub fn names() -> String {
        Self::ALL.map(Self::as_str).join(", ")
    }

    /// The weakest role that may hold a token of `scope` in a workspace.
    pub fn needed_for(scope: OAuthScope, developer_scope_role: Self) -> Self {
        match scope {
            OAuthScope::Developer => developer_scope_role,
            _ => Self::User,
        }
    }
}

/// A service account's memberships.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Memberships {
    /// Explicit memberships: workspace id → role.
    pub explicit: BTreeMap<String, WorkspaceRole>,
    /// Seeded as "every workspace": `workspace_developer` wherever no
    /// explicit membership says otherwise.
    pub every_workspace: bool,
}

impl Memberships {
    /// What the configuration seeds: `None` is every workspace, a list is
    /// an explicit `workspace_developer` membership in each.
    pub fn seeded(workspaces: Option<&[String]>) -> Self {
        match workspaces {
            None => Self {
                explicit: BTreeMap::new(),
                every_workspace: true,
            },
            Some(list) => Self {
                explicit: list
                    .iter()
                    .map(|w| (w.clone(), WorkspaceRole::Developer))
                    .collect(),
                every_workspace: false,
            },
        }
    }

    /// The role held in `workspace`; `None` when not a member.
    pub fn role_in(&self, workspace: &str, default_workspace: &str) -> Option<WorkspaceRole> {
        self.explicit
            .get(workspace)
            .copied()
            .or(self.every_workspace.then_some(WorkspaceRole::Developer))
            .or((workspace == default_workspace).then_some(WorkspaceRole::User))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEFAULT: &str = "wrkspc_default";

    #[test]
    fn roles_are_ordered_weakest_first() {
        assert!(WorkspaceRole::User < WorkspaceRole::RestrictedDeveloper);
        assert!(WorkspaceRole::RestrictedDeveloper < WorkspaceRole::Developer);
        assert!(WorkspaceRole::Developer < WorkspaceRole::Admin);
        for role in WorkspaceRole::ALL {
            assert_eq!(WorkspaceRole::parse(role.as_str()), Some(role));
        }
        assert_eq!(WorkspaceRole::parse("workspace_billing"), None);
    }

    #[test]
    fn a_developer_token_needs_the_configured_role_others_any_membership() {
        let dev = WorkspaceRole::Developer;
        assert_eq!(WorkspaceRole::needed_for(OAuthScope::Developer, dev), dev);
        assert_eq!(
            WorkspaceRole::needed_for(OAuthScope::Developer, WorkspaceRole::Admin),
            WorkspaceRole::Admin
        );
        assert_eq!(
            WorkspaceRole::needed_for(OAuthScope::Inference, dev),
            WorkspaceRole::User
        );
    }

    #[test]
    fn the_default_workspace_membership_is_implicit_and_only_a_user() {
        let none = Memberships::seeded(Some(&[]));
        assert_eq!(none.role_in(DEFAULT, DEFAULT), Some(WorkspaceRole::User));
        assert_eq!(none.role_in("wrkspc_other", DEFAULT), None);
        let listed = Memberships::seeded(Some(&["wrkspc_a".to_owned(), DEFAULT.to_owned()]));
        assert_eq!(
            listed.role_in(DEFAULT, DEFAULT),
            Some(WorkspaceRole::Developer)
        );
        assert_eq!(
            listed.role_in("wrkspc_a", DEFAULT),
            Some(WorkspaceRole::Developer)
        );
        assert_eq!(listed.role_in("wrkspc_b", DEFAULT), None);
        let every = Memberships::seeded(None);
        assert_eq!(
            every.role_in("wrkspc_b", DEFAULT),
            Some(WorkspaceRole::Developer)
        );
    }
}
