//! Rules for `[[client_workload]]` and `[[access_policy]]`.

use super::*;

impl Validator {
    pub(super) fn client_workloads(
        &mut self,
        raw: &[RawClientWorkloadConfig],
    ) -> Vec<ClientWorkloadConfig> {
        let mut ids: HashMap<&str, usize> = HashMap::new();
        let mut identities: HashMap<&str, usize> = HashMap::new();
        let mut workloads = Vec::new();
        for (index, workload) in raw.iter().enumerate() {
            let path = format!("client_workload[{index}]");
            let id = self.required(&format!("{path}.id"), workload.id.as_ref());
            if let Some(id) = id
                && let Some(first) = ids.insert(id, index)
            {
                self.error(
                    format!("{path}.id"),
                    format!("duplicate id `{id}` (also client_workload[{first}])"),
                );
            }
            let identity = self.identity(&format!("{path}.identity"), workload.identity.as_ref());
            if let Some(identity) = identity
                && let Some(first) = identities.insert(identity, index)
            {
                self.error(
                    format!("{path}.identity"),
                    format!("duplicate identity `{identity}` (also client_workload[{first}])"),
                );
            }
            if let (Some(id), Some(identity)) = (id, identity) {
                workloads.push(ClientWorkloadConfig {
                    id: id.to_owned(),
                    identity: IdentityPattern::parse(identity),
                });
            }
        }
        workloads
    }

    fn identity<'a>(&mut self, path: &str, value: Option<&'a String>) -> Option<&'a str> {
        let Some(text) = value else {
            self.error(path, "required");
            return None;
        };
        if let Err(problem) = check_identity(text) {
            self.error(path, problem.to_string());
            return None;
        }
        if text.trim_end_matches('*').contains('*') || text.ends_with("**") {
            self.error(
                path,
                "`*` is allowed only once, as the last character (prefix match)",
            );
            return None;
        }
        Some(text)
    }

    pub(super) fn access_policies(
        &mut self,
        raw: &[RawAccessPolicyConfig],
        providers: &[RawProviderConfig],
        workloads: &[RawClientWorkloadConfig],
    ) -> Vec<AccessPolicyConfig> {
        // Raw ids, so a provider with an unrelated error does not also make
        // every policy that names it fail.
        let provider_ids: HashSet<&str> =
            providers.iter().filter_map(|p| p.id.as_deref()).collect();
        let workload_ids: HashSet<&str> =
            workloads.iter().filter_map(|w| w.id.as_deref()).collect();
        let mut seen: HashMap<(&str, &str), usize> = HashMap::new();
        let mut policies = Vec::new();
        for (index, policy) in raw.iter().enumerate() {
            let path = format!("access_policy[{index}]");
            let client = self.reference(
                &format!("{path}.client_workload"),
                policy.client_workload.as_ref(),
                &workload_ids,
                "client_workload",
            );
            let server = self.required(
                &format!("{path}.server_workload"),
                policy.server_workload.as_ref(),
            );
            let provider = self.reference(
                &format!("{path}.credential_provider"),
                policy.credential_provider.as_ref(),
                &provider_ids,
                "credential_provider",
            );
            let (Some(client), Some(server), Some(provider)) = (client, server, provider) else {
                continue;
            };
            if let Some(first) = seen.insert((client, server), index) {
                self.error(
                    path,
                    format!("client_workload `{client}` already has a policy for `{server}` (access_policy[{first}])"),
                );
                continue;
            }
            policies.push(AccessPolicyConfig {
                client_workload: client.to_owned(),
                server_workload: server.to_owned(),
                credential_provider: provider.to_owned(),
            });
        }
        policies
    }

    fn reference<'a>(
        &mut self,
        path: &str,
        value: Option<&'a String>,
        known: &HashSet<&str>,
        section: &str,
    ) -> Option<&'a str> {
        let id = self.required(path, value)?;
        if known.contains(id) {
            Some(id)
        } else {
            self.error(path, format!("no [[{section}]] has id `{id}`"));
            None
        }
    }
}
