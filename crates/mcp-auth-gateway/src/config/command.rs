//! Finding a stdio server's program the way the child will be started: a name is looked up on
//! `PATH` (the gateway's, which the child inherits), a path must be an executable file.

use std::path::{Path, PathBuf};

use super::env::EnvSource;

/// Where `program` would be run from, or a message saying why it cannot be.
pub(super) fn find(program: &str, env: &dyn EnvSource) -> Result<PathBuf, String> {
    if program.trim().is_empty() {
        return Err("must name a program, such as \"npx\"".to_owned());
    }
    if program.contains(['/', std::path::MAIN_SEPARATOR]) {
        let path = Path::new(program);
        return if !path.exists() {
            Err(format!("\"{program}\" does not exist"))
        } else if !is_executable(path) {
            Err(format!("\"{program}\" is not an executable file"))
        } else {
            Ok(path.to_owned())
        };
    }
    let Some(search) = env.var("PATH").filter(|p| !p.is_empty()) else {
        return Err(format!(
            "\"{program}\" was not found: PATH is not set; give the program's full path"
        ));
    };
    std::env::split_paths(&search)
        .map(|dir| dir.join(program))
        .find(|candidate| is_executable(candidate))
        .ok_or_else(|| {
            format!(
                "\"{program}\" was not found on PATH (searched {search}); install it or give \
                 its full path"
            )
        })
}

/// A regular file (after symlinks) that someone may execute.
#[cfg(unix)]
fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .is_ok_and(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
}

#[cfg(not(unix))]
fn is_executable(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|meta| meta.is_file())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_is_found_on_path_and_a_missing_one_says_where_it_looked() {
        let env = |name: &str| (name == "PATH").then(|| "/nonexistent:/bin:/usr/bin".to_owned());
        assert!(find("sh", &env).is_ok());
        assert_eq!(
            find("nosuchcmd", &env).unwrap_err(),
            "\"nosuchcmd\" was not found on PATH (searched /nonexistent:/bin:/usr/bin); install \
             it or give its full path"
        );
    }

    #[test]
    fn a_path_must_exist_and_be_executable() {
        let env = |_: &str| None;
        assert!(find("/bin/sh", &env).is_ok());
        assert_eq!(
            find("/no/such/server", &env).unwrap_err(),
            "\"/no/such/server\" does not exist"
        );
        assert_eq!(
            find("/etc/passwd", &env).unwrap_err(),
            "\"/etc/passwd\" is not an executable file"
        );
    }
}
