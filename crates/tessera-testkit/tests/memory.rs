//! The shared store suite against the in-memory reference store.

use tessera_testkit::{store_tests, Fixture, MemoryStore};

store_tests!(memory, async { Some(Fixture::new(MemoryStore::new())) });
