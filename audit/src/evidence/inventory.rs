//! The pack's inventories (EV-9, EV-10, EV-7): users with their identity-assurance level,
//! their credentials with the level they were registered at, the service providers with a
//! hash of their metadata, and the configured policy values.
//!
//! Personal data is kept to what an auditor needs: user ID, username, organisation, status and
//! level; no names, e-mail addresses or CPR numbers. The inventories describe the installation
//! at export time (see the module documentation of `evidence` for why).

use portner_shared::store::Tx;
use serde_json::json;

use super::writer::PackWriter;
use super::{csv_field, html_escape};
use crate::AuditError;

/// Counts the control matrix and report show.
#[derive(Clone, Debug, Default, Eq, PartialEq)]
pub(crate) struct InventoryCounts {
    pub(crate) users: u64,
    pub(crate) users_substantial: u64,
    pub(crate) credentials: u64,
    pub(crate) service_providers: u64,
    pub(crate) settings: Vec<(String, String)>,
}

/// Writes `inventory/*` and returns the counts.
pub(super) async fn write(
    tx: &mut Tx,
    pack: &mut PackWriter,
    settings: &[(String, String)],
) -> Result<InventoryCounts, AuditError> {
    let mut counts = InventoryCounts {
        settings: settings.to_vec(),
        ..InventoryCounts::default()
    };
    let users = tx.users(None).await?;

    pack.start("inventory/users.csv")?;
    pack.write(b"user_id,username,organisation_cvr,status,identity_level,created_at\n")?;
    for user in &users {
        let line = format!(
            "{},{},{},{},{},{}\n",
            user.id,
            csv_field(user.username.as_str()),
            user.org,
            user.status,
            user.identity_level,
            user.created_at.to_rfc3339()
        );
        pack.write(line.as_bytes())?;
        counts.users += 1;
        if user.identity_level >= portner_shared::domain::NsisLevel::Substantial {
            counts.users_substantial += 1;
        }
    }

    pack.start("inventory/credentials.csv")?;
    pack.write(b"user_id,type,name,level,registered_at,last_used_at\n")?;
    for user in &users {
        // The store keeps no level for a password (it is one factor of a session whose level
        // the sign-in computes, SS-1), so the column stays empty for it.
        if let Some(password) = tx.password(user.id).await? {
            let line = format!("{},password,,,{},\n", user.id, password.set_at.to_rfc3339());
            pack.write(line.as_bytes())?;
            counts.credentials += 1;
        }
        for credential in tx.webauthn_credentials(user.id).await? {
            let line = format!(
                "{},webauthn,{},{},{},{}\n",
                user.id,
                csv_field(&credential.name),
                credential.level,
                credential.registered_at.to_rfc3339(),
                credential
                    .last_used_at
                    .map(|used| used.to_rfc3339())
                    .unwrap_or_default()
            );
            pack.write(line.as_bytes())?;
            counts.credentials += 1;
        }
    }

    pack.start("inventory/service-providers.csv")?;
    pack.write(
        b"entity_id,name,profile,metadata_sha256,certificate_sha256,certificate_not_after,\
          created_at\n",
    )?;
    for provider in tx.service_providers().await? {
        let certificates = metadata_certificates(&provider.metadata_xml);
        let line = format!(
            "{},{},{},{},{},{},{}\n",
            csv_field(&provider.entity_id),
            csv_field(&provider.name),
            provider.profile.as_str(),
            hex::encode(openssl::sha::sha256(provider.metadata_xml.as_bytes())),
            certificates
                .iter()
                .map(|(fingerprint, _)| fingerprint.as_str())
                .collect::<Vec<_>>()
                .join(" "),
            certificates
                .iter()
                .map(|(_, not_after)| not_after.as_str())
                .collect::<Vec<_>>()
                .join(" "),
            provider.created_at.to_rfc3339()
        );
        pack.write(line.as_bytes())?;
        counts.service_providers += 1;
    }

    pack.start("inventory/policy.json")?;
    let policy: serde_json::Map<String, serde_json::Value> = settings
        .iter()
        .map(|(key, value)| (key.clone(), json!(value)))
        .collect();
    pack.write(&serde_json::to_vec_pretty(&policy)?)?;
    Ok(counts)
}

/// Most certificates listed per service provider.
const MAX_CERTIFICATES: usize = 16;

/// The SHA-256 fingerprint and expiry of each certificate in stored SP metadata (EV-10).
///
/// The metadata was parsed strictly when it was registered; here only the base64 content of
/// `X509Certificate` elements is picked out and decoded, and whatever does not decode as a
/// certificate is skipped, since the inventory reports keys and must not fail on them.
fn metadata_certificates(metadata_xml: &str) -> Vec<(String, String)> {
    let mut found = Vec::new();
    let mut rest = metadata_xml;
    while let Some(start) = rest.find("X509Certificate>") {
        rest = rest
            .get(start + "X509Certificate>".len()..)
            .unwrap_or_default();
        let Some(end) = rest.find('<') else { break };
        let base64: String = rest
            .get(..end)
            .unwrap_or_default()
            .chars()
            .filter(|character| !character.is_whitespace())
            .collect();
        let certificate = openssl::base64::decode_block(&base64)
            .ok()
            .and_then(|der| openssl::x509::X509::from_der(&der).ok());
        if let Some(certificate) = certificate {
            found.push((
                crate::checkpoint::certificate_fingerprint(&certificate),
                certificate.not_after().to_string(),
            ));
        }
        if found.len() == MAX_CERTIFICATES {
            break;
        }
    }
    found
}

/// The settings as an HTML definition table, for the report.
pub(crate) fn settings_html(settings: &[(String, String)]) -> String {
    let mut html = String::from("<table><thead><tr><th>Nøgle / Key</th><th>Værdi / Value</th>");
    html.push_str("</tr></thead><tbody>");
    for (key, value) in settings {
        html.push_str(&format!(
            "<tr><td><code>{}</code></td><td>{}</td></tr>",
            html_escape(key),
            html_escape(value)
        ));
    }
    html.push_str("</tbody></table>");
    html
}
