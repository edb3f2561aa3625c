//! The server's configuration file, through `Config::load` (figment, TOML,
//! then the environment): a loaded configuration written back as TOML loads
//! to the same configuration.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::path::PathBuf;
use std::sync::OnceLock;
use tessera_server::config::Config;

fn path(name: &str) -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    let dir = DIR.get_or_init(|| {
        let base = if std::path::Path::new("/dev/shm").is_dir() {
            PathBuf::from("/dev/shm")
        } else {
            std::env::temp_dir()
        };
        let dir = base.join(format!("tessera-fuzz-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("a scratch directory");
        dir
    });
    dir.join(name)
}

fuzz_target!(|data: &[u8]| {
    let first = path("fuzzed.toml");
    std::fs::write(&first, data).expect("write");
    let Ok(config) = Config::load(Some(&first)) else {
        return;
    };
    let written = toml::to_string(&config).expect("a loaded configuration serialises");
    let second = path("written.toml");
    std::fs::write(&second, &written).expect("write");
    let again = Config::load(Some(&second))
        .unwrap_or_else(|e| panic!("written back, it does not load: {e}\n{written}"));
    assert_eq!(
        serde_json::to_value(&config).expect("json"),
        serde_json::to_value(&again).expect("json"),
        "{written}"
    );
});
