//! The configuration file as a document (`toml_edit`): read a provider's
//! written ids, fill placeholders to validate, and write the registered ids
//! back keeping comments and formatting.

use std::path::Path;

use toml_edit::{DocumentMut, Item, TableLike, value};

use super::desired::ConfiguredIds;

/// Stand-ins for ids not written yet, so the rest validates as usual.
pub const PLACEHOLDER_RULE: &str = "fdrl_unregistered";
pub const PLACEHOLDER_ACCOUNT: &str = "svac_unregistered";

pub fn parse(text: &str) -> Result<DocumentMut, String> {
    text.parse::<DocumentMut>()
        .map_err(|err| format!("not a TOML document: {err}"))
}

fn provider_wif_mut<'a>(doc: &'a mut DocumentMut, id: &str) -> Option<&'a mut dyn TableLike> {
    let providers = doc
        .get_mut("credential_provider")?
        .as_array_of_tables_mut()?;
    let provider = providers
        .iter_mut()
        .find(|t| t.get("id").and_then(Item::as_str) == Some(id))?;
    provider.get_mut("claude_wif")?.as_table_like_mut()
}

fn provider_wif<'a>(doc: &'a DocumentMut, id: &str) -> Option<&'a dyn TableLike> {
    let providers = doc.get("credential_provider")?.as_array_of_tables()?;
    let provider = providers
        .iter()
        .find(|t| t.get("id").and_then(Item::as_str) == Some(id))?;
    provider.get("claude_wif")?.as_table_like()
}

/// What the provider's `claude_wif` block writes.
pub fn configured_ids(doc: &DocumentMut, id: &str) -> Option<ConfiguredIds> {
    let wif = provider_wif(doc, id)?;
    let text = |key: &str| {
        wif.get(key)
            .and_then(Item::as_str)
            .filter(|s| !s.trim().is_empty())
            .map(str::to_owned)
    };
    Some(ConfiguredIds {
        federation_rule_id: text("federation_rule_id"),
        service_account_id: text("service_account_id"),
        audience_set: wif.get("audience").is_some(),
    })
}

/// Every provider's missing ids filled with placeholders.
pub fn with_placeholders(doc: &DocumentMut) -> DocumentMut {
    let mut doc = doc.clone();
    if let Some(providers) = doc
        .get_mut("credential_provider")
        .and_then(Item::as_array_of_tables_mut)
    {
        for provider in providers.iter_mut() {
            if let Some(wif) = provider
                .get_mut("claude_wif")
                .and_then(Item::as_table_like_mut)
            {
                for (key, placeholder) in [
                    ("federation_rule_id", PLACEHOLDER_RULE),
                    ("service_account_id", PLACEHOLDER_ACCOUNT),
                ] {
                    if wif.get(key).is_none() {
                        wif.insert(key, value(placeholder));
                    }
                }
            }
        }
    }
    doc
}

/// The indentation of the block's keys (`"  "` in the usual layout).
fn indentation(wif: &dyn TableLike) -> String {
    wif.iter()
        .filter_map(|(name, _)| wif.key(name))
        .filter_map(|key| key.leaf_decor().prefix().and_then(|p| p.as_str()))
        .map(|prefix| prefix.rsplit('\n').next().unwrap_or("").to_owned())
        .find(|indent| indent.chars().all(|c| c == ' ' || c == '\t'))
        .unwrap_or_default()
}

/// Sets `key = new` in the provider's block, keeping the decoration of an
/// existing value (a new key gets the block's indentation). Returns
/// whether the document changed.
fn set(wif: &mut dyn TableLike, key: &str, new: &str) -> bool {
    match wif.get_mut(key).and_then(Item::as_value_mut) {
        Some(existing) if existing.as_str() == Some(new) => false,
        Some(existing) => {
            let decor = existing.decor().clone();
            *existing = toml_edit::Value::from(new);
            *existing.decor_mut() = decor;
            true
        }
        None => {
            let indent = indentation(wif);
            wif.insert(key, value(new));
            if let Some((mut inserted, _)) = wif.get_key_value_mut(key) {
                inserted.leaf_decor_mut().set_prefix(indent);
            }
            true
        }
    }
}

/// Writes the registered ids into the provider's block.
pub fn set_ids(doc: &mut DocumentMut, id: &str, rule_id: &str, account_id: &str) -> bool {
    let Some(wif) = provider_wif_mut(doc, id) else {
        return false;
    };
    let rule = set(wif, "federation_rule_id", rule_id);
    let account = set(wif, "service_account_id", account_id);
    rule || account
}

/// The provider's finished `[credential_provider.claude_wif]` block.
pub fn block(doc: &DocumentMut, id: &str) -> String {
    let mut out = String::from("[credential_provider.claude_wif]\n");
    if let Some(wif) = provider_wif(doc, id) {
        for (key, item) in wif.iter() {
            if let Some(v) = item.as_value() {
                out.push_str(&format!("{key} = {}\n", v.to_string().trim()));
            }
        }
    }
    out
}

/// Replaces the file's contents atomically (same directory, same mode).
pub fn write_file(path: &Path, text: &str) -> Result<(), String> {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty());
    let dir = dir.unwrap_or_else(|| Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "config".to_owned());
    let tmp = dir.join(format!(".{name}.register-tmp"));
    let fail = |err: std::io::Error| format!("cannot write {}: {err}", path.display());
    std::fs::write(&tmp, text).map_err(fail)?;
    if let Ok(meta) = std::fs::metadata(path) {
        std::fs::set_permissions(&tmp, meta.permissions()).map_err(fail)?;
    }
    std::fs::rename(&tmp, path).map_err(fail)
}
