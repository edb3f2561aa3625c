//! `sqlx::migrate!` embeds the migrations at compile time: rebuild the crate
//! when they change.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
