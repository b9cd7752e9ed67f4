//! The `gatehouse` command line: serve, migrate, manage users, load demo data.

use crate::config::Settings;
use crate::StartError;
use app::model::{check_new_password, Role, Username};
use app::store::audit::Actor;
use app::store::users::{self, NewUser, UserChange};
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
    /// Load the deterministic demo data set into the database.
    DemoData {
        /// Multiplies the generated history (benchmarks use large scales).
        #[arg(long, default_value_t = 1)]
        scale: u32,
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

#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error(transparent)]
    Start(#[from] StartError),
    #[error("{0}")]
    Usage(String),
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
        Command::Migrate => {
            crate::connect(&settings).await?;
            println!("migrations applied");
        }
        Command::DemoData { scale } => {
            let db = crate::connect(&settings).await?;
            println!("{}", crate::demo::generate(&db, scale).await?);
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
