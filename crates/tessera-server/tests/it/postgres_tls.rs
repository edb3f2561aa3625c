//! PostgreSQL over TLS: a cluster of the test's own (Debian's PostgreSQL
//! binaries, a free port, `ssl = on` with a certificate made here, `hostssl`
//! only), reached with `sslmode=verify-full` and the test CA as
//! `sslrootcert`; a client without TLS is refused.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The directory of `initdb` and `pg_ctl`: Debian's newest
/// `/usr/lib/postgresql/<version>/bin`; `None` when there is none and
/// `TESSERA_TEST_SKIP=postgres` opts out (else the test fails).
pub(crate) fn postgres_bin() -> Option<PathBuf> {
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|dir| {
            dir.filter_map(|e| e.ok().map(|e| e.path().join("bin")))
                .collect()
        })
        .unwrap_or_default();
    versions.retain(|bin| bin.join("initdb").exists());
    versions.sort();
    match versions.pop() {
        Some(bin) => Some(bin),
        None => tessera_testkit::unreachable_backend(
            "postgres",
            &"PostgreSQL server binaries (Debian's postgresql package; scripts/services installs it)",
        ),
    }
}

/// Whether the test runs as root (PostgreSQL then runs as `postgres`).
fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// `program args`, as the `postgres` user when the test runs as root.
pub(crate) fn as_postgres(program: &Path) -> Command {
    if is_root() {
        let mut command = Command::new("runuser");
        command.args(["-u", "postgres", "--"]).arg(program);
        command
    } else {
        Command::new(program)
    }
}

pub(crate) fn give_to_postgres(path: &Path) {
    if is_root() {
        let status = Command::new("chown")
            .args(["-R", "postgres:postgres"])
            .arg(path)
            .status()
            .unwrap();
        assert!(status.success());
    }
}

/// A running cluster, stopped on drop.
struct Cluster {
    pg_ctl: PathBuf,
    data: PathBuf,
    port: u16,
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = as_postgres(&self.pg_ctl)
            .arg("-D")
            .arg(&self.data)
            .args(["-m", "immediate", "stop"])
            .output();
    }
}

/// A CA, and a server certificate for `localhost` it signed: (CA PEM,
/// server certificate PEM, server key PEM).
fn ca_and_server_cert() -> (String, String, String) {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "tessera test CA");
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let params =
        rcgen::CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
            .unwrap();
    let cert = params.signed_by(&key, &ca, &ca_key).unwrap();
    (ca.pem(), cert.pem(), key.serialize_pem())
}

fn start_tls_cluster(dir: &Path, bin: PathBuf) -> (Cluster, PathBuf) {
    let data = dir.join("data");
    give_to_postgres(dir);
    let initdb = as_postgres(&bin.join("initdb"))
        .arg("-D")
        .arg(&data)
        .args(["-A", "trust", "-U", "postgres", "--no-sync"])
        .output()
        .unwrap();
    assert!(initdb.status.success(), "{initdb:?}");

    let (ca, cert, key) = ca_and_server_cert();
    let ca_file = dir.join("ca.pem");
    std::fs::write(&ca_file, ca).unwrap();
    std::fs::write(data.join("server.crt"), cert).unwrap();
    std::fs::write(data.join("server.key"), key).unwrap();
    std::fs::set_permissions(
        data.join("server.key"),
        std::os::unix::fs::PermissionsExt::from_mode(0o600),
    )
    .unwrap();
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let conf = format!(
        "\nport = {port}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{}'\n\
         ssl = on\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\nfsync = off\n",
        dir.display()
    );
    let mut postgresql_conf = std::fs::read_to_string(data.join("postgresql.conf")).unwrap();
    postgresql_conf.push_str(&conf);
    std::fs::write(data.join("postgresql.conf"), postgresql_conf).unwrap();
    // TLS demanded: plain TCP connections are rejected.
    std::fs::write(
        data.join("pg_hba.conf"),
        "local all all trust\nhostssl all all 127.0.0.1/32 trust\nhostnossl all all 127.0.0.1/32 reject\n",
    )
    .unwrap();
    give_to_postgres(dir);
    let pg_ctl = bin.join("pg_ctl");
    let start = as_postgres(&pg_ctl)
        .arg("-D")
        .arg(&data)
        .arg("-l")
        .arg(dir.join("log"))
        .args(["-w", "start"])
        .output()
        .unwrap();
    let cluster = Cluster { pg_ctl, data, port };
    assert!(
        start.status.success(),
        "{start:?}\n{}",
        std::fs::read_to_string(dir.join("log")).unwrap_or_default()
    );
    (cluster, ca_file)
}

#[tokio::test]
async fn postgresql_over_tls_with_verify_full_and_a_non_tls_client_refused() {
    use sqlx::Connection as _;
    let Some(bin) = postgres_bin() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (cluster, ca_file) = start_tls_cluster(dir.path(), bin);
    let port = cluster.port;

    // The server's store over TLS, the certificate checked against the CA
    // and the host name.
    let url = format!(
        "postgres://postgres@localhost:{port}/postgres?sslmode=verify-full&sslrootcert={}",
        ca_file.display()
    );
    let store = tessera_store_sql::SqlStore::connect(&url).await.unwrap();
    store.migrate().await.unwrap();
    let mut connection = sqlx::PgConnection::connect(&url).await.unwrap();
    let ssl: bool = sqlx::query_scalar("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
        .fetch_one(&mut connection)
        .await
        .unwrap();
    assert!(ssl);

    // The real binary too: `tessera migrate` on the TLS URL.
    let migrate = crate::cli::tessera(dir.path())
        .args(["--database-url", &url, "migrate"])
        .output()
        .unwrap();
    assert!(migrate.status.success(), "{migrate:?}");

    // Without TLS: refused by the cluster's hostnossl rule.
    let plain = format!("postgres://postgres@localhost:{port}/postgres?sslmode=disable");
    let error = sqlx::PgConnection::connect(&plain).await.unwrap_err();
    assert!(error.to_string().contains("no encryption"), "{error}");

    // A CA that did not sign the server's certificate: refused by the client.
    let (other_ca, _, _) = ca_and_server_cert();
    let other_ca_file = dir.path().join("other-ca.pem");
    std::fs::write(&other_ca_file, other_ca).unwrap();
    let wrong = format!(
        "postgres://postgres@localhost:{port}/postgres?sslmode=verify-full&sslrootcert={}",
        other_ca_file.display()
    );
    assert!(sqlx::PgConnection::connect(&wrong).await.is_err());
}
