//! Rebuilds the crate when a migration of the new service changes (`sqlx::migrate!` embeds them).

fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
