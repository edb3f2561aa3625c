//! What `tessera serve` prints once it listens: the version, the addresses,
//! where the data is, which optional routes are on, and what to do next.
//! Text on a terminal, one JSON object otherwise (standard output; the log
//! stays on standard error).

use crate::config::Config;
use percent_encoding::percent_decode_str;
use serde::Serialize;
use std::net::SocketAddr;
use std::path::PathBuf;

/// The start banner.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Banner {
    /// The server's version.
    pub version: &'static str,
    /// The public listener's URL.
    pub listen: String,
    /// The admin listener's URL (`server.admin_bind`).
    pub admin_listen: Option<String>,
    /// Where the data is: an absolute SQLite path, or the database server.
    pub data: String,
    /// The optional routes and where they are served.
    pub routes: Routes,
    /// What to do next.
    pub next: Vec<String>,
}

/// The optional routes.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Routes {
    /// `POST /auth/register` (`registration.enabled`).
    pub registration: bool,
    /// The example views under `/api/` (`demo.enabled`).
    pub demo: bool,
    /// Where `/admin/` is served: `public` or `admin listener`.
    pub admin: &'static str,
    /// Who may read `/metrics`.
    pub metrics: &'static str,
}

impl Banner {
    /// The banner of a server listening on `public` (and `admin`), with
    /// `users` accounts in its store.
    pub fn new(
        config: &Config,
        scheme: &str,
        public: SocketAddr,
        admin: Option<SocketAddr>,
        users: u64,
    ) -> Banner {
        let listen = format!("{scheme}://{}", url_host(public));
        let mut next = Vec::new();
        if users == 0 {
            next.push("no account yet: create the first with `tessera createsuperuser`".to_owned());
        }
        next.push(format!("sign in at {listen}/login"));
        next.push(format!(
            "the API's routes: {listen}/ and {listen}/openapi.json"
        ));
        Banner {
            version: env!("CARGO_PKG_VERSION"),
            admin_listen: admin.map(|a| format!("{scheme}://{}", url_host(a))),
            listen,
            data: data_location(&config.database.url),
            routes: Routes {
                registration: config.registration.enabled,
                demo: config.demo.enabled,
                admin: if admin.is_some() {
                    "admin listener"
                } else {
                    "public"
                },
                metrics: if admin.is_some() {
                    "admin listener, anyone who reaches it"
                } else if crate::public_metrics_open(config) {
                    "anyone (loopback bind)"
                } else {
                    "staff credential or metrics.bearer_token"
                },
            },
            next,
        }
    }

    /// Prints the banner on standard output: text on a terminal, else JSON.
    pub fn print(&self) {
        use std::io::IsTerminal;
        if std::io::stdout().is_terminal() {
            println!("{self}");
        } else if let Ok(json) = serde_json::to_string(self) {
            println!("{json}");
        }
    }
}

impl std::fmt::Display for Banner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let on_off = |on: bool| if on { "on" } else { "off" };
        writeln!(f, "Tessera {}", self.version)?;
        writeln!(f, "  listening     {}", self.listen)?;
        if let Some(admin) = &self.admin_listen {
            writeln!(f, "  admin         {admin} (/admin/ and /metrics)")?;
        }
        writeln!(f, "  data          {}", self.data)?;
        writeln!(f, "  registration  {}", on_off(self.routes.registration))?;
        writeln!(f, "  demo views    {} (/api/)", on_off(self.routes.demo))?;
        writeln!(f, "  admin API     {}", self.routes.admin)?;
        writeln!(f, "  metrics       {}", self.routes.metrics)?;
        for step in &self.next {
            writeln!(f, "  next: {step}")?;
        }
        Ok(())
    }
}

/// `127.0.0.1:8000` or `[::1]:8000`.
fn url_host(addr: SocketAddr) -> String {
    addr.to_string()
}

/// Where the data of `database_url` is, for people: the SQLite file as an
/// absolute path, or the PostgreSQL server and database (never a password).
pub fn data_location(database_url: &str) -> String {
    if let Some(rest) = database_url.strip_prefix("sqlite:") {
        let path = rest.strip_prefix("//").unwrap_or(rest);
        let path = path.split('?').next().unwrap_or(path);
        if path.is_empty() || path.contains(":memory:") {
            return "SQLite, in memory".to_owned();
        }
        let path = PathBuf::from(path);
        let path = std::path::absolute(&path).unwrap_or(path);
        return format!("SQLite {}", path.display());
    }
    match url::Url::parse(database_url) {
        Ok(url) if matches!(url.scheme(), "postgres" | "postgresql") => {
            let database = url.path().trim_start_matches('/');
            let port = url.port().unwrap_or(5432);
            // As sqlx reads it: a `host` parameter wins over the URL's host,
            // and a host that is a path (percent-encoded in the URL's host)
            // is the directory of a Unix socket.
            let host = url
                .query_pairs()
                .find(|(key, _)| key == "host")
                .map(|(_, host)| host.into_owned())
                .or_else(|| {
                    url.host_str()
                        .map(|host| percent_decode_str(host).decode_utf8_lossy().into_owned())
                });
            match host {
                Some(dir) if dir.starts_with('/') => format!(
                    "PostgreSQL database {database:?} on the Unix socket {}/.s.PGSQL.{port}",
                    dir.trim_end_matches('/')
                ),
                Some(host) => format!("PostgreSQL database {database:?} on {host}:{port}"),
                None => format!("PostgreSQL database {database:?} on the local socket:{port}"),
            }
        }
        _ => crate::redact_url(database_url),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_paths_are_absolute_and_postgres_shows_no_password() {
        let here = std::env::current_dir().unwrap();
        assert_eq!(
            data_location("sqlite://tessera-data/tessera.db"),
            format!("SQLite {}", here.join("tessera-data/tessera.db").display())
        );
        assert_eq!(
            data_location("sqlite:///var/lib/tessera/t.db?mode=rwc"),
            "SQLite /var/lib/tessera/t.db"
        );
        assert_eq!(data_location("sqlite::memory:"), "SQLite, in memory");
        assert_eq!(
            data_location("postgres://tessera:hunter2@db.internal:6543/auth?sslmode=require"),
            "PostgreSQL database \"auth\" on db.internal:6543"
        );
        // A Unix socket: its directory as the URL's host, percent-encoded, or
        // as the `host` parameter (which wins, as in sqlx).
        assert_eq!(
            data_location("postgres://tessera@%2Fvar%2Frun%2Fpostgresql/auth"),
            "PostgreSQL database \"auth\" on the Unix socket /var/run/postgresql/.s.PGSQL.5432"
        );
        assert_eq!(
            data_location("postgres://tessera@localhost:6543/auth?host=/tmp/pg/&sslmode=disable"),
            "PostgreSQL database \"auth\" on the Unix socket /tmp/pg/.s.PGSQL.6543"
        );
        assert_eq!(
            data_location("postgres://tessera@localhost/auth?host=db.internal"),
            "PostgreSQL database \"auth\" on db.internal:5432"
        );
    }

    #[test]
    fn the_banner_says_where_to_go_next() {
        let config = Config::default();
        let public: SocketAddr = "127.0.0.1:8000".parse().unwrap();
        let empty = Banner::new(&config, "http", public, None, 0);
        assert_eq!(empty.listen, "http://127.0.0.1:8000");
        assert_eq!(
            empty.next,
            vec![
                "no account yet: create the first with `tessera createsuperuser`",
                "sign in at http://127.0.0.1:8000/login",
                "the API's routes: http://127.0.0.1:8000/ and http://127.0.0.1:8000/openapi.json",
            ]
        );
        assert_eq!(empty.routes.metrics, "anyone (loopback bind)");
        let text = empty.to_string();
        assert!(text.starts_with(&format!("Tessera {}\n", env!("CARGO_PKG_VERSION"))));
        assert!(text.contains("  demo views    on (/api/)\n"), "{text}");
        let admin: SocketAddr = "127.0.0.1:9000".parse().unwrap();
        let with_users = Banner::new(&config, "https", public, Some(admin), 3);
        assert_eq!(with_users.next.len(), 2);
        assert_eq!(
            with_users.admin_listen.as_deref(),
            Some("https://127.0.0.1:9000")
        );
        assert_eq!(with_users.routes.admin, "admin listener");
    }
}
