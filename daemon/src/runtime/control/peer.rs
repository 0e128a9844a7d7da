//! Who is on the other end of the control socket (SO_PEERCRED), and
//! whether they may control the station: root, the daemon's own user and
//! members of group `loa`. Users and groups come from the user database
//! through NSS (nix), as `id` would show them.

use std::ffi::CString;

use super::GROUP;

/// Who is on the other end of a connection.
#[derive(Clone, Debug, PartialEq)]
pub struct Peer {
    pub uid: u32,
    pub pid: Option<i32>,
    /// The user name, or the uid in decimal when it has none.
    pub user: String,
    /// The user's primary group in the user database (None: no such user).
    pub primary_gid: Option<u32>,
}

/// Root, the daemon's own user and members of group `loa` may control it.
pub(super) fn authorize(peer: &Peer, loa_gid: Option<u32>) -> Result<(), String> {
    let me = rustix::process::geteuid().as_raw();
    if peer.uid == 0 || peer.uid == me {
        return Ok(());
    }
    let Some(gid) = loa_gid else {
        return Err(format!(
            "there is no group {GROUP} on this PC; only root may control the station"
        ));
    };
    if user_groups(&peer.user, peer.primary_gid).contains(&gid) {
        return Ok(());
    }
    Err(format!(
        "user {} is not in group {GROUP}; an administrator adds them with `sudo adduser {} {GROUP}` (then log in again)",
        peer.user, peer.user
    ))
}

/// The name of user `uid`.
pub fn user_name(uid: u32) -> Option<String> {
    passwd_entry(uid).map(|(name, _)| name)
}

/// User `uid` in the user database: its name and primary group.
pub(super) fn passwd_entry(uid: u32) -> Option<(String, u32)> {
    let user = nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(uid)).ok()??;
    Some((user.name, user.gid.as_raw()))
}

/// The id of group `name`.
pub fn group_id(name: &str) -> Option<u32> {
    let group = nix::unistd::Group::from_name(name).ok()??;
    Some(group.gid.as_raw())
}

/// The groups of a user (primary and supplementary, from the group
/// database); none for a uid the user database does not know.
fn user_groups(user: &str, primary: Option<u32>) -> Vec<u32> {
    let (Ok(cname), Some(primary)) = (CString::new(user), primary) else {
        return Vec::new();
    };
    match nix::unistd::getgrouplist(&cname, nix::unistd::Gid::from_raw(primary)) {
        Ok(groups) => groups.into_iter().map(|g| g.as_raw()).collect(),
        // More groups than the system allows a process: the primary one
        // alone, as a login would at least have.
        Err(_) => vec![primary],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_and_the_daemons_user_may_always_control() {
        let me = rustix::process::geteuid().as_raw();
        let peer = |uid| Peer {
            uid,
            pid: None,
            user: "x".into(),
            primary_gid: None,
        };
        assert!(authorize(&peer(0), None).is_ok());
        assert!(authorize(&peer(me), None).is_ok());
    }

    #[test]
    fn others_need_group_loa() {
        let me = rustix::process::geteuid().as_raw();
        // A uid that is neither root nor us, and a user name nobody has.
        let uid = if me == 4242 { 4243 } else { 4242 };
        let stranger = Peer {
            uid,
            pid: None,
            user: "no-such-user-loa-test".into(),
            primary_gid: passwd_entry(uid).map(|(_, gid)| gid),
        };
        let e = authorize(&stranger, Some(999_999)).unwrap_err();
        assert!(e.contains("not in group loa"), "{e}");
        assert!(e.contains("adduser no-such-user-loa-test loa"), "{e}");
        let e = authorize(&stranger, None).unwrap_err();
        assert!(e.contains("no group loa"), "{e}");
    }

    #[test]
    fn the_user_database_is_read_through_nss() {
        // Every Debian system has root (uid 0, group 0) in both databases.
        assert_eq!(passwd_entry(0), Some(("root".to_string(), 0)));
        assert_eq!(user_name(0).as_deref(), Some("root"));
        assert_eq!(group_id("root"), Some(0));
        assert!(user_groups("root", Some(0)).contains(&0));
    }

    #[test]
    fn unknown_users_and_groups_are_not_found() {
        assert_eq!(group_id("no-such-group-loa-test"), None);
        // A name no C string can carry is no group either, not a panic.
        assert_eq!(group_id("lo\0a"), None);
        // An unknown user has only the primary group it was given; no
        // primary group (no passwd entry) means no groups at all.
        assert_eq!(user_groups("no-such-user-loa-test", Some(4242)), [4242]);
        assert!(user_groups("no-such-user-loa-test", None).is_empty());
        assert!(user_groups("lo\0a", Some(4242)).is_empty());
    }
}
