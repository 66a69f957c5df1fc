//! The databases a benchmark runs on: SQLite always, and PostgreSQL when
//! `LOKET_BENCH_DATABASE_URL` (or `LOKET_TEST_DATABASE_URL`) is set, on a
//! fresh database of its own that is dropped afterwards, so figures never
//! include what an earlier run left behind.

pub struct Backend {
    pub name: &'static str,
    /// `None`: SQLite in the run's data directory.
    pub url: Option<String>,
    /// PostgreSQL: the admin URL and the database to drop afterwards.
    drop: Option<(String, String)>,
}

/// SQLite, and PostgreSQL on a database created now when a URL is set.
pub fn backends(rt: &tokio::runtime::Runtime) -> Vec<Backend> {
    let mut backends = vec![Backend {
        name: "SQLite",
        url: None,
        drop: None,
    }];
    let pg = std::env::var("LOKET_BENCH_DATABASE_URL")
        .or_else(|_| std::env::var("LOKET_TEST_DATABASE_URL"))
        .ok()
        .filter(|u| !u.trim().is_empty());
    if let Some(admin) = pg {
        let name = format!("loket_bench_{:08x}", rand::random::<u32>());
        rt.block_on(async {
            use sqlx::{Connection, Executor};
            let mut c = sqlx::postgres::PgConnection::connect(&admin)
                .await
                .expect("PostgreSQL admin connection");
            c.execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                .await
                .expect("create bench database");
        });
        let url = match admin.rfind('/') {
            Some(i) => format!("{}/{name}", &admin[..i]),
            None => panic!("PostgreSQL URL without a database: {admin}"),
        };
        backends.push(Backend {
            name: "PostgreSQL",
            url: Some(url),
            drop: Some((admin, name)),
        });
    }
    backends
}

impl Backend {
    /// Drops the PostgreSQL database this run created (nothing on SQLite).
    pub fn clean_up(&self, rt: &tokio::runtime::Runtime) {
        let Some((admin, name)) = &self.drop else {
            return;
        };
        rt.block_on(async {
            use sqlx::{Connection, Executor};
            if let Ok(mut c) = sqlx::postgres::PgConnection::connect(admin).await {
                let _ = c
                    .execute(sqlx::AssertSqlSafe(format!(
                        "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                    )))
                    .await;
            }
        });
    }
}
