//! The groups of the administered organisations, shown read-only on the administration
//! overview: each with its members and whether the organisation's MitID Erhverv sync is
//! scoped to it. Groups are kept by the organisation's IdM system through SCIM
//! (`docs/scim.md`); a second place to change them would let the two disagree.

use std::collections::HashMap;

use maud::{Markup, html};
use portner_shared::domain::{Group, GroupId, GroupMember, Role};
use portner_shared::store::StoreError;

use crate::app::AppState;
use crate::console::access::Operator;
use crate::console::page::{ConsoleText, Lang, Text};

/// Most member names shown per group; the count is always shown.
const MEMBERS_SHOWN: usize = 20;

/// One group as the overview shows it.
#[derive(Debug)]
pub struct GroupView {
    /// The group.
    pub group: Group,
    /// Its members, by username.
    pub members: Vec<GroupMember>,
    /// Whether the organisation's sync is scoped to it.
    pub scopes_sync: bool,
}

/// The groups of the organisations the operator administers.
///
/// # Errors
///
/// The store failed.
pub async fn administered(
    state: &AppState,
    operator: &Operator,
) -> Result<Vec<GroupView>, StoreError> {
    let mut tx = state.store.read().await?;
    let mut views = Vec::new();
    for org in operator.organisations(Role::Administrator) {
        let scope = tx
            .sync_organisation(&org)
            .await?
            .and_then(|sync| sync.scope_group);
        let mut members_of: HashMap<GroupId, Vec<GroupMember>> = HashMap::new();
        for (group, member) in tx.group_memberships(&org).await? {
            members_of.entry(group).or_default().push(member);
        }
        for group in tx.groups(&org).await? {
            let members = members_of.remove(&group.id).unwrap_or_default();
            let scopes_sync = scope == Some(group.id);
            views.push(GroupView {
                group,
                members,
                scopes_sync,
            });
        }
    }
    tx.rollback().await?;
    Ok(views)
}

/// The table, or a line saying there are none.
pub fn groups_markup(lang: Lang, groups: &[GroupView]) -> Markup {
    html! {
        p { small { (lang.console(Text::GroupsHint)) } }
        @if groups.is_empty() {
            p id="no-groups" { (lang.console(Text::NoGroups)) }
        } @else {
            table id="groups" {
                thead { tr {
                    th scope="col" { (lang.console(Text::Name)) }
                    th scope="col" { (lang.console(Text::Organisation)) }
                    th scope="col" { (lang.console(Text::Members)) }
                    th scope="col" { (lang.console(Text::Sync)) }
                } }
                tbody {
                    @for view in groups {
                        tr {
                            td { (view.group.name.as_str()) }
                            td { (view.group.org.as_str()) }
                            td { (members_text(&view.members)) }
                            td {
                                @if view.scopes_sync { (lang.console(Text::SyncScope)) }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// `N: a, b, c` with at most [`MEMBERS_SHOWN`] names, then `…`.
fn members_text(members: &[GroupMember]) -> String {
    let names: Vec<&str> = members
        .iter()
        .take(MEMBERS_SHOWN)
        .map(|member| member.username.as_str())
        .collect();
    let more = if members.len() > MEMBERS_SHOWN {
        ", …"
    } else {
        ""
    };
    format!("{}: {}{more}", members.len(), names.join(", "))
}

#[cfg(test)]
mod tests {
    use portner_shared::domain::UserId;

    use super::*;

    #[test]
    fn long_member_lists_are_cut_but_counted() {
        let members: Vec<GroupMember> = (0..25)
            .map(|index| GroupMember {
                user_id: UserId::random(),
                username: format!("user{index:02}"),
            })
            .collect();
        let text = members_text(&members);
        assert!(text.starts_with("25: user00, user01"), "{text}");
        assert!(text.ends_with("user19, …"), "{text}");
        assert_eq!(members_text(&[]), "0: ");
    }
}
