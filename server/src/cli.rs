//! The `gatehouse` command line: serve, migrate, manage users, load demo data.

use crate::config::Settings;
use crate::StartError;
use app::model::{check_new_password, parse_environments, Role, Scope, Slug, Username};
use app::store::audit::Actor;
use app::store::projects::{self, NewProject};
use app::store::users::{self, NewUser, UserChange};
use app::store::{tokens, Db};
use clap::{Parser, Subcommand};
use std::io::BufRead;

#[derive(Parser, Debug)]
#[command(
    name = "gatehouse",
    version,
    about = "Gatehouse: the console where teams decide what ships"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Serve the console (the default).
    Serve,
    /// Apply database migrations and exit.
    Migrate,
    /// Manage users.
    #[command(subcommand)]
    User(UserCommand),
    /// Manage projects.
    #[command(subcommand)]
    Project(ProjectCommand),
    /// Manage API tokens for CI systems.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Send runs, test reports and coverage to a Gatehouse server (for CI scripts).
    #[command(subcommand)]
    Push(crate::push::PushCommand),
    /// Wait for a deployment's go: exit 0 when it may start, 1 when it will not (rejected,
    /// cancelled, failed), 3 when still pending after --timeout (for deploy scripts).
    Wait {
        #[command(flatten)]
        target: crate::push::Target,
        /// The deployment id (from `POST /api/v1/projects/{project}/deployments`).
        deployment: i64,
        /// Seconds to wait for the go before giving up.
        #[arg(long = "wait-timeout", default_value_t = 3600)]
        wait_timeout: u64,
        /// Seconds between polls.
        #[arg(long, default_value_t = 5)]
        interval: u64,
    },
    /// Purge data past its retention now (the server does it hourly).
    Purge,
    /// Write a backup of the database to a new file (SQLite: an online copy; Postgres: a
    /// pg_dump archive). The server may keep running.
    Backup {
        /// The file to write; it must not exist.
        file: std::path::PathBuf,
    },
    /// Replace the database with a backup (stop the servers first). A database that holds
    /// data is replaced only with --force.
    Restore {
        file: std::path::PathBuf,
        #[arg(long)]
        force: bool,
    },
    /// Load the deterministic demo data set into the database.
    DemoData {
        /// Multiplies the generated history (benchmarks use large scales).
        #[arg(long, default_value_t = 1)]
        scale: u32,
        /// Each run executes a rotating shard of this many tests instead of the whole suite
        /// (`--scale 900 --cases-per-run 20`: about 1,000,000 runs and 20,000,000 cases).
        #[arg(long)]
        cases_per_run: Option<usize>,
    },
}

#[derive(Subcommand, Debug)]
pub enum UserCommand {
    /// Add a user; the password is read from standard input with --password-stdin, else generated and printed.
    Add {
        username: String,
        #[arg(long, default_value = "viewer")]
        role: String,
        #[arg(long, default_value = "")]
        display_name: String,
        #[arg(long)]
        password_stdin: bool,
    },
    /// Set a user's password (from standard input with --password-stdin, else generated and printed).
    Passwd {
        username: String,
        #[arg(long)]
        password_stdin: bool,
    },
    /// Change a user's role.
    Role { username: String, role: String },
}

#[derive(Subcommand, Debug)]
pub enum ProjectCommand {
    /// Create a project (environments dev → staging → production unless given).
    Create {
        slug: String,
        #[arg(long)]
        name: Option<String>,
        #[arg(long, default_value = "main")]
        default_branch: String,
        /// e.g. https://github.com/acme/shop (for commit links).
        #[arg(long)]
        repository_url: Option<String>,
        /// Comma-separated, in promotion order.
        #[arg(long)]
        environments: Option<String>,
    },
    /// List projects.
    List,
}

#[derive(Subcommand, Debug)]
pub enum TokenCommand {
    /// Create a token; the secret is printed once, as the last line.
    Create {
        #[arg(long)]
        project: String,
        /// Comma-separated: ingest, deploy, read.
        #[arg(long, default_value = "ingest")]
        scopes: String,
        #[arg(long, default_value = "ci")]
        name: String,
    },
    /// List tokens (never their secrets).
    List {
        #[arg(long)]
        project: Option<String>,
    },
    /// Revoke a token by id.
    Revoke { id: i64 },
}

#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error(transparent)]
    Start(#[from] StartError),
    #[error("{0}")]
    Usage(String),
    #[error("push {0}")]
    Push(#[from] crate::push::PushError),
}

impl CliError {
    /// The process exit code: `gatehouse push` tells a refusal (1) from giving up after
    /// retries (75); everything else is 1.
    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::Push(e) => e.exit_code(),
            _ => 1,
        }
    }
}

impl From<app::store::StoreError> for CliError {
    fn from(e: app::store::StoreError) -> Self {
        CliError::Start(StartError::Store(e))
    }
}

fn read_password(from_stdin: bool) -> Result<(String, bool), CliError> {
    if from_stdin {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .map_err(|e| CliError::Usage(format!("reading the password: {e}")))?;
        let password = line.trim_end_matches(['\n', '\r']).to_string();
        check_new_password(&password).map_err(CliError::Usage)?;
        Ok((password, false))
    } else {
        Ok((app::auth::random_password(20), true))
    }
}

pub async fn run(cli: Cli, settings: Settings) -> Result<(), CliError> {
    let cli_actor = Actor {
        user_id: None,
        username: Some("cli".into()),
        ip: None,
    };
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => crate::serve(settings).await?,
        Command::Push(cmd) => {
            let pushed = crate::push::run(cmd).await?;
            for answer in &pushed.answers {
                println!(
                    "{}",
                    serde_json::to_string_pretty(answer).unwrap_or_default()
                );
            }
            if let Some(line) = pushed.last_line {
                println!("{line}");
            }
        }
        Command::Wait {
            target,
            deployment,
            wait_timeout,
            interval,
        } => {
            let d = crate::push::wait(&target, deployment, wait_timeout, interval).await?;
            println!("{}", serde_json::to_string_pretty(&d).unwrap_or_default());
            println!("go");
        }
        Command::Purge => {
            let db = crate::connect(&settings).await?;
            let report = app::store::retention::purge(
                &db,
                app::store::now_ms(),
                app::store::retention::PurgePace::default(),
                &app::store::deployments::Requester {
                    user_id: None,
                    name: "cli".into(),
                    ip: None,
                },
            )
            .await?;
            for (kind, n) in &report.purged {
                println!("{}\t{n}", kind.key());
            }
            println!(
                "purged {} rows in {} batches ({} ms; longest batch {} ms)",
                report.total(),
                report.batches,
                report.took_ms,
                report.longest_batch_ms
            );
        }
        Command::Backup { file } => {
            let line = crate::backup::backup_cmd(&settings, &file)
                .await
                .map_err(|e| CliError::Usage(format!("backup: {e}")))?;
            println!("{line}");
        }
        Command::Restore { file, force } => {
            let line = crate::backup::restore_cmd(&settings, &file, force)
                .await
                .map_err(|e| CliError::Usage(format!("restore: {e}")))?;
            println!("{line}");
        }
        Command::Migrate => {
            crate::connect(&settings).await?;
            println!("migrations applied");
        }
        Command::DemoData {
            scale,
            cases_per_run,
        } => {
            let db = crate::connect(&settings).await?;
            println!(
                "{}",
                crate::demo::generate(&db, scale, cases_per_run).await?
            );
        }
        Command::Project(cmd) => {
            let db = crate::connect(&settings).await?;
            project_command(&db, cmd, &cli_actor).await?;
        }
        Command::Token(cmd) => {
            let db = crate::connect(&settings).await?;
            token_command(&db, cmd, &cli_actor).await?;
        }
        Command::User(cmd) => {
            let db = crate::connect(&settings).await?;
            match cmd {
                UserCommand::Add {
                    username,
                    role,
                    display_name,
                    password_stdin,
                } => {
                    let username = Username::parse(&username).map_err(CliError::Usage)?;
                    let role: Role = role.parse().map_err(CliError::Usage)?;
                    let (password, generated) = read_password(password_stdin)?;
                    let password_hash = app::auth::hash_password(password.clone()).await?;
                    let user = users::create(
                        &db,
                        &NewUser {
                            username,
                            display_name,
                            role,
                            password_hash,
                        },
                        &cli_actor,
                    )
                    .await?;
                    println!("added {} ({})", user.username, user.role);
                    if generated {
                        println!("password: {password}");
                    }
                }
                UserCommand::Passwd {
                    username,
                    password_stdin,
                } => {
                    let user = users::find_by_username(&db, &username)
                        .await?
                        .ok_or_else(|| CliError::Usage(format!("no user named `{username}`")))?;
                    let (password, generated) = read_password(password_stdin)?;
                    let hash = app::auth::hash_password(password.clone()).await?;
                    users::change(&db, user.user.id, &UserChange::Password(hash), &cli_actor)
                        .await?;
                    println!(
                        "password of {} changed; their sessions have ended",
                        user.user.username
                    );
                    if generated {
                        println!("password: {password}");
                    }
                }
                UserCommand::Role { username, role } => {
                    let role: Role = role.parse().map_err(CliError::Usage)?;
                    let user = users::find_by_username(&db, &username)
                        .await?
                        .ok_or_else(|| CliError::Usage(format!("no user named `{username}`")))?;
                    let user =
                        users::change(&db, user.user.id, &UserChange::Role(role), &cli_actor)
                            .await?;
                    println!("{} is now {}", user.username, user.role);
                }
            }
        }
    }
    Ok(())
}

async fn project_command(db: &Db, cmd: ProjectCommand, actor: &Actor) -> Result<(), CliError> {
    match cmd {
        ProjectCommand::Create {
            slug,
            name,
            default_branch,
            repository_url,
            environments,
        } => {
            let slug = Slug::parse(&slug).map_err(CliError::Usage)?;
            let environments = environments
                .map(|e| parse_environments(&e))
                .transpose()
                .map_err(CliError::Usage)?
                .unwrap_or_default();
            let new = NewProject {
                name: name.unwrap_or_else(|| slug.as_str().to_string()),
                slug,
                default_branch,
                repository_url,
                environments,
            };
            let project = projects::create(db, &new, actor).await?;
            println!(
                "created project {} (environments {})",
                project.slug,
                project.environments.join(" → ")
            );
        }
        ProjectCommand::List => {
            for p in projects::list(db).await? {
                println!(
                    "{}\t{}\t{}",
                    p.slug,
                    p.default_branch,
                    p.environments.join(",")
                );
            }
        }
    }
    Ok(())
}

async fn token_command(db: &Db, cmd: TokenCommand, actor: &Actor) -> Result<(), CliError> {
    match cmd {
        TokenCommand::Create {
            project,
            scopes,
            name,
        } => {
            let scopes = Scope::parse_list(&scopes).map_err(CliError::Usage)?;
            let created = tokens::create(db, &project, &name, &scopes, actor).await?;
            println!(
                "created token {} for {} with scopes {} (shown once; store it as a CI secret):",
                created.token.id,
                created.token.project,
                Scope::join(&created.token.scopes)
            );
            println!("{}", created.secret);
        }
        TokenCommand::List { project } => {
            for t in tokens::list(db, project.as_deref()).await? {
                let state = if t.revoked_at.is_some() {
                    "revoked"
                } else {
                    "active"
                };
                println!(
                    "{}\t{}\t{}\t{}…\t{}\t{}",
                    t.id,
                    t.project,
                    t.name,
                    t.prefix,
                    Scope::join(&t.scopes),
                    state
                );
            }
        }
        TokenCommand::Revoke { id } => {
            let t = tokens::revoke(db, id, actor).await?;
            println!("token {} ({}/{}) revoked", t.id, t.project, t.name);
        }
    }
    Ok(())
}
