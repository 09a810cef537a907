//! Which recorded paths a restore may create: relative, `/`-separated, every
//! name a plain one a file system takes. A catalog is read from storage that
//! others can write, so every path in it is checked here before it is
//! recorded, and again before a file is made under it.

/// The longest name most file systems take (ext4, XFS, Btrfs, APFS, NTFS in
/// UTF-16 units, which is at most this in bytes for these names).
const MAX_NAME_BYTES: usize = 255;
/// The longest path Linux takes.
const MAX_PATH_BYTES: usize = 4095;

/// Why `path` may not be created under a restore folder, if it may not.
pub fn refusal(path: &str) -> Option<String> {
    let why = if path.is_empty() {
        "it is empty".to_string()
    } else if path.contains('\0') {
        "it holds a NUL byte".to_string()
    } else if path.chars().any(char::is_control) {
        "it holds a control character".to_string()
    } else if path.starts_with('/') {
        "it is absolute".to_string()
    } else if path.contains('\\') {
        "it holds a backslash (a Windows folder separator)".to_string()
    } else if path.len() >= 2
        && path.as_bytes()[1] == b':'
        && path.as_bytes()[0].is_ascii_alphabetic()
    {
        "it starts with a drive letter".to_string()
    } else if path.len() > MAX_PATH_BYTES {
        format!("it is longer than {MAX_PATH_BYTES} bytes")
    } else if let Some(why) = path.split('/').find_map(name_refusal) {
        why
    } else if path.split('/').any(|n| n.starts_with(".breakdex-tmp")) {
        "names starting with .breakdex-tmp are where Breakdex keeps unfinished files".to_string()
    } else {
        return None;
    };
    Some(why)
}

fn name_refusal(name: &str) -> Option<String> {
    match name {
        "" => Some("it has an empty folder name (// or a trailing /)".into()),
        "." => Some("it holds a '.' folder".into()),
        ".." => Some("it holds '..', which would leave the restore folder".into()),
        _ if name.len() > MAX_NAME_BYTES => Some(format!(
            "it has a name longer than {MAX_NAME_BYTES} bytes, more than file systems take"
        )),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::refusal;

    #[test]
    fn plain_relative_paths_pass() {
        for ok in [
            "a.jpg",
            "2026/trip/a b.jpg",
            "日本/写真.png",
            ".hidden",
            "a..b",
            "..a/b",
        ] {
            assert_eq!(refusal(ok), None, "{ok}");
        }
    }

    #[test]
    fn paths_that_could_leave_the_folder_or_cannot_be_made_are_refused() {
        let long = "x".repeat(256);
        let cases = [
            ("", "empty"),
            ("/etc/passwd", "absolute"),
            ("../up.jpg", "'..'"),
            ("a/../../up.jpg", "'..'"),
            ("a/./b", "'.'"),
            ("a\0b", "NUL"),
            ("a\nb.jpg", "control character"),
            ("C:/Windows/x", "drive letter"),
            ("c:x", "drive letter"),
            ("a\\..\\b", "backslash"),
            ("a//b", "empty folder name"),
            ("a/", "empty folder name"),
            (long.as_str(), "longer than 255"),
            (".breakdex-tmp/x.part", ".breakdex-tmp"),
            ("a/.breakdex-tmp", ".breakdex-tmp"),
        ];
        for (path, reason) in cases {
            let why = refusal(path).unwrap_or_else(|| panic!("{path:?} passed"));
            assert!(why.contains(reason), "{path:?}: {why}");
        }
        assert!(refusal(&"a/".repeat(2100)).is_some());
    }
}
