//! The shared store suite against the in-memory reference store, alone and
//! behind the credential cache (without a revocation log: a local write drops
//! the whole cache).

use tessera_testkit::{store_tests, CacheLayer, Fixture, MemoryStore};

store_tests!(memory, async { Some(Fixture::new(MemoryStore::new())) });
store_tests!(memory_cached, async {
    Some(Fixture::new(CacheLayer::memory(MemoryStore::new())))
});
